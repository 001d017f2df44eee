"""The C and web exports of a trained language model: size, memory, speed and parity.

    rnngen train ../shared/corpora/tinyshakespeare.txt --minutes 3 --out runs/shakespeare
    python bench/bench_export_c_web.py runs/shakespeare            # JSON to bench/results/
    python bench/bench_export_c_web.py runs/shakespeare --screenshot docs/export-web.png

For each of float32 and int8:
  C:    the file (bytes), the binary (bytes; text + data from ``size``), the memory it needs
        (weights + the state struct), its tokens/s on one core (``taskset -c 0``, argmax, the
        time of ``-n 0`` subtracted) built with the issue's ``cc -O2 -std=c99`` and, for
        comparison, with ``-O3 -march=native``, and its argmax continuation against ``rnngen
        sample --temp 0`` over 200 tokens;
  web:  weights.js (bytes), tokens/s as the page reports it in headless Chromium driven in real
        time by Playwright (a virtual clock cannot time anything), its logits against rnngen's
        and its argmax continuation against ``rnngen sample --temp 0``;
and ``rnngen sample --threads 1`` on the same core for comparison (the time of ``--length 0``
subtracted). int8's cost in quality: bits per character of the model's float32 and int8 weights
on the corpus's last ``--eval-chars`` characters (the plain model's NumPy step, both ways).
Rounds alternate the engines; medians are reported.
"""

import argparse
import html
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import numpy as np
from benchlib import ROOT, machine, write_report

PRIME = "ROMEO:\n"
CFLAGS = ["-O2", "-std=c99", "-Wall", "-Werror"]
ONE_CORE = ["taskset", "-c", "0"]


def timed(cmd: list[str]) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - t0, p.stdout


def per_token(cmd_for, n: int) -> float:
    """Seconds per token of a command that writes n tokens, less the same command's start-up
    (the command with 0 tokens)."""
    full, _ = timed(cmd_for(n))
    empty, _ = timed(cmd_for(0))
    return max(full - empty, 1e-9) / n


def rnngen_cmd(model: str, prime: str, n: int, *more: str) -> list[str]:
    exe = shutil.which("rnngen") or "rnngen"
    return [exe, "sample", model, "--prime", prime, "--length", str(n), "--temp", "0", *more]


def c_figures(model, run_dir: str, where: Path, int8: bool) -> dict:
    from rnngen.export.c import write_c

    name = "model-int8" if int8 else "model"
    (src,) = write_c(model, where / f"{name}.c", int8)
    t0 = time.perf_counter()
    subprocess.run(["cc", *CFLAGS, str(src), "-lm", "-o", str(where / name)], check=True)
    compile_s = time.perf_counter() - t0
    size = subprocess.run(["size", str(where / name)], capture_output=True, text=True).stdout
    text, data, bss = (int(v) for v in size.splitlines()[1].split()[:3])
    # the same file built for this machine, for comparison (not the flags)
    native = where / f"{name}-native"
    subprocess.run(["cc", "-O3", "-march=native", "-std=c99", str(src), "-lm", "-o", str(native)])
    return {
        "file_bytes": src.stat().st_size,
        "binary_bytes": (where / name).stat().st_size,
        "size": {"text": text, "data": data, "bss": bss},
        "compile_seconds": round(compile_s, 2),
        "binary": str(where / name),
        "binary_native": str(native),
    }


def memory(m, int8: bool) -> dict:
    """Bytes of the constant arrays the C file holds (weights, their scales, the start state),
    and of one text's state (its ``rnn_state``: h (and c) of every layer, two gate vectors)."""
    f = 4

    def matrix(n_in: int, n_out: int) -> int:  # int8: one byte a weight, a scale per column
        return n_in * n_out + f * n_out if int8 else f * n_in * n_out

    first = (m.V, m.G) if m.table_is_smaller() else (m.V, m.E)
    total = matrix(*first) if not int8 else first[0] * first[1] + f * m.V  # a scale per row
    for k, layer in enumerate(m.layers):
        if k or not m.table_is_smaller():
            total += matrix(*layer.W_ih.shape)
        total += matrix(m.H, m.G) + f * layer.biases.size
    total += matrix(m.H, m.V) + f * m.V + f * m.start.size
    state = f * (m.L * len(m.state_names) * m.H + 2 * m.G)
    return {"constant_bytes": int(total), "state_bytes": state}


