"""``rnngen sample``: generate text from a trained model, streamed to stdout as it comes."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import compiling_status, info, warn, write
from rnngen.cli.params import MODEL_HELP, Shared, settings_options
from rnngen.errors import UsageError
from rnngen.generate.config import SampleConfig


@settings_options(
    SampleConfig,
    Shared.only("threads", "quiet", "encoding", "errors", threads="1 or 2, whichever is faster"),
)
def sample(
    model: Annotated[
        Path | None,
        typer.Argument(
            help=MODEL_HELP,
            show_default="the newest under ./runs, or in a run directory here",
        ),
    ] = None,
    prime_file: Annotated[
        str | None,
        typer.Option(
            metavar="FILE", help="Start from the text of this file ('-': stdin); printed first."
        ),
    ] = None,
    *,
    settings: SampleConfig,
    shared: Shared,
) -> None:
    """Generate text from a trained model; it streams to stdout as it is generated."""
    import dataclasses

    from rnngen.data.text import read_text
    from rnngen.tasks.models import load_for

    quiet = shared.quiet
    with user_errors():
        settings.validate()
        shared.validate()
        if prime_file is not None:
            if settings.prime:
                raise UsageError("--prime and --prime-file conflict: give one")
            text, _ = read_text(prime_file, shared.encoding, shared.errors)
            settings = dataclasses.replace(settings, prime=text)
        m = load_for(model, shared.threads, "generate", "rnngen sample")
        unknown = m.unknown_words(settings.prime)
        if model is None or Path(model).is_dir():
            info(f"sampling from {m.path}", quiet)
        if unknown:
            warn(
                "prime words not in the vocabulary, read as <unk>: "
                + ", ".join(repr(w) for w in unknown[:10])
            )
        with compiling_status(quiet):
            m.warm("batch" if settings.batched else "sample")
        options = dataclasses.asdict(settings)
        del options["prime"], options["num"]
        if settings.num == 1 and not settings.beam:
            _stream(m.generate(settings.prime, **options))
        else:
            for i, text in enumerate(m.samples(settings.num, settings.prime, **options)):
                write(("\n\n" if i else "") + text)
            _end_line(text)
    if Path(sys.argv[0]).name == "rnngen":
        # The text is out and flushed. Skip the interpreter's teardown: with Numba's kernel
        # loaded it takes ~0.25 s, a quarter of this command's warm start-up. Only when this
        # process is the rnngen command itself, never when the CLI is called from Python.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _stream(pieces) -> None:
    last = "\n"
    for piece in pieces:
        write(piece)
        last = piece[-1:] or last
    _end_line(last)


def _end_line(text: str) -> None:
    """A newline after text that lacks one, on a terminal (a pipe gets the text as it is)."""
    if not text.endswith("\n") and sys.stdout.isatty():
        write("\n")
