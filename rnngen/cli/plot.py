"""``rnngen plot``: learning curves of one or more runs, as a picture, in the terminal, or as data.

With ``-o curves.png`` (or ``.svg``) a matplotlib figure; without it, on a terminal, a plotext
plot; otherwise (stdout a pipe or a file) the points as TSV (or ``--json``) on stdout."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import COLOR_SYSTEM, info, write
from rnngen.cli.params import Shared, settings_options


@settings_options(Shared.only("json_out", "quiet"))
def plot(
    runs: Annotated[
        list[Path], typer.Argument(help="Run directories or checkpoints.", show_default=False)
    ],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", metavar="FILE", help="Write a .png or .svg picture here."),
    ] = None,
    *,
    shared: Shared,
) -> None:
    """Learning curves: validation and training loss by step and by minute, the learning rate,
    several runs overlaid, each best checkpoint marked."""
    from rnngen.pictures.curves import read_curves

    with user_errors():
        curves = [read_curves(r) for r in runs]
        if out is not None:
            from rnngen.pictures.draw import draw

            info(f"wrote {draw(curves, out)}", shared.quiet)
            return
    if sys.stdout.isatty() and not shared.json_out:
        import shutil

        from rnngen.pictures.terminal import render

        size = shutil.get_terminal_size((100, 30))
        write(
            render(curves, size.columns, max(15, size.lines - 4), COLOR_SYSTEM is not None) + "\n"
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
