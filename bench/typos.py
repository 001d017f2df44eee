"""A spelling-correction pair set from WikiText-2: misspelled word <TAB> the word, a third kind of
sequence-to-sequence task beside CMUdict G2P (letters to phonemes) and ``dates`` (formats to one
format): the output mostly copies the input, the errors are noise, and the model must remember a
vocabulary of thousands of words to know which spelling is right.

The words: the (up to) 20,000 most frequent lower-case alphabetic words of 3 to 14 letters in
``../shared/corpora/wikitext-2/train.txt``. Each gets 5 misspellings for training and one each for
validation and test, drawn apart (a misspelling seen in training is never a test source); 2,000
of those are kept for validation and 2,000 for test. A
misspelling is 1 edit (2 for words of 8 letters or more, half the time): a letter deleted, a
letter inserted, a letter replaced by a neighbour on a QWERTY keyboard, or two neighbours swapped.
Deterministic (fixed seeds).

    python3 bench/typos.py DIR      # DIR/train.tsv, DIR/valid.tsv, DIR/test.tsv
"""

import random
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpora" / "wikitext-2" / "train.txt"
WORDS = 20_000
TRAIN_EACH = 5
HELD_OUT = 2_000  # validation and test pairs each (of different words' misspellings)
ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
NEIGHBOURS: dict[str, str] = {}
for r, row in enumerate(ROWS):
    for i, ch in enumerate(row):
        near = {row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)}
        for other in (r - 1, r + 1):
            if 0 <= other < len(ROWS):
                near |= {ROWS[other][j] for j in (i - 1, i, i + 1) if 0 <= j < len(ROWS[other])}
        NEIGHBOURS[ch] = "".join(sorted(near))


def edit(word: str, rng: random.Random) -> str:
    """``word`` with one random edit (never the word itself)."""
    while True:
        i = rng.randrange(len(word))
        kind = rng.choice(("delete", "insert", "replace", "swap"))
        if kind == "delete" and len(word) > 3:
            out = word[:i] + word[i + 1 :]
        elif kind == "insert":
            out = word[:i] + rng.choice(NEIGHBOURS[word[i]]) + word[i:]
        elif kind == "replace":
            out = word[:i] + rng.choice(NEIGHBOURS[word[i]]) + word[i + 1 :]
        elif kind == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
            out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        else:
            continue
        if out != word:
            return out


def misspell(word: str, rng: random.Random) -> str:
    out = edit(word, rng)
    if len(word) >= 8 and rng.random() < 0.5:
        out = edit(out, rng)
    return out if out != word else misspell(word, rng)


def words() -> list[str]:
    counts = Counter(
        w for w in CORPUS.read_text(encoding="utf-8").split() if re.fullmatch(r"[a-z]{3,14}", w)
    )
    return sorted(w for w, _ in counts.most_common(WORDS))


def build(dest: Path) -> dict[str, int]:
    rng = random.Random(20261207)
    sides: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for w in words():
        seen: set[str] = set()
        for side, n in (("train", TRAIN_EACH), ("valid", 1), ("test", 1)):
            for _ in range(n):
                for _tries in range(20):
                    s = misspell(w, rng)
                    if s not in seen:
                        break
                seen.add(s)
                sides[side].append(f"{s}\t{w}")
    dest.mkdir(parents=True, exist_ok=True)
    for side, lines in sides.items():
        rng.shuffle(lines)
        if side != "train":
            del lines[HELD_OUT:]
        (dest / f"{side}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {side: len(lines) for side, lines in sides.items()}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(build(Path(sys.argv[1])), file=sys.stderr)
