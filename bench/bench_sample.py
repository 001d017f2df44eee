"""Sampling speed at batch 1: rnngen's Sampler against PyTorch stepping nn.LSTM one token a call.

    python bench/bench_sample.py                               # h128,h256,h512, 5 rounds of 2 s
    python bench/bench_sample.py --configs h128,h512 --repeats 3 --seconds 1
    python bench/bench_sample.py --no-torch --json /tmp/sample.json
    python bench/bench_sample.py --against ../old      # this tree against another checkout

What one sampled token is, on both sides (temperature 1, no top-k/top-p, state carried):
  rnngen:  rnngen.generate.sample.Sampler.generate on a checkpoint of a randomly initialised
           model, written with rnngen.checkpoint and read back (the path of ``rnngen
           sample``); timed over whole samples of ``--chars`` tokens, so the per-sample set-up
           is included.
  PyTorch: nn.Embedding -> nn.LSTM -> nn.Linear -> softmax -> torch.multinomial, one token per
           call under torch.no_grad(), the (h, c) state carried, as a user would write the loop.

Both run with 1 and with 2 threads (rnngen: ``Sampler(threads=...)``; PyTorch:
``torch.set_num_threads``), and rnngen also as ``rnngen sample`` runs it by default
(``Sampler(ckpt)``: ``default_threads`` parts, each chunk on 1 or 2 threads as its timing says),
each engine in its own worker process, alternated round by round (rnngen 1, 2, default, torch 1,
2). The ratio compares rnngen's default with PyTorch at whichever thread count was faster in that
round, and reports the median over rounds: the machine is shared, so only same-run, alternated
numbers compare.

At batch 1 every token reads every weight once, so the floor is memory bandwidth: the script also
measures the machine's streaming read bandwidth over a buffer as large as the model's weights
(1 and 2 threads) and prints the implied floor in us/token next to the measurements.
"""

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import (
    GATES,
    MODELS,
    ROOT,
    Worker,
    cell_of,
    config_names,
    machine,
    pick_engines,
    ratio_summary,
    write_report,
)

CONFIGS = MODELS  # name: (level, V, E, H, L)
DEFAULT_CONFIGS = "h128,h256,h512"


def weight_bytes(V: int, E: int, H: int, L: int, gates: int = 4) -> int:
    """float32 bytes a token reads: W_hh of every layer, W_ih of layers 1.., the output layer
    (layer 0's input product is a (V, G) table row), G = gates * H."""
    G = gates * H
    return 4 * (L * H * G + (L - 1) * H * G + H * V + G)


# ---------------------------------------------------------------------------------------------
# workers: one process per engine, commands as JSON lines on stdin, answers on stdout


def _tokens(level: str, V: int) -> list[str]:
    if level == "char":
        chars = [chr(c) for c in range(32, 127)][: V - 1]
        return ["\n", *chars]
    return ["<eos>", "<unk>", *(f"w{i}" for i in range(V - 2))]


class _RnngenRunner:
    def __init__(self, name: str, tmp: Path) -> None:
        import rnngen_api as api  # this tree's rnngen, or the one given to --against

        np = api.np
        level, V, E, H, L = CONFIGS[name]
        cfg = api.ModelConfig(
            level=level, vocab_size=V, embed=E, hidden=H, layers=L, cell=cell_of(name)
        )
        model = api.LMNetwork(cfg, np.float32)
        model.init_weights(np.random.default_rng(0))
        ck = api.checkpoint.Checkpoint(
            cfg, api.TrainConfig(), api.Vocab(level, _tokens(level, V)), dict(model.params.views)
        )
        path = api.checkpoint.save(ck, tmp / f"{name}.safetensors")
        ckpt = api.checkpoint.load(path)
        Sampler = api.Sampler  # noqa: N806
        self.samplers = {
            1: Sampler(ckpt, threads=1),
            2: Sampler(ckpt, threads=2),
            "auto": Sampler(ckpt),
        }
        self.default = api.default_threads(cfg, len(os.sched_getaffinity(0)))
        self.SampleConfig = api.SampleConfig
        self.seed = 0

    def run(self, threads: int | str, seconds: float, chars: int) -> dict:
        s = self.samplers[threads]
        n, t0 = 0, time.perf_counter()
        while n < 2 * chars or time.perf_counter() - t0 < seconds:
            self.seed += 1
            for _ in s.generate(self.SampleConfig(length=chars, seed=self.seed)):
                pass
            n += chars
        return {"us_per_token": (time.perf_counter() - t0) / n * 1e6, "tokens": n}

    def info(self) -> dict:
        return {"default_threads": self.default}


