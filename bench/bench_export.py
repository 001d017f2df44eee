"""ONNX export, float32 against --int8: file size, validation bits per token and onnxruntime's
step latency at batch 1 against rnngen's own sampler.

    python bench/bench_export.py RUN [RUN...] --valid valid.txt    # RUN: a trained language model
    python bench/bench_export.py RUN --valid valid.txt --json bench/results/export-onnx.json

What it does, with RUN exported by ``rnngen export`` twice (float32, then ``--int8``):
  size       the bytes of NAME.onnx (the step graph) and NAME.score.onnx;
  bits       the validation text scored as ``rnngen eval`` scores it (the windows of
             ``rnngen.data.batches.eval_batches``, 16 rows of 64 steps, the state carried from the
             zero state): by rnngen itself, and by each scoring graph in onnxruntime, as bits per
             token (per character at character level);
  latency    us per token at batch 1: the step graph in an onnxruntime session of 1 thread and of
             2 (each token the argmax of the last logits, fed back, the state carried), and the
             float32 step from basic operators, against ``rnngen.load(RUN, threads=1)`` and
             ``rnngen.load(RUN)`` (rnngen sample's default) generating at temperature 1; median
             of ``--rounds`` rounds of ``--tokens`` tokens, the engines alternating in each.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import ROOT, machine, write_report


def export(run: str, out: Path, int8: bool) -> dict[str, int]:
    args = [sys.executable, "-m", "rnngen", "export", run, "-o", str(out), "--force", "-q"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    subprocess.run(args + (["--int8"] if int8 else []), check=True, env=env)
    score = out.with_name(out.name.replace(".onnx", ".score.onnx"))
    return {"step": out.stat().st_size, "score": score.stat().st_size}


def session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_bits(score_path: Path, tokens: np.ndarray, batch: int, seq_len: int) -> float:
    """Bits per token of the scoring graph over rnngen eval's windows, state carried."""
    from rnngen.data.batches import eval_batches

    sess = session(score_path, 2)
    names = json.loads(sess.get_modelmeta().custom_metadata_map["rnngen.state"])
    layers = int(sess.get_modelmeta().custom_metadata_map["rnngen.layers"])
    hidden = int(sess.get_modelmeta().custom_metadata_map["rnngen.hidden"])
    state, nats, count = None, 0.0, 0
    for x, y, carry in eval_batches(tokens, batch, seq_len):
        if state is None:
            state = {n: np.zeros((layers, x.shape[1], hidden), np.float32) for n in names}
        if carry is not None and state["h"].shape[1] != 1:
            state = {n: np.ascontiguousarray(a[:, carry : carry + 1]) for n, a in state.items()}
        ids = np.concatenate([x, y[-1:]]).astype(np.int64)  # (T + 1, B): y is x shifted by one
        out = sess.run(None, {"ids": ids, **state})
        nats -= float(out[0].astype(np.float64).sum())
        count += y.size
        state = dict(zip(names, out[1:], strict=True))
    return nats / count / math.log(2)


def onnx_engine(step_path: Path, threads: int):
    """A function of n: the seconds per token of n steps of the step graph at batch 1, each
    token the argmax of the last logits, fed back, the state carried."""
    sess = session(step_path, threads)
    meta = sess.get_modelmeta().custom_metadata_map
    names = json.loads(meta["rnngen.state"])
    start = json.loads(meta["rnngen.start_state"])
    first = json.loads(meta["rnngen.start_token"]) or 0

    def go(n: int) -> float:
        state = {k: np.asarray(start[k], np.float32)[:, None, :] for k in names}  # (L, 1, H)
        tok = np.array([first], np.int64)
        t0 = time.perf_counter()
        for _ in range(n):
            out = sess.run(None, {"ids": tok, **state})
            tok = out[0].argmax(axis=1).astype(np.int64)
            state = dict(zip(names, out[1:], strict=True))
        return (time.perf_counter() - t0) / n

    return go


def rnngen_engine(run: str, threads: int | None):
    """The same for rnngen's sampler (``rnngen sample``'s path), at temperature 1."""
    import rnngen

    m = rnngen.load(run, threads=threads)
    m.warm("sample")
    seed = iter(range(10**6))

    def go(n: int) -> float:
        t0 = time.perf_counter()
        for _ in m.generate("", length=n, temp=1.0, seed=next(seed)):
            pass
        return (time.perf_counter() - t0) / n

    return go


