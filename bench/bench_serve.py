"""Load test of ``rnngen serve``: one streaming client alone, then many at once, on loopback.

    python bench/bench_serve.py                            # the default model, 64 clients, 60 s
    python bench/bench_serve.py --seconds 10 --solo-seconds 5 --clients 16
    python bench/bench_serve.py --model runs/corpus-20261121-101500 --json /tmp/serve.json

The server is the real command (``python -m rnngen serve MODEL --port 0 --quiet``, this tree's
code) in its own process; the clients are asyncio coroutines in this one, each sending streamed
completions (``max_tokens`` --tokens, temperature 0.8, ``stream_options.include_usage``) one
after another over HTTP/1.0 on loopback, as fast as the answers come. Without --model it trains
the default model (char L2 H256 E64, ``rnngen train`` on the built-in ``python-docs`` corpus,
150 steps: its speed, not its text, is measured) in a temporary directory.

Reported per phase: requests/s, tokens/s (the usage chunks' completion tokens over the phase's
wall time, the requests in flight at its end run to completion and count), time to first token
(request sent -> first text), per-token latency (a request's (last text - first text) / (tokens
- 1)), each p50 and p99 over requests; the requests answered in full, with an error, or lost
(connection closed without ``[DONE]``); the server's RSS at start, after the solo phase, every 5
s under load and at the end; and, for scale, the tokens/s of ``rnngen sample``'s batch-1 kernel
on the same model in a process of its own (the server steps even a lone request through the
batched step, slower at batch 1 than that kernel). JSON to --json (bench/results/serve.json), a
table on stdout.
"""

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import ROOT, machine, write_report


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def default_model(where: Path) -> Path:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rnngen = [sys.executable, "-m", "rnngen"]
    subprocess.run([*rnngen, "corpus", "get", "python-docs", "-o", "python-docs.txt", "-q"],
                   cwd=where, env=env, check=True)  # fmt: skip
    subprocess.run([*rnngen, "train", "python-docs.txt", "--steps", "150", "--out", "default",
                    "-q"], cwd=where, env=env, check=True)  # fmt: skip
    return where / "default"


