"""What the training loop (``rnngen.training.trainer``) asks of a task: its network, its batches,
one step, validation and how to tell a better model, and its part of a checkpoint. One subclass
per task (``rnngen.tasks.lm.training``, ``rnngen.tasks.seq2seq.training``); the loop is written
once and never subclassed.

Data-parallel runs (``rnngen.parallel``): every member has its own job for its rows of each batch;
the loop reduces what the job returns through the group.
"""

from typing import Any

import numpy as np

from rnngen.config.training import TrainConfig
from rnngen.kernels.threads import ThreadPlan
from rnngen.parallel.group import Group


class Job:
    """One task's side of a training run. Subclasses set the attributes in ``__init__`` and fill
    the methods that raise here."""

    task_name: str  # the task (rnngen.tasks) whose runs this trains
    own_settings: Any = None  # the task's own settings (None: none)
    mcfg: Any  # the model's settings (rnngen.nn.config.ModelConfig)
    tcfg: TrainConfig  # resolved
    corpus: Any  # the data: .name, .fingerprint, .vocab, .train, .val
    stream: Any  # the batches: .pos (epoch, step_in_epoch), .steps_per_epoch, .next()
    model: Any  # the network: .params, .grads (rnngen.nn.params.FlatParams)
    plan: ThreadPlan
    group: Group

    # ---- the data ------------------------------------------------------------------------------

    def data_info(self) -> dict:
        """For the reporter's start: the vocabularies and the data's sizes."""
        raise NotImplementedError

    def default_eval_every(self) -> int:
        """Steps between evaluations when the user gave none."""
        raise NotImplementedError

    def baseline(self) -> float:
        """The loss of a uniform guess, for the divergence guard."""
        raise NotImplementedError

    def shared_data(self) -> Any:
        """What the root sends the other members of the data (None: they read the run
        directory's token file)."""
        return None

    def release_pages(self) -> None:
        """Let the OS drop the pages of mapped data (RSS stays flat over a long run)."""

    # ---- a step --------------------------------------------------------------------------------

    def train_batch(self, step: int) -> tuple[float, int]:
        """Forward and backward of the next batch into ``model.grads``, reduced over the group:
        (the batch's mean loss, its tokens)."""
        raise NotImplementedError

    # ---- validation ----------------------------------------------------------------------------

    def plan_validation(self, eval_every: int) -> None:
        """Choose what periodic evaluations score, evaluations ``eval_every`` steps apart."""

    @property
    def has_val(self) -> bool:
        return self.corpus.val is not None

    @property
    def scores_part(self) -> bool:
        """Whether periodic evaluations score a fixed part of the validation data (then the
        whole is scored once, at the end)."""
        return False

    def validate(self, reporter: Any, whole: bool) -> float:
        """The validation loss of the whole validation data or of its part, reduced over the
        group."""
        raise NotImplementedError

    def val_tokens(self, whole: bool = False) -> int:
        """Tokens the periodic evaluations (or, ``whole``, the whole validation data) score."""
        raise NotImplementedError

    measure_names: tuple[str, ...] = ()  # what ``measures`` may return, as the history names it

    def bits_per_char(self, val_loss: float) -> float | None:
        """The validation loss in bits per character of the validation text (None: unknown)."""
        return None

    def measures(self, val_loss: float) -> dict[str, float]:
        """More measures of an evaluation than its loss, named as the history records them
        (a seq2seq model kept best by its error: ``val_error``)."""
        return {}

    def better(self, now: dict[str, float], best: dict[str, float]) -> bool:
        """Whether the evaluation ``now`` beats ``best`` (both: val_loss and ``measures``)."""
        return now["val_loss"] < best["val_loss"]

    @property
    def selected_by(self) -> str:
        """What ``better`` compares, for messages: "loss"."""
        return "loss"

    # ---- state ---------------------------------------------------------------------------------

    def carried(self) -> dict[str, np.ndarray]:
        """The state carried from batch to batch, this member's rows, as checkpoint tensors."""
        return {}

    def capture(self) -> Any:
        """A copy of the carried state (for rollback)."""
        return None

    def restore_capture(self, cap: Any) -> None: ...

    def restore(self, ck: Any) -> Any:
        """The carried state of all rows of the run ``ck`` was saved from, this member's rows
        continued; returns it (None: nothing carried), for the others of a data-parallel run."""
        return None

    def assign_carried(self, state: Any) -> None:
        """This member's rows of ``state`` (all rows, as ``restore`` returns it)."""

    def start_arrays(self, step: int) -> dict[str, np.ndarray]:
        """More tensors a checkpoint keeps of the model at ``step`` (the language model's start
        state), computed on the root when it writes one."""
        return {}

    def checkpoint_part(self) -> dict:
        """The ``Checkpoint`` fields of the task: ``task``, ``task_cfg``, ``vocabs``."""
        return {"task": self.task_name}
