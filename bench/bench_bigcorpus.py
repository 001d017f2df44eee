"""Peak RSS and time to the first training step of `rnngen train` on a big corpus.

Runs the installed command on CORPUS (the default model), reads its stderr log (non-TTY: the first
step is logged at once), and records when the line `step 1 ` appears and the process's peak RSS
(VmHWM) at that moment; then kills it, or with --to-end lets it run and records the whole run.

    PYTHONPATH=. python bench/bench_bigcorpus.py /tmp/big100.txt --label after
    PYTHONPATH=. python bench/bench_bigcorpus.py /tmp/big1g.txt --resume   # and of a --resume

With --resume, the first run evaluates and checkpoints at step 1 and is killed then; the figure is
that of ``rnngen train --resume`` of it, to its first step (the token file is already there).
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def vm_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--label", default="")
    ap.add_argument("--to-end", action="store_true", help="let the run finish (give --steps)")
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--resume", action="store_true")
    a, extra = ap.parse_known_args()  # the rest: more rnngen train options
    a.extra = extra
    out = tempfile.mkdtemp(prefix="bigcorpus-", dir=os.path.dirname(os.path.abspath(a.corpus)))
    cmd = ["rnngen", "train", a.corpus, "--out", out, "--steps", str(a.steps), *a.extra]
    if a.resume:
        first = subprocess.Popen(
            cmd + ["--eval-every", "1", "--steps", "100"],
            text=True,
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        while not os.path.exists(os.path.join(out, "last.safetensors")):
            if first.poll() is not None:
                raise SystemExit("the first run ended before its first checkpoint")
            time.sleep(0.1)
        first.kill()
        first.wait()
        cmd = ["rnngen", "train", "--resume", out, "--steps", "100"]
    t0 = time.perf_counter()
    p = subprocess.Popen(
        cmd,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    first = rss_first = None
    log = []
    peak = None
    for line in p.stderr:
        log.append(line.rstrip())
        if a.to_end:  # the peak so far, read while the process is alive
            peak = vm_hwm_mb(p.pid)
        if first is None and re.match(r"step [\d,]+ \(", line):
            first, rss_first = time.perf_counter() - t0, vm_hwm_mb(p.pid)
            if not a.to_end:
                p.send_signal(signal.SIGKILL)
                break
    if a.to_end:
        p.stdout.read()
    p.wait()
    total = time.perf_counter() - t0
    if first is None:
        print("\n".join(log[-20:]), file=sys.stderr)
        raise SystemExit("no first step seen")
    shutil.rmtree(out, ignore_errors=True)
    size = os.path.getsize(a.corpus)
    print(
        json.dumps(
            {
                "label": a.label,
                "corpus": a.corpus,
                "bytes": size,
                "seconds_to_first_step": round(first, 2),
                "peak_rss_mb_at_first_step": round(rss_first, 1),
                "seconds_total": round(total, 2) if a.to_end else None,
                "peak_rss_mb": None if peak is None else round(peak, 1),
                "steps": a.steps,
                "options": a.extra,
            }
        )
    )


if __name__ == "__main__":
    main()
