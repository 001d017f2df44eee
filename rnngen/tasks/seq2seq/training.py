"""Training sequence-to-sequence models: the language model's loop (``Trainer``: schedules,
clipping, the divergence guard, checkpoints, patience, exact resume, stopping on a signal), with
pairs for data.

Each step is one batch of B pairs of similar lengths (``rnngen.data.pair_batches``); the loss is
the mean cross-entropy per target token, teacher-forced. With ``teacher_forcing`` P < 1, each
decoder input after <s> is, with probability 1 - P, the model's own greedy guess at that step
instead of the true token (scheduled sampling, Bengio et al. 2015): a greedy pass of the model
without gradients picks them, then the batch trains on those inputs. The coin flips are a
generator seeded by (seed, step), so a resumed run flips the same coins.

Data-parallel (MPI, ``rnngen.parallel.group``): each process takes contiguous rows of every
batch (padded to their own longest). Their rows hold different numbers of target tokens, so each
scales its gradient by the whole batch's count and the processes' gradients are summed
(``gradients(..., "sum")``): the gradient of the whole batch's mean, as one process computes
it, up to the order of float sums. Validation shares out the batches of pairs, and the greedy
decoding of ``--best-by error`` the sources; their sums are reduced.
"""

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rnngen.config.training import MOMENTS, TrainConfig
from rnngen.data.pair_batches import PairBatches, rows_of
from rnngen.data.pairs import PairSet, boundary
from rnngen.data.vocab import Vocab
from rnngen.generate.seq2seq_eval import decoded_counts, validation_sums
from rnngen.kernels.threads import apply as apply_threads
from rnngen.kernels.threads import plan_threads
from rnngen.nn.config import ModelConfig
from rnngen.nn.memory import activation_floats, check_fits, footprint
from rnngen.nn.seq2seq.config import Seq2SeqConfig
from rnngen.nn.seq2seq.network import Batch, Seq2SeqNetwork, param_shapes
from rnngen.parallel.group import Alone, Group, check_batch
from rnngen.training.job import Job
from rnngen.training.trainer import Trainer


@dataclass
class PairCorpus:
    """Encoded training (and validation) pairs with their vocabularies."""

    src_vocab: Vocab
    vocab: Vocab  # the target's
    train: PairSet
    val: PairSet | None
    name: str
    fingerprint: str
    skipped: int = 0  # training pairs longer than max_len, left out
    val_fingerprint: str | None = None  # of the --val-file, when one was given


def training_bytes(cfg: ModelConfig, s2s: Seq2SeqConfig, B: int, moments: int = 2) -> int:
    """Training's footprint, counted as the language model's (``rnngen.nn.memory``): weights,
    gradients, optimizer buffers and the divergence guard's copies, and the activations of one
    batch of the longest pairs it takes (--max-len): the decoder, each encoder direction, and
    attention's (B, T, S) arrays (additive: its tanh terms, H per score)."""
    P = sum(math.prod(shape) for shape in param_shapes(cfg, s2s).values())
    T = s2s.max_len + 1
    dirs = 2 if s2s.encoder == "bi" else 1
    enc = replace(cfg, hidden=s2s.enc_hidden, vocab_size=1)
    att = B * T * T * (cfg.hidden + 3 if s2s.attention == "additive" else 3)
    act = activation_floats(cfg, T, B) + dirs * activation_floats(enc, T, B) + att
    return footprint(P, act, moments)


