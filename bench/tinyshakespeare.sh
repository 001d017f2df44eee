#!/usr/bin/env bash
# Time to quality on tiny Shakespeare (nanoGPT's split: the last 10% is validation): one
# `rnngen train` command bounded by wall time, then the validation curve (loss against minutes)
# from the checkpoint's history. Not part of the test suite.
#
#   bench/tinyshakespeare.sh            # bench/README.md's 12-minute recipe
#
# Corpus: ../shared/corpora/tinyshakespeare.txt (or $CORPUS). Result: bench/results/tinyshakespeare.json
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
CORPUS="${CORPUS:-$here/../../shared/corpora/tinyshakespeare.txt}"
out="runs/tinyshakespeare-12min"
mkdir -p "$here/results" runs
start=$(date +%s.%N)
rnngen train "$CORPUS" --hidden 384 --layers 2 --embed 64 --batch-size 32 --seq-len 64 \
  --dropout 0.2 --lr 3e-3 --schedule cosine --min-lr 1e-4 --minutes 11.6 \
  --eval-every 600 --out "$out" --force --json > "$out.json"
end=$(date +%s.%N)
python3 - "$out" "$start" "$end" "$here/results/tinyshakespeare.json" <<'PY'
import json, sys
import rnngen.checkpoint as checkpoint
out, start, end, dest = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ck = checkpoint.load(f"{out}/last.safetensors")
curve = [{"minutes": round(h["seconds"] / 60, 2), "step": h["step"], "val_loss": h["val_loss"],
          "train_loss": h["train_loss"], "lr": h["lr"]} for h in ck.info["history"]]
res = {"command_wall_seconds": round(end - start, 1), "train": json.load(open(f"{out}.json")),
       "curve": curve}
json.dump(res, open(dest, "w"), indent=1)
for c in curve:
    print(f"{c['minutes']:6.2f} min  step {c['step']:6d}  val {c['val_loss']:.4f}")
print(f"whole command: {res['command_wall_seconds'] / 60:.2f} min; best val "
      f"{res['train']['best_val_loss']:.4f}")
PY
