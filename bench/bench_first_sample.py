"""The first ``rnngen sample`` after the first ``rnngen train``: does it start warm, and does
preparing it slow the training down?

    python bench/bench_first_sample.py CORPUS                  # 2 rounds of --minutes 1
    python bench/bench_first_sample.py CORPUS --minutes 2 --rounds 3 --json /tmp/first.json

Each round runs the README's first two commands twice, each time in a fresh, empty Numba cache
(``NUMBA_CACHE_DIR``), alternated:

  prepared:  ``rnngen train CORPUS --minutes M`` (which starts compiling the sampling kernel in a
             child process at nice 19 while it trains), then ``rnngen sample --length 600``;
  cold:      the same, but the sampling kernel's cache entry is deleted after training (as if
             ``train`` had not prepared it): the sample compiles it first, as before this change;

and, for the training speed, ``rnngen train`` once more in a cache that already holds the
sampling kernel (so no child process is started), against the prepared run's tokens/s. Times are
whole commands (wall clock); tokens/s is train's own ``--json`` figure (training steps only, the
first compile excluded). The machine may be shared: only same-run, alternated numbers compare.
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

from benchlib import machine

ROOT = Path(__file__).resolve().parent.parent


def rnngen(args: list[str], cwd: Path, cache: Path) -> tuple[float, str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "NO_COLOR": "1", "PYTHONPATH": path}
    t0 = time.perf_counter()
    p = subprocess.run(["rnngen", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"rnngen {' '.join(args)}: {p.stderr}")
    return time.perf_counter() - t0, p.stdout, p.stderr


def wait_for_children(cache: Path, timeout: float = 120) -> None:
    """Let a sampling-kernel child from the last train finish (it would steal the next run's
    CPU): wait until no process runs with this cache dir in its environment."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        busy = False
        for env in Path("/proc").glob("[0-9]*/environ"):
            try:
                if f"NUMBA_CACHE_DIR={cache}".encode() in env.read_bytes():
                    busy = True
                    break
            except OSError:
                continue
        if not busy:
            return
        time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(a.corpus, work / "corpus.txt")
        train = [
            "train",
            "corpus.txt",
            "--minutes",
            str(a.minutes),
            "--json",
            "--force",
            "--out",
            "run",
        ]
        for r in range(a.rounds):
            row = {"round": r}
            for mode in ("prepared", "cold", "cached"):
                cache = work / f"cache-{mode}-{r}"
                if mode == "cached":  # the sampling kernel there already: no child process
                    shutil.copytree(work / f"cache-prepared-{r}", cache)
                t_train, out, _ = rnngen(train, work, cache)
                tok_s = json.loads(out)["tokens_per_sec"]
                row[f"{mode}_train_tok_s"] = tok_s
                if mode == "cached":
                    continue
                row[f"{mode}_sampler_ready_at_end"] = _cached(cache)
                wait_for_children(cache)
                if mode == "cold":
                    for f in cache.rglob("sample.advance-*"):
                        f.unlink()
                t_sample, _, err = rnngen(["sample", "--length", "600", "--seed", "1"], work, cache)
                row[f"{mode}_train_s"] = t_train
                row[f"{mode}_sample_s"] = t_sample
                row[f"{mode}_sample_compiled"] = "compiling kernels" in err
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    med = {
        k: statistics.median(r[k] for r in rows)
        for k in rows[0]
        if k != "round" and isinstance(rows[0][k], float)
    }
    report = {"machine": machine(), "minutes": a.minutes, "rounds": rows, "medians": med}
    if a.json:
        a.json.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


def _cached(cache: Path) -> bool:
    """Whether the sampling kernel is in ``cache`` (its index written) right as train ends."""
    return any(cache.rglob("sample.advance-*.nbi"))


if __name__ == "__main__":
    main()