class ServerProcess:
    def __init__(self, model: Path, extra: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rnngen", "serve", f"bench={model}", "--port", "0", "--quiet",
             *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        self.stderr: list[str] = []
        started = threading.Event()
        self.port = 0

        def read() -> None:
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace")
                self.stderr.append(line)
                m = re.search(r"http://127\.0\.0\.1:(\d+)/ serving", line)
                if m:
                    self.port = int(m.group(1))
                    started.set()
            started.set()

        threading.Thread(target=read, daemon=True).start()
        if not started.wait(300) or not self.port:
            raise SystemExit("the server did not start:\n" + "".join(self.stderr))

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(60)


async def one_request(port: int, body: bytes) -> dict:
    """One streamed completion: its timings, tokens and how it ended."""
    t0 = time.perf_counter()
    r = {"t0": t0, "first": None, "last": None, "tokens": 0, "status": "lost", "chunks": 0}
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        r["status"], r["error"] = "error", str(e)
        return r
    try:
        writer.write(
            b"POST /v1/completions HTTP/1.0\r\nHost: 127.0.0.1\r\n"
            + b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        status_line = await reader.readline()
        code = int(status_line.split()[1]) if status_line else 0
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        if code != 200:
            r["status"], r["error"] = "error", f"HTTP {code}: {(await reader.read())[:200]!r}"
            return r
        while True:
            line = await reader.readline()
            if not line:
                break
            if not line.startswith(b"data: "):
                continue
            data = line[6:].strip()
            if data == b"[DONE]":
                r["status"] = "full" if r["status"] == "lost" else r["status"]
                break
            chunk = json.loads(data)
            if "error" in chunk:
                r["status"], r["error"] = "error", chunk["error"]["message"]
                continue
            now = time.perf_counter()
            if chunk.get("usage"):
                r["tokens"] = chunk["usage"]["completion_tokens"]
            if any(c["text"] for c in chunk["choices"]):
                r["first"] = r["first"] or now
                r["last"] = now
                r["chunks"] += 1
    except (OSError, ValueError) as e:
        r["status"], r["error"] = "lost", str(e)
    finally:
        writer.close()
    r["end"] = time.perf_counter()
    return r


async def phase(port: int, clients: int, seconds: float, body: bytes, server: ServerProcess):
    """``clients`` loops of back-to-back requests for ``seconds``; RSS sampled every 5 s."""
    done: list[dict] = []
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    rss: list[tuple[float, float]] = [(0.0, rss_mb(server.proc.pid))]

    async def client() -> None:
        while time.perf_counter() < stop_at:
            done.append(await one_request(port, body))

    async def sampler() -> None:
        while time.perf_counter() < stop_at:
            await asyncio.sleep(5)
            rss.append((round(time.perf_counter() - t0, 1), rss_mb(server.proc.pid)))

    await asyncio.gather(sampler(), *(client() for _ in range(clients)))
    wall = time.perf_counter() - t0
    return summary(done, wall, clients) | {"rss_mb": rss}


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def summary(done: list[dict], wall: float, clients: int) -> dict:
    full = [r for r in done if r["status"] == "full"]
    ttft = [(r["first"] - r["t0"]) * 1000 for r in full if r["first"]]
    per_token = [
        (r["last"] - r["first"]) * 1000 / (r["tokens"] - 1)
        for r in full
        if r["first"] and r["tokens"] > 1
    ]
    tokens = sum(r["tokens"] for r in full)
    return {
        "clients": clients,
        "seconds": round(wall, 2),
        "requests": len(done),
        "answered_in_full": len(full),
        "errors": sum(r["status"] == "error" for r in done),
        "lost": sum(r["status"] == "lost" for r in done),
        "error_examples": [r.get("error") for r in done if r["status"] != "full"][:5],
        "requests_per_s": round(len(full) / wall, 2),
        "tokens": tokens,
        "tokens_per_s": round(tokens / wall, 1),
        "ttft_ms_p50": pct(ttft, 50),
        "ttft_ms_p99": pct(ttft, 99),
        "per_token_ms_p50": pct(per_token, 50),
        "per_token_ms_p99": pct(per_token, 99),
        "tokens_per_chunk": round(tokens / max(1, sum(r["chunks"] for r in full)), 2),
    }


def table(report: dict) -> str:
    rows = [("", "1 client", f"{report['load']['clients']} clients")]

    def fmt(v, d=1):
        return "-" if v is None else f"{v:,.{d}f}"

    s, l = report["solo"], report["load"]  # noqa: E741
    for name, key, d in (
        ("requests/s", "requests_per_s", 2),
        ("tokens/s", "tokens_per_s", 0),
        ("time to first token p50 (ms)", "ttft_ms_p50", 1),
        ("time to first token p99 (ms)", "ttft_ms_p99", 1),
        ("per-token latency p50 (ms)", "per_token_ms_p50", 2),
        ("per-token latency p99 (ms)", "per_token_ms_p99", 2),
        ("tokens per streamed chunk", "tokens_per_chunk", 2),
    ):
        rows.append((name, fmt(s[key], d), fmt(l[key], d)))
    for name, key in (("answered in full", "answered_in_full"), ("errors", "errors"),
                      ("lost", "lost")):  # fmt: skip
        rows.append((name, str(s[key]), str(l[key])))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    rss = l["rss_mb"]
    lines.append(
        f"tokens/s at {l['clients']} clients / 1 client: {report['ratio']:.2f}x; server RSS "
        f"{report['rss_start_mb']:.0f} MB at start, {rss[0][1]:.0f} MB as the load began, "
        f"{rss[-1][1]:.0f} MB at its end"
    )
    lines.append(
        f"rnngen sample's batch-1 kernel on the same model, no server: "
        f"{report['rnngen_sample_tokens_per_s']:,.0f} tokens/s (the load's aggregate: "
        f"{report['ratio_to_rnngen_sample']:.2f}x)"
    )
    return "\n".join(lines)


SAMPLER = """
import sys, time, rnngen
m = rnngen.load(sys.argv[1])
m.warm("sample")
"".join(m.generate(prime="The ", length=2000, temp=0.8, seed=1))
t0 = time.perf_counter()
n = sum(1 for _ in m.generate(prime="The ", length=20000, temp=0.8, seed=2))
print(20000 / (time.perf_counter() - t0))
"""


def sampler_tokens_per_s(model: Path) -> float:
    """``rnngen sample``'s batch-1 kernel on the same model, in a process of its own: what one
    client could have without a server."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", SAMPLER, str(model)], capture_output=True,
                       text=True, env=env, check=True)  # fmt: skip
    return round(float(p.stdout.strip().splitlines()[-1]), 1)


def http_stack() -> str:
    """What uvicorn runs on here: httptools and uvloop when installed (uvicorn[standard]), else
    h11 and asyncio's loop (the serve extra alone)."""
    import importlib.util

    fast = [m for m in ("httptools", "uvloop") if importlib.util.find_spec(m)]
    return "uvicorn with " + (" and ".join(fast) if fast else "h11 and asyncio (the serve extra)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="checkpoint or run directory (default: train the default)")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=60.0, help="the loaded phase's length")
    ap.add_argument("--solo-seconds", type=float, default=15.0, help="the one client's phase")
    ap.add_argument("--tokens", type=int, default=200, help="max_tokens of every request")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "serve.json"))
    ap.add_argument("--server-args", default="", help="more options for rnngen serve")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as d:
        model = Path(args.model) if args.model else default_model(Path(d))
        server = ServerProcess(model, args.server_args.split())
        try:
            start = rss_mb(server.proc.pid)
            body = json.dumps({
                "model": "bench", "prompt": "The ", "max_tokens": args.tokens, "temperature": 0.8,
                "stream": True, "stream_options": {"include_usage": True},
            }).encode()  # fmt: skip
            asyncio.run(one_request(server.port, body))  # first touch
            solo = asyncio.run(phase(server.port, 1, args.solo_seconds, body, server))
            load = asyncio.run(phase(server.port, args.clients, args.seconds, body, server))
            end = rss_mb(server.proc.pid)
        finally:
            code = server.stop()
        sampler = sampler_tokens_per_s(model)
    report = {
        "what": "rnngen serve under load: streaming clients on loopback (bench/bench_serve.py)",
        "machine": machine(),
        "model": "the default model (char L2 H256 E64 LSTM)" if not args.model else str(model),
        "request": {"prompt": "The ", "max_tokens": args.tokens, "temperature": 0.8},
        "solo": solo,
        "load": load,
        "ratio": load["tokens_per_s"] / solo["tokens_per_s"],
        "rnngen_sample_tokens_per_s": sampler,
        "ratio_to_rnngen_sample": load["tokens_per_s"] / sampler,
        "rss_start_mb": start,
        "rss_end_mb": end,
        "server_exit_code": code,
        "http": http_stack(),
        "command": " ".join(["python", "bench/bench_serve.py", *sys.argv[1:]]),
    }
    write_report(report, args.json)
    print(table(report))
    print(f"server exit code after SIGTERM: {code}; JSON: {args.json}")
    print(f"CPU: {report['machine'].get('cpu')}")


if __name__ == "__main__":
    main()
