"""Start-up of ``rnngen sample MODEL --length 200``: whole-process wall time, warm and cold.

    python bench/bench_startup.py                        # char L2 H256 E64 model, 10 warm runs
    python bench/bench_startup.py --runs 20 --hidden 512
    python bench/bench_startup.py --model runs/x/best.safetensors --json /tmp/startup.json

warm: Numba's on-disk cache holds the sampling kernel (the usual case after the first run);
      the median of ``--runs`` runs, after one untimed run that fills the OS page cache.
cold: NUMBA_CACHE_DIR points at a fresh temporary directory, so the kernel compiles from scratch
      (a user's very first run) without touching the real cache; then one more run with that
      directory shows the cache it wrote being used.

The command is the ``rnngen`` console script next to this Python (not a pyenv shim, which adds
its own ~50 ms of bash). Alongside, the same phases timed inside one process (imports, checkpoint,
packing, kernel load, generation) and the floors every run pays before any rnngen code runs
(``python -c pass``, ``import numpy``, ``import numba``, and SciPy, which Numba imports when its
first kernel loads) show where the time goes. Each number is a median over ``--runs`` processes;
CPU time (user + system) is given next to wall time because the machine is shared.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine, write_report

FLOORS = {
    "python -c pass": "pass",
    "import numpy": "import numpy",
    "import numba": "import numpy, numba",
    "import numba, scipy.linalg": "import numpy, numba, scipy.linalg",
    "import rnngen.cli.app (typer, rich, the commands)": "import rnngen.cli.app",
}

# the phases of `rnngen sample`, in one process (stderr: one JSON line of seconds per phase)
PHASES = r"""
import json, sys, time
clock = [(time.perf_counter(), time.process_time())]
out = {}
def mark(name):
    w, c = time.perf_counter(), time.process_time()
    out[name] = {"wall": w - clock[0][0], "cpu": c - clock[0][1]}
    clock[0] = (w, c)
import rnngen.cli.app
mark("import rnngen.cli.app (typer, rich, the commands' settings: numpy, numba)")
try:  # typer >= 0.2x coerces option values through pydantic, imported at the first command
    import typer._adapters
except ImportError:
    pass
mark("typer's option coercion (pydantic), if any")
import rnngen.checkpoint as checkpoint
from rnngen.generate.sample import SampleConfig, Sampler
mark("import checkpoint, sample (safetensors)")
ckpt = checkpoint.load(sys.argv[1])
mark("load checkpoint")
sampler = Sampler(ckpt)
mark("Sampler: pack weights")
from rnngen.generate.warm import warm_sampling_kernels
warm_sampling_kernels(ckpt.model_cfg.cell)
mark("load the kernel (Numba start-up, SciPy, cache)")
for piece in sampler.generate(SampleConfig(length=200, seed=1)):
    pass
mark("generate 200 tokens")
out["end"] = time.time()  # the driver times the interpreter's exit from here
print(json.dumps(out), file=sys.stderr)
"""


def rnngen_command() -> list[str]:
    """The console script of this Python's environment, else whatever ``rnngen`` is on PATH."""
    here = Path(sys.executable).parent / "rnngen"
    if here.is_file():
        return [str(here)]
    found = shutil.which("rnngen")
    if found is None:
        sys.exit("rnngen is not installed (pip install -e .)")
    return [found]


def timed_run(cmd: list[str], env: dict | None = None) -> dict:
    """Wall and CPU seconds of one process (CPU from wait4, so only this child counts)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall, ended = time.perf_counter() - t0, time.time()
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{err}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "stderr": err, "ended": ended}


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def make_model(tmp: Path, H: int) -> Path:
    """A char-level L2 E64 model of width H with random weights, as a checkpoint file."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    import rnngen.checkpoint as checkpoint
    from rnngen.config.training import TrainConfig
    from rnngen.data.vocab import Vocab
    from rnngen.nn.config import ModelConfig
    from rnngen.nn.lm import LMNetwork

    tokens = ["\n", *(chr(c) for c in range(32, 96))]  # V = 65, as tiny Shakespeare
    cfg = ModelConfig(level="char", vocab_size=len(tokens), embed=64, hidden=H, layers=2)
    m = LMNetwork(cfg, np.float32)
    m.init_weights(np.random.default_rng(0))
    ck = checkpoint.Checkpoint(cfg, TrainConfig(), Vocab("char", tokens), dict(m.params.views))
    return checkpoint.save(ck, tmp / f"h{H}.safetensors")


