#!/usr/bin/env bash
# Penn Treebank (word level) with rnngen: the two recipes of bench/README.md, each trained and then
# scored on the test set. Not part of the test suite; each takes about an hour. THREADS=1 (the
# default) is how bench/README.md's figures were measured: the two runs shared the 2 cores, one each.
#
#   bench/ptb.sh zaremba-small   # Zaremba et al. 2014, non-regularised small config
#   bench/ptb.sh recipe          # our one-hour recipe: tied, dropout, larger
#
# PTB: ../shared/corpora/ptb (or $PTB). Runs go to runs/ptb-*; results to bench/results/ptb-*.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PTB="${PTB:-$here/../../shared/corpora/ptb}"
which="${1:-zaremba-small}"
common=(--level word --val-file "$PTB/ptb.valid.txt" --json --force)

case "$which" in
  zaremba-small)
    # Zaremba's loss is summed over the 20 unrolled steps; ours is the mean per token, so his
    # lr 1 and clip 5 are lr 20 and clip 0.25 here (as in PyTorch's word_language_model).
    args=(--layers 2 --hidden 200 --embed 200 --seq-len 20 --batch-size 20 --init-scale 0.1
          --optimizer sgd --lr 20 --clip 0.25 --schedule step --decay 0.5 --decay-after 4
          --epochs 13 --threads "${THREADS:-1}") ;;
  recipe)
    # one hour, the learning rate annealed to zero along a cosine by wall time
    args=(--layers 2 --hidden 300 --tie --dropout 0.3 --seq-len 35 --batch-size 20
          --optimizer sgd --lr 20 --clip 0.25 --schedule cosine --minutes 60 --eval-every 1328
          --threads "${THREADS:-1}") ;;
  *) echo "usage: $0 zaremba-small|recipe" >&2; exit 2 ;;
esac

out="runs/ptb-$which"
mkdir -p "$here/results" runs
start=$(date +%s)
rnngen train "$PTB/ptb.train.txt" "${common[@]}" "${args[@]}" --out "$out" > "$out.train.json"
end=$(date +%s)
# the test set scored as one stream (batch 1), the carried state never reset, as Zaremba did
for split in valid test; do
  rnngen eval "$out" "$PTB/ptb.$split.txt" --batch-size 1 --seq-len 35 --json > "$out.$split.json"
done
python3 - "$out" "$which" "$((end - start))" "$here/results/ptb-$which.json" <<'PY'
import json, sys
out, which, secs, dest = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
train = json.load(open(f"{out}.train.json"))
res = {"recipe": which, "wall_seconds": secs, "train": train,
       "valid": json.load(open(f"{out}.valid.json")), "test": json.load(open(f"{out}.test.json"))}
json.dump(res, open(dest, "w"), indent=1)
print(f"{which}: valid ppl {res['valid']['perplexity']:.1f}  test ppl {res['test']['perplexity']:.1f}"
      f"  train {secs / 60:.1f} min  {train['tokens_per_sec']:.0f} tok/s  {train['epochs']:.1f} epochs")
PY
