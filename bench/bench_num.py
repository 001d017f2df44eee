"""``rnngen sample --num N``: N samples as one batch against N samples one after another.

    python bench/bench_num.py                          # h128 and h256, N = 4, 16, 64
    python bench/bench_num.py --configs h256 --nums 16 --rounds 7 --json /tmp/num.json

A (batched): ``Model.samples(N, length=L)``, what ``--num N`` runs now: one (1, N) forward pass of
the training model per token, N draws from N generators.
B (sequential): N calls of ``Model.generate(length=L)``, the batch-1 sampling kernel, which is
what ``--num N`` ran before (and the fastest way to get one sample).
Both on a randomly initialised char model written as a checkpoint and read back, at temperature 1,
in one process, alternated A B A B over the rounds; the report has each side's median tokens/s and
the median of the per-round ratios. The machine is shared: only same-run, alternated numbers
compare.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import MODELS, machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_checkpoint(name: str, where: Path) -> Path:
    import numpy as np

    import rnngen.checkpoint as checkpoint
    from rnngen.config.training import TrainConfig
    from rnngen.data.vocab import Vocab
    from rnngen.nn.config import ModelConfig
    from rnngen.nn.lm import LMNetwork

    level, V, E, H, L = MODELS[name]
    cfg = ModelConfig(level="char", vocab_size=V, embed=E, hidden=H, layers=L)
    m = LMNetwork(cfg)
    m.init_weights(np.random.default_rng(0))
    chars = [chr(32 + i) for i in range(V - 1)] + ["\n"]
    ck = checkpoint.Checkpoint(
        cfg, TrainConfig(), Vocab("char", sorted(chars)), dict(m.params.views)
    )
    return checkpoint.save(ck, where / f"{name}.safetensors")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default="h128,h256")
    ap.add_argument("--nums", default="4,16,64")
    ap.add_argument("--length", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    import rnngen

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.configs.split(","):
            model = rnngen.load(make_checkpoint(name, Path(tmp)))
            model.warm("sample")
            model.warm("batch")
            for N in (int(n) for n in a.nums.split(",")):
                model.samples(N, length=20, seed=0)  # first touch of this batch's workspace
                rates = {"batched": [], "sequential": []}
                for r in range(a.rounds):
                    t0 = time.perf_counter()
                    model.samples(N, length=a.length, seed=r)
                    rates["batched"].append(N * a.length / (time.perf_counter() - t0))
                    t0 = time.perf_counter()
                    for i in range(N):
                        for _ in model.generate(length=a.length, seed=r + i):
                            pass
                    rates["sequential"].append(N * a.length / (time.perf_counter() - t0))
                ratio = statistics.median(b / s for b, s in zip(*rates.values(), strict=True))
                row = {
                    "config": name,
                    "num": N,
                    "length": a.length,
                    "rounds": a.rounds,
                    "batched_tok_s": statistics.median(rates["batched"]),
                    "sequential_tok_s": statistics.median(rates["sequential"]),
                    "speedup": ratio,
                }
                results.append(row)
                print(
                    f"{name} N={N:3d}: batched {row['batched_tok_s']:9.0f} tok/s, sequential "
                    f"{row['sequential_tok_s']:9.0f} tok/s, speed-up {ratio:.2f}x",
                    file=sys.stderr,
                    flush=True,
                )
    report = {"machine": machine(), "results": results}
    if a.json:
        a.json.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
