"""Training speed of rnngen against PyTorch (nn.LSTM, nn.GRU), and against the GEMM peak.

    python bench/bench_speed.py                          # all configs, 21 rounds of 1 s
    python bench/bench_speed.py --configs h128,word --repeats 3 --seconds 2
    python bench/bench_speed.py --json bench/results/speed.json
    python bench/bench_speed.py --against ../old     # this tree against another checkout

Each engine runs in its own worker process, so neither sees the other's thread pools or environment
(rnngen sets OMP_WAIT_POLICY/OPENBLAS_THREAD_TIMEOUT for itself; PyTorch runs with the environment
it was given). The driver alternates them, rnngen then PyTorch, ``--repeats`` times per config, each
segment a timed run of whole training steps on the same random token batches, and reports medians
and the median of the per-round ratios: the machine is shared, so only alternated, same-run numbers
are comparable.

A training step is the same work on both sides:
  rnngen:  LMNetwork.forward_backward (embedding -> L x LSTM (or GRU) -> linear -> softmax
           cross-entropy, the carried state advanced as in truncated BPTT) + Adam.step with
           global-norm clipping 5.0 over the flat buffer (``bench/rnngen_api.py`` finds them in
           this tree's layout or, for ``--against``, in an older one).
  PyTorch: nn.Embedding -> nn.LSTM (or nn.GRU) -> nn.Linear -> F.cross_entropy, backward,
           clip_grad_norm_(5.0), torch.optim.Adam.step; hidden state detached between steps;
           torch.set_num_threads(threads).

FLOPs are counted as GEMM work only: forward 2 * MACs per token (input and recurrent products of
every layer, output layer), backward twice the forward, so 6 * MACs per token. The peak is NumPy's
sgemm on 2048x2048 matrices with ``threads`` threads, measured in the same worker just before every
rnngen segment (best of 3): on a shared machine the peak moves too, so each round's throughput is
divided by its own peak and the fraction reported is the median over rounds. Rounds alternate
A B, B A, so neither engine always runs first.
"""

import argparse
import importlib
import json
import os
import statistics
import sys
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

# name: (level, V, E, H, L, B, T): the models of benchlib with their batch and sequence length
BATCHES = {
    "h128": (32, 64),
    "h256": (32, 64),
    "h512": (64, 100),
    "word": (20, 20),
    "gru256": (32, 64),
}
CONFIGS = {name: (*MODELS[name], *bt) for name, bt in BATCHES.items()}


def macs_per_token(V: int, E: int, H: int, L: int, cell: str = "lstm") -> int:
    """Multiply-adds of the forward pass per token (GEMMs only)."""
    layers = sum(((E if k == 0 else H) + H) * GATES[cell] * H for k in range(L))
    return layers + H * V


# ---------------------------------------------------------------------------------------------
# workers: one process per engine, commands as JSON lines on stdin, answers on stdout


def _batches(V: int, B: int, T: int, n: int = 4):
    import numpy as np

    rng = np.random.default_rng(0)
    return [(rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))) for _ in range(n)]


class _RnngenRunner:
    def __init__(self, name: str, threads: int) -> None:
        import rnngen_api as api  # this tree's rnngen, or the one given to --against

        np = api.np
        level, V, E, H, L, B, T = CONFIGS[name]
        plan = api.plan_threads(threads, B, H)
        api.apply_threads(plan)
        self.plan = plan
        cfg = api.ModelConfig(
            level=level, vocab_size=V, embed=E, hidden=H, layers=L, cell=cell_of(name)
        )
        self.model = api.LMNetwork(cfg, np.float32, parts=plan.parts)
        self.model.init_weights(np.random.default_rng(0))
        self.state = api.new_state(self.model, B)
        self.batches = [(x.astype(np.int64), y.astype(np.int64)) for x, y in _batches(V, B, T)]
        self.opt = api.Adam(self.model.params.size, lr=2e-3)
        self.optimizer = f"rnngen Adam (clip 5.0), {api.LAYOUT} layout"
        self.i = 0

    def step(self) -> None:
        x, y = self.batches[self.i % len(self.batches)]
        self.i += 1
        self.model.forward_backward(x, y, self.state)
        self.opt.step(self.model.params.flat, self.model.grads.flat, clip=5.0)

    def info(self) -> dict:
        return {"parts": self.plan.parts, "threads": self.plan.threads, "optimizer": self.optimizer}


