"""The ``rnngen`` app: every command registered in one place, and errors as one line.

Each command lives in a module of its own (``train``, ``sample``, ``eval``, ``score``, ``info``;
``corpus`` is a group) and is a thin call of the library.
"""

import signal
import sys
from typing import Annotated, NoReturn

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from rnngen.cli.corpus import corpus_app
from rnngen.cli.errors import INTERRUPTED
from rnngen.cli.evaluate import evaluate
from rnngen.cli.heatmap import heatmap
from rnngen.cli.info import info
from rnngen.cli.output import error
from rnngen.cli.plot import plot
from rnngen.cli.sample import sample
from rnngen.cli.score import score
from rnngen.cli.train import train
from rnngen.cli.translate import translate

app = typer.Typer(
    help="Train recurrent networks on text on a CPU: language models that sample text, and "
    "sequence-to-sequence models that translate lines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("train")(train)
app.command("sample")(sample)
app.command("eval")(evaluate)
app.command("translate")(translate)
app.command("score")(score)
app.command("info")(info)
app.command("plot")(plot)
app.command("heatmap")(heatmap)
app.add_typer(corpus_app, name="corpus")


def _version(value: bool) -> None:
    if value:
        from rnngen._version import __version__

        print(f"rnngen {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Train recurrent networks on text on a CPU: language models that sample text, and
    sequence-to-sequence models that translate lines."""
    signal.signal(signal.SIGINT, _interrupted)


def _interrupted(signum, frame) -> NoReturn:  # noqa: ARG001
    """Ctrl-C outside training: stop at once, no traceback, exit status 130."""
    raise SystemExit(INTERRUPTED)


def main(argv: list[str] | None = None) -> None:
    """The ``rnngen`` command. A usage mistake Typer catches itself (an unknown option, a value
    that is not a number) is one line on stderr, like every other error, with exit status 2."""
    try:
        code = app(args=argv, prog_name="rnngen", standalone_mode=False)
    except NoArgsIsHelpError as e:
        from typer import rich_utils

        rich_utils.rich_format_error(e)
        code = e.exit_code
    except UsageError as e:
        where = f" (see {e.ctx.command_path} --help)" if e.ctx is not None else ""
        error(f"{e.format_message()}{where}")
        code = e.exit_code
    except typer.Abort:
        code = INTERRUPTED
    sys.exit(code if isinstance(code, int) else 0)
