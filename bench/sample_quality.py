"""Do a model's samples read like its corpus? For a run: N samples at a temperature, unprimed and
primed, each text's character-class mix (letters, digits, whitespace, punctuation) against the
training text's, and its mean surprisal under the model against the validation loss; and the
greedy (``--temp 0``) sample's classes. With ``--zero-start`` the same for the model started from
the zero state (as checkpoints without a start state sample).

    python bench/sample_quality.py RUN --corpus corpus.txt [--num 20 --temp 0.8 --length 300]
        [--prime "The "] [--zero-start] [--json out.json]
"""

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import rnngen

CLASSES = ("letters", "digits", "whitespace", "punctuation")


def classes(text: str) -> dict[str, float]:
    """The share of each character class in ``text``."""
    n = max(1, len(text))
    counts = dict.fromkeys(CLASSES, 0)
    for ch in text:
        if ch.isalpha():
            counts["letters"] += 1
        elif ch.isdigit():
            counts["digits"] += 1
        elif ch.isspace():
            counts["whitespace"] += 1
        else:
            counts["punctuation"] += 1
    return {k: v / n for k, v in counts.items()}


def worst_ratio(mix: dict[str, float], ref: dict[str, float], floor: float = 0.01) -> float:
    """The largest factor by which a class's share differs from the reference's (classes under
    ``floor`` in both count as equal)."""
    worst = 1.0
    for k in CLASSES:
        a, b = max(mix[k], floor), max(ref[k], floor)
        worst = max(worst, a / b, b / a)
    return worst


def zero_started(run: str, where: Path) -> str:
    """A copy of ``run``'s best checkpoint without its start state."""
    from safetensors.numpy import load_file, save_file

    src = Path(rnngen.load(run).path)
    from safetensors import safe_open

    with safe_open(str(src), "np") as f:
        meta = f.metadata()
    tensors = {k: v for k, v in load_file(str(src)).items() if not k.startswith("start.")}
    out = where / "zero.safetensors"
    save_file(tensors, str(out), metadata=meta)
    return str(out)


def measure(model_path: str, corpus_text: str, num: int, temp: float, length: int,
            prime: str) -> dict:  # fmt: skip
    m = rnngen.load(model_path)
    ref = classes(corpus_text)
    val = m.info()["best_val_loss"]
    texts = m.samples(num, prime=prime, temp=temp, length=length, seed=1)
    rows = []
    for t in texts:
        body = t[len(prime) :]
        s = m.score([body])[0] if body.strip() else None
        rows.append(
            {
                "mix": classes(body),
                "ratio": worst_ratio(classes(body), ref),
                "nats_per_char": None if s is None else s.bits / max(1, s.tokens) * math.log(2),
            }
        )
    greedy = "".join(m.generate(prime=prime, temp=0, length=length))[len(prime) :]
    gmix = classes(greedy)
    mean_mix = {k: sum(r["mix"][k] for r in rows) / len(rows) for k in CLASSES}
    nats = [r["nats_per_char"] for r in rows if r["nats_per_char"] is not None]
    return {
        "model": model_path, "prime": prime, "temp": temp, "num": num, "length": length,
        "corpus_mix": ref, "mean_mix": mean_mix, "mix_ratio_of_mean": worst_ratio(mean_mix, ref),
        "worst_sample_ratio": max(r["ratio"] for r in rows),
        "mean_surprisal": sum(nats) / max(1, len(nats)), "val_loss": val,
        "surprisal_over_val": (sum(nats) / max(1, len(nats))) / val if val else None,
        "greedy_classes": sum(1 for k in CLASSES if gmix[k] > 0),
        "greedy_top_class_share": max(gmix.values()), "greedy_head": greedy[:60],
        "sample_head": texts[0][:80],
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--corpus", required=True, help="the training text (its class mix)")
    ap.add_argument("--num", type=int, default=20)
    ap.add_argument("--temp", type=float, default=0.8)
    ap.add_argument("--length", type=int, default=300)
    ap.add_argument("--prime", default="")
    ap.add_argument("--zero-start", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    text = Path(a.corpus).read_text(encoding="utf-8", errors="replace")
    results = []
    with tempfile.TemporaryDirectory() as d:
        models = [("start state", a.run)]
        if a.zero_start:
            models.append(("zero state", zero_started(a.run, Path(d))))
        for name, path in models:
            for prime in ("", a.prime) if a.prime else ("",):
                r = measure(path, text, a.num, a.temp, a.length, prime)
                r["start"] = name
                results.append(r)
                print(f"{name:12s} prime={prime!r:8s} mix-ratio(mean)={r['mix_ratio_of_mean']:.2f} "
                      f"worst-sample={r['worst_sample_ratio']:.2f} "
                      f"surprisal/val={r['surprisal_over_val']:.2f} "
                      f"whitespace={r['mean_mix']['whitespace']:.2f} "
                      f"(corpus {r['corpus_mix']['whitespace']:.2f}) letters="
                      f"{r['mean_mix']['letters']:.2f} (corpus {r['corpus_mix']['letters']:.2f}) "
                      f"greedy={r['greedy_head']!r}")  # fmt: skip
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
