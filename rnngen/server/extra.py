"""Whether the ``serve`` extra is installed: checked before anything else, so that its absence
is one line naming what to install, never a traceback."""

from rnngen.errors import UsageError

INSTALL = 'rnngen serve needs uvicorn and Starlette: pip install "rnngen[serve]"'


def needs() -> None:
    """uvicorn and Starlette import, or a UsageError naming the extra that brings them."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL) from None
