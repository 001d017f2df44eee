"""``rnngen translate``: one output line per input line, with a sequence-to-sequence model.

Outputs stream: from a file, a batch at a time; from stdin, the lines already complete are
decoded together (up to --batch-size) as soon as no more input is waiting, so the command answers
line by line inside a pipeline or as a coprocess."""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import compiling_status, warn, write
from rnngen.cli.params import Shared, settings_options
from rnngen.generate.config import TranslateConfig


@settings_options(
    TranslateConfig, Shared.only("threads", "json_out", "quiet", "encoding", "errors")
)
def translate(
    model: Annotated[Path, typer.Argument(help="Seq2seq checkpoint file or run directory.")],
    path: Annotated[str, typer.Argument(help="Source lines; '-' or nothing reads stdin.")] = "-",
    ensemble: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="MODEL",
            help="Another model (of the same vocabularies and shape) to decode "
            "together with MODEL: each step takes their mean probability. Repeat "
            "it for more.",
        ),
    ] = None,
    *,
    settings: TranslateConfig,
    shared: Shared,
) -> None:
    """Turn each input line into an output line with a sequence-to-sequence model."""
    from rnngen.data.text import read_text
    from rnngen.tasks.models import load_for

    with user_errors():
        settings.validate()
        shared.validate()
        m = load_for(model, shared.threads, "translate", "rnngen translate")
        if ensemble:
            m = m.ensemble(*ensemble)
        tr = m.translator(settings.batch_size)
        max_len = settings.max_len or m.checkpoint.task_cfg.max_len
        if path == "-":
            lines: Iterator[tuple[str, str]] = _stdin_lines(shared.encoding, shared.errors)
            batches = _stdin_batches(lines, settings.batch_size)
        else:
            text, name = read_text(path, shared.encoding, shared.errors, allow_empty=True)
            rows = text.split("\n")
            if rows and rows[-1] == "":
                rows.pop()
            numbered = [(line.rstrip("\r"), f"{name}:{n}") for n, line in enumerate(rows, 1)]
            for line, where in numbered:  # every line readable before anything is written
                if line.strip():
                    tr.encode_source(line, where)
            batches = (
                numbered[a : a + settings.batch_size]
                for a in range(0, len(numbered), settings.batch_size)
            )
        with compiling_status(shared.quiet):
            m.warm(batch=settings.batch_size)
        unknown: dict[str, None] = {}
        for batch in batches:
            readable, bad = _readable(tr, batch)
            outs = _decode(tr, readable, settings, max_len, unknown)
            write("".join(_format(src, hyps, settings, shared.json_out) for src, hyps in outs))
            if bad is not None:  # the lines before it are answered, then the error
                raise bad
        if unknown:
            shown = ", ".join(repr(w) for w in list(unknown)[:10])
            warn(f"{len(unknown):,} source words not in the vocabulary were read as <unk>: {shown}")


def _readable(tr, batch):
    """(the lines of ``batch`` before the first one the model cannot read, that line's error)."""
    from rnngen.errors import DataError

    for i, (line, where) in enumerate(batch):
        if line.strip():
            try:
                tr.encode_source(line, where)
            except DataError as e:
                return batch[:i], e
    return batch, None


def _decode(tr, batch, settings: TranslateConfig, max_len: int, unknown: dict):
    """[(source, hypotheses)] of a batch of (line, where); blank lines give no hypotheses."""
    real = [(line, where) for line, where in batch if line.strip()]
    for line, _ in real:
        unknown.update(dict.fromkeys(tr.unknown_words(line)))
    srcs = [tr.encode_source(line, where) for line, where in real]
    hyps = (
        tr.search(srcs, settings.beam, settings.n_best, max_len, settings.temp, settings.seed)
        if srcs
        else []
    )
    found = iter(hyps)
    return [(line, next(found) if line.strip() else []) for line, _ in batch]


def _format(src: str, hyps, settings: TranslateConfig, json_out: bool) -> str:
    if json_out:
        return (
            json.dumps(
                {
                    "source": src,
                    "outputs": [h.text for h in hyps],
                    "scores": [h.logprob for h in hyps],
                },
                ensure_ascii=False,
            )
            + "\n"
        )
    if settings.n_best > 1:
        return "".join(f"{h.text}\t{h.logprob:.4f}\n" for h in hyps) or "\n"
    return (hyps[0].text if hyps else "") + "\n"


def _stdin_lines(encoding: str, errors: str) -> Iterator[tuple[str, str]]:
    """Lines of stdin as they arrive, read from the file descriptor (no read-ahead buffer that
    would hide from ``_waiting`` what is already there)."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)(errors)
    buf, n = "", 0
    while True:
        chunk = os.read(0, 1 << 16)
        buf += decoder.decode(chunk, final=not chunk)
        *complete, buf = buf.split("\n")
        for line in complete:
            n += 1
            yield line.rstrip("\r"), f"<stdin>:{n}"
        if not chunk:
            if buf:
                yield buf.rstrip("\r"), f"<stdin>:{n + 1}"
            return
        if not complete:
            yield None, ""  # nothing complete: a chance to decode what is pending


def _waiting() -> bool:
    import select

    try:
        return bool(select.select([0], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _stdin_batches(lines, size: int) -> Iterator[list[tuple[str, str]]]:
    """Batches of up to ``size`` lines: a batch ends when it is full or when no more input is
    waiting."""
    pending: list[tuple[str, str]] = []
    for line, where in lines:
        if line is not None:
            pending.append((line, where))
        if pending and (len(pending) >= size or not _waiting()):
            yield pending
            pending = []
    if pending:
        yield pending
