"""Where the command line writes: data to stdout, everything else to stderr.

stdout carries data only (generated text, --json output, eval results); progress, logs, warnings
and errors go to stderr, in colour only when stderr is a terminal and never with ``NO_COLOR`` set
(no-color.org; rich alone would drop the colours but keep bold).
"""

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

COLOR_SYSTEM = None if os.environ.get("NO_COLOR") else "auto"


class _StderrConsole(Console):
    def on_broken_pipe(self) -> None:
        """stderr went away (``2>&1 | head`` closed the pipe): drop the messages and carry on (rich
        would exit), so losing the log never costs a training run its model."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stderr.fileno())
        self.quiet = True


err = _StderrConsole(stderr=True, highlight=False, soft_wrap=True, color_system=COLOR_SYSTEM)


def console(stderr: bool = False) -> Console:
    """A console for tables and bars, with the same colour rules."""
    return err if stderr else Console(highlight=False, color_system=COLOR_SYSTEM)


def info(message: str, quiet: bool = False) -> None:
    """A dim note on stderr, unless ``quiet``."""
    if not quiet:
        err.print(escape(message), style="dim")


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}")


def error(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")


def write(text: str) -> None:
    """Write to stdout; a closed pipe (``| head``) ends the program quietly."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
    except OSError as e:  # a full disk or a failing device behind stdout
        error(f"cannot write the output ({e.strerror or e})")
        raise typer.Exit(1) from None


@contextmanager
def compiling_status(quiet: bool) -> Iterator[None]:
    """Show 'compiling kernels' only if loading the kernels takes long (a cold Numba cache)."""
    message = "compiling kernels, first run only (about half a minute)…"
    status = err.status(message, spinner="dots")
    shown = threading.Event()

    def show() -> None:
        if not quiet:
            shown.set()
            if err.is_terminal:
                status.start()
            else:
                err.print(message)

    timer = threading.Timer(2.0, show)  # cached kernels load in ~0.5 s; a compile takes 10-30 s
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if shown.is_set():
            if err.is_terminal:
                status.stop()
            info("kernels compiled and cached", quiet)
