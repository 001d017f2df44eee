"""Data-parallel training on this machine: 1 process x 2 threads against 2 processes x 1 thread,
the time of one allreduce of each model's gradient buffer, and a scaling model on paper.

    python bench/bench_mpi.py speed --rounds 3        # alternated A B A B, medians
    mpiexec -n 2 python bench/bench_mpi.py allreduce  # one allreduce per model buffer
    python bench/bench_mpi.py model                   # the scaling model from both results
    python bench/bench_mpi.py replicas --rounds 2     # 1 x 2 threads, --replicas 2, 2 processes

``speed`` runs the installed ``rnngen train`` (``PYTHONPATH`` picks the checkout) on real text
(tiny Shakespeare at character level, PTB at word level, from ../shared/corpora), a fixed number
of steps, and reads ``tokens_per_sec`` from ``--json`` (training time only: start-up and the final
evaluation are not in it). A: ``rnngen train --threads 2``; B: ``mpiexec -n 2 rnngen train`` (one
thread each). Rounds alternate A B, B A. ``replicas`` adds C: ``rnngen train --replicas 2`` (one
process, two replicas of one thread each), rounds A C B, B C A. Results go to
bench/results/mpi.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import config_names, machine, write_report

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
RESULTS = Path(__file__).resolve().parent / "results" / "mpi.json"
# name: (rnngen train options, steps, corpus, validation file)
CONFIGS = {
    "h256": (
        ["--hidden", "256", "--batch-size", "32", "--seq-len", "64"],
        150,
        "tinyshakespeare.txt",
        None,
    ),
    "h512": (
        ["--hidden", "512", "--batch-size", "64", "--seq-len", "100"],
        20,
        "tinyshakespeare.txt",
        None,
    ),
    "word": (
        [
            "--level",
            "word",
            "--hidden",
            "200",
            "--embed",
            "200",
            "--batch-size",
            "20",
            "--seq-len",
            "20",
        ],
        150,
        "ptb/ptb.train.txt",
        "ptb/ptb.valid.txt",
    ),
}
# (level, V, E, H, L) of the same models, for their gradient buffers
MODELS = {
    "h256": ("char", 65, 64, 256, 2),
    "h512": ("char", 65, 64, 512, 2),
    "word": ("word", 10000, 200, 200, 2),
}


QUIET = {"h256": 23_349, "h512": 8_224, "word": 5_288}  # bench/README.md: LM speed


def train_once(name: str, procs: int, replicas: int = 1) -> float:
    opts, steps, corpus, val = CONFIGS[name]
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            "rnngen",
            "train",
            str(CORPORA / corpus),
            *opts,
            "--steps",
            str(steps),
            "--eval-every",
            "100000",
            "--out",
            out + "/run",
            "--json",
            "--quiet",
        ]
        if val:
            cmd += ["--val-file", str(CORPORA / val)]
        if procs == 1 and replicas > 1:
            cmd += ["--replicas", str(replicas), "--threads", "1"]
        elif procs == 1:
            cmd += ["--threads", "2"]
        else:
            cmd = ["mpiexec", "-n", str(procs), *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            sys.exit(p.stderr)
        return json.loads(p.stdout)["tokens_per_sec"]


def speed(rounds: int) -> dict:
    results = {}
    for name in CONFIGS:
        a, b = [], []
        for r in range(rounds):
            order = ((1, a), (2, b)) if r % 2 == 0 else ((2, b), (1, a))
            for procs, into in order:
                into.append(train_once(name, procs))
                print(f"{name} round {r} {procs} proc: {into[-1]:,.0f} tok/s", file=sys.stderr)
        results[name] = {
            "1x2_tokens_per_sec": a,
            "2x1_tokens_per_sec": b,
            "median_1x2": statistics.median(a),
            "median_2x1": statistics.median(b),
            "ratio_2x1_over_1x2": statistics.median(y / x for x, y in zip(a, b, strict=True)),
        }
    return results


def with_replicas(rounds: int, names: list[str]) -> dict:
    """A (1 process x 2 threads), C (--replicas 2) and B (2 processes), alternated."""
    arms = {"1x2": (1, 1), "replicas2": (1, 2), "2x1": (2, 1)}
    results = {}
    for name in names:
        got: dict[str, list[float]] = {k: [] for k in arms}
        for r in range(rounds):
            for arm in list(arms) if r % 2 == 0 else list(arms)[::-1]:
                got[arm].append(train_once(name, *arms[arm]))
                print(f"{name} round {r} {arm}: {got[arm][-1]:,.0f} tok/s", file=sys.stderr)
        med = {k: statistics.median(v) for k, v in got.items()}
        results[name] = {
            "tokens_per_sec": got,
            "median": med,
            "ratio_replicas2_over_1x2": statistics.median(
                c / a for a, c in zip(got["1x2"], got["replicas2"], strict=True)
            ),
            "ratio_replicas2_over_2x1": statistics.median(
                c / b for b, c in zip(got["2x1"], got["replicas2"], strict=True)
            ),
        }
    return results


def allreduce(reps: int) -> dict | None:
    import numpy as np
    from mpi4py import MPI

    from rnngen.nn.config import ModelConfig
    from rnngen.nn.lm import param_shapes

    comm = MPI.COMM_WORLD
    out = {}
    for name, (level, V, E, H, L) in MODELS.items():
        cfg = ModelConfig(level=level, vocab_size=V, embed=E, hidden=H, layers=L)
        n = sum(int(np.prod(s)) for s in param_shapes(cfg).values())
        buf = np.ones(n, np.float32)
        times = []
        for _ in range(reps):
            comm.Barrier()
            t = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t)
        out[name] = {
            "params": n,
            "bytes": 4 * n,
            "allreduce_ms": 1e3 * statistics.median(times),
            "processes": comm.Get_size(),
        }
    return out if comm.Get_rank() == 0 else None


def scaling(report: dict) -> dict:
    """Per model and network: predicted tokens/s and efficiency at N machines, each running the
    measured 1-machine speed on its own rows (b rows per machine, the global batch N*b), plus a
    ring allreduce of the gradient buffer that is not overlapped with compute:
    t_step = b*T / R1 + 2 (N-1)/N * S / bandwidth + 2 (N-1) * latency, with 50 us of latency per
    message; efficiency = (b*T / R1) / t_step."""
    latency = 50e-6  # seconds per message on an ordinary Ethernet with TCP
    out = {}
    for name, sp in report["speed"].items():
        opts = CONFIGS[name][0]
        b, T = int(opts[opts.index("--batch-size") + 1]), int(opts[opts.index("--seq-len") + 1])
        # tokens/s of one 2-core machine: the best this machine did in this run, or the quiet
        # machine's figure (bench/README.md, bench_speed.py medians), whichever is higher: a faster
        # machine makes the network's share larger, so the model errs on the safe side
        R1 = max(sp["median_1x2"], sp["median_2x1"], QUIET[name])
        S = report["allreduce"][name]["bytes"]
        per = {}
        for gbps in (10, 25):
            bw = gbps * 1e9 / 8
            rows = {}
            for N in (2, 8, 32, 64):
                t_c = b * T / R1
                t_a = 2 * (N - 1) / N * S / bw + 2 * (N - 1) * latency
                eff = t_c / (t_c + t_a)
                # batch rows per machine above which efficiency stays over 90%: t_c >= 9 t_a
                b90 = 9 * t_a * R1 / T
                rows[N] = {
                    "tokens_per_sec": N * b * T / (t_c + t_a),
                    "efficiency": eff,
                    "allreduce_ms": 1e3 * t_a,
                    "rows_per_machine_for_90pct": b90,
                    "global_batch_for_90pct": N * b90,
                }
            per[f"{gbps}Gb/s"] = rows
        step_ms = 1e3 * b * T / sp["median_2x1"]  # a step of 2 processes here, allreduce in it
        here = report["allreduce"][name]["allreduce_ms"]
        out[name] = {
            "rows_per_machine": b,
            "seq_len": T,
            "R1": R1,
            "bytes": S,
            "step_ms_2x1": step_ms,
            "allreduce_fraction_2x1": here / step_ms,
            "networks": per,
        }
    return out


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["speed", "allreduce", "model", "replicas"])
    ap.add_argument("--configs", default=",".join(CONFIGS), help="replicas: which models")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    report = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if a.what == "speed":
        report["machine"] = machine()
        report["date"] = time.strftime("%Y-%m-%d %H:%M")
        report["speed"] = speed(a.rounds)
    elif a.what == "replicas":
        names = config_names(ap, a.configs, CONFIGS)
        report["replicas"] = {
            "machine": machine(),
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
            "models": with_replicas(a.rounds, names),
        }
    elif a.what == "allreduce":
        res = allreduce(a.reps)
        if res is None:
            return
        report["allreduce"] = res
    else:
        report["scaling"] = scaling(report)
    write_report(report, str(RESULTS))
    print(json.dumps(report.get(a.what if a.what != "model" else "scaling"), indent=1))


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
