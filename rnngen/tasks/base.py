"""What a task is: one object per task (a language model of text, a sequence-to-sequence model of
pairs) that the layers above (``rnngen.run``, the command line) use without knowing which task it
is. A task starts and resumes its runs (its trainer: network, batches, step, validation and its
part of a checkpoint), warms its kernels, describes its models, and gives the public model class.
"""

from pathlib import Path
from typing import Any

from rnngen.errors import UsageError


class Task:
    """One task. Subclasses fill every member; the registry is ``rnngen.tasks``."""

    name: str  # as checkpoints record it
    what: str  # "a language model", for messages
    plural: str  # "language models"
    use: str  # the command that uses its models: "sample"
    settings: type | None = None  # the class of its own settings (None: none)
    refuses: dict[str, str] = {}  # settings of other tasks it refuses -> why
    # its own defaults of the settings every task shares (the model's and training's), where
    # they differ from a language model's
    defaults: dict[str, Any] = {}
    replicas: int = 1  # replicas a new run trains in when not told (rnngen.run.training)

    def check_given(self, given: dict[str, Any], flag, resume: bool, init_from: bool) -> None:
        """Refuse settings that do not apply to this task (UsageError naming the flag)."""
        for name, why in self.refuses.items():
            if name in given:
                raise UsageError(f"{flag(name)} {why}")

    def new_trainer(
        self,
        model: Any,
        own: Any,
        train: Any,
        inputs: Any,
        out: Path | None,
        force: bool,
        threads: int | None,
        init_from: Path | None,
        given: dict[str, Any],
        flag,
        notice,
        group: Any,
    ) -> Any:
        """A trainer for a new run, its run directory locked."""
        raise NotImplementedError

    def resume_trainer(
        self,
        ck: Any,
        run_dir: Path,
        inputs: Any,
        given: dict[str, Any],
        threads: int | None,
        flag,
        group: Any,
    ) -> Any:
        """A trainer that continues the run ``ck`` was saved from, locked (unless done)."""
        raise NotImplementedError

    def follow(
        self, recipe: dict, model: Any, own: Any, train: Any, threads: int | None, group: Any
    ) -> Any:
        """On a process other than the root: the trainer the root's ``recipe`` describes."""
        raise NotImplementedError

    def warm_training(self, trainer: Any) -> None:
        """Compile (or load) the kernels training uses."""
        raise NotImplementedError

    def after_training(self, trainer: Any) -> None:
        """Anything worth doing on the root once the kernels are warm (the LM compiles its
        sampler in the background)."""

    def notices(self, trainer: Any) -> list[str]:
        """What the user should know about a new run's data."""
        return []

    def model_class(self) -> type:
        """The public model class of this task's models."""
        raise NotImplementedError

    def model(self, ck: Any, threads: int | None) -> Any:
        """The public model class's instance for checkpoint ``ck``."""
        raise NotImplementedError

    def describe(self, ck: Any) -> dict:
        """The task's own facts for ``rnngen info`` (JSON-able)."""
        return {}

    def info_rows(self, d: dict) -> list[tuple[str, str]]:
        """``rnngen info``'s rows of the task's own facts (``describe``'s dict, and the rest)."""
        return [("level", f"{d['level']}, vocabulary {d['vocab_size']:,}")]
