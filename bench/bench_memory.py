"""Peak memory (RSS) of a training run: rnngen against PyTorch, each in its own fresh process.

    python bench/bench_memory.py                          # char L2 H512 B64 T100, 10 steps
    python bench/bench_memory.py --configs h128,h512 --steps 20
    python bench/bench_memory.py --no-torch --json /tmp/memory.json

A run is the training step of ``bench_speed.py`` (the same model, batch, Adam with clipping 5.0 and
thread settings; its runner classes are reused) repeated ``--steps`` times on random token batches,
in a new Python process started for that run alone. The driver reads the child's peak resident set
size from ``wait4`` (``ru_maxrss``), so nothing of the driver or of the other engine is counted.
Each engine is also run with zero steps (imports, model and optimizer built, batches made) to
separate what the libraries cost from what training adds. Runs alternate rnngen, PyTorch,
``--repeats`` times; peak RSS barely varies, so the median is reported with the spread.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import (
    ROOT,
    config_names,
    machine,
    pick_engines,
    write_report,
)

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIGS = "h512"


def worker(engine: str, name: str, steps: int, threads: int) -> None:
    """One run in this fresh process: build the engine, take ``steps`` steps, report, exit."""
    sys.path[:0] = [str(ROOT), str(HERE)]
    if engine == "rnngen":  # before NumPy loads, as in bench_speed
        import rnngen  # noqa: F401
    import bench_speed

    runner = (bench_speed._RnngenRunner if engine == "rnngen" else bench_speed._TorchRunner)(
        name, threads
    )
    t0 = time.perf_counter()
    for _ in range(steps):
        runner.step()
    print(json.dumps({"seconds": time.perf_counter() - t0, **runner.info()}), flush=True)


def run(engine: str, name: str, steps: int, threads: int) -> dict:
    """Peak RSS (MiB) and wall time of one fresh worker process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        engine,
        "--configs",
        name,
        "--steps",
        str(steps),
        "--threads",
        str(threads),
    ]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    p.stdout.close()
    _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{engine} {name} failed (see its stderr above)")
    info = json.loads(out.strip().splitlines()[-1])
    return {"peak_rss_mib": ru.ru_maxrss / 1024, "wall_s": time.perf_counter() - t0, **info}


def main(argv: list[str] | None = None) -> int:
    sys.path[:0] = [str(ROOT), str(HERE)]
    from bench_speed import CONFIGS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"from {','.join(CONFIGS)}")
    ap.add_argument("--steps", type=int, default=10, help="training steps per run")
    ap.add_argument("--repeats", type=int, default=3, help="runs per engine (alternated)")
    ap.add_argument("--threads", type=int, default=None, help="cores to use (default: all)")
    ap.add_argument("--no-torch", action="store_true", help="rnngen only")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "memory.json"))
    ap.add_argument("--worker", choices=["rnngen", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    if args.worker:
        worker(args.worker, args.configs, args.steps, threads)
        return 0
    names = config_names(ap, args.configs, CONFIGS)
    torch_version, engines = pick_engines(args.no_torch)

    results = {}
    for name in names:
        level, V, E, H, L, B, T = CONFIGS[name]
        res: dict = {"config": {"level": level, "V": V, "E": E, "H": H, "L": L, "B": B, "T": T}}
        for steps, key in ((0, "baseline"), (args.steps, "training")):
            runs: dict[str, list[dict]] = {e: [] for e in engines}
            for _ in range(args.repeats):
                for e in engines:
                    runs[e].append(run(e, name, steps, threads))
            for e in engines:
                mib = [r["peak_rss_mib"] for r in runs[e]]
                res.setdefault(e, {})[key] = {
                    "steps": steps,
                    "median_peak_rss_mib": statistics.median(mib),
                    "peak_rss_mib": mib,
                    "seconds": [r["seconds"] for r in runs[e]],
                    **{
                        k: v
                        for k, v in runs[e][0].items()
                        if k not in ("peak_rss_mib", "wall_s", "seconds")
                    },
                }
        line = f"{name:5s} {level} V{V} E{E} H{H} L{L} B{B} T{T}, {args.steps} steps: peak RSS"
        for e in engines:
            tr, base = res[e]["training"], res[e]["baseline"]
            line += (
                f"  {e} {tr['median_peak_rss_mib']:.0f} MiB "
                f"(libraries + model {base['median_peak_rss_mib']:.0f})"
            )
        if "torch" in engines:
            ratio = (
                res["rnngen"]["training"]["median_peak_rss_mib"]
                / res["torch"]["training"]["median_peak_rss_mib"]
            )
            res["ratio_rnngen_over_torch"] = ratio
            line += f"  rnngen/torch {ratio:.2f}"
        print(line, flush=True)
        results[name] = res

    report = {
        "machine": machine(threads),
        "torch": torch_version or "not installed",
        "steps": args.steps,
        "repeats": args.repeats,
        "measure": "ru_maxrss of each fresh worker process (wait4), MiB",
        "configs": results,
    }
    write_report(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