class _TorchRunner:
    def __init__(self, name: str, threads: int) -> None:
        import torch
        import torch.nn.functional as F  # noqa: N812

        torch.set_num_threads(threads)
        self.torch, self.F = torch, F
        level, V, E, H, L, B, T = CONFIGS[name]
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(V, E)
        if cell_of(name) == "gru":
            self.rnn = torch.nn.GRU(E, H, L)
            self.hidden = (torch.zeros(L, B, H),)
        else:
            self.rnn = torch.nn.LSTM(E, H, L)
            self.hidden = (torch.zeros(L, B, H), torch.zeros(L, B, H))
        self.lin = torch.nn.Linear(H, V)
        self.params = [*self.emb.parameters(), *self.rnn.parameters(), *self.lin.parameters()]
        self.opt = torch.optim.Adam(self.params, lr=2e-3)
        self.batches = [
            (torch.from_numpy(x), torch.from_numpy(y).reshape(-1)) for x, y in _batches(V, B, T)
        ]
        self.V, self.i, self.threads = V, 0, threads

    def step(self) -> None:
        torch, F = self.torch, self.F
        x, y = self.batches[self.i % len(self.batches)]
        self.i += 1
        self.opt.zero_grad(set_to_none=True)
        h = tuple(s.detach() for s in self.hidden)
        out, hidden = self.rnn(self.emb(x), h if len(h) == 2 else h[0])
        self.hidden = hidden if isinstance(hidden, tuple) else (hidden,)
        loss = F.cross_entropy(self.lin(out).reshape(-1, self.V), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 5.0)
        self.opt.step()

    def info(self) -> dict:
        return {"threads": self.threads, "torch": self.torch.__version__}


