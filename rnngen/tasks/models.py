"""What every trained model offers from Python, whatever its task (``rnngen.load`` picks the
class from the checkpoint's task): where it is, its settings and history, ``info``, ``evaluate``,
``heatmap``, ``warm``, ``save``. What only one task's models do (``generate``, ``translate``) is
only on that task's class; asking another model for it says which model it is and what to use.
"""

import inspect
from pathlib import Path
from typing import Any

import rnngen.checkpoint as checkpoint
from rnngen.checkpoint import Checkpoint
from rnngen.errors import UsageError
from rnngen.results import TrainResult


def load(path: str | Path | None = None, threads: int | None = None) -> "TrainedModel":
    """The model in ``path``: a checkpoint file, or a run directory (its best checkpoint); None:
    the newest under ``./runs`` or in a run directory under the current directory. ``threads``:
    CPU threads (None: rnngen's choice per task). A language model comes back as a
    ``rnngen.LanguageModel``, a sequence-to-sequence model as a ``rnngen.Seq2SeqModel``. Raises
    ``rnngen.UserError`` (its message names the file) when there is none or it cannot be read or
    trusted.

    >>> model = rnngen.load("runs/corpus-20261121-101500")  # doctest: +SKIP
    """
    from rnngen.tasks import task

    ck = checkpoint.load(checkpoint.resolve(path))
    return task(ck.task).model(ck, threads)


def load_for(
    path: str | Path | None, threads: int | None, needs: str, command: str
) -> "TrainedModel":
    """``load``, refusing a model that cannot do ``needs`` (a method name) with one line that
    says what the model is and which command uses it."""
    m = load(path, threads)
    if not hasattr(m, needs):
        raise m.cannot(needs, command)
    return m


class NotThisModelError(UsageError, AttributeError):
    """Another task's method asked of a model: a user's mistake with a message (and, for
    ``hasattr``, an AttributeError)."""


class Run(TrainResult):
    """A finished (or interrupted) training run, as ``rnngen.train`` returns it: ``run_dir``,
    ``checkpoint`` (its best, or its last without validation), ``steps``, ``train_loss``,
    ``val_loss``, ``best_val_loss``, ``tokens_per_sec``, ``seconds``, ``epochs``,
    ``interrupted``, ``history`` (the evaluations)."""

    def load(self, threads: int | None = None) -> "TrainedModel":
        """The model this run trained."""
        return load(self.checkpoint, threads)


class TrainedModel:
    """A trained model of any task (subclasses: ``LanguageModel``, ``Seq2SeqModel``)."""

    def __init__(self, ckpt: Checkpoint, threads: int | None = None) -> None:
        self.checkpoint = ckpt
        self.threads = threads

    @property
    def task(self) -> Any:
        from rnngen.tasks import task

        return task(self.checkpoint.task)

    @property
    def path(self) -> Path | None:
        """The checkpoint file."""
        return self.checkpoint.path

    @property
    def config(self) -> Any:
        """Cell, sizes, level and vocabulary size (``rnngen.nn.config.ModelConfig``)."""
        return self.checkpoint.model_cfg

    @property
    def history(self) -> list[dict]:
        """Its training run's evaluations: step, train_loss, val_loss, lr, seconds."""
        return list(self.checkpoint.info.get("history") or [])

    def info(self) -> dict:
        """What the model is and how it was trained, as ``rnngen info --json`` shows it."""
        ck, m, i = self.checkpoint, self.checkpoint.model_cfg, self.checkpoint.info
        history = i.get("history") or []
        best = i.get("best_val_loss")
        best_step = next((h["step"] for h in history if h.get("val_loss") == best), None)
        return {
            "path": str(ck.path),
            "cell": m.cell,
            "level": m.level,
            "layers": m.layers,
            "hidden": m.hidden,
            "embed": m.embed,
            "vocab_size": len(ck.vocab),
            "parameters": int(sum(v.size for v in ck.params.values())),
            "corpus": i.get("corpus"),
            "fingerprint": i.get("fingerprint"),
            "steps": ck.step,
            "epochs": i.get("epochs"),
            "best_val_loss": best,
            "best_step": best_step,
            "history": history,
            "model": m.to_dict(),
            "train": ck.train_cfg.to_dict(),
            "task": ck.task,
            **self.task.describe(ck),
        }

    def evaluate(
        self, path: str | Path | None = None, *, text: str | None = None, **options: Any
    ) -> Any:
        """Score the model on held-out data: the file ``path`` ("-": stdin) or ``text`` in memory,
        one of them (a string given alone is a path, never scored as text). ``options``: the
        class's (``batch_size``, ``source``, ``encoding``, ``errors``, ...); another keyword is a
        UsageError naming them.

        >>> model.evaluate("valid.txt").perplexity  # doctest: +SKIP
        >>> model.evaluate(text="Some held-out text.").bits_per_token  # doctest: +SKIP
        """
        if (path is None) == (text is None):
            raise UsageError("evaluate takes a file path or text=..., one of them")
        if path is not None and not isinstance(path, str | Path):
            kind = type(path).__name__
            raise UsageError(
                f"evaluate: the path must be a str or Path (got {kind}); give "
                "text=... to score text in memory"
            )
        if text is not None and not isinstance(text, str):
            raise UsageError(f"evaluate: text must be a str (got {type(text).__name__})")
        valid = set(inspect.signature(self._evaluate).parameters) - {"path", "text"}
        for name in options:
            if name not in valid:
                raise UsageError(
                    f"evaluate: unknown keyword {name!r}; it takes path or text, "
                    f"and {', '.join(sorted(valid))}"
                )
        return self._evaluate(None if path is None else str(path), text, **options)

    def _evaluate(self, path: str | None, text: str | None, **options: Any) -> Any:
        raise NotImplementedError

    def warm(self, use: str | None = None, batch: int | None = None) -> None:
        """Compile (or load from Numba's cache) the kernels of ``use`` now, in batches of
        ``batch`` rows (the defaults: the class's most common use)."""
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write the model's checkpoint to ``path`` (atomically)."""
        return checkpoint.save(self.checkpoint, path)

    def _other_task_with(self, method: str) -> Any:
        """The other task whose models have ``method``, or None."""
        from rnngen.tasks import TASKS, task

        others = (task(n) for n in TASKS if n != self.checkpoint.task)
        return next((t for t in others if hasattr(t.model_class(), method)), None)

    def cannot(self, needs: str, command: str) -> NotThisModelError:
        """The error for asking this model for what only another task's models do."""
        other = self._other_task_with(needs)
        if other is None:
            return NotThisModelError(f"{self.path}: is {self.task.what}; it cannot {needs}")
        return NotThisModelError(
            f"{self.path}: is {self.task.what}; {command} needs {other.what} (rnngen train "
            f"--task {other.name}); to use this one: rnngen {self.task.use} {self.path}"
        )

    def __getattr__(self, name: str) -> Any:
        """Another task's method asked of this model: a UsageError that says so."""
        if name.startswith("_") or name in ("checkpoint", "threads"):
            raise AttributeError(name)
        if self._other_task_with(name) is not None:
            raise self.cannot(name, name + "()")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
