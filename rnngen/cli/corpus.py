"""``rnngen corpus``: list the corpus catalog and fetch corpora.

Mounted by the main CLI as the ``corpus`` group. Data (the listing, or a corpus written with
``-o -``) goes to stdout; progress, notices and errors go to stderr. Exit codes: 0 success, 1 a
corpus error (network, checksum, writing), 2 an unknown corpus or split or another usage mistake.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rnngen.cli.errors import INTERRUPTED, fail, user_errors
from rnngen.cli.manual import Command, Group, examples
from rnngen.cli.output import console
from rnngen.cli.params import Shared, settings_options
from rnngen.data.catalog import (
    MIRROR_ENV,
    CatalogEntry,
    NoticeFn,
    ProgressFn,
    get_corpus,
    load_catalog,
    python_version,
    resolve,
    with_local_checksums,
)
from rnngen.errors import UnknownCorpusError
from rnngen.files import human_size

if TYPE_CHECKING:
    from rich.table import Table

corpus_app = typer.Typer(
    cls=Group,
    help="List the corpus catalog and fetch corpora (downloaded and sha256-checked, or built-in).",
    epilog=examples("rnngen corpus list", "rnngen corpus get tinyshakespeare"),
    no_args_is_help=True,
    add_completion=False,
)


def _local_catalog() -> list[CatalogEntry]:
    with user_errors():
        return [with_local_checksums(c) for c in load_catalog()]


def _source_label(corpus: CatalogEntry) -> str:
    """The upstream repository without its commit (the full record is in --json)."""
    return corpus.source.split("@", 1)[0]


def _files_label(corpus: CatalogEntry) -> str:
    return "/".join(corpus.splits) if corpus.splits else "1 file"


def _table(corpora: list[CatalogEntry]) -> Table:
    from rich import box
    from rich.table import Table

    rows = [
        (
            corpus.name,
            "built-in" if corpus.builtin else "download",
            _files_label(corpus),
            "?" if corpus.size is None else human_size(corpus.size),
            corpus.license,
            _source_label(corpus),
        )
        for corpus in corpora
    ]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, padding=(0, 1))
    headers = ("name", "kind", "files", "size", "license", "source")
    for i, header in enumerate(headers):
        # every column keeps its full width except the source, which is cut on narrow terminals
        width = max(len(header), *(len(r[i]) for r in rows))
        table.add_column(
            header,
            no_wrap=True,
            overflow="ellipsis",
            justify="right" if header == "size" else "left",
            min_width=None if header == "source" else width,
        )
    for row in rows:
        table.add_row(*row)
    return table


def _builtin_checksums(corpora: list[CatalogEntry]) -> str:
    lines = [f"built-in corpora, sha256 computed locally (Python {python_version()}):"]
    for corpus in corpora:
        for f in corpus.files if corpus.builtin else ():
            name = corpus.name if f.split is None else f"{corpus.name}:{f.split}"
            lines.append(f"  {name:<14} {f.sha256}")
    lines.append("download checksums: rnngen corpus list --json")
    return "\n".join(lines) + "\n"


def _json_entry(corpus: CatalogEntry) -> dict[str, object]:
    data = corpus.to_dict()
    if corpus.builtin:
        data["checksum"] = "computed locally"
        data["python"] = python_version()
    return data


@corpus_app.command(
    "list", cls=Command, epilog=examples("rnngen corpus list", "rnngen corpus list --json")
)
@settings_options(Shared.only("json_out", "quiet"))
def list_corpora(*, shared: Shared) -> None:
    """List the catalogued corpora (built-in checksums are computed on this machine)."""
    corpora = _local_catalog()  # the listing goes to stdout; nothing else is printed
    if shared.json_out:
        sys.stdout.write(json.dumps([_json_entry(c) for c in corpora], indent=2) + "\n")
        return
    out = console()
    if not out.is_terminal:
        out.width = 200  # piped: keep whole rows, the reader is a program or a file
    out.print(_table(corpora))
    out.print(_builtin_checksums(corpora), markup=False, soft_wrap=True)


@contextmanager
def _reporting(label: str, quiet: bool = False) -> Iterator[tuple[ProgressFn | None, NoticeFn]]:
    """Yield (progress, notice) callbacks: a transient rich bar on a TTY stderr, else none."""
    from rich.progress import (  # here: 6 ms of imports no other command needs
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    if quiet:
        yield None, lambda message: None
        return
    if not sys.stderr.isatty():
        yield None, lambda message: typer.echo(message, err=True)
        return
    columns = (
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        def notice(message: str) -> None:
            bar.console.print(message, markup=False, soft_wrap=True)

        yield progress, notice


def _fetch(name: str, dest: Path | None, mirror: str | None, quiet: bool = False) -> list[Path]:
    with _reporting(name, quiet) as (progress, notice):
        return get_corpus(name, dest, mirror=mirror, progress=progress, notice=notice)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _to_stdout(name: str, mirror: str | None, quiet: bool = False) -> None:
    corpus, split = resolve(name)
    if corpus.splits and split is None:
        specs = ", ".join(f"{corpus.name}:{s}" for s in corpus.splits)
        raise UnknownCorpusError(f"-o - writes one file; name a split: {specs}")
    with tempfile.TemporaryDirectory(prefix="rnngen-corpus-") as tmp:
        (path,) = _fetch(name, Path(tmp) / "corpus.txt", mirror, quiet)
        try:
            with path.open("rb") as src:
                shutil.copyfileobj(src, sys.stdout.buffer)
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(1) from None


@corpus_app.command(
    "get",
    cls=Command,
    epilog=examples(
        "rnngen corpus get tinyshakespeare    # ./tinyshakespeare.txt",
        "rnngen corpus get ptb                # ./ptb/{train,valid,test}.txt",
        "rnngen corpus get ptb:valid -o -     # one split to stdout",
    ),
)
@settings_options(Shared.only("quiet"))
def get(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME[:SPLIT]",
            help="Corpus name, or NAME:SPLIT for one split (e.g. ptb:train).",
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            metavar="PATH",
            help="File (or, for a corpus with splits, directory) to write; '-' for stdout.",
            show_default="./NAME.txt, ./NAME.SPLIT.txt or ./NAME/",
        ),
    ] = None,
    mirror: Annotated[
        str | None,
        typer.Option(
            "--mirror",
            metavar="URL",
            help="Base URL (http/https/file) or directory holding the catalog's mirror paths.",
            show_default=f"${MIRROR_ENV}, else the upstream HTTPS URLs",
        ),
    ] = None,
    *,
    shared: Shared,
) -> None:
    """Download (checking sha256) or build a corpus; print the path(s) written to stderr."""
    quiet = shared.quiet
    try:
        with user_errors():
            if output == "-":
                _to_stdout(name, mirror, quiet)
                return
            paths = _fetch(name, Path(output) if output else None, mirror, quiet)
    except KeyboardInterrupt:
        fail("interrupted", INTERRUPTED)
    for path in paths if not quiet else []:
        typer.echo(str(path), err=True)
