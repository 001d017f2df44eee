"""Training from Python: ``rnngen.train(paths, hidden=256, minutes=2)``, the same settings as
``rnngen train``'s options, and ``rnngen.load``. Importing this module costs nothing: the work
imports NumPy and Numba when it is called.

Nothing goes to stdout. Progress is a bar on stderr (or in a notebook) by default, or events for
a callback (``progress=``); errors are ``rnngen.UserError``s with the command line's messages.
"""

import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnngen.errors import UsageError

if TYPE_CHECKING:
    from rnngen.tasks.models import Run


@dataclass
class TrainEvent:
    """What ``rnngen.train`` tells its ``progress`` callback. ``kind``: ``"start"`` (``info``
    holds the sizes and limits), ``"step"`` (after every step), ``"eval"`` (after an evaluation:
    ``val_loss``, ``best``, a language model's ``val_bits_per_char``, and a seq2seq run's
    ``val_error`` when it keeps its best by the greedy sequence error rate), ``"eval_whole"``
    (at the end, the whole validation split scored when the evaluations scored a fixed part of
    it: ``val_loss``, ``val_bits_per_char``), ``"warning"`` (``message``)."""

    kind: str
    step: int = 0
    loss: float | None = None
    val_loss: float | None = None
    val_error: float | None = None
    val_bits_per_char: float | None = None
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

    def evaluated(
        self,
        step: int,
        val_loss: float,
        best: bool,
        val_error: float | None = None,
        val_bits_per_char: float | None = None,
    ) -> None:
        self.cb(
            TrainEvent(
                "eval",
                step,
                val_loss=val_loss,
                best=best,
                val_error=val_error,
                val_bits_per_char=val_bits_per_char,
            )
        )

    def evaluating(self, done: int, total: int) -> None: ...

    def evaluated_whole(
        self, step: int, val_loss: float, tokens: int, bits_per_char: float | None = None
    ) -> None:
        self.cb(TrainEvent("eval_whole", step, val_loss=val_loss, val_bits_per_char=bits_per_char))

    def saved(self, path: Path) -> None: ...

    def warning(self, message: str) -> None:
        self.cb(TrainEvent("warning", message=message))


def train(
    paths: list[str] | str | Path | None = None,
    *,
    text: str | Iterable[str] | None = None,
    val_file: str | Path | None = None,
    out: str | Path | None = None,
    force: bool = False,
    resume: str | Path | None = None,
    init_from: str | Path | None = None,
    threads: int | None = None,
    encoding: str = "utf-8",
    errors: str = "strict",
    progress: bool | Callable[[TrainEvent], None] | None = None,
    task: str = "lm",
    replicas: int | None = None,
    distributed: str = "auto",
    **settings: Any,
) -> "Run":
    """Train a language model on ``paths`` (text files, directories, ``"-"`` for stdin) or on
    ``text`` in memory (a string, or an iterable of strings taken as lines), as ``rnngen train``
    does, and return the ``Run``; with ``task="seq2seq"``, a sequence-to-sequence model on
    source<TAB>target pairs (``attention``, ``encoder``, ...).

    ``settings`` are ``rnngen train``'s options by their Python names: ``level``, ``cell``,
    ``hidden``, ``layers``, ``embed``, ``dropout``, ``tie``, ``seq_len``, ``batch_size``,
    ``optimizer``, ``lr``, ``schedule``, ``steps``, ``minutes``, ``epochs``, ``eval_every``,
    ``seed``, ...; a name it does not know is a ``rnngen.UsageError`` listing them. ``out`` is
    the run directory (default ``runs/NAME-TIME``); ``resume`` continues a run (only stop limits
    may be given with it); ``init_from`` starts from a model's weights.

    ``progress``: None (the default) shows a progress bar on stderr when stderr is a terminal or
    in a notebook; True always shows it (log lines when not a terminal); False shows nothing; a
    callable is called with a ``TrainEvent`` at the start, after every step and after every
    evaluation instead. Under MPI the root alone reports. ``replicas``: train that many replicas
    in threads of this process, each on its share of every batch (``--replicas``; ``threads``
    then counts each one's; by default 2 for ``task="seq2seq"``, 1 for a language model, the
    run's own count with ``resume``). Under ``mpiexec -n N python script.py`` the N processes
    train one model together (``distributed="off"``: each its own). Raises ``rnngen.UserError``
    with the command line's messages.

    >>> run = rnngen.train("corpus.txt", hidden=128, minutes=1)  # doctest: +SKIP
    >>> run = rnngen.train(text=open("notes.txt").read(), steps=500)  # doctest: +SKIP
    >>> run.load().samples(2, length=80, temp=0.8, seed=1)  # doctest: +SKIP
    """
    from rnngen.run.training import Session, prepare, replicas_for

    reporter = _reporter(progress)
    replicas = replicas_for(replicas, task, settings, resume, distributed)
    with _text_file(text, paths) as given_paths, Session(distributed, replicas, threads) as s:
        trainer = s.prepare(
            lambda threads, group: prepare(
                given_paths,
                val_file=val_file,
                out=out,
                force=force,
                resume=resume,
                init_from=init_from,
                threads=threads,
                encoding=encoding if text is None else "utf-8",  # the file _text_file writes
                errors=errors,
                given=settings,
                task_name=task,
                group=group,
            )
        )
        done = trainer.done_reason()
        if done is not None:
            raise UsageError(done)
        s.warm()
        try:
            return s.run(reporter if s.group.is_root else None)  # the root alone reports
        finally:
            if reporter is not None and hasattr(reporter, "close"):
                reporter.close()


def _reporter(progress: Any) -> Any:
    """The reporter ``progress`` asks for (see ``train``)."""
    if progress is None or isinstance(progress, bool):
        from rnngen.run.progress import TrainProgress, shows_progress, stderr_console

        show = shows_progress() if progress is None else progress
        return TrainProgress(stderr_console(), quiet=False) if show else None
    if callable(progress):
        return _Events(progress)
    raise UsageError(
        f"progress must be True, False, None or a callable (got {type(progress).__name__})"
    )


@contextmanager
def _text_file(text: Any, paths: Any) -> Iterator[Any]:
    """``paths``, or for ``text`` in memory a file holding it (removed after training)."""
    if text is None:
        yield paths
        return
    if paths is not None:
        raise UsageError("give the paths to train on or text=..., not both")
    if not isinstance(text, str):
        try:
            lines = list(text)
        except TypeError:
            raise UsageError(
                f"text must be a string or an iterable of strings (got {type(text).__name__})"
            ) from None
        if not all(isinstance(line, str) for line in lines):
            raise UsageError("text must be a string or an iterable of strings")
        text = "\n".join(lines) + ("\n" if lines else "")
    with tempfile.TemporaryDirectory(prefix="rnngen-text-") as d:
        path = Path(d) / "text.txt"
        path.write_text(text, encoding="utf-8")
        yield [str(path)]
