"""The ASGI application: Starlette routes over the scheduler, the bearer token, the limits, and
an access log line per request.

Routes: ``GET /`` (the page), ``GET /health``, ``GET /v1/models`` (and ``/v1/models/NAME``),
``POST /v1/completions`` (language models; OpenAI's completions, streamed as server-sent
events), ``POST /v1/translate`` (seq2seq models), ``POST /v1/score`` (every model). Every
refusal is a 4xx with OpenAI's error body; an unexpected failure is a 500 with the same shape and
one line on stderr, never a traceback."""

import asyncio
import hmac
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rnngen.server.models import Served
from rnngen.server.protocol import (
    APIError,
    Limits,
    choice,
    completion_body,
    completion_id,
    completion_request,
    error_body,
    now,
    parse_json,
    score_request,
    sse,
    translate_request,
    usage,
)
from rnngen.server.scheduler import Completion, Scheduler
from rnngen.server.work import score as score_inputs
from rnngen.server.work import translate as translate_inputs

OPEN_PATHS = ("/", "/health", "/favicon.ico")  # no token needed: the page asks for it itself
PAGE = Path(__file__).parent / "page" / "index.html"


class Slots:
    """Requests in flight, at most ``limit``: one more is a 429 with Retry-After."""

    def __init__(self, limit: int) -> None:
        self.limit, self.active = limit, 0

    def take(self) -> Callable[[], None]:
        if self.active >= self.limit:
            raise APIError(
                429,
                f"the server is busy: {self.limit} requests are running (rnngen serve "
                "--max-concurrent); retry in a moment",
                code="rate_limit_exceeded",
                kind="rate_limit_error",
                headers={"Retry-After": "1"},
            )
        self.active += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.active -= 1

        return release


