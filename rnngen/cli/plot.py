"""``rnngen plot``: learning curves of one or more runs, as a picture, in the terminal, or as data.

With ``-o curves.png`` (or ``.svg``) a matplotlib figure (the ``plot`` extra); without it, on a
terminal, a chart in braille characters (no extra needed); otherwise (stdout a pipe or a file)
the points as TSV (or ``--json``) on stdout."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import COLOR_SYSTEM, info, write
from rnngen.cli.params import Shared, settings_options
from rnngen.errors import UsageError


@settings_options(Shared.only("json_out", "quiet"))
def plot(
    runs: Annotated[
        list[Path], typer.Argument(help="Run directories or checkpoints.", show_default=False)
    ],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", metavar="FILE", help="Write a .png or .svg picture here."),
    ] = None,
    log: Annotated[
        bool, typer.Option("--log", help="The loss on a logarithmic axis (picture and terminal).")
    ] = False,
    per_char: Annotated[
        bool,
        typer.Option(
            "--bits-per-char",
            help="Validation bits per character instead of the loss: compares runs of any level.",
        ),
    ] = False,
    dpi: Annotated[
        int | None,
        typer.Option("--dpi", help="Dots per inch of a PNG (-o).", show_default="80"),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option(
            "--size",
            metavar="WxH",
            help="The picture's size in inches (-o), such as 12x8.",
            show_default="9x5.6",
        ),
    ] = None,
    *,
    shared: Shared,
) -> None:
    """Learning curves: validation and training loss by step and by minute, the learning rate,
    several runs overlaid, each best checkpoint marked; or, with --bits-per-char, the validation
    bits per character, which compare char, word and subword runs."""
    from rnngen.pictures.curves import read_curves

    with user_errors():
        if out is None and (dpi is not None or size is not None):
            raise UsageError("--dpi and --size are for a picture file: add -o curves.png")
        if out is not None:
            from rnngen.pictures.draw import check_dpi, parse_size

            check_dpi(dpi), parse_size(size)  # before reading any run
        curves = [read_curves(r) for r in runs]
        if per_char:  # each run has them (the TSV and JSON hold every series anyway)
            for c in curves:
                c.per_char()
        if out is not None:
            from rnngen.pictures.draw import draw

            drawn = draw(curves, out, log=log, dpi=dpi, size=size, per_char=per_char)
            info(f"wrote {drawn}", shared.quiet)
            return
    if sys.stdout.isatty() and not shared.json_out:
        import shutil

        from rnngen.pictures.terminal import render

        term = shutil.get_terminal_size((100, 30))
        write(
            render(
                curves,
                term.columns,
                max(15, term.lines - 4),
                COLOR_SYSTEM is not None,
                log=log,
                per_char=per_char,
            )
            + "\n"
        )
        return
    for c in curves:
        for run, series, step, minutes, value in c.rows():
            if shared.json_out:
                write(
                    json.dumps(
                        {
                            "run": run,
                            "series": series,
                            "step": step,
                            "minutes": minutes,
                            "value": value,
                        }
                    )
                    + "\n"
                )
            else:
                write(f"{run}\t{series}\t{step}\t{minutes:.4f}\t{value:.6g}\n")
