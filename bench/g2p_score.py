"""Word and phoneme error rates of a G2P model on a test split, with the stress digits kept and
with them removed from outputs and references alike (how most published CMUdict figures count).

    python bench/g2p_score.py TEST.tsv RUN [translate options: --beam 5 --ensemble RUN2 ...]

Decodes every distinct source of TEST.tsv once with ``rnngen translate --json`` (beam 5 unless the
options say) and scores its best output as ``rnngen eval`` does: correct when it equals any
reference of the source; the token edit distance counts against the closest reference, over that
reference's length, summed over the sources, then divided. The stress-kept figures equal ``rnngen
eval``'s for the same model and beam (a check on this script). Prints one JSON object.
"""

import json
import re
import subprocess
import sys
from collections import defaultdict

from rapidfuzz.distance import Levenshtein

STRESS = re.compile(r"(?<=[A-Z])[012]\b")


def unstressed(pron: str) -> str:
    return STRESS.sub("", pron)


def score(refs: dict[str, list[str]], outputs: dict[str, str], strip: bool) -> dict:
    correct = edits = ref_tokens = 0
    for src, rs in refs.items():
        out = outputs[src]
        if strip:
            out, rs = unstressed(out), [unstressed(r) for r in rs]
        hyp = out.split()
        correct += out in rs
        best = min(rs, key=lambda r: (Levenshtein.distance(hyp, r.split()), len(r.split())))
        edits += Levenshtein.distance(hyp, best.split())
        ref_tokens += len(best.split())
    n = len(refs)
    return {"sources": n, "wer": 1 - correct / n, "per": edits / ref_tokens}


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    test, run, *opts = sys.argv[1:]
    refs: dict[str, list[str]] = defaultdict(list)
    with open(test, encoding="utf-8") as f:
        for line in f:
            src, tgt = line.rstrip("\n").split("\t")
            refs[src].append(tgt)
    if "--beam" not in opts:
        opts = ["--beam", "5", *opts]
    # python -m rnngen: the rnngen on PYTHONPATH (g2p.sh puts its checkout there)
    p = subprocess.run(
        [sys.executable, "-m", "rnngen", "translate", run, "--json", *opts],
        capture_output=True,
        text=True,
        input="".join(s + "\n" for s in refs),
    )
    if p.returncode:
        sys.exit(p.stderr)
    outputs = {}
    for line in p.stdout.splitlines():
        obj = json.loads(line)
        outputs[obj["source"]] = obj["outputs"][0]
    print(
        json.dumps(
            {
                "test": test,
                "model": run,
                "options": opts,
                "stress_kept": score(refs, outputs, strip=False),
                "stress_removed": score(refs, outputs, strip=True),
            }
        )
    )


if __name__ == "__main__":
    main()