class Service:
    """What the routes share: the models by name, the scheduler, the limits, the slots."""

    def __init__(self, served: list[Served], limits: Limits, token: str | None) -> None:
        self.models = {s.name: s for s in served}
        self.scheduler = Scheduler(served)
        self.limits, self.token = limits, token
        self.slots = Slots(limits.concurrency)
        self.draining = False

    def model(self, name: str, lm: bool | None = None, endpoint: str = "") -> Served:
        s = self.models.get(name)
        if s is None:
            known = ", ".join(self.models)
            raise APIError(
                404,
                f"the model {name!r} does not exist; this server has: {known}",
                param="model",
                code="model_not_found",
            )
        if lm is not None and s.is_lm != lm:
            other = "/v1/completions" if s.is_lm else "/v1/translate"
            what = "a language model" if s.is_lm else "a sequence-to-sequence model"
            raise APIError(
                400, f"{name} is {what}: {endpoint} is not for it; use {other}", param="model"
            )
        return s

    def busy(self) -> Callable[[], None]:
        if self.draining:
            raise APIError(503, "the server is shutting down", kind="server_error", code="shutdown")
        return self.slots.take()


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with a 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    too_big = APIError(
        413,
        f"the request body is over {limit:,} bytes (rnngen serve --max-body)",
        code="request_too_large",
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def encode_prompt(served: Served, prompt: str, limits: Limits) -> Any:
    vocab = served.vocab
    if vocab.level == "char":
        unknown = vocab.unknown(prompt)
        if unknown:
            shown = ", ".join(repr(ch) for ch in sorted(unknown)[:20])
            raise APIError(
                400,
                f"the prompt has characters the model {served.name} does not know: {shown}",
                param="prompt",
                code="unknown_characters",
            )
    if len(prompt) > 16 * limits.max_prompt:  # no tokenizer makes this fit: refuse it unread
        raise APIError(400, _too_long(limits), param="prompt", code="prompt_too_long")
    ids = vocab.encode(prompt, close_last_line=False)
    if len(ids) > limits.max_prompt:
        raise APIError(400, _too_long(limits, len(ids)), param="prompt", code="prompt_too_long")
    return ids


def _too_long(limits: Limits, n: int | None = None) -> str:
    has = f" has {n} tokens;" if n is not None else " is too long;"
    return f"the prompt{has} the limit is {limits.max_prompt} (rnngen serve --max-prompt)"


def json_error(e: APIError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status, headers=e.headers)


def create_app(
    served: list[Served],
    limits: Limits | None = None,
    token: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Any:
    """The ASGI app serving ``served``. ``log``: called with one access-log line per request
    (None: no access log)."""
    svc = Service(served, limits or Limits(), token)

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    async def health(request: Request) -> Response:
        body = {
            "status": "draining" if svc.draining else "ok",
            "models": list(svc.models),
            "requests": svc.slots.active,
            "rows": svc.scheduler.active,
            "steps": svc.scheduler.steps,
        }
        return JSONResponse(body, status_code=503 if svc.draining else 200)

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [s.card() for s in svc.models.values()]})

    async def model(request: Request) -> Response:
        return JSONResponse(svc.model(request.path_params["name"]).card())

    async def completions(request: Request) -> Response:
        req = completion_request(
            parse_json(await read_body(request, svc.limits.max_body)), svc.limits
        )
        served = svc.model(req.model, lm=True, endpoint="/v1/completions")
        ids = encode_prompt(served, req.prompt, svc.limits)
        release = svc.busy()
        loop = asyncio.get_running_loop()
        q: asyncio.Queue = asyncio.Queue()
        job = Completion(served, req, ids, loop, q.put_nowait, svc.limits.timeout)
        job.on_done = release  # also when a stream is cancelled before it starts
        request.scope["rnngen.log"] = lambda: f"{req.model} {job.tokens} tokens"
        svc.scheduler.submit(job)
        rid, created = completion_id(), now()
        if req.stream:
            return StreamingResponse(
                _stream(job, q, release, rid, created, len(ids), svc.limits.stream_interval),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        watch = asyncio.create_task(_watch_disconnect(request, job))
        try:
            texts, lps, reasons = await _collect(job, q)
        finally:
            watch.cancel()
            job.cancel()
            release()
        prefix = req.prompt if req.echo else ""
        choices = [choice(i, prefix + "".join(texts[i]), lps[i], reasons[i]) for i in range(req.n)]
        return JSONResponse(
            completion_body(rid, created, req.model, choices, usage(len(ids), job.tokens))
        )

    async def translate(request: Request) -> Response:
        req = translate_request(
            parse_json(await read_body(request, svc.limits.max_body)), svc.limits
        )
        served = svc.model(req.model, lm=False, endpoint="/v1/translate")
        _check_lengths(req.inputs, svc.limits)
        data = await _on_scheduler(svc, lambda: translate_inputs(served, req))
        return JSONResponse({"object": "list", "model": req.model, "data": data})

    async def score(request: Request) -> Response:
        body = parse_json(await read_body(request, svc.limits.max_body))
        if not isinstance(body.get("model"), str):
            score_request(body, svc.limits, pairs=False)  # says what is wrong with it
        served = svc.model(body["model"])
        req = score_request(body, svc.limits, pairs=not served.is_lm)
        _check_lengths([x if isinstance(x, str) else x[0] + x[1] for x in req.inputs], svc.limits)
        data = await _on_scheduler(svc, lambda: score_inputs(served, req))
        return JSONResponse({"object": "list", "model": req.model, "data": data})

    async def api_error(request: Request, e: Exception) -> Response:
        assert isinstance(e, APIError)
        return json_error(e)

    async def http_error(request: Request, e: Exception) -> Response:
        assert isinstance(e, HTTPException)
        status = e.status_code
        message = {404: f"no such endpoint: {request.url.path}", 405: "method not allowed"}.get(
            status, str(e.detail)
        )
        code = {404: "not_found", 405: "method_not_allowed"}.get(status)
        return JSONResponse(error_body(message, code=code), status_code=status, headers=e.headers)

    async def crash(request: Request, e: Exception) -> Response:
        return JSONResponse(
            error_body(f"internal error: {type(e).__name__}", "server_error"), status_code=500
        )

    routes = [
        Route("/", page),
        Route("/health", health),
        Route("/v1/models", models),
        Route("/v1/models/{name:path}", model),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/translate", translate, methods=["POST"]),
        Route("/v1/score", score, methods=["POST"]),
    ]
    inner = Starlette(
        routes=routes,
        exception_handlers={APIError: api_error, HTTPException: http_error, Exception: crash},
    )
    app = Guard(inner, svc, log)
    app.service = svc
    return app


async def _on_scheduler(svc: Service, fn: Callable[[], Any]) -> Any:
    release = svc.busy()
    try:
        fut = svc.scheduler.call(fn)
        return await asyncio.wait_for(asyncio.wrap_future(fut), svc.limits.timeout)
    except TimeoutError:
        message = "the request ran out of time (rnngen serve --timeout)"
        raise APIError(408, message, code="timeout") from None
    finally:
        release()


def _check_lengths(inputs: list[str], limits: Limits) -> None:
    for i, text in enumerate(inputs):
        if len(text) > limits.max_prompt:
            raise APIError(
                400,
                f"inputs[{i}] has {len(text)} characters; the limit is {limits.max_prompt} "
                "(rnngen serve --max-prompt)",
                param="inputs",
            )


def _merge(events: list) -> tuple[dict, tuple | None]:
    """A run of events -> {index: [text, logprobs, finish]}, and the request's error if any."""
    merged: dict[int, list] = {}
    for index, text, lp, finish in events:
        if index is None:
            return merged, (text, finish)
        m = merged.setdefault(index, ["", None, None])
        m[0] += text
        if lp is not None:
            if m[1] is None:
                m[1] = {k: list(v) for k, v in lp.items()}
            else:
                for k, v in lp.items():
                    m[1][k] += v
        if finish is not None:
            m[2] = finish
    return merged, None


def _refusal(error: tuple) -> APIError:
    message, reason = error
    if reason == "timeout":
        return APIError(408, f"{message} (rnngen serve --timeout)", code="timeout")
    if reason == "gone":  # nobody reads the answer; nginx's word for it
        return APIError(499, message, code="client_closed_request")
    return APIError(500, message, kind="server_error")


async def _collect(job: Completion, q: asyncio.Queue) -> tuple[list, list, list]:
    n = job.req.n
    texts: list[list[str]] = [[] for _ in range(n)]
    lps: list[Any] = [None] * n
    reasons: list[Any] = [None] * n
    done = 0
    while done < n:
        merged, error = _merge(await q.get())
        if error:
            raise _refusal(error)
        for i, (text, lp, finish) in merged.items():
            texts[i].append(text)
            if lp is not None:
                lps[i] = lp if lps[i] is None else {k: lps[i][k] + v for k, v in lp.items()}
            if finish is not None:
                reasons[i] = finish
                done += 1
    return texts, lps, reasons


async def _stream(
    job: Completion, q: asyncio.Queue, release: Callable[[], None], rid: str, created: int,
    prompt_tokens: int, interval: float,
) -> AsyncIterator[bytes]:  # fmt: skip
    """The completion as server-sent events, then ``[DONE]``: the first text as soon as it
    comes, then a chunk at most every ``interval`` seconds holding what came meanwhile (every
    chunk costs the event loop the same, however many tokens it holds: under load, fewer chunks
    leave the cores to the model)."""
    req = job.req
    try:
        if req.echo and req.prompt:
            for i in range(req.n):
                echoed = [choice(i, req.prompt, None, None)]
                yield sse(completion_body(rid, created, req.model, echoed, None))
        done, loop = 0, asyncio.get_running_loop()
        last = -interval  # the first text goes out at once
        while done < req.n:
            events = await q.get()
            wait = last + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            while not q.empty():
                events += q.get_nowait()
            merged, error = _merge(events)
            if error:
                yield sse(_refusal(error).body())
                break
            for i, (text, lp, finish) in merged.items():
                body = completion_body(rid, created, req.model, [choice(i, text, lp, finish)], None)
                yield sse(body)
                done += finish is not None
            last = loop.time()
        else:
            if req.include_usage:
                yield sse(
                    completion_body(rid, created, req.model, [], usage(prompt_tokens, job.tokens))
                )
        release()  # before [DONE]: a client may send its next request as soon as it reads it
        yield sse("[DONE]")
    finally:
        job.cancel()
        release()


async def _watch_disconnect(request: Request, job: Completion) -> None:
    """Cancel the job when the client of a non-streamed request goes away, and end the wait for
    its text (the scheduler sends no more)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            job.cancel()
            job.deliver([(None, "the client went away", None, "gone")])
            return


class Guard:
    """The outermost layer: the bearer token, an access log line per request, and a last catch
    so that an unexpected failure is one line on stderr, not a traceback."""

    def __init__(self, app: Any, svc: Service, log: Callable[[str], None] | None) -> None:
        self.app, self.svc, self.log = app, svc, log

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [0]

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            path, root = scope["path"], scope.get("root_path", "")
            if root and path.startswith(root):  # mounted in another app: its own path
                path = path[len(root) :] or "/"
            if self.svc.token and path not in OPEN_PATHS and not self._authorized(scope):
                await json_error(
                    APIError(
                        401,
                        "a valid token is needed: Authorization: Bearer TOKEN (rnngen serve "
                        "--token)",
                        code="invalid_api_key",
                    )
                )(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        except Exception as e:
            if status[0] == 0:
                status[0] = 500
                try:
                    await JSONResponse(
                        error_body(f"internal error: {type(e).__name__}", "server_error"), 500
                    )(scope, receive, send)
                except Exception:
                    pass
            self._line(f"rnngen serve: internal error in {scope['path']}: {type(e).__name__}: {e}")
        finally:
            if self.log is not None:
                client = scope.get("client") or ("-", 0)
                extra = scope.get("rnngen.log")
                more = f" {extra()}" if extra else ""
                self.log(
                    f'{client[0]}:{client[1]} "{scope["method"]} {scope["path"]}" {status[0]} '
                    f"{time.perf_counter() - t0:.3f}s{more}"
                )

    def _authorized(self, scope: dict) -> bool:
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                scheme, _, given = value.decode("latin-1").partition(" ")
                return scheme.lower() == "bearer" and hmac.compare_digest(
                    given.strip().encode(), self.svc.token.encode()
                )
        return False

    def _line(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        """Start the scheduler's thread with the server, stop it with the server (mounted
        without a lifespan, it starts at the first request)."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.svc.scheduler.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.svc.scheduler.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
