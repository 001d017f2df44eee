"""``rnngen serve``: a real server in a subprocess, serving tiny models (a char LSTM, a word GRU,
a seq2seq model), driven over raw HTTP, by the official ``openai`` client and by the ``llm``
command-line tool: OpenAI's completions (at temperature 0 the text of ``rnngen sample --temp 0``,
streamed or not), a seeded text independent of the batch it shares, translate and score, the
bearer token, every bad request a 4xx in OpenAI's error shape, 429 beyond the concurrency limit,
a client that goes away stops costing work, and SIGTERM finishes the streams in flight and
exits 0."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading

import pytest
from clitools import REPO, cli_env, err, out, run
from servetools import LM_PRIME, Server, shared_models, text_of, wait_for

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    found = shared_models(tmp_path_factory)
    return found["lm"].parent, found


@pytest.fixture(scope="module")
def server(models):
    """One server for the module, with a token: lm, words, rev."""
    where, found = models
    s = Server(
        *(f"{name}={path}" for name, path in found.items()),
        "--token", TOKEN, "--max-tokens", "1000",
        cwd=where,
    )  # fmt: skip
    yield s
    assert s.stop() == 0
    assert "Traceback" not in s.stderr, s.stderr


def sample(model, prime: str, length: int) -> str:
    p = run("sample", str(model), "--temp", "0", "--length", str(length), "--prime", prime)
    assert p.returncode == 0, err(p)
    return out(p)


def complete(server, **body) -> dict:
    status, answer = server.post("/v1/completions", body, token=TOKEN)
    assert status == 200, answer
    return answer


# ---- the OpenAI API ----------------------------------------------------------------------------


def test_models_are_listed_by_name(server):
    status, _, data = server.request("GET", "/v1/models", token=TOKEN)
    assert status == 200
    listed = json.loads(data)
    assert listed["object"] == "list"
    cards = {m["id"]: m for m in listed["data"]}
    assert set(cards) == {"lm", "words", "rev"}
    assert cards["lm"]["object"] == "model" and cards["lm"]["owned_by"] == "rnngen"
    assert cards["rev"]["task"] == "seq2seq" and cards["words"]["level"] == "word"
    health = server.health()
    assert health["status"] == "ok" and health["models"] == ["lm", "words", "rev"]


@pytest.mark.parametrize("name,prime", [("lm", LM_PRIME), ("words", "a bird sat")])
def test_temperature_0_is_rnngen_sample_streamed_or_not(models, server, name, prime):
    want = sample(models[1][name], prime, 200)
    assert want.startswith(prime)
    body = {"model": name, "prompt": prime, "max_tokens": 200, "temperature": 0}
    whole = complete(server, **body)
    assert whole["object"] == "text_completion" and whole["id"].startswith("cmpl-")
    c = whole["choices"][0]
    assert prime + c["text"] == want
    assert c["finish_reason"] == "length" and c["index"] == 0
    assert whole["usage"]["completion_tokens"] == 200
    s = server.stream({**body, "stream_options": {"include_usage": True}}, token=TOKEN)
    events = list(s.events())
    s.close()
    assert events[-1] == "[DONE]"
    assert prime + text_of(events)[0] == want
    assert events[-2]["usage"]["completion_tokens"] == 200 and events[-2]["choices"] == []


def test_the_openai_client_completes_and_streams(models, server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key=TOKEN, max_retries=0)
    assert [m.id for m in client.models.list()] == ["lm", "words", "rev"]
    want = sample(models[1]["lm"], LM_PRIME, 120)[len(LM_PRIME) :]
    c = client.completions.create(model="lm", prompt=LM_PRIME, max_tokens=120, temperature=0)
    assert c.choices[0].text == want and c.usage.completion_tokens == 120
    pieces = client.completions.create(
        model="lm", prompt=LM_PRIME, max_tokens=120, temperature=0, stream=True
    )
    chunks = [p.choices[0].text for p in pieces if p.choices]
    assert "".join(chunks) == want
    stopped = client.completions.create(
        model="lm", prompt=LM_PRIME, max_tokens=120, temperature=0, stop=["\n", "zz"]
    )
    assert stopped.choices[0].text == want.split("\n")[0]
    assert stopped.choices[0].finish_reason == "stop"
    with pytest.raises(Exception) as e:  # the client's own error for a 404
        client.completions.create(model="nope", prompt="x", max_tokens=3)
    assert getattr(e.value, "status_code", None) == 404


def test_a_seeded_text_is_the_same_alone_or_in_a_crowd(models, server):
    body = {"model": "lm", "prompt": "the ", "max_tokens": 150, "temperature": 0.9, "seed": 7,
            "n": 2}  # fmt: skip
    alone = [c["text"] for c in complete(server, **body)["choices"]]
    assert alone[0] != alone[1]  # two rows, two generators
    crowd: list = []

    def other(i: int) -> None:
        crowd.append(complete(server, model="lm", prompt="a ", max_tokens=300, temperature=1.0))

    threads = [threading.Thread(target=other, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    again = [c["text"] for c in complete(server, **body)["choices"]]
    for t in threads:
        t.join()
    assert again == alone and len(crowd) == 6
    # ... and it is the library's batch of two with that seed
    code = (
        "import json, rnngen, sys\n"
        f"m = rnngen.load({str(models[1]['lm'])!r})\n"
        "print(json.dumps(m.samples(2, 'the ', length=150, temp=0.9, seed=7)))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=cli_env(), text=True)
    assert p.returncode == 0, p.stderr
    assert [t[len("the ") :] for t in json.loads(p.stdout)] == alone


def test_n_logprobs_and_echo(server):
    answer = complete(
        server, model="lm", prompt=LM_PRIME, max_tokens=12, temperature=0, n=3, logprobs=2,
        echo=True,
    )  # fmt: skip
    choices = answer["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2]
    assert len({c["text"] for c in choices}) == 1  # argmax: the same three times
    c = choices[0]
    assert c["text"].startswith(LM_PRIME)
    lp = c["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == 12
    assert "".join(lp["tokens"]) == c["text"][len(LM_PRIME) :]
    assert all(x <= 0 for x in lp["token_logprobs"])
    assert all(len(t) == 2 and max(t.values()) == lp["token_logprobs"][k]
               for k, t in enumerate(lp["top_logprobs"]))  # fmt: skip
    assert answer["usage"]["completion_tokens"] == 36


def test_the_llm_tool_uses_it_as_an_openai_model(models, server, tmp_path):
    llm = shutil.which("llm")
    if llm is None:
        pytest.skip("the llm command is not installed")
    (tmp_path / "extra-openai-models.yaml").write_text(
        "- model_id: rnngen-lm\n"
        "  model_name: lm\n"
        f"  api_base: {server.url}/v1\n"
        "  completion: true\n"
        f"  headers:\n    Authorization: Bearer {TOKEN}\n"
    )
    env = {**os.environ, "LLM_USER_PATH": str(tmp_path), "OPENAI_API_KEY": "unused"}
    want = sample(models[1]["lm"], LM_PRIME, 80)[len(LM_PRIME) :]
    for streaming in ([], ["--no-stream"]):
        p = subprocess.run(
            [llm, "-m", "rnngen-lm", LM_PRIME, "-o", "temperature", "0", "-o", "max_tokens", "80",
             "--no-log", *streaming],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        assert p.stdout.rstrip("\n") == want.rstrip("\n")


# ---- translate and score -----------------------------------------------------------------------


def test_translate_gives_the_n_best_of_rnngen_translate(models, server):
    status, answer = server.post(
        "/v1/translate", {"model": "rev", "inputs": ["abc", "tsrq"], "beam": 4, "n_best": 3},
        token=TOKEN,
    )  # fmt: skip
    assert status == 200, answer
    assert [d["input"] for d in answer["data"]] == ["abc", "tsrq"]
    p = run("translate", str(models[1]["rev"]), "--beam", "4", "--n-best", "3", "--json",
            stdin=b"abc\ntsrq\n")  # fmt: skip
    assert p.returncode == 0, err(p)
    cli = [json.loads(line) for line in out(p).splitlines()]
    for got, want in zip(answer["data"], cli, strict=True):
        assert len(got["outputs"]) == 3
        texts = [o["text"] for o in got["outputs"]]
        assert texts == want["outputs"], (got, want)
        scores = [o["score"] for o in got["outputs"]]
        assert scores == sorted(scores, reverse=True)


def test_score_lines_and_pairs(server):
    lines = ["the cat sat on the mat.", ".tam eht no tas tac eht"]
    status, answer = server.post("/v1/score", {"model": "lm", "inputs": lines}, token=TOKEN)
    assert status == 200, answer
    a, b = answer["data"]
    assert a["tokens"] == len("the cat sat on the mat.") + 1
    assert a["bits_per_char"] < b["bits_per_char"]
    status, answer = server.post(
        "/v1/score",
        {"model": "rev", "inputs": [{"source": "abc", "target": "cba"}, "abc\tabc"]},
        token=TOKEN,
    )
    assert status == 200, answer
    right, wrong = answer["data"]
    assert right["logprob"] > wrong["logprob"] and right["tokens"] == 4


# ---- safety ------------------------------------------------------------------------------------


def test_a_token_is_needed_but_not_for_the_page_or_health(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        status, _, data = server.request("GET", "/v1/models", headers=headers)
        assert status == 401
        assert json.loads(data)["error"]["code"] == "invalid_api_key"
    assert server.request("GET", "/health")[0] == 200
    status, headers, page = server.request("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"<script" in page


def test_the_page_loads_nothing_from_elsewhere(server):
    page = server.request("GET", "/")[2].decode()
    assert "src=" not in page and "href=" not in page and "@import" not in page


BAD = [  # (what, method, path, body, headers): each must be a 4xx with OpenAI's error shape
    ("unknown model", "POST", "/v1/completions", {"model": "nope", "prompt": "a"}, None),
    ("bad JSON", "POST", "/v1/completions", "{not json", None),
    ("empty body", "POST", "/v1/completions", "", None),
    ("JSON array body", "POST", "/v1/completions", "[1, 2]", None),
    ("JSON string body", "POST", "/v1/completions", '"hello"', None),
    ("not UTF-8", "POST", "/v1/completions", b"\xff\xfe\x00{", None),
    ("no model", "POST", "/v1/completions", {"prompt": "a"}, None),
    ("model a number", "POST", "/v1/completions", {"model": 3, "prompt": "a"}, None),
    ("prompt a number", "POST", "/v1/completions", {"model": "lm", "prompt": 5}, None),
    ("prompt of two", "POST", "/v1/completions", {"model": "lm", "prompt": ["a", "b"]}, None),
    ("prompt token ids", "POST", "/v1/completions", {"model": "lm", "prompt": [1, 2]}, None),
    ("NaN temperature", "POST", "/v1/completions",
     '{"model": "lm", "prompt": "a", "temperature": NaN}', None),
    ("Infinity temperature", "POST", "/v1/completions",
     '{"model": "lm", "prompt": "a", "temperature": Infinity}', None),
    ("negative temperature", "POST", "/v1/completions",
     {"model": "lm", "prompt": "a", "temperature": -1}, None),
    ("temperature a string", "POST", "/v1/completions",
     {"model": "lm", "prompt": "a", "temperature": "hot"}, None),
    ("negative max_tokens", "POST", "/v1/completions",
     {"model": "lm", "prompt": "a", "max_tokens": -5}, None),
    ("max_tokens over the limit", "POST", "/v1/completions",
     {"model": "lm", "prompt": "a", "max_tokens": 1001}, None),
    ("max_tokens a float", "POST", "/v1/completions",
     {"model": "lm", "prompt": "a", "max_tokens": 2.5}, None),
    ("max_tokens a boolean", "POST", "/v1/completions",
     {"model": "lm", "prompt": "a", "max_tokens": True}, None),
    ("top_p 0", "POST", "/v1/completions", {"model": "lm", "prompt": "a", "top_p": 0}, None),
    ("top_p above 1", "POST", "/v1/completions", {"model": "lm", "prompt": "a", "top_p": 1.5},
     None),
    ("n 0", "POST", "/v1/completions", {"model": "lm", "prompt": "a", "n": 0}, None),
    ("n too many", "POST", "/v1/completions", {"model": "lm", "prompt": "a", "n": 1000}, None),
    ("stop a number", "POST", "/v1/completions", {"model": "lm", "prompt": "a", "stop": 3}, None),
    ("empty stop", "POST", "/v1/completions", {"model": "lm", "prompt": "a", "stop": [""]}, None),
    ("five stops", "POST", "/v1/completions",
     {"model": "lm", "prompt": "a", "stop": ["a", "b", "c", "d", "e"]}, None),
    ("seed a string", "POST", "/v1/completions", {"model": "lm", "prompt": "a", "seed": "x"},
     None),
    ("stream a string", "POST", "/v1/completions",
     {"model": "lm", "prompt": "a", "stream": "yes"}, None),
    ("logprobs 6", "POST", "/v1/completions", {"model": "lm", "prompt": "a", "logprobs": 6},
     None),
    ("unknown characters", "POST", "/v1/completions",
     {"model": "lm", "prompt": "the ☃ and Ω"}, None),
    ("prompt too long", "POST", "/v1/completions", {"model": "lm", "prompt": "the " * 3000},
     None),
    ("a seq2seq model to complete", "POST", "/v1/completions", {"model": "rev", "prompt": "a"},
     None),
    ("frequency_penalty", "POST", "/v1/completions",
     {"model": "lm", "prompt": "a", "frequency_penalty": 0.5}, None),
    ("suffix", "POST", "/v1/completions", {"model": "lm", "prompt": "a", "suffix": "b"}, None),
    ("body too big", "POST", "/v1/completions",
     {"model": "lm", "prompt": "a", "pad": "x" * 1_100_000}, None),
    ("no token", "POST", "/v1/completions", {"model": "lm", "prompt": "a"}, {"token": None}),
    ("wrong token", "GET", "/v1/models", None, {"token": "guess"}),
    ("unknown endpoint", "GET", "/v1/chat", None, None),
    ("GET completions", "GET", "/v1/completions", None, None),
    ("unknown model card", "GET", "/v1/models/nope", None, None),
    ("translate a language model", "POST", "/v1/translate", {"model": "lm", "inputs": ["a"]},
     None),
    ("translate without inputs", "POST", "/v1/translate", {"model": "rev"}, None),
    ("translate empty inputs", "POST", "/v1/translate", {"model": "rev", "inputs": []}, None),
    ("translate n_best above beam", "POST", "/v1/translate",
     {"model": "rev", "inputs": ["ab"], "beam": 2, "n_best": 3}, None),
    ("translate unknown characters", "POST", "/v1/translate",
     {"model": "rev", "inputs": ["ab☃"]}, None),
    ("translate too many inputs", "POST", "/v1/translate",
     {"model": "rev", "inputs": ["ab"] * 300}, None),
    ("score unknown characters", "POST", "/v1/score", {"model": "lm", "inputs": ["a ☃"]}, None),
    ("score a number", "POST", "/v1/score", {"model": "lm", "inputs": 3}, None),
    ("score a pair without a tab", "POST", "/v1/score", {"model": "rev", "inputs": ["abc"]}, None),
    ("score a pair object without target", "POST", "/v1/score",
     {"model": "rev", "inputs": [{"source": "abc"}]}, None),
    ("score without a model", "POST", "/v1/score", {"inputs": ["a"]}, None),
]  # fmt: skip


def test_every_bad_request_is_a_4xx_in_openais_error_shape(server):
    assert len(BAD) >= 25
    for what, method, path, body, headers in BAD:
        token = TOKEN if headers is None else headers["token"]
        status, _, data = server.request(method, path, body, token=token)
        assert 400 <= status < 500, (what, status, data[:300])
        error = json.loads(data)["error"]
        assert set(error) == {"message", "type", "param", "code"}, what
        assert isinstance(error["message"], str) and error["message"], what
    assert server.health()["status"] == "ok"  # and it still serves
    complete(server, model="lm", prompt="a", max_tokens=5)
    assert "Traceback" not in server.stderr and " 500 " not in server.stderr


def test_the_access_log_has_a_line_per_request(server):
    # (an earlier test's last lines may still be on their way from the server's stderr: the
    # two requests' lines are found by what they say, in order, after what was read before)
    before = len(server.lines)
    server.request("GET", "/v1/models", token=TOKEN)
    complete(server, model="lm", prompt="a", max_tokens=7)

    def ours() -> list[str]:
        new = server.lines[before:]
        get = [i for i, line in enumerate(new) if '"GET /v1/models" 200' in line]
        post = [i for i, line in enumerate(new) if "lm 7 tokens" in line]
        return [new[get[0]], new[post[-1]]] if get and post and get[0] < post[-1] else []

    assert wait_for(lambda: len(ours()) == 2)
    assert '"POST /v1/completions" 200' in ours()[1]


# ---- load, disconnects and stopping -----------------------------------------------------------


def test_limits_disconnects_and_sigterm(models):
    """--max-concurrent 1: a second request is a 429 with Retry-After; a client that goes away
    leaves the batch (streamed or not); a request longer than --timeout ends with an error event;
    SIGTERM lets the stream in flight finish, then the server exits 0."""
    where, found = models
    s = Server(str(found["lm"]), "--max-concurrent", "1", "--max-tokens", "200000", "--quiet",
               "--timeout", "4", cwd=where)  # fmt: skip
    try:
        long = {"model": "lm", "prompt": "the ", "max_tokens": 200000, "temperature": 1.0}
        gone = s.stream(long)
        next(gone.events())
        assert s.health()["rows"] == 1
        status, headers, data = s.request("POST", "/v1/completions", {**long, "max_tokens": 3})
        assert status == 429 and headers["retry-after"] == "1"
        assert json.loads(data)["error"]["code"] == "rate_limit_exceeded"
        gone.close()  # the client goes away: its row leaves the batch at the next step
        assert wait_for(lambda: s.health()["rows"] == 0 and s.health()["requests"] == 0, 2)
        body = json.dumps({**long, "max_tokens": 150000}).encode()  # not streamed, then gone
        with socket.create_connection((s.host, s.port)) as raw:
            raw.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                        + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
            assert wait_for(lambda: s.health()["rows"] == 1, 2)
        assert wait_for(lambda: s.health()["rows"] == 0 and s.health()["requests"] == 0, 2)
        late = list(s.stream(long).events())  # 200000 tokens take longer than --timeout 4
        assert late[-1] == "[DONE]" and late[-2]["error"]["code"] == "timeout"
        assert wait_for(lambda: s.health()["rows"] == 0)
        flight = s.stream({**long, "max_tokens": 5000, "n": 4})
        events = flight.events()
        next(events)
        s.proc.send_signal(signal.SIGTERM)
        rest = list(events)
        assert rest[-1] == "[DONE]"
        finished = [c for e in rest if isinstance(e, dict) for c in e["choices"]
                    if c["finish_reason"]]  # fmt: skip
        assert len(finished) == 4 and all(c["finish_reason"] == "length" for c in finished)
        flight.close()
        assert s.proc.wait(60) == 0
    finally:
        s.stop(signal.SIGKILL)
    assert "stopping; finishing 1 request" in s.stderr
    assert "Traceback" not in s.stderr


# ---- the command and the library ---------------------------------------------------------------


def test_without_the_extra_it_says_what_to_install(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "uvicorn.py").write_text("raise ImportError('no uvicorn here')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(REPO), str(blocker)])}
    p = run("serve", "some-model", env=env)
    assert p.returncode == 2
    assert err(p).strip() == (
        'rnngen serve: error: rnngen serve needs uvicorn and Starlette: pip install "rnngen[serve]"'
    ) or err(p).strip().endswith('pip install "rnngen[serve]"')
    assert "Traceback" not in err(p)


def test_a_missing_model_is_one_line(tmp_path):
    p = run("serve", str(tmp_path / "nothing"), "--port", "0", cwd=tmp_path)
    assert p.returncode != 0 and "Traceback" not in err(p)
    assert len(err(p).strip().splitlines()) == 1


def test_exposure_warning():
    from rnngen.server.serving import exposure_warning, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert exposure_warning("127.0.0.1", None) is None
    assert exposure_warning("0.0.0.0", "secret") is None
    assert "without --token" in exposure_warning("0.0.0.0", None)


def test_the_asgi_app_of_rnngen_serve_models(models):
    """``uvicorn rnngen.server:app``: the app of the models $RNNGEN_SERVE_MODELS names."""
    _, found = models
    code = "import rnngen.server as s; print(sorted(s.app.service.models))"
    spec = f"lm={found['lm']},{found['rev']}"
    env = cli_env({"RNNGEN_SERVE_MODELS": spec})
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "['lm', 'rev']"


def test_ctrl_c_finishes_the_streams_in_flight_then_exits_0(models):
    where, found = models
    s = Server(str(found["lm"]), "--quiet", cwd=where)
    try:
        flight = s.stream({"model": "lm", "prompt": "the ", "max_tokens": 4000, "n": 2})
        events = flight.events()
        next(events)
        s.proc.send_signal(signal.SIGINT)
        rest = list(events)
        flight.close()
        assert rest[-1] == "[DONE]"
        assert sum(c["finish_reason"] == "length" for e in rest[:-1] for c in e["choices"]) == 2
        assert s.proc.wait(60) == 0
    finally:
        s.stop(signal.SIGKILL)
    assert "Traceback" not in s.stderr


def test_one_step_advances_every_request_in_the_batch(models):
    """The scheduler's batch in-process: three requests (two rows each) join, every step draws
    one token for all six rows, a row leaves as it ends, a cancelled request leaves at the next
    step."""
    from rnngen import load
    from rnngen.server.models import Served
    from rnngen.server.protocol import CompletionRequest
    from rnngen.server.scheduler import Batch, Completion

    served = Served("lm", load(models[1]["lm"]))
    b = Batch(served)
    out: dict = {}
    jobs = []
    for k, (prompt, length) in enumerate([("the ", 5), ("a bird", 8), ("", 30)]):
        req = CompletionRequest("lm", prompt, max_tokens=length, temperature=0.8, seed=k, n=2)
        ids = served.vocab.encode(prompt, close_last_line=False)
        jobs.append(Completion(served, req, ids, None, lambda events: None, 60))
        b.join(jobs[-1], out)
    assert len(b.rows) == 6 and b.state.h.shape[1] == 6 and b.logits.shape[0] == 6
    for step in range(8):
        out = {}
        b.step(out)
        assert sum(len(events) for events in out.values()) == len(out) * 2  # 2 rows a request
        if step == 4:
            assert len(b.rows) == 4 and jobs[0] in {j for j in b.ended}
    assert len(b.rows) == 2 and jobs[2].tokens == 16
    jobs[2].cancel()
    b.step({})
    assert b.rows == [] and b.state is None