class _TorchRunner:
    def __init__(self, name: str) -> None:
        import torch

        self.torch = torch
        level, V, E, H, L = CONFIGS[name]
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(V, E)
        self.rnn = (torch.nn.GRU if cell_of(name) == "gru" else torch.nn.LSTM)(E, H, L)
        self.lin = torch.nn.Linear(H, V)
        self.x = torch.zeros(1, 1, dtype=torch.long)
        self.state = None

    def run(self, threads: int, seconds: float, chars: int) -> dict:
        torch = self.torch
        torch.set_num_threads(threads)
        emb, rnn, lin = self.emb, self.rnn, self.lin
        x, state = self.x, self.state
        n, t0 = 0, time.perf_counter()
        with torch.no_grad():
            while n < 20 or time.perf_counter() - t0 < seconds:
                for _ in range(10):
                    out, state = rnn(emb(x), state)  # (1, 1, H)
                    p = torch.softmax(lin(out[0, 0]) / 1.0, dim=-1)  # (V,)
                    x = torch.multinomial(p, 1).view(1, 1)
                n += 10
        self.x, self.state = x, state
        return {"us_per_token": (time.perf_counter() - t0) / n * 1e6, "tokens": n}

    def info(self) -> dict:
        return {"torch": self.torch.__version__}


