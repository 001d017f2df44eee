"""A language model's side of training (``rnngen.training.job``): windows of T tokens from B
streams of the text with the recurrent state carried from window to window, the loss per token,
and a validation part: periodic evaluations score a fixed part of the validation split (a quarter
of the tokens trained on between evaluations, at least ``VAL_PART_MIN``), the whole split is
scored once, at the end."""

import math
from pathlib import Path

import numpy as np

from rnngen.config.training import MOMENTS, TrainConfig
from rnngen.data.batches import BatchStream, sample_rows
from rnngen.data.corpus import Corpus
from rnngen.data.tokenfile import release_pages
from rnngen.errors import TrainingError
from rnngen.generate.evaluate import evaluate, evaluate_rows
from rnngen.kernels.threads import apply as apply_threads
from rnngen.kernels.threads import plan_threads
from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import LMNetwork, State
from rnngen.nn.memory import check_fits, training_bytes
from rnngen.parallel.group import Alone, Group, check_batch
from rnngen.results import EvalResult, bits_per_char
from rnngen.training.job import Job
from rnngen.training.trainer import Trainer

# forward only, about a third of a training token's cost: ~8% of the time
VAL_PART_MIN = 100_000
START_CONTEXT = 1000  # tokens of text read for the start state


class LanguageModelJob(Job):
    """Trains an ``LMNetwork`` on a ``Corpus`` (this member's rows of every batch)."""

    task_name = "lm"

    def __init__(
        self,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        corpus: Corpus,
        threads: int | None = None,
        group: Group | None = None,
    ) -> None:
        train_cfg = train_cfg.resolve()
        self.mcfg, self.tcfg, self.corpus = model_cfg, train_cfg, corpus
        T, B = train_cfg.seq_len, train_cfg.batch_size
        # data-parallel: this member trains rows lo:hi of every batch (rnngen.parallel)
        self.group = group or Alone()
        check_batch(self.group, B)
        self.rows = self.group.rows(B)
        b = self.rows[1] - self.rows[0]
        need = T * B + 1
        if len(corpus.train) < need:
            raise TrainingError(
                f"{corpus.name}: {len(corpus.train):,} training tokens, but one batch needs "
                f"batch-size x seq-len + 1 = {need:,}; use a smaller --batch-size or --seq-len"
            )
        m = model_cfg
        check_fits(
            training_bytes(m, T, b, len(MOMENTS[train_cfg.optimizer])),
            f"training {m.layers} layers of {m.hidden} {m.cell} units (vocabulary "
            f"{m.vocab_size:,}) on batches of {B} x {T}",
            "use a smaller --hidden, --embed, --layers, --batch-size or --seq-len",
        )
        self.stream = BatchStream(corpus.train, B, T)
        self.plan = plan_threads(threads, b)
        apply_threads(self.plan)
        self.model = LMNetwork(model_cfg, np.float32, parts=self.plan.parts)
        self.model.init_weights(np.random.default_rng(train_cfg.seed), train_cfg.init_scale)
        self.model.dropout_seed = train_cfg.seed + 7919 * self.group.rank  # other rows, masks
        self.state = self.model.new_state(b)
        self.val_part: tuple[np.ndarray, np.ndarray] | None = None  # set by ``plan_validation``
        self._start: tuple[int, dict] | None = None  # (step, start state tensors) last computed

    # ---- the data ------------------------------------------------------------------------------

    def data_info(self) -> dict:
        return {
            "vocab": len(self.corpus.vocab),
            "train_tokens": len(self.corpus.train),
            "val_tokens": 0 if self.corpus.val is None else len(self.corpus.val),
        }

    def default_eval_every(self) -> int:
        # every ~500k training tokens (at most once per epoch, at least 100 steps apart): frequent
        # enough for a curve, and validation stays under ~10% of the time on tiny Shakespeare
        per_step = self.tcfg.seq_len * self.tcfg.batch_size
        return max(100, min(self.stream.steps_per_epoch, -(-500_000 // per_step)))

    def baseline(self) -> float:
        return math.log(len(self.corpus.vocab))

    def release_pages(self) -> None:
        release_pages(self.corpus.train, self.corpus.val)

    # ---- a step --------------------------------------------------------------------------------

    def train_batch(self, step: int) -> tuple[float, int]:
        x, y, new_epoch = self.stream.next()
        if new_epoch:
            self.state.reset()
        x, y = self._own_rows(x), self._own_rows(y)
        loss = self.model.forward_backward(x, y, self.state, key=step)
        loss = self.group.gradients(loss, self.model.grads.flat, "mean")
        return loss, self.tcfg.seq_len * self.tcfg.batch_size  # the global batch's tokens

    def _own_rows(self, a: np.ndarray) -> np.ndarray:
        """This member's rows of a (T, B) batch."""
        lo, hi = self.rows
        return a if (lo, hi) == (0, a.shape[1]) else np.ascontiguousarray(a[:, lo:hi])

    # ---- validation ----------------------------------------------------------------------------

    def plan_validation(self, eval_every: int) -> None:
        """Choose the fixed rows of the validation split scored periodically (none when the whole
        split is no bigger than such a part: then it is scored every time)."""
        val, c = self.corpus.val, self.tcfg
        self.val_part = None
        if val is None:
            return
        part = max(VAL_PART_MIN, eval_every * c.seq_len * c.batch_size // 4)
        row_len = max(c.seq_len, part // c.batch_size)
        if c.batch_size * row_len < len(val) - 1 - row_len:
            self.val_part = sample_rows(val, c.batch_size, row_len)

    @property
    def scores_part(self) -> bool:
        return self.val_part is not None

    measure_names = ("val_bits_per_char",)

    def measures(self, val_loss: float) -> dict[str, float]:
        bpc = self.bits_per_char(val_loss)
        return {} if bpc is None else {"val_bits_per_char": bpc}

    def bits_per_char(self, val_loss: float) -> float | None:
        """The loss summed over the validation tokens, over their characters, in bits (a fixed
        part of the split is scored at the whole split's characters per token)."""
        per_token = self.corpus.chars_per_token("val")
        return None if per_token is None else bits_per_char(val_loss, per_token)

    def val_tokens(self, whole: bool = False) -> int:
        if self.corpus.val is None:
            return 0
        return len(self.corpus.val) - 1 if whole or self.val_part is None else self.val_part[1].size

    def validate(self, reporter, whole: bool) -> float:
        c = self.tcfg
        if whole or self.val_part is None:
            B = min(c.batch_size, len(self.corpus.val) - 1)
            res = evaluate(
                self.model,
                self.corpus.val,
                c.batch_size,
                c.seq_len,
                rows=self.group.rows(B),
                progress=reporter.evaluating,
            )
        else:
            x, y = self.val_part
            res = evaluate_rows(
                self.model,
                x,
                y,
                c.seq_len,
                rows=self.group.rows(len(x)),
                progress=reporter.evaluating,
            )
        total, count = self.group.sums(res.loss * res.tokens if res.tokens else 0.0, res.tokens)
        return EvalResult(total / count, count).loss

    # ---- the carried state ---------------------------------------------------------------------

    def own_rows_of(self, state: State) -> State:
        """This member's rows of a carried state of all B rows."""
        lo, hi = self.rows
        return State(state.names, tuple(a[:, lo:hi] for a in state.arrays))

    def carried(self) -> dict[str, np.ndarray]:
        return self.state.tensors()

    def capture(self) -> State:
        return self.state.copy()

    def restore_capture(self, cap: State) -> None:
        self.state.assign(cap)

    def restore(self, ck) -> State:
        restored = ck.state()  # all B rows; this member continues its own
        self.state.assign(self.own_rows_of(restored))
        return restored

    def assign_carried(self, state: State) -> None:
        self.state.assign(self.own_rows_of(state))

    # ---- the state a text starts from -------------------------------------------------------

    def start_arrays(self, step: int) -> dict[str, np.ndarray]:
        """The state after reading ``START_CONTEXT`` tokens of real text that end at a line
        break (the line break itself not read: the sampler reads it, as it starts every text), so
        that an unprimed sample, a score and a heatmap start from a state the model knows.
        Training resets the carried state to zeros once an epoch: the zero state is one the
        model has hardly ever been in, and from it a short run's samples fall into runs of
        spaces or of one character. Computed once per step: the last and the best checkpoint of
        an evaluation share it."""
        if self._start is not None and self._start[0] == step:
            return self._start[1]
        ids = self._start_text()
        if ids is None:
            return {}
        net = LMNetwork(self.mcfg, np.float32, parts=1)
        net.params.flat[...] = self.model.params.flat
        state = net.new_state(1)
        net.logits(np.ascontiguousarray(ids.reshape(-1, 1)), state)
        self._start = (step, state.tensors(prefix="start."))
        return self._start[1]

    def _start_text(self) -> np.ndarray | None:
        """The stretch of the validation text (the training text without one) the start state
        reads: about START_CONTEXT tokens before the first line break past them."""
        vocab = self.corpus.vocab
        nl = vocab.stoi.get(vocab.line_end)
        if nl is None:  # no line breaks: texts start from zeros, and predict from the bias
            return None
        text = self.corpus.val if self.corpus.val is not None else self.corpus.train
        head = np.asarray(text[: 4 * START_CONTEXT])
        ends = np.flatnonzero(head == nl)
        if len(ends) == 0:
            return None
        later = ends[ends >= START_CONTEXT]
        end = int(later[0]) if len(later) else int(ends[-1])
        if end == 0:
            return None
        return head[max(0, end - START_CONTEXT) : end].astype(np.int32)


def lm_trainer(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    corpus: Corpus,
    out_dir: Path,
    threads: int | None = None,
    group: Group | None = None,
) -> Trainer:
    """A trainer of a language model on ``corpus``, writing into ``out_dir``."""
    return Trainer(LanguageModelJob(model_cfg, train_cfg, corpus, threads, group), out_dir)
