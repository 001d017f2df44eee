"""``rnngen heatmap``: a text as a model reads it, as one self-contained HTML page."""

from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import compiling_status, info
from rnngen.cli.params import MODEL_HELP, Shared, given, settings_options

MAX_TOKENS = 2000


@settings_options(Shared.only("threads", "quiet", "encoding", "errors"))
def heatmap(
    ctx: typer.Context,
    model: Annotated[Path, typer.Argument(help=MODEL_HELP)],
    path: Annotated[str, typer.Argument(help="Text to read; '-' reads stdin.")] = "-",
    out: Annotated[
        Path, typer.Option("-o", "--out", metavar="FILE", help="The HTML page to write.")
    ] = Path("heatmap.html"),
    max_tokens: Annotated[
        int,
        typer.Option(
            min=1, max=20_000, help="Refuse texts longer than this many tokens (at most 20000)."
        ),
    ] = MAX_TOKENS,
    beam: Annotated[
        int, typer.Option(help="Seq2seq models: beam width of the outputs drawn.", min=1)
    ] = 5,
    *,
    shared: Shared,
) -> None:
    """Each token coloured by its surprisal, the model's top-5 predictions on hover, and any hidden
    unit's activation, with the units that track quotes, brackets and position ranked. For a
    sequence-to-sequence model: each source line (or source<TAB>target) decoded, with the
    attention of every output token over the source."""
    from rnngen.data.text import read_text
    from rnngen.files import atomic_write
    from rnngen.tasks.models import load

    with user_errors():
        shared.validate()
        m = load(model, shared.threads)
        text, name = read_text(path, shared.encoding, shared.errors)
        options = {"beam": beam} if "beam" in given(ctx) else {}
        with compiling_status(shared.quiet):
            page = m.heatmap(text, max_tokens=max_tokens, source=name, **options)
        atomic_write(out, page.encode("utf-8"))
    info(f"wrote {out} ({len(page) / 1e6:.1f} MB)", shared.quiet)
