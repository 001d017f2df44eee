"""Errors -> one line on stderr and an exit code: 0 success, 1 runtime failure (bad file,
unreadable model, diverged training, a checkpoint that cannot be written), 2 usage error (bad option
value, conflicting options), 130 interrupted. Never a traceback for a user's mistake."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from rnngen.cli.output import error
from rnngen.errors import UserError

INTERRUPTED = 130


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, then exit with ``code``."""
    error(message)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """The library's errors as one-line messages: its ``UserError``s with their exit codes, and
    what the system refused (a read or a write the library did not expect to fail) with 1."""
    try:
        yield
    except UserError as e:
        fail(str(e), e.exit_code)
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        fail(f"{where}{e.strerror or e}", 1)