class Seq2SeqJob(Job):
    """Trains a ``Seq2SeqNetwork`` on a ``PairCorpus`` (this member's rows of every batch)."""

    task_name = "seq2seq"
    measure_names = ("val_error",)

    def __init__(
        self,
        model_cfg: ModelConfig,
        s2s: Seq2SeqConfig,
        train_cfg: TrainConfig,
        corpus: PairCorpus,
        threads: int | None = None,
        group: Group | None = None,
    ) -> None:
        train_cfg = train_cfg.resolve()
        self.mcfg, self.s2s, self.tcfg, self.corpus = model_cfg, s2s, train_cfg, corpus
        B = train_cfg.batch_size
        # data-parallel: this member trains rows lo:hi of every batch (rnngen.parallel)
        self.group = group or Alone()
        check_batch(self.group, B)
        lo, hi = self.group.rows(B)
        bos = boundary(corpus.vocab)
        self.stream = PairBatches(corpus.train, B, train_cfg.seed, bos)
        m = model_cfg
        check_fits(
            training_bytes(m, s2s, hi - lo, len(MOMENTS[train_cfg.optimizer])),
            f"training a seq2seq model of {m.layers} layers of {m.hidden} {m.cell} units "
            f"(vocabularies {s2s.src_vocab:,} and {m.vocab_size:,}) on batches of {B} pairs of "
            f"up to {s2s.max_len} tokens",
            "use a smaller --hidden, --embed, --layers, --batch-size or --max-len",
        )
        self.plan = plan_threads(threads, hi - lo)
        apply_threads(self.plan)
        self.model = Seq2SeqNetwork(model_cfg, s2s, np.float32, parts=self.plan.parts)
        self.model.init_weights(np.random.default_rng(train_cfg.seed), train_cfg.init_scale)
        self.model.dropout_seed = train_cfg.seed + 7919 * self.group.rank  # other rows, masks
        self.model.label_smoothing = s2s.label_smoothing

    @property
    def own_settings(self) -> Seq2SeqConfig:
        return self.s2s

    def shared_data(self) -> PairCorpus:
        return self.corpus  # small, and it may have come from stdin

    # ---- the data ------------------------------------------------------------------------------

    def default_eval_every(self) -> int:
        # every ~500k target tokens, as the language model's, at most once per epoch
        per_step = self.tcfg.batch_size * self.corpus.train.target_tokens / len(self.corpus.train)
        return max(100, min(self.stream.steps_per_epoch, int(500_000 // per_step)))

    def data_info(self) -> dict:
        val = self.corpus.val
        return {
            "vocab": len(self.corpus.vocab),
            "src_vocab": len(self.corpus.src_vocab),
            "train_tokens": self.corpus.train.target_tokens,
            "val_tokens": 0 if val is None else val.target_tokens,
            "pairs": len(self.corpus.train),
            "val_pairs": 0 if val is None else len(val),
            "skipped": self.corpus.skipped,
        }

    def baseline(self) -> float:
        return math.log(self.mcfg.vocab_size)

    # ---- a step --------------------------------------------------------------------------------

    def train_batch(self, step: int) -> tuple[float, int]:
        """This member's rows of the next batch (all of it alone), its loss and gradient scaled
        by the whole batch's target tokens, added up over the group."""
        batch, _ = self.stream.next()
        keep = self._coins(batch, step) if self.s2s.teacher_forcing < 1.0 else None
        lo, hi = self.group.rows(batch.src.shape[1])  # the last batch of an epoch may be short
        loss = 0.0
        if hi > lo:
            own = rows_of(batch, lo, hi)
            if keep is not None:
                own = self._scheduled(own, keep[: own.tgt_in.shape[0], lo:hi])
            loss = self.model.forward_backward(own, key=step, per=batch.tokens)
        else:  # no rows here this step: nothing to add
            self.model.grads.flat[...] = 0.0
        return self.group.gradients(loss, self.model.grads.flat, "sum"), batch.tokens

    def _coins(self, batch: Batch, step: int) -> np.ndarray:
        """Scheduled sampling's (T, B) choices for the whole batch: True keeps the true
        previous token (a function of (seed, step), so a resumed run flips the same coins)."""
        rng = np.random.default_rng([self.tcfg.seed, step, 7])
        keep = rng.random(batch.tgt_in.shape) < self.s2s.teacher_forcing
        keep[0] = True  # <s>
        return keep

    def _scheduled(self, batch: Batch, keep: np.ndarray) -> Batch:
        """The batch with each decoder input after <s> where ``keep`` is False replaced by the
        model's greedy guess at that step given the inputs chosen before it."""
        from rnngen.generate.translate import guided_greedy

        return replace(batch, tgt_in=guided_greedy(self.model, batch, keep))

    # ---- validation: every validation pair, every time -------------------------------------------

    def val_tokens(self, whole: bool = False) -> int:
        return 0 if self.corpus.val is None else self.corpus.val.target_tokens

    def validate(self, reporter, whole: bool) -> float:
        """Every validation pair's loss, the batches shared among the members."""
        g = self.group
        total, count = validation_sums(
            self.model, self.corpus.val, self.tcfg.batch_size, self.stream.bos, (g.rank, g.size)
        )
        total, count = g.sums(total, count)
        return total / count

    def measures(self, val_loss: float) -> dict[str, float]:
        """With ``best_by`` error: the validation sources' greedy sequence error rate."""
        return {} if self.s2s.best_by == "loss" else {"val_error": self._greedy_error()}

    def better(self, now: dict[str, float], best: dict[str, float]) -> bool:
        """By loss, or (``best_by`` error) by the greedy sequence error rate, ties broken by
        loss."""
        if self.s2s.best_by == "loss":
            return super().better(now, best)
        return (now["val_error"], now["val_loss"]) < (best["val_error"], best["val_loss"])

    @property
    def selected_by(self) -> str:
        return self.s2s.best_by

    def _greedy_error(self) -> float:
        """The share of distinct validation sources whose greedy output matches none of their
        references."""
        from rnngen.generate.translate import Translator

        translator = Translator(self.model, self.corpus.src_vocab, self.corpus.vocab)
        B, longest, g = self.tcfg.batch_size, self.s2s.max_len + 1, self.group
        counts = decoded_counts(translator, self.corpus.val, 1, B, longest, (g.rank, g.size))
        sources, correct = g.sums(*counts[:2])
        return 1.0 - correct / sources

    # ---- state: nothing carried from batch to batch --------------------------------------------

    def checkpoint_part(self) -> dict:
        return {
            "task": "seq2seq",
            "task_cfg": self.s2s,
            "vocabs": {"src_vocab": self.corpus.src_vocab},
        }


def seq2seq_trainer(
    model_cfg: ModelConfig,
    s2s: Seq2SeqConfig,
    train_cfg: TrainConfig,
    corpus: PairCorpus,
    out_dir: Path,
    threads: int | None = None,
    group: Group | None = None,
) -> Trainer:
    """A trainer of a seq2seq model on ``corpus``, writing into ``out_dir``."""
    return Trainer(Seq2SeqJob(model_cfg, s2s, train_cfg, corpus, threads, group), out_dir)