def page_speed(page: Path, n: int) -> float:
    from playwright.sync_api import sync_playwright

    url = (
        page.joinpath("index.html").resolve().as_uri()
        + "?"
        + urllib.parse.urlencode(
            {"prime": PRIME, "temp": 0.8, "length": n, "seed": 1, "autostart": 1}
        )
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox"]
        )
        try:
            tab = browser.new_page()
            tab.goto(url)
            tab.wait_for_selector("body[data-state=done]", timeout=300_000)
            return float(tab.locator("#speed").get_attribute("data-tokens-per-second"))
        finally:
            browser.close()


def page_parity(page: Path, model, want: str) -> dict:
    url = (
        page.joinpath("index.html").resolve().as_uri()
        + "?"
        + urllib.parse.urlencode(
            {"prime": PRIME, "temp": 0, "length": 200, "autostart": 1, "debug": "logits"}
        )
    )
    dom = subprocess.run(
        [shutil.which("chromium"), "--headless", "--no-sandbox", "--dump-dom",
         "--virtual-time-budget=30000", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    out = html.unescape(re.search(r'<pre id="output">(.*?)</pre>', dom, re.S).group(1))
    logits = np.array(
        json.loads(html.unescape(re.search(r'<pre id="debug">(.*?)</pre>', dom, re.S).group(1)))
    )
    return {
        "argmax_200_equal": PRIME + out == want,
        "first_difference": first_difference(PRIME + out, want),
        "max_abs_logit_difference": float(np.abs(logits - rnngen_logits(model, PRIME)).max()),
        "finished_under_virtual_time": 'data-state="done"' in dom,
    }


def rnngen_logits(model, prime: str) -> np.ndarray:
    from rnngen.generate.text import start_ids

    ck = model.checkpoint
    net = ck.build_model()
    ids = start_ids(ck.vocab, ck.vocab.encode(prime, close_last_line=False))
    return net.logits(ids[:, None], net.start_state(1))[-1].copy()


def first_difference(a: str, b: str) -> int | None:
    """The first position where a and b differ (None: equal)."""
    if a == b:
        return None
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def bits_per_char(m, text: str) -> float:
    """The plain model's bits per token on ``text`` (from the start state, the start token
    first, every token of the text predicted)."""
    ids = [m.tokens.index(c) for c in text]  # char level
    state = m.new_state()
    logits = m.logits_after([])
    bits = 0.0
    for t in ids:
        z = logits.astype(np.float64)
        bits += (np.log(np.exp(z - z.max()).sum()) + z.max() - z[t]) / np.log(2)
        logits = m.step(state, t)
    return bits / len(ids)


def dequantized(m):
    import copy

    from rnngen.export.plain import quantize

    d = copy.deepcopy(m)

    def dq(W, axis):
        q, s = quantize(W, axis)
        return (q * (s[None, :] if axis else s[:, None])).astype(np.float32)

    if d.table_is_smaller():
        d.table0 = dq(d.table0, 0)
    else:
        d.embed = dq(d.embed, 0)
        d.layers[0].W_ih = dq(d.layers[0].W_ih, 1)
        d.table0 = (d.embed @ d.layers[0].W_ih).astype(np.float32)
    for k, layer in enumerate(d.layers):
        if k:
            layer.W_ih = dq(layer.W_ih, 1)
        layer.W_hh = dq(layer.W_hh, 1)
    d.W_out = dq(d.W_out, 1)
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="a trained language model (run directory or checkpoint)")
    ap.add_argument("--tokens", type=int, default=20000, help="tokens per timed C/rnngen run")
    ap.add_argument("--page-tokens", type=int, default=5000, help="tokens per page run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--eval-chars", type=int, default=5000)
    ap.add_argument("--json", default=str(ROOT / "bench/results/export-c-web.json"))
    ap.add_argument("--screenshot", help="also write a screenshot of the page here (PNG)")
    args = ap.parse_args()

    import rnngen
    from rnngen.export.plain import plain_model
    from rnngen.export.web import write_web

    model = rnngen.load(args.model)
    m = plain_model(model)
    where = Path(tempfile.mkdtemp(prefix="bench-export-"))
    report: dict = {
        "machine": machine(),
        "model": {"path": str(model.path), "what": m.describe(), "parameters": m.n_params()},
        "prime": PRIME,
    }
    want = timed(rnngen_cmd(args.model, PRIME, 200))[1].decode()

    engines = {}
    for int8 in (False, True):
        kind = "int8" if int8 else "float32"
        c = c_figures(model, args.model, where, int8)
        c["memory"] = memory(m, int8)
        got = timed([c["binary"], "-p", PRIME, "-t", "0", "-n", "200"])[1].decode()
        c["argmax_200_equal"] = got == want
        c["first_difference"] = first_difference(got, want)
        page = where / f"page-{kind}"
        files = write_web(model, page, int8)
        web = {"weights_js_bytes": (page / "weights.js").stat().st_size,
               "files": [p.name for p in files]}  # fmt: skip
        web.update(page_parity(page, model, want))
        report[kind] = {"c": c, "web": web}
        binary = c["binary"]
        engines[f"c-{kind}"] = lambda n, b=binary: [
            *ONE_CORE,
            b,
            "-p",
            PRIME,
            "-t",
            "0",
            "-n",
            str(n),
        ]
        native = c["binary_native"]
        engines[f"c-{kind}-native"] = lambda n, b=native: [
            *ONE_CORE, b, "-p", PRIME, "-t", "0", "-n", str(n)
        ]  # fmt: skip
        engines[f"web-{kind}"] = page
    engines["rnngen"] = lambda n: [*ONE_CORE, *rnngen_cmd(args.model, PRIME, n, "--threads", "1")]

    speeds: dict[str, list[float]] = {k: [] for k in engines}
    for r in range(args.rounds):
        for name, how in engines.items():
            if name.startswith("web"):
                speeds[name].append(page_speed(how, args.page_tokens))
            else:
                speeds[name].append(1.0 / per_token(how, args.tokens))
            print(f"round {r + 1}: {name:12s} {speeds[name][-1]:10,.0f} tokens/s", file=sys.stderr)
    median = {k: statistics.median(v) for k, v in speeds.items()}
    for kind in ("float32", "int8"):
        report[kind]["c"]["tokens_per_second_one_core"] = median[f"c-{kind}"]
        report[kind]["c"]["tokens_per_second_rounds"] = speeds[f"c-{kind}"]
        report[kind]["web"]["tokens_per_second"] = median[f"web-{kind}"]
        report[kind]["web"]["tokens_per_second_rounds"] = speeds[f"web-{kind}"]
        report[kind]["c"].pop("binary")
        report[kind]["c"].pop("binary_native")
        report[kind]["c"]["tokens_per_second_one_core_O3_march_native"] = median[f"c-{kind}-native"]
    report["rnngen_sample_threads_1"] = {
        "tokens_per_second_one_core": median["rnngen"],
        "tokens_per_second_rounds": speeds["rnngen"],
    }

    corpus = model.checkpoint.info.get("corpus")
    if m.level == "char" and isinstance(corpus, str) and Path(corpus).is_file():
        text = Path(corpus).read_text()[-args.eval_chars :]
        f32, i8 = bits_per_char(m, text), bits_per_char(dequantized(m), text)
        report["int8_quality"] = {
            "text": f"the last {len(text)} characters of {corpus}",
            "bits_per_char_float32": f32,
            "bits_per_char_int8": i8,
            "difference": i8 - f32,
        }

    if args.screenshot:  # in real time, so that the page shows its real speed
        from playwright.sync_api import sync_playwright

        page = where / "page-float32"
        url = (
            page.joinpath("index.html").resolve().as_uri()
            + "?"
            + urllib.parse.urlencode(
                {"prime": PRIME, "temp": 0.8, "length": 700, "seed": 7, "autostart": 1}
            )
        )
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            tab = browser.new_page(viewport={"width": 1000, "height": 700})
            tab.goto(url)
            tab.wait_for_selector("body[data-state=done]", timeout=120_000)
            tab.screenshot(path=args.screenshot)
            browser.close()
        report["screenshot"] = args.screenshot

    print(json.dumps(report, indent=2))
    write_report(report, args.json)
    shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
