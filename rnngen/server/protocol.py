"""The wire format: requests parsed and checked into dataclasses, and the bodies the server
answers with, in the shapes of OpenAI's completions API (what the ``openai`` client, ``llm``,
llama.cpp's server and vLLM speak) and of rnngen's own ``/v1/translate`` and ``/v1/score``.

Every mistake in a request is an ``APIError`` (a status, and OpenAI's error body
``{"error": {"message", "type", "param", "code"}}``), raised before any work starts. Nothing here
imports NumPy."""

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


class APIError(Exception):
    """A request the server refuses: its HTTP status and OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.kind, self.headers = kind, headers or {}

    def body(self) -> dict:
        return error_body(self.message, self.kind, self.param, self.code)


def error_body(
    message: str, kind: str = "invalid_request_error", param: str | None = None, code: Any = None
) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how many may run at once (``rnngen serve``'s options)."""

    max_body: int = 1_000_000  # bytes of a request body
    max_tokens: int = 4096  # a completion's max_tokens (more: a 400, never a silent clamp)
    max_prompt: int = 8192  # tokens of a prompt (and of each input to translate or score)
    max_inputs: int = 256  # inputs of one translate or score request
    max_n: int = 16  # completions of one prompt (n)
    concurrency: int = 64  # requests in flight (more: a 429 with Retry-After)
    timeout: float = 600.0  # seconds a request may run (more: a 408)
    stream_interval: float = 0.02  # seconds between two chunks of a stream, at least

    def __post_init__(self) -> None:
        for name in ("max_body", "max_tokens", "max_prompt", "max_inputs", "max_n", "concurrency"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1 (got {value!r})")
        if not (isinstance(self.timeout, int | float) and self.timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds (got {self.timeout!r})")
        if not (isinstance(self.stream_interval, int | float) and self.stream_interval >= 0):
            raise ValueError(f"stream_interval must be >= 0 (got {self.stream_interval!r})")


# ---- reading a body --------------------------------------------------------------------------


def parse_json(raw: bytes) -> dict:
    """The JSON object of a request body."""
    if not raw.strip():
        raise APIError(400, "the request body is empty; send a JSON object", code="invalid_json")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        message = f"the request body is not valid JSON: {e}"
        raise APIError(400, message, code="invalid_json") from None
    if not isinstance(body, dict):
        raise APIError(400, f"the request body must be a JSON object, not {_kind(body)}")
    return body


def _kind(value: Any) -> str:
    """A JSON value's type, as a message names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class Fields:
    """Typed access to a request's fields: each read checks the value's type and range and raises
    an ``APIError`` naming the field."""

    def __init__(self, body: dict) -> None:
        self.body = body

    def _bad(self, name: str, what: str) -> APIError:
        return APIError(400, f"{name} must be {what} (got {_show(self.body[name])})", param=name)

    def string(self, name: str, default: Any = ..., nonempty: bool = False) -> Any:
        value = self.body.get(name)
        if value is None:
            if default is ...:
                raise APIError(400, f"{name} is required", param=name, code="missing_field")
            return default
        if not isinstance(value, str) or (nonempty and not value):
            raise self._bad(name, "a non-empty string" if nonempty else "a string")
        return value

    def integer(self, name: str, default: Any, lo: int | None = None, hi: int | None = None) -> Any:
        value = self.body.get(name)
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer() and math.isfinite(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(name, "an integer")
        if lo is not None and value < lo:
            raise self._bad(name, f"at least {lo}")
        if hi is not None and value > hi:
            raise self._bad(name, f"at most {hi}")
        return value

    def number(
        self, name: str, default: float, lo: float | None = None, hi: float | None = None
    ) -> float:
        value = self.body.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(name, "a number")
        if not math.isfinite(value):
            raise self._bad(name, "a finite number")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self._bad(name, f"between {lo:g} and {hi:g}" if hi is not None else f">= {lo:g}")
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.body.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._bad(name, "true or false")
        return value

    def unsupported(self, name: str, allowed: Any) -> None:
        """A field rnngen does not implement: refused unless absent or ``allowed`` (its no-op)."""
        value = self.body.get(name)
        if value is not None and value != allowed:
            raise APIError(
                400, f"{name} is not supported by rnngen serve", param=name, code="unsupported"
            )


def _show(value: Any) -> str:
    text = json.dumps(value, allow_nan=True)
    return text if len(text) <= 40 else text[:37] + "..."


def one_string(fields: Fields, name: str) -> str:
    """A prompt: a string, or an array holding one string (what some clients send)."""
    value = fields.body.get(name)
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    if isinstance(value, list):
        raise APIError(
            400,
            f"{name} must be one string (rnngen serve takes one prompt per request; "
            "use n for several completions)",
            param=name,
        )
    return fields.string(name, "")


def strings(fields: Fields, name: str, limits: Limits) -> list[str]:
    """A string or an array of 1 to ``limits.max_inputs`` strings."""
    value = fields.body.get(name)
    if value is None:
        raise APIError(400, f"{name} is required", param=name, code="missing_field")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fields._bad(name, "a string or an array of strings")
    if not value:
        raise APIError(400, f"{name} must not be empty", param=name)
    if len(value) > limits.max_inputs:
        raise APIError(
            400,
            f"{name} has {len(value)} items; the limit is {limits.max_inputs} (--max-inputs)",
            param=name,
        )
    return value


# ---- the requests ----------------------------------------------------------------------------


@dataclass
class CompletionRequest:
    model: str
    prompt: str
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    n: int = 1
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False
    logprobs: int | None = None
    echo: bool = False


def completion_request(body: dict, limits: Limits) -> CompletionRequest:
    """``POST /v1/completions``'s body, checked (the prompt's tokens are checked by the model)."""
    f = Fields(body)
    model = f.string("model", nonempty=True)
    prompt = one_string(f, "prompt")
    max_tokens = f.integer("max_tokens", 16, lo=0)
    if max_tokens > limits.max_tokens:
        raise APIError(
            400,
            f"max_tokens is {max_tokens}; this server's limit is {limits.max_tokens} "
            "(rnngen serve --max-tokens)",
            param="max_tokens",
        )
    stop = body.get("stop")
    if stop is None:
        stops: list[str] = []
    elif isinstance(stop, str):
        stops = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop) and len(stop) <= 4:
        stops = list(stop)
    else:
        raise f._bad("stop", "a string or an array of at most 4 strings")
    if any(s == "" for s in stops):
        raise APIError(400, "stop strings must not be empty", param="stop")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise f._bad("stream_options", "an object")
    include_usage = Fields(options or {}).boolean("include_usage", False)
    n = f.integer("n", 1, lo=1, hi=limits.max_n)
    best_of = f.integer("best_of", None, lo=1)
    if best_of is not None and best_of != n:
        raise APIError(400, "best_of other than n is not supported", param="best_of")
    for name in ("presence_penalty", "frequency_penalty"):
        if f.number(name, 0.0, lo=-2.0, hi=2.0) != 0.0:
            raise APIError(400, f"{name} is not supported by rnngen serve", param=name)
    f.unsupported("suffix", "")
    f.unsupported("logit_bias", {})
    return CompletionRequest(
        model=model,
        prompt=prompt,
        max_tokens=max_tokens,
        temperature=f.number("temperature", 1.0, lo=0.0, hi=100.0),
        top_p=_top_p(f),
        top_k=f.integer("top_k", 0, lo=0),
        n=n,
        stop=stops,
        seed=f.integer("seed", None, lo=-(2**63), hi=2**64 - 1),
        stream=f.boolean("stream", False),
        include_usage=include_usage,
        logprobs=f.integer("logprobs", None, lo=0, hi=5),
        echo=f.boolean("echo", False),
    )


def _top_p(f: Fields) -> float:
    value = f.number("top_p", 1.0, lo=0.0, hi=1.0)
    if value == 0.0:
        raise APIError(400, "top_p must be above 0 (got 0)", param="top_p")
    return value


@dataclass
class TranslateRequest:
    model: str
    inputs: list[str]
    beam: int = 5
    n_best: int = 1
    max_len: int | None = None


def translate_request(body: dict, limits: Limits) -> TranslateRequest:
    f = Fields(body)
    model = f.string("model", nonempty=True)
    inputs = strings(f, "inputs", limits)
    beam = f.integer("beam", 5, lo=1, hi=64)
    n_best = f.integer("n_best", 1, lo=1, hi=beam)
    return TranslateRequest(model, inputs, beam, n_best, f.integer("max_len", None, lo=1, hi=4096))


@dataclass
class ScoreRequest:
    model: str
    inputs: list  # lines (a language model), or (source, target) pairs (seq2seq)


def score_request(body: dict, limits: Limits, pairs: bool) -> ScoreRequest:
    """Lines for a language model; for a seq2seq model, pairs as ``{"source", "target"}``
    objects or ``source<TAB>target`` strings. ``input`` is taken for ``inputs`` (OpenAI's
    embeddings name)."""
    if "inputs" not in body and "input" in body:
        body = {**body, "inputs": body["input"]}
    f = Fields(body)
    model = f.string("model", nonempty=True)
    value = body.get("inputs")
    if not pairs:
        return ScoreRequest(model, strings(f, "inputs", limits))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise APIError(400, "inputs must be a non-empty array of pairs", param="inputs")
    strings(Fields({"inputs": ["x"] * len(value)}), "inputs", limits)  # the count
    found = []
    for i, v in enumerate(value):
        if isinstance(v, str) and v.count("\t") == 1:
            found.append(tuple(v.split("\t")))
        elif isinstance(v, dict) and all(isinstance(v.get(k), str) for k in ("source", "target")):
            found.append((v["source"], v["target"]))
        else:
            raise APIError(
                400,
                f'inputs[{i}] must be {{"source": string, "target": string}} or source<TAB>target',
                param="inputs",
            )
    return ScoreRequest(model, found)


# ---- the answers -----------------------------------------------------------------------------


def completion_id() -> str:
    return "cmpl-" + uuid.uuid4().hex[:24]


def now() -> int:
    return int(time.time())


def completion_body(
    rid: str, created: int, model: str, choices: list[dict], usage: dict | None
) -> dict:
    body = {
        "id": rid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def choice(index: int, text: str, logprobs: dict | None, finish_reason: str | None) -> dict:
    return {"text": text, "index": index, "logprobs": logprobs, "finish_reason": finish_reason}


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def sse(data: dict | str) -> bytes:
    """One server-sent event: ``data: {json}`` and a blank line."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()
