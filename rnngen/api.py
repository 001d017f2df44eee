"""Training from Python: ``rnngen.train(paths, hidden=256, minutes=2)``, the same settings as
``rnngen train``'s options, and ``rnngen.load``. Importing this module costs nothing: the work
imports NumPy and Numba when it is called.

Progress goes to an optional callback (``progress=``), never to stdout or stderr; errors are
``rnngen.UserError``s with the command line's messages.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnngen.errors import UsageError

if TYPE_CHECKING:
    from rnngen.tasks.lm.model import Run
    from rnngen.training.trainer import Trainer


@dataclass
class TrainEvent:
    """What ``rnngen.train`` tells its ``progress`` callback. ``kind``: ``"start"`` (``info``
    holds the sizes and limits), ``"step"`` (after every step), ``"eval"`` (after an evaluation:
    ``val_loss``, ``best``, and a seq2seq run's ``val_error`` when it keeps its best by the
    greedy sequence error rate), ``"eval_whole"`` (at the end, the whole validation split scored
    when the evaluations scored a fixed part of it: ``val_loss``), ``"warning"`` (``message``)."""

    kind: str
    step: int = 0
    loss: float | None = None
    val_loss: float | None = None
    val_error: float | None = None
    best: bool = False
    tokens_per_sec: float | None = None
    elapsed: float | None = None
    message: str | None = None
    info: dict = field(default_factory=dict)


class _Events:
    """The trainer's Reporter, as TrainEvents for a callback."""

    def __init__(self, callback: Callable[[TrainEvent], None]) -> None:
        self.cb = callback

    def start(self, info: dict) -> None:
        self.cb(TrainEvent("start", info=dict(info)))

    def step(self, step: int, loss: float, tokens_per_sec: float, elapsed: float) -> None:
        self.cb(TrainEvent("step", step, loss, tokens_per_sec=tokens_per_sec, elapsed=elapsed))

    def evaluated(self, step: int, val_loss: float, best: bool,
                  val_error: float | None = None) -> None:  # fmt: skip
        self.cb(TrainEvent("eval", step, val_loss=val_loss, best=best, val_error=val_error))

    def evaluating(self, done: int, total: int) -> None: ...

    def evaluated_whole(self, step: int, val_loss: float, tokens: int) -> None:
        self.cb(TrainEvent("eval_whole", step, val_loss=val_loss))

    def saved(self, path: Path) -> None: ...

    def warning(self, message: str) -> None:
        self.cb(TrainEvent("warning", message=message))


def split_settings(settings: dict[str, Any]) -> tuple[dict, dict, dict]:
    """(the model's, training's, a seq2seq model's own) of ``settings``; a name none knows is a
    UsageError."""
    from rnngen.config.training import TrainConfig
    from rnngen.nn.config import ModelConfig
    from rnngen.nn.seq2seq.config import Seq2SeqConfig

    classes = (ModelConfig, TrainConfig, Seq2SeqConfig)
    names = [{f.name for f in dataclasses.fields(c)} for c in classes]
    for name in settings:
        if not any(name in n for n in names):
            known = ", ".join(sorted(set().union(*names)))
            raise UsageError(f"unknown setting {name!r}; the settings are: {known}")
    return tuple({k: v for k, v in settings.items() if k in n} for n in names)  # type: ignore


