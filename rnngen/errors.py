"""Every error a user can cause and fix, as one family: bad input text, an unreadable or lying
checkpoint, a corpus too small for the batch, a prime the model cannot read, an option out of
range. The message names the file (if any) and says what to do; the command line prints it as one
line and exits with the class's ``exit_code`` (1 for a runtime failure, 2 for a usage error).
Kept apart, and free of imports, so that catching them costs nothing."""

from collections.abc import Callable


class UserError(Exception):
    """A problem the user can fix; the message names the file (if any) and what to do."""

    exit_code = 1


class UsageError(UserError):
    """A bad option value, or options that conflict."""

    exit_code = 2


def flag_name(setting: str) -> str:
    """How the command line writes a setting: ``batch_size`` -> ``--batch-size``."""
    return "--" + setting.replace("_", "-")


class ConfigError(UsageError):
    """A setting out of its declared range or type, found in options or in a checkpoint's metadata.

    ``problem`` is a template in which ``{name}`` stands for a setting: the command line renders
    them as flags (``--hidden``), a checkpoint as fields (``model.hidden``)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(self.render(flag_name))

    def render(self, name: Callable[[str], str]) -> str:
        """The message, with settings named by ``name`` (a setting's field name -> its name)."""

        class Names(dict):
            def __missing__(self, key: str) -> str:
                return name(key)

        return f"{name(self.field)} {self.problem.format_map(Names())}"


class DataError(UserError):
    """A problem with the user's input text; the message names the file and what to do."""


class CheckpointError(UserError):
    """A checkpoint that cannot be read, written or trusted; the message names the file."""


class TrainingError(UserError):
    """Training cannot go on (sizes that do not fit the corpus, a diverged loss, a run directory
    held by another run); the message says why."""


class PrimeError(UserError):
    """The prime text has tokens the model cannot read."""


class CorpusError(UserError):
    """A corpus that cannot be fetched, verified or written."""


class UnknownCorpusError(CorpusError, UsageError):
    """The requested corpus or split does not exist; the message names the known ones."""
