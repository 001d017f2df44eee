"""``rnngen export``: a trained model as ONNX graphs, a static web page or one C file."""

from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import info
from rnngen.cli.params import MODEL_HELP, Shared, settings_options


@settings_options(Shared.only("quiet"))
def export(
    model: Annotated[
        Path | None,
        typer.Argument(
            help=MODEL_HELP, show_default="the newest under ./runs, or in a run directory here"
        ),
    ] = None,
    format: Annotated[  # noqa: A002 (the option is --format)
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="onnx|web|c",
            help="onnx: the graphs (a language model: NAME.onnx, the step, and NAME.score.onnx; "
            "a seq2seq model: NAME.encoder.onnx and NAME.decoder.onnx); web: a static page "
            "in a directory; c: one C99 file.",
        ),
    ] = "onnx",
    out: Annotated[
        Path,
        typer.Option("-o", "--out", metavar="PATH", help="Where to write (see --format)."),
    ] = ...,  # type: ignore[assignment]
    int8: Annotated[
        bool, typer.Option("--int8", help="int8 weights (dynamically quantized): ~4x smaller.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files in the way.")] = False,
    *,
    shared: Shared,
) -> None:
    """Write a trained model for use outside rnngen: ONNX for any ONNX runtime, a web page that
    samples in the browser, or a C file. Each file is written whole or not at all."""
    from rnngen.export.export import check_dest, check_packages, export, format_named
    from rnngen.files import human_size
    from rnngen.tasks.models import load

    with user_errors():
        fmt = format_named(format)  # the request's own mistakes before loading anything
        check_packages(format, fmt, int8)
        check_dest(fmt, out)
        m = load(model)
        written = export(m, format, out, int8, force)
    for p in written:
        size = (
            sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
            if p.is_dir()
            else (p.stat().st_size)
        )
        info(f"wrote {p} ({human_size(size)})", shared.quiet)
