"""Character, word and subword language models of the same text and size, compared on one scale:
validation bits per character at equal wall time, and characters per second when sampling.

    python3 bench/subword.py --minutes 20 --runs char,bpe:4096 word,bpe:1024 bpe:2048,bpe:8192

Each argument after ``--runs`` is a group trained side by side, one core each (``taskset``), so
the models of a group see the same machine whatever else runs on it; groups run one after the
other. A run is ``LEVEL`` or ``bpe:VOCAB``. Every run is ``rnngen train`` with its defaults
(L2 H256 LSTM) and ``--level``, on WikiText-2 (``../shared/corpora/wikitext-2``: train.txt, with
valid.txt as the validation file). Then every model samples on one core, alternating rounds,
medians. Writes bench/results/subword.json (or --out): a list of rows with ``level``,
``vocab_size``, ``minutes``, ``val_bits_per_char`` and ``chars_per_sec_sampling``, and more.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpora" / "wikitext-2"


def rnngen(*args: str) -> list[str]:
    return [sys.executable, "-m", "rnngen", *args]


def run_name(spec: str) -> str:
    return spec.replace(":", "-")


def level_args(spec: str) -> list[str]:
    level, _, vocab = spec.partition(":")
    return ["--level", level] + (["--vocab-size", vocab] if vocab else [])


def train_group(specs: list[str], work: Path, minutes: float, corpus: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    procs = []
    for core, spec in enumerate(specs):
        cmd = [
            "taskset", "-c", str(core % os.cpu_count()),
            *rnngen(
                "train", str(corpus / "train.txt"), "--val-file", str(corpus / "valid.txt"),
                *level_args(spec), "--minutes", str(minutes), "--threads", "1",
                "--out", str(work / run_name(spec)), "--force", "--json",
            ),
        ]  # fmt: skip
        log = open(work / f"{run_name(spec)}.log", "w")
        procs.append((spec, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env)))
    for spec, p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{spec}: training failed, see {work / run_name(spec)}.log")
        (work / f"{run_name(spec)}.json").write_bytes(out)


def at_minutes(history: list[dict], minutes: float) -> float | None:
    """The validation bits per character of the last evaluation within ``minutes``."""
    within = [
        h
        for h in history
        if h.get("val_bits_per_char") is not None and h["seconds"] <= minutes * 60
    ]
    return within[-1]["val_bits_per_char"] if within else None


def sampling_speed(run: Path, tokens: int, rounds: int) -> list[float]:
    """Characters per second of ``rounds`` samples of ``tokens`` tokens on one core and thread."""
    code = (
        "import sys, time, rnngen\n"
        "m = rnngen.load(sys.argv[1], threads=1)\n"
        "''.join(m.generate(temp=1.0, length=50, seed=0))\n"  # compiled, warm
        "t = time.perf_counter()\n"
        "text = ''.join(m.generate(temp=1.0, length=int(sys.argv[2]), seed=1))\n"
        "print(len(text) / (time.perf_counter() - t))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    out = []
    for _ in range(rounds):
        p = subprocess.run(
            ["taskset", "-c", "0", sys.executable, "-c", code, str(run), str(tokens)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        out.append(float(p.stdout))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--runs", nargs="+", default=["char,bpe:4096", "word,bpe:1024"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/rnngen-subword"))
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--sample-tokens", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--skip-training", action="store_true", help="use the runs in --work")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "subword.json")
    ap.add_argument("--figure", type=Path, help="draw the bits/char curves here (.png, .svg)")
    ap.add_argument("--redraw", action="store_true", help="only draw --figure from --out's rows")
    a = ap.parse_args()
    if a.redraw:
        draw_rows(json.loads(a.out.read_text()), a.figure)
        return
    a.work.mkdir(parents=True, exist_ok=True)
    groups = [g.split(",") for g in a.runs]
    if not a.skip_training:
        for g in groups:
            print(f"training side by side for {a.minutes:g} min: {', '.join(g)}", file=sys.stderr)
            train_group(g, a.work, a.minutes, a.corpus)
    specs = [s for g in groups for s in g]
    speeds: dict[str, list[float]] = {s: [] for s in specs}
    for _ in range(a.rounds):  # alternating: every model once per round
        for s in specs:
            speeds[s] += sampling_speed(a.work / run_name(s), a.sample_tokens, 1)
    rows = []
    for g_no, g in enumerate(groups):
        for s in g:
            res = json.loads((a.work / f"{run_name(s)}.json").read_text())
            ck = a.work / run_name(s)
            info = json.loads(
                subprocess.run(
                    rnngen("info", str(ck), "--json"), capture_output=True, text=True, check=True
                ).stdout
            )
            history = info["history"]
            level, _, vocab = s.partition(":")
            cps = statistics.median(speeds[s])
            tok_per_char = None
            meta = json.loads((ck / "tokens.json").read_text())
            tok_per_char = meta["tokens"] / meta["chars"]
            rows.append(
                {
                    "level": level,
                    "vocab_size": info["model"]["vocab_size"],
                    "vocab_asked": int(vocab) if vocab else None,
                    "minutes": a.minutes,
                    "group": g_no,
                    "parameters": info.get("parameters"),
                    "val_bits_per_char": res["val_bits_per_char_whole"] or res["val_bits_per_char"],
                    "best_val_bits_per_char": res.get("best_val_bits_per_char"),
                    "val_bits_per_char_at": {
                        str(m): at_minutes(history, m) for m in (5, 10, a.minutes)
                    },
                    "chars_per_token": 1 / tok_per_char,
                    "train_tokens_per_sec": res["tokens_per_sec"],
                    "train_chars_per_sec": res["tokens_per_sec"] / tok_per_char,
                    "steps": res["steps"],
                    "chars_per_sec_sampling": cps,
                    "chars_per_sec_sampling_rounds": speeds[s],
                    "history": [
                        {k: h.get(k) for k in ("step", "seconds", "val_loss", "val_bits_per_char")}
                        for h in history
                    ],
                }
            )
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next(
        (line.split(":", 1)[1].strip() for line in cpu.splitlines() if "Model name" in line), ""
    )
    for r in rows:
        r["cpu"] = model
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{'level':6} {'vocab':>6} {'params':>10} {'tok/s':>7} {'chars/s':>8} "
          f"{'bpc@5':>6} {'bpc@10':>6} {'bpc@end':>7} {'sample chars/s':>14}")  # fmt: skip
    for r in rows:
        at = r["val_bits_per_char_at"]
        f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        print(
            f"{r['level']:6} {r['vocab_size']:>6,} {r['parameters'] or 0:>10,} "
            f"{r['train_tokens_per_sec']:>7,.0f} {r['train_chars_per_sec']:>8,.0f} "
            f"{f(at['5']):>6} {f(at['10']):>6} {f(r['val_bits_per_char']):>7} "
            f"{r['chars_per_sec_sampling']:>14,.0f}"
        )
    print(f"wrote {a.out}", file=sys.stderr)
    if a.figure:
        draw_rows(rows, a.figure)


def draw_rows(rows: list[dict], path: Path) -> None:
    """The runs' validation bits per character by step and by minute, drawn by ``rnngen plot
    --bits-per-char``'s code from the rows' histories (the runs themselves may be gone)."""
    from rnngen.pictures.curves import Curves
    from rnngen.pictures.draw import draw

    curves = []
    for r in rows:
        name = r["level"] if r["level"] != "bpe" else f"bpe {r['vocab_size']}"
        points = [
            (h["step"], h["seconds"] / 60, h["val_bits_per_char"])
            for h in r["history"]
            if h.get("val_bits_per_char") is not None
        ]
        curves.append(Curves(name, path, val=points, bpc=points))
    print(f"wrote {draw(curves, path, per_char=True, size='9x5')}", file=sys.stderr)


if __name__ == "__main__":
    main()