def _cache_files() -> dict[str, float]:
    d = ROOT / "rnngen" / "kernels" / "__pycache__"
    return {p.name: p.stat().st_mtime for p in d.glob("sample.*")} if d.is_dir() else {}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="checkpoint to sample from [a random char L2 E64 model]")
    ap.add_argument("--hidden", type=int, default=256, help="H of the random model [256]")
    ap.add_argument("--runs", type=int, default=10, help="timed processes per measurement")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold (compiling) run")
    ap.add_argument(
        "--compileall",
        action="store_true",
        help="write rnngen's .pyc first, as an installed package has them",
    )
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "startup.json"))
    args = ap.parse_args(argv)

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    rnngen = rnngen_command()
    if args.compileall:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "rnngen")], check=True)
    bytecode = any((ROOT / "rnngen" / "cli" / "__pycache__").glob("app.*.pyc"))
    if not bytecode:
        print(
            "note: rnngen's modules have no .pyc (PYTHONDONTWRITEBYTECODE?), so every run "
            "compiles them from source; --compileall writes them",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else make_model(Path(tmp), args.hidden)
        cmd = [*rnngen, "sample", str(model), "--length", "200", "--seed", "1"]
        print(f"command: {' '.join(cmd)}", file=sys.stderr)

        timed_run(cmd, env)  # fills the Numba cache if it is empty, and the page cache
        warm = [timed_run(cmd, env) for _ in range(args.runs)]
        print(
            f"warm: {median_of(warm, 'wall'):.3f} s wall, {median_of(warm, 'cpu'):.3f} s CPU "
            f"(median of {args.runs})"
        )

        cold = None
        if not args.no_cold:
            before = _cache_files()
            with tempfile.TemporaryDirectory() as cache:
                cold_env = dict(env, NUMBA_CACHE_DIR=cache)
                first = timed_run(cmd, cold_env)
                again = timed_run(cmd, cold_env)
                written = sum(1 for _ in Path(cache).rglob("*.nbi"))
            untouched = _cache_files() == before
            cold = {
                "wall_s": first["wall"],
                "cpu_s": first["cpu"],
                "next_run_wall_s": again["wall"],
                "cache_index_files_written": written,
                "real_cache_untouched": untouched,
            }
            print(
                f"cold: {first['wall']:.2f} s wall, {first['cpu']:.2f} s CPU; the next run with "
                f"that cache {again['wall']:.3f} s (real cache untouched: {untouched})"
            )

        floors = {}
        for name, code in FLOORS.items():
            runs = [timed_run([sys.executable, "-c", code], env) for _ in range(args.runs)]
            floors[name] = {"wall": median_of(runs, "wall"), "cpu": median_of(runs, "cpu")}
            print(
                f"  floor {name:32s} {floors[name]['wall']:.3f} s wall "
                f"{floors[name]['cpu']:.3f} s CPU"
            )

        phase_runs, exits = [], []
        for _ in range(args.runs):
            r = timed_run([sys.executable, "-c", PHASES, str(model)], env)
            phase_runs.append(json.loads(r["stderr"].strip().splitlines()[-1]))
            exits.append(r["ended"] - phase_runs[-1].pop("end"))
        phases = {
            name: {k: statistics.median(p[name][k] for p in phase_runs) for k in ("wall", "cpu")}
            for name in phase_runs[0]
        }
        phases["the rest: interpreter start, argument parsing, exit"] = {
            k: median_of(warm, k) - sum(v[k] for v in phases.values()) for k in ("wall", "cpu")
        }
        exit_s = statistics.median(exits)
        print(
            f"  interpreter exit after the kernel has loaded: {exit_s * 1e3:.0f} ms wall "
            "(rnngen sample skips it with os._exit)"
        )
        for name, v in phases.items():
            print(f"  phase {name:55s} {v['wall'] * 1e3:6.0f} ms wall {v['cpu'] * 1e3:6.0f} ms CPU")

    report = {
        "machine": {
            **machine(),
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        },
        "rnngen_bytecode_cached": bytecode,
        "command": cmd,
        "model": str(args.model) if args.model else f"random char L2 E64 H{args.hidden}",
        "runs": args.runs,
        "warm": {
            "median_wall_s": median_of(warm, "wall"),
            "median_cpu_s": median_of(warm, "cpu"),
            "wall_s": [r["wall"] for r in warm],
            "cpu_s": [r["cpu"] for r in warm],
        },
        "cold": cold,
        "floors_median_s": floors,
        "phases_median_s": phases,
        "interpreter_exit_s_if_not_skipped": exit_s,
    }
    write_report(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