def _bandwidth(nbytes: int) -> dict:
    """Best streaming read rate (GB/s) over a buffer of ``nbytes``, 1 and 2 threads."""
    import numba
    import numpy as np
    from numba import njit, prange

    @njit(fastmath=True, nogil=True)
    def read(a):
        s = np.float32(0.0)
        for i in range(a.shape[0]):  # from 0: no negative-index check, so it vectorises
            s += a[i]
        return s

    @njit(parallel=True, nogil=True)
    def read_split(a, acc):
        n = a.shape[0] // 2
        for p in prange(2):
            acc[p] = read(a[p * n : (p + 1) * n])

    a = np.ones(max(nbytes // 4, 1 << 16), np.float32)
    acc = np.zeros(2, np.float32)
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    read(a)
    read_split(a, acc)
    one = min(_timed(lambda: read(a)) for _ in range(30))
    two = min(_timed(lambda: read_split(a, acc)) for _ in range(30))
    return {"1": a.nbytes / one / 1e9, "2": a.nbytes / two / 1e9}


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def worker(engine: str, root: str) -> None:
    """Serve commands: {"cmd": "setup"|"run"|"bandwidth", ...} -> one JSON line each."""
    sys.path.insert(0, root)
    if engine != "torch":  # first: rnngen sets the thread pools' environment before Numba loads
        importlib.import_module("rnngen")
    runners: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for line in sys.stdin:
            req = json.loads(line)
            try:
                if req["cmd"] == "bandwidth":
                    out = {"gb_per_s": _bandwidth(req["bytes"])}
                elif req["cmd"] == "setup":
                    name = req["config"]
                    t0 = time.perf_counter()
                    r = runners[name] = (
                        _TorchRunner(name) if engine == "torch" else _RnngenRunner(name, Path(tmp))
                    )
                    for t in (1, 2) if engine == "torch" else (1, 2, "auto"):  # JIT, first touch
                        r.run(t, 0.0, 20)
                    out = {"setup_s": time.perf_counter() - t0, **r.info()}
                else:
                    r = runners[req["config"]]
                    out = r.run(req["threads"], req["seconds"], req["chars"])
            except Exception as e:  # report to the driver instead of dying silently
                out = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------------
# driver


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"from {','.join(CONFIGS)}")
    ap.add_argument("--repeats", type=int, default=5, help="alternated rounds per config")
    ap.add_argument("--seconds", type=float, default=2.0, help="timed seconds per segment")
    ap.add_argument("--chars", type=int, default=500, help="rnngen: tokens per generated sample")
    ap.add_argument("--no-torch", action="store_true", help="rnngen only")
    ap.add_argument(
        "--against",
        metavar="DIR",
        help="another checkout of rnngen, instead of PyTorch (A/B of two versions)",
    )
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "sample.json"))
    ap.add_argument("--worker", choices=["rnngen", "base", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.root)
        return 0
    names = config_names(ap, args.configs, CONFIGS)
    torch_version, engines = pick_engines(args.no_torch, args.against)
    workers = {
        e: Worker(__file__, e, root=Path(args.against) if e == "base" else ROOT) for e in engines
    }
    segments = [("rnngen", 1), ("rnngen", 2), ("rnngen", "auto")]
    segments += [("torch", 1), ("torch", 2)] if "torch" in engines else []
    if "base" in engines:  # A B A B: this tree and the other, at each thread setting
        segments = [(e, t) for t in (1, 2, "auto") for e in ("rnngen", "base")]
    results = {}
    try:
        for name in names:
            level, V, E, H, L = CONFIGS[name]
            nbytes = weight_bytes(V, E, H, L, GATES[cell_of(name)])
            bw = workers["rnngen"].ask(cmd="bandwidth", bytes=nbytes)["gb_per_s"]
            setup = {e: workers[e].ask(cmd="setup", config=name) for e in engines}
            default = setup["rnngen"]["default_threads"]
            us: dict[tuple[str, int | str], list[float]] = {s: [] for s in segments}
            for _ in range(args.repeats):
                for e, t in segments:  # A B A B: every engine sees the same machine weather
                    time.sleep(0.05)
                    r = workers[e].ask(
                        cmd="run", config=name, threads=t, seconds=args.seconds, chars=args.chars
                    )
                    us[(e, t)].append(r["us_per_token"])
            res = {
                "config": {"level": level, "V": V, "E": E, "H": H, "L": L},
                "weight_bytes_per_token": nbytes,
                "read_bandwidth_gb_per_s": bw,
                "floor_us_per_token": {t: nbytes / (g * 1e9) * 1e6 for t, g in bw.items()},
            }
            for e, t in segments:
                res.setdefault(e, {})[f"threads_{t}"] = {
                    "us_per_token": us[(e, t)],
                    "median_us_per_token": statistics.median(us[(e, t)]),
                }
            for e in engines:
                res[e].update({k: v for k, v in setup[e].items() if k != "setup_s"})
            rn = us[("rnngen", "auto")]
            med = {s: statistics.median(v) for s, v in us.items()}
            line = (
                f"{name:5s} {level} V{V} E{E} H{H} L{L}: rnngen {med[('rnngen', 'auto')]:7.1f} "
                f"us/tok (default: {default} parts, threads chosen by timing; fixed 1 thread "
                f"{med[('rnngen', 1)]:.1f}, 2 threads {med[('rnngen', 2)]:.1f}); floor "
                f"{nbytes / (bw['1'] * 1e9) * 1e6:.0f}/{nbytes / (bw['2'] * 1e9) * 1e6:.0f}"
            )
            if "base" in engines:
                res["ratio_base_over_rnngen"] = {}
                for t in (1, 2, "auto"):
                    pairs = zip(us[("rnngen", t)], us[("base", t)], strict=True)
                    ratios = [b / a for a, b in pairs]
                    res["ratio_base_over_rnngen"][f"threads_{t}"] = ratio_summary(ratios)
                    line += f" | base/rnngen at {t}: {statistics.median(ratios):.3f}"
            if "torch" in engines:
                best = [min(a, b) for a, b in zip(us[("torch", 1)], us[("torch", 2)], strict=True)]
                ratios = [b / a for a, b in zip(rn, best, strict=True)]
                res["torch_best_us_per_token"] = best
                res["ratio_torch_over_rnngen"] = ratio_summary(ratios)
                line += (
                    f" | torch {med[('torch', 1)]:.1f} (1 thread) {med[('torch', 2)]:.1f} (2)"
                    f" | rnngen {statistics.median(ratios):.1f}x faster"
                )
            print(line, flush=True)
            results[name] = res
    finally:
        for w in workers.values():
            w.close()

    report = {
        "machine": machine(),
        "torch": torch_version or "not installed",
        "against": args.against,
        "repeats": args.repeats,
        "seconds_per_segment": args.seconds,
        "chars_per_rnngen_sample": args.chars,
        "ratio": "torch us/token at its best thread count / rnngen us/token as rnngen sample "
        "runs by default (threads_auto)",
        "configs": results,
    }
    write_report(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
