"""A real ``rnngen serve`` in a subprocess (port 0: the start-up line names the port), tiny
models for it, and plain HTTP against it with the standard library."""

import http.client
import json
import re
import subprocess
import threading
import time
from pathlib import Path

from clitools import cli_env, err, reversals, rnngen_exe, run, trained_once
from exporttools import corpus

LM_PRIME = "the dog s"


def train_models(where: Path) -> dict[str, Path]:
    """A char LSTM language model, a word GRU language model and a seq2seq model (reversals),
    tiny, trained by the real ``rnngen train``."""
    (where / "corpus.txt").write_text(corpus())
    (where / "pairs.tsv").write_text(reversals(400, seed=1, longest=8))
    small = ["--hidden", "32", "--embed", "16", "--lr", "0.01", "--seed", "1", "--quiet"]
    jobs = {
        "lm": ["corpus.txt", "--seq-len", "32", "--batch-size", "16", "--steps", "120"],
        "words": ["corpus.txt", "--level", "word", "--cell", "gru", "--seq-len", "16",
                  "--batch-size", "16", "--steps", "80"],
        "rev": ["pairs.tsv", "--task", "seq2seq", "--batch-size", "32", "--steps", "150"],
    }  # fmt: skip
    for name, args in jobs.items():
        p = run("train", *args, *small, "--out", name, cwd=where)
        assert p.returncode == 0, err(p)
    return {name: where / name for name in jobs}


def shared_models(tmp_path_factory) -> dict[str, Path]:
    """``train_models`` once per test session: test_serve.py and test_serve_page.py (each in its
    own worker under pytest-xdist) share the models, trained by whichever asks first."""
    root = trained_once(tmp_path_factory, "serve-models", train_models)
    return {name: root / name for name in ("lm", "words", "rev")}


class Server:
    """``rnngen serve ARGS --port 0`` running; its stderr collected as it comes."""

    def __init__(self, *args: str, cwd: Path, env: dict | None = None) -> None:
        self.proc = subprocess.Popen(
            [rnngen_exe(), "serve", *args, "--port", "0"],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(env),
        )
        self.lines: list[str] = []
        self.started = threading.Event()
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()
        if not self.started.wait(120) or not self.url:
            self.proc.kill()
            raise AssertionError("rnngen serve did not start:\n" + self.stderr)
        self.host, self.port = "127.0.0.1", int(self.url.rsplit(":", 1)[1])

    def _read(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            m = re.search(r"rnngen serve: (http://127\.0\.0\.1:\d+)/ serving", line)
            if m:
                self.url = m.group(1)
                self.started.set()
        self.started.set()

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def stop(self, sig: int = 15, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict | None = None,
        headers: dict | None = None,
        token: str | None = None,
    ) -> tuple[int, dict, bytes]:
        """(status, headers, body) of one request on a new connection."""
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def post(self, path: str, body, token: str | None = None) -> tuple[int, dict]:
        status, _, data = self.request("POST", path, body, token=token)
        return status, json.loads(data)

    def stream(self, body: dict, token: str | None = None) -> "Stream":
        return Stream(self, body, token)

    def health(self) -> dict:
        return json.loads(self.request("GET", "/health")[2])


class Stream:
    """A streamed completion read event by event: ``events()`` yields each ``data:`` payload
    (parsed JSON, or the string ``[DONE]``)."""

    def __init__(self, server: Server, body: dict, token: str | None) -> None:
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        self.conn.request("POST", "/v1/completions", body=json.dumps({**body, "stream": True}),
                          headers=h)  # fmt: skip
        self.response = self.conn.getresponse()

    def events(self):
        for raw in self.response:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                data = line[6:]
                yield data if data == "[DONE]" else json.loads(data)

    def close(self) -> None:
        self.conn.close()


def text_of(events: list) -> dict[int, str]:
    """Each choice's text, joined from streamed chunks."""
    texts: dict[int, str] = {}
    for e in events:
        if isinstance(e, dict):
            for c in e.get("choices", []):
                texts[c["index"]] = texts.get(c["index"], "") + c["text"]
    return texts


def wait_for(condition, timeout: float = 10.0) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if condition():
            return True
        time.sleep(0.05)
    return False
