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
from rnngen.cli.export import export
from rnngen.cli.heatmap import heatmap
from rnngen.cli.info import info
from rnngen.cli.manual import Command, Group, examples
from rnngen.cli.output import error
from rnngen.cli.plot import plot
from rnngen.cli.sample import sample
from rnngen.cli.score import score
from rnngen.cli.serve import serve
from rnngen.cli.train import train
from rnngen.cli.translate import translate

app = typer.Typer(
    cls=Group,
    help="Train recurrent networks on text on a CPU: language models that sample text, and "
    "sequence-to-sequence models that translate lines.",
    epilog=examples(
        "rnngen train corpus.txt                # a character-level LSTM, checkpoints as it goes",
        "rnngen sample --temp 0.8 | head        # text from the model just trained",
        "rnngen train --help                    # every option of a command",
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
EXAMPLES = {
    "train": (
        "rnngen train corpus.txt --hidden 512 --minutes 30",
        "rnngen train ptb.train.txt --level word --val-file ptb.valid.txt --dropout 0.5",
        "rnngen train dates/train.tsv --task seq2seq --val-file dates/valid.tsv --out runs/dates",
        "rnngen train --resume runs/corpus-20261121-101500 --steps 20000",
    ),
    "sample": (
        "rnngen sample --temp 0.8 | head            # the newest model under ./runs",
        'rnngen sample MODEL --prime "ROMEO:" --length 500 --seed 7',
        "rnngen sample MODEL --beam 5 --length 40   # the most likely continuation",
    ),
    "eval": (
        "rnngen eval runs/ptb ptb.test.txt",
        "rnngen eval runs/dates dates/test.tsv --beam 1   # seq2seq: accuracy, error rates",
    ),
    "translate": (
        "rnngen translate runs/dates < dates.txt > answers.txt",
        "rnngen translate runs/dates dates.txt --n-best 3 --json",
    ),
    "score": ("rnngen score MODEL < lines.txt | sort -k2 -n   # the least surprising first",),
    "export": (
        "rnngen export MODEL -o lm.onnx         # lm.onnx (the step), lm.score.onnx",
        "rnngen export MODEL -o lm.onnx --int8  # int8 weights, about 4x smaller",
        "rnngen export MODEL --format web -o page",
        "rnngen export MODEL --format c -o model.c && cc -O2 model.c -lm -o model",
    ),
    "serve": (
        "rnngen serve runs/corpus-20261121-101500     # http://127.0.0.1:8000/",
        "rnngen serve shakespeare=runs/a g2p=runs/b --host 0.0.0.0 --token SECRET",
        "rnngen serve MODEL --port 0 --max-concurrent 128 --quiet",
    ),
    "info": ("rnngen info runs/corpus-20261121-101500", "rnngen info MODEL --json"),
    "plot": (
        "rnngen plot runs/a runs/b             # in the terminal",
        "rnngen plot runs/a runs/b -o curves.png",
    ),
    "heatmap": (
        "rnngen heatmap MODEL chapter.txt -o page.html",
        "rnngen heatmap runs/dates pairs.tsv -o attention.html   # seq2seq: where it looked",
    ),
}
for _name, _command in (
    ("train", train),
    ("sample", sample),
    ("eval", evaluate),
    ("translate", translate),
    ("score", score),
    ("info", info),
    ("plot", plot),
    ("heatmap", heatmap),
    ("export", export),
    ("serve", serve),
):
    app.command(_name, cls=Command, epilog=examples(*EXAMPLES[_name]))(_command)
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