def prepare_training(paths: list[str] | str | None = None, *, val_file: str | Path | None = None,
                     out: str | Path | None = None, force: bool = False,
                     resume: str | Path | None = None, init_from: str | Path | None = None,
                     threads: int | None = None, encoding: str = "utf-8", errors: str = "strict",
                     given: dict[str, Any] | None = None, flag: Callable[[str], str] | None = None,
                     notice: Callable[[str], None] | None = None,
                     task: str = "lm", group: Any = None) -> "Trainer":  # fmt: skip
    """A Trainer ready to run (the run directory locked): a new run on ``paths`` with the
    settings ``given`` (name -> value), or the run ``resume`` continued, or a new run from
    ``init_from``'s weights. ``flag`` names settings in messages (the command line's flags);
    ``notice`` receives what the user should know (the vocabulary grown by ``init_from``).
    ``task``: ``"lm"`` (a language model of text) or ``"seq2seq"`` (source<TAB>target pairs).
    ``group``: the processes training together (``rnngen.parallel.group``; None: this one)."""
    from rnngen.config.training import TrainConfig
    from rnngen.data.text import check_encoding
    from rnngen.errors import flag_name
    from rnngen.nn.config import ModelConfig
    from rnngen.nn.seq2seq.config import TASKS, Seq2SeqConfig
    from rnngen.run.resume import resume_run
    from rnngen.training.run import Inputs, new_trainer

    given = dict(given or {})
    flag = flag or flag_name
    check_encoding(encoding, errors)
    if task not in TASKS:
        raise UsageError(f"--task must be one of {', '.join(TASKS)} (got {task!r})")
    if isinstance(paths, str | Path):
        paths = [str(paths)]
    if resume is not None and init_from is not None:
        raise UsageError("--resume and --init-from conflict: give one")
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be at least 1 (got {threads})")
    inputs = Inputs([str(p) for p in paths] if paths else None,
                    None if val_file is None else str(val_file), encoding, errors)  # fmt: skip
    m, t, s = split_settings(given)
    if task == "lm" and s and resume is None:
        raise UsageError(f"{flag(next(iter(s)))} applies to sequence-to-sequence models: add "
                         "--task seq2seq")  # fmt: skip
    if task == "seq2seq" and "seq_len" in given:
        raise UsageError(f"{flag('seq_len')} applies to language models: a sequence-to-sequence "
                         "batch holds whole pairs (up to --max-len tokens each)")  # fmt: skip
    if task == "seq2seq" and init_from is not None:
        raise UsageError("--init-from is for language models; seq2seq runs start fresh or "
                         "--resume")  # fmt: skip
    model, training = ModelConfig(**m), TrainConfig(**t)
    if resume is not None:
        model.validate(resolved=False)  # the options given must be valid before they are compared
        training.validate(resolved=False)
        # where a new run would go has no place in a resumed one: the run's own directory
        where = {k: v for k, v in (("out", out), ("force", force or None)) if v is not None}
        return resume_run(Path(resume), inputs, {**given, **where}, threads, flag, group)
    if task == "seq2seq":
        from rnngen.tasks.seq2seq.runs import new_seq2seq_trainer

        return new_seq2seq_trainer(model, Seq2SeqConfig(**s), training, inputs,
                                   None if out is None else Path(out), force, threads,
                                   group)  # fmt: skip
    return new_trainer(model, training, inputs, None if out is None else Path(out), force,
                       threads, None if init_from is None else Path(init_from), given, flag,
                       notice, group)  # fmt: skip


def run_training(trainer: "Trainer", reporter: Any = None) -> "Run":
    """Run a prepared trainer to its end (its kernels compiled or loaded first)."""
    from rnngen.warmup import warm_seq2seq_kernels, warm_training_kernels

    m, t = trainer.mcfg, trainer.tcfg
    try:
        warm_training_kernels(trainer.plan.parts, m.cell, t.optimizer,
                              m.dropout > 0 or bool(m.dropout_input))  # fmt: skip
        s2s = getattr(trainer, "s2s", None)
        if s2s is not None:
            warm_seq2seq_kernels(trainer.plan.parts, m.cell, s2s.attention, training=True)
    except BaseException:
        if trainer.lock is not None:
            trainer.lock.release()
        raise
    from rnngen.tasks.lm.model import Run

    return Run(**vars(trainer.run(reporter)))


def train(paths: list[str] | str | None = None, *, val_file: str | Path | None = None,
          out: str | Path | None = None, force: bool = False, resume: str | Path | None = None,
          init_from: str | Path | None = None, threads: int | None = None,
          encoding: str = "utf-8", errors: str = "strict",
          progress: Callable[[TrainEvent], None] | None = None, task: str = "lm",
          replicas: int = 1, **settings: Any) -> "Run":  # fmt: skip
    """Train a language model on ``paths`` (text files, directories, ``"-"`` for stdin), as
    ``rnngen train`` does, and return the ``Run``; with ``task="seq2seq"``, a
    sequence-to-sequence model on source<TAB>target pairs (``attention``, ``encoder``, ...).

    ``settings`` are ``rnngen train``'s options by their Python names: ``level``, ``cell``,
    ``hidden``, ``layers``, ``embed``, ``dropout``, ``tie``, ``seq_len``, ``batch_size``,
    ``optimizer``, ``lr``, ``schedule``, ``steps``, ``minutes``, ``epochs``, ``eval_every``,
    ``seed``, ... ``out`` is the run directory (default ``runs/NAME-TIME``); ``resume`` continues a
    run (only stop limits may be given with it); ``init_from`` starts from a model's weights.
    ``progress``, if given, is called with a ``TrainEvent`` at the start, after every step and
    after every evaluation. ``replicas``: train that many replicas in threads of this process,
    each on its share of every batch (``--replicas``; ``threads`` then counts each one's).
    Raises ``rnngen.UserError`` with the command line's messages."""
    from rnngen.parallel.replicas import start
    from rnngen.run.launch import setup

    group, threads = start(replicas, threads)
    with group:  # its end (the replicas joined) on every way out
        trainer = setup(group, lambda: prepare_training(
            paths, val_file=val_file, out=out, force=force, resume=resume, init_from=init_from,
            threads=threads, encoding=encoding, errors=errors, given=settings, task=task,
            group=group), threads)  # fmt: skip
        done = trainer.done_reason()
        if done is not None:
            raise UsageError(done)
        return run_training(trainer, _Events(progress) if progress is not None else None)
