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
    """Turn each input line into an output line with a sequence-to-sequence model.

    --n-best N writes N lines per input, best first: output<TAB>score, the
    log-probability per token (</s> counted) that beam search ranks by.
    --json writes an object per input: "source", "outputs", "scores" (total
    log-probabilities), "per_token" (the ranking scores), and "error" for a
    line that --on-error skip skipped."""
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
        skip = settings.on_error == "skip"
        if path == "-":
            lines: Iterator[tuple[str, str]] = _stdin_lines(shared.encoding, shared.errors)
            batches = _stdin_batches(lines, settings.batch_size)
        else:
            text, name = read_text(path, shared.encoding, shared.errors, allow_empty=True)
            rows = text.split("\n")
            if rows and rows[-1] == "":
                rows.pop()
            numbered = [(line.rstrip("\r"), f"{name}:{n}") for n, line in enumerate(rows, 1)]
            for line, where in numbered if not skip else ():  # every line readable first
                if line.strip():
                    tr.encode_source(line, where)
            batches = (
                numbered[a : a + settings.batch_size]
                for a in range(0, len(numbered), settings.batch_size)
            )
        with compiling_status(shared.quiet):
            m.warm(batch=settings.batch_size)
        unknown: dict[str, None] = {}
        skipped = 0
        for batch in batches:
            rows, bad = _readable(tr, batch, skip)
            for _, _, problem in rows:
                if problem is not None:
                    skipped += 1
                    warn(f"{problem}; skipped")
            outs = _decode(tr, rows, settings, max_len, unknown)
            write("".join(_format(*row, settings, shared.json_out) for row in outs))
            if bad is not None:  # the lines before it are answered, then the error
                raise bad
        if unknown:
            shown = ", ".join(repr(w) for w in list(unknown)[:10])
            warn(f"{len(unknown):,} source words not in the vocabulary were read as <unk>: {shown}")
        if skipped:
            warn(
                f"skipped {skipped:,} line{'s' if skipped != 1 else ''} the model cannot read "
                "(an empty line out for each)"
            )


def _readable(tr, batch, skip: bool):
    """([(line, where, problem)] of ``batch``, the error that stops it): with ``skip`` every line,
    those the model cannot read with their problem; else the lines before the first one it
    cannot read (problem None), and that line's error."""
    from rnngen.errors import DataError

    rows = []
    for line, where in batch:
        problem = None
        if line.strip():
            try:
                tr.encode_source(line, where)
            except DataError as e:
                if not skip:
                    return rows, e
                problem = str(e)
        rows.append((line, where, problem))
    return rows, None


def _decode(tr, rows, settings: TranslateConfig, max_len: int, unknown: dict):
    """[(source, hypotheses, problem)] of rows of (line, where, problem); blank lines and lines
    with a problem give no hypotheses."""
    real = [(line, where) for line, where, problem in rows if line.strip() and problem is None]
    for line, _ in real:
        unknown.update(dict.fromkeys(tr.unknown_words(line)))
    srcs = [tr.encode_source(line, where) for line, where in real]
    hyps = (
        tr.search(srcs, settings.beam, settings.n_best, max_len, settings.temp, settings.seed)
        if srcs
        else []
    )
    found = iter(hyps)
    return [
        (line, next(found) if line.strip() and problem is None else [], problem)
        for line, _, problem in rows
    ]


def _format(src: str, hyps, problem: str | None, settings: TranslateConfig, json_out: bool) -> str:
    """One input's output: its line (n-best: a line per output, output<TAB>score per token), or
    with --json one object: source, outputs, scores (total log-probabilities), per_token (the
    scores beam search ranks by), and error for a skipped line."""
    if json_out:
        row = {
            "source": src,
            "outputs": [h.text for h in hyps],
            "scores": [h.logprob for h in hyps],
            "per_token": [h.score for h in hyps],
        }
        if problem is not None:
            row["error"] = problem
        return json.dumps(row, ensure_ascii=False) + "\n"
    if settings.n_best > 1:
        return "".join(f"{h.text}\t{h.score:.4f}\n" for h in hyps) or "\n"
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