def _peak(threads: int, reps: int = 7) -> float:
    import numpy as np
    from threadpoolctl import threadpool_limits

    n = 2048
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b, c = a.copy(), np.empty_like(a)
    with threadpool_limits(threads, user_api="blas"):
        np.dot(a, b, out=c)
        best = min(_timed(lambda: np.dot(a, b, out=c)) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def worker(engine: str, threads: int, root: str) -> None:
    """Serve commands: {"cmd": "setup"|"run"|"peak", ...} -> one JSON line each."""
    sys.path.insert(0, root)
    if engine != "torch":  # before NumPy loads: rnngen sets the thread pools' environment
        importlib.import_module("rnngen")
    runners: dict[str, object] = {}
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["cmd"] == "peak":  # in the rnngen worker: same environment as its runs
                out = {"gflops": _peak(threads, req.get("reps", 7))}
            elif req["cmd"] == "setup":
                name = req["config"]
                t0 = time.perf_counter()
                r = runners[name] = (_TorchRunner if engine == "torch" else _RnngenRunner)(
                    name, threads
                )
                for _ in range(3):  # JIT compile / first-touch / allocator warm-up
                    r.step()
                out = {"setup_s": time.perf_counter() - t0, **r.info()}
            else:  # run: whole steps for at least `seconds`
                r = runners[req["config"]]
                B, T = CONFIGS[req["config"]][5], CONFIGS[req["config"]][6]
                n, t0 = 0, time.perf_counter()
                while n < 2 or time.perf_counter() - t0 < req["seconds"]:
                    r.step()
                    n += 1
                out = {"tokens_per_s": n * B * T / (time.perf_counter() - t0), "steps": n}
        except Exception as e:  # report to the driver instead of dying silently
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------------
# driver


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"from {','.join(CONFIGS)}")
    ap.add_argument("--repeats", type=int, default=21, help="alternated rounds per config")
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per segment")
    ap.add_argument("--threads", type=int, default=None, help="cores to use (default: all)")
    ap.add_argument("--no-torch", action="store_true", help="rnngen only")
    ap.add_argument(
        "--against",
        metavar="DIR",
        help="another checkout of rnngen, instead of PyTorch (A/B of two versions)",
    )
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "speed.json"))
    ap.add_argument("--worker", choices=["rnngen", "base", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    if args.worker:
        worker(args.worker, threads, args.root)
        return 0
    names = config_names(ap, args.configs, CONFIGS)
    torch_version, engines = pick_engines(args.no_torch, args.against)
    workers = {
        e: Worker(
            __file__, e, "--threads", str(threads), root=Path(args.against) if e == "base" else ROOT
        )
        for e in engines
    }
    try:
        peak = workers["rnngen"].ask(cmd="peak")["gflops"]
        print(
            f"fp32 GEMM peak (NumPy sgemm 2048^3, {threads} threads): {peak:.0f} GFLOP/s "
            "(measured again before every rnngen segment)"
        )
        results, peaks = {}, []
        for name in names:
            level, V, E, H, L, B, T = CONFIGS[name]
            cell = cell_of(name)
            flop_tok = 6 * macs_per_token(V, E, H, L, cell)
            setup = {e: workers[e].ask(cmd="setup", config=name) for e in engines}  # raise on error
            samples: dict[str, list[float]] = {e: [] for e in engines}
            round_peaks: list[float] = []
            for i in range(args.repeats):
                # A B B A: both engines see the same machine weather, neither always goes first
                for e in engines if i % 2 == 0 else engines[::-1]:
                    time.sleep(0.05)
                    if e == "rnngen":  # a shared machine: its peak moves from minute to minute
                        round_peaks.append(workers[e].ask(cmd="peak", reps=3)["gflops"])
                    r = workers[e].ask(cmd="run", config=name, seconds=args.seconds)
                    samples[e].append(r["tokens_per_s"])
            peaks += round_peaks
            shape = {"level": level, "V": V, "E": E, "H": H, "L": L, "B": B, "T": T}
            res = {
                "config": {"cell": cell, **shape},
                "flop_per_token": flop_tok,
                "peak_gflops_per_round": round_peaks,
            }
            for e in engines:
                med = statistics.median(samples[e])
                res[e] = {
                    "tokens_per_s": samples[e],
                    "median_tokens_per_s": med,
                    "gflops": med * flop_tok / 1e9,
                    # each round's throughput over the peak measured in the same round
                    "fraction_of_peak": statistics.median(
                        x * flop_tok / 1e9 / p for x, p in zip(samples[e], round_peaks, strict=True)
                    ),
                    **{k: v for k, v in setup[e].items() if k != "setup_s"},
                }
            line = (
                f"{name:6s} {cell} {level} V{V} E{E} H{H} L{L} B{B} T{T}: rnngen "
                f"{res['rnngen']['median_tokens_per_s']:8.0f} tok/s "
                f"({res['rnngen']['fraction_of_peak']:.0%} of peak)"
            )
            for other in ("torch", "base"):
                if other not in samples:
                    continue
                ratios = [a / b for a, b in zip(samples["rnngen"], samples[other], strict=True)]
                res[f"ratio_rnngen_over_{other}"] = ratio_summary(ratios)
                line += (
                    f"  {other} {res[other]['median_tokens_per_s']:8.0f} tok/s "
                    f"({res[other]['fraction_of_peak']:.0%})"
                    f"  ratio {statistics.median(ratios):.3f}x"
                )
            print(line, flush=True)
            results[name] = res
    finally:
        for w in workers.values():
            w.close()

    report = {
        "machine": machine(threads),
        "torch": torch_version or "not installed",
        "against": args.against,
        "peak_gflops": statistics.median(peaks),
        "peak_counting": "NumPy sgemm 2048^3, best of 3, measured before each rnngen segment; a "
        "fraction of peak is the median over rounds of that round's throughput over its peak",
        "flops_counting": "GEMMs only; forward 2*MACs/token, backward 2x forward",
        "repeats": args.repeats,
        "seconds_per_segment": args.seconds,
        "configs": results,
    }
    write_report(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