def alternated(engines: dict, tokens: int, rounds: int) -> dict[str, float]:
    """Median us per token of each engine over ``rounds`` rounds, the engines taking turns in
    every round (the machine is shared: a busy spell then hits all of them), after one round
    that warms each."""
    times: dict[str, list[float]] = {k: [] for k in engines}
    for r in range(rounds + 1):
        for k, go in engines.items():
            t = go(tokens)
            if r:
                times[k].append(t * 1e6)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="trained language models: run directories or files")
    ap.add_argument("--valid", required=True, help="validation text")
    ap.add_argument("--tokens", type=int, default=1000, help="tokens per latency round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import onnxruntime

    results = {"machine": machine(), "onnxruntime": onnxruntime.__version__, "models": []}
    for run in args.runs:
        report = measure(run, args)
        results["models"].append(report)
        print_table(results, report)
    if args.json:
        write_report(results, args.json)


def measure(run: str, args) -> dict:
    import rnngen

    model = rnngen.load(run)
    text = Path(args.valid).read_text(encoding="utf-8")
    tokens = model.checkpoint.vocab.encode(text)
    c = model.config
    report: dict = {
        "model": {
            "path": str(model.path),
            "cell": c.cell,
            "level": c.level,
            "layers": c.layers,
            "hidden": c.hidden,
            "embed": c.embed,
            "vocab": c.vocab_size,
        },
        "valid": {"path": args.valid, "tokens": int(len(tokens))},
    }
    ev = model.evaluate(text=text, batch_size=16, seq_len=64)
    report["rnngen_bits"] = ev.loss / math.log(2)
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        engines = {}
        for kind, int8 in (("float32", False), ("int8", True)):
            path = Path(tmp) / f"{kind}.onnx"
            sizes = export(run, path, int8)
            score = path.with_name(f"{kind}.score.onnx")
            report[kind] = {"bytes": sizes, "bits": onnx_bits(score, tokens, 16, 64)}
            for t in (1, 2):
                engines[f"onnxruntime {kind}, {t} thread{'s' * (t > 1)}"] = onnx_engine(path, t)
        # the same step from basic operators (MatMuls), float32: what --int8 quantizes for GRU/RNN
        from rnngen.export.onnx import lm, meta

        ck, basic = model.checkpoint, Path(tmp) / "basic.onnx"
        g = lm.step_graph(ck, basic=True)
        props = meta.lm(ck, "step", g.described, "basic", False)
        basic.write_bytes(g.model("basic operators", props).SerializeToString())
        engines["onnxruntime float32 basic ops, 1 thread"] = onnx_engine(basic, 1)
        engines["rnngen, 1 thread"] = rnngen_engine(run, 1)
        engines["rnngen, default threads"] = rnngen_engine(run, None)
        report["us_per_token"] = alternated(engines, args.tokens, args.rounds)
    return report


def print_table(results: dict, report: dict) -> None:
    f, q, m = report["float32"], report["int8"], report["model"]
    w = 30
    print(f"{results['machine']['cpu']}, onnxruntime {results['onnxruntime']}")
    print(f"model: {m['level']} {m['cell']} L{m['layers']} H{m['hidden']} E{m['embed']}")
    print(f"{'':{w}}{'float32':>12}{'int8':>12}")
    for what, key in (("step graph (bytes)", "step"), ("scoring graph (bytes)", "score")):
        print(f"{what:{w}}{f['bytes'][key]:>12,}{q['bytes'][key]:>12,}")
    print(f"{'float32 / int8 size':{w}}{f['bytes']['step'] / q['bytes']['step']:>24.2f}")
    print(f"{'valid bits/token':{w}}{f['bits']:>12.4f}{q['bits']:>12.4f}")
    print(f"{'valid bits/token, rnngen':{w}}{report['rnngen_bits']:>12.4f}")
    for k, us in report["us_per_token"].items():
        print(f"{'us/token, ' + k:{w + 22}}{us:>8.1f}")


if __name__ == "__main__":
    main()
