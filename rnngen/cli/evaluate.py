"""``rnngen eval``: a model's average loss on a text, in nats and bits per token, and perplexity."""

import json
from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import compiling_status, warn, write
from rnngen.cli.params import MODEL_HELP, Shared, given, settings_options
from rnngen.config.training import EvalConfig
from rnngen.errors import UsageError


@settings_options(EvalConfig, Shared.only("threads", "json_out", "quiet", "encoding", "errors"))
def evaluate(
    ctx: typer.Context,
    model: Annotated[Path, typer.Argument(help=MODEL_HELP)],
    path: Annotated[str, typer.Argument(help="Text file to score; '-' reads stdin.")],
    beam: Annotated[
        int, typer.Option(help="Seq2seq models: beam width of the decoded outputs.", min=1)
    ] = 5,
    ensemble: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="MODEL",
            help="Seq2seq models: another model (of the same vocabularies and shape) "
            "that decodes and scores together with MODEL. Repeat it for more.",
        ),
    ] = None,
    *,
    settings: EvalConfig,
    shared: Shared,
) -> None:
    """Average loss (nats per token), bits per token and perplexity of a model on a text; for a
    sequence-to-sequence model, on source<TAB>target pairs, also sequence accuracy and error rate
    and token error rate of its decoded outputs."""
    from rnngen.data.text import read_text
    from rnngen.tasks.models import load

    with user_errors():
        settings.validate()
        shared.validate()
        m = load(model, shared.threads)
        if hasattr(m, "translate"):  # its outputs are decoded and scored against references
            if "seq_len" in given(ctx):
                raise UsageError(
                    f"{m.path}: --seq-len is for language models; a sequence-to-"
                    "sequence model reads whole pairs"
                )
            if ensemble:
                m = m.ensemble(*ensemble)
            return _evaluate_seq2seq(m, path, beam, settings, shared)
        if ensemble or "beam" in given(ctx):
            what = "--ensemble" if ensemble else "--beam"
            raise UsageError(f"{m.path}: {what} is for sequence-to-sequence models")
        text, name = read_text(path, shared.encoding, shared.errors)
        with compiling_status(shared.quiet):
            m.warm("eval", settings.batch_size)
        res = m.evaluate(
            text=text, batch_size=settings.batch_size, seq_len=settings.seq_len, source=name
        )
        if m.unknown:
            warn(f"{len(m.unknown):,} word types not in the vocabulary were scored as <unk>")
    unit = {"char": "char", "word": "word", "bpe": "token"}[m.level]
    if shared.json_out:
        write(
            json.dumps(
                {
                    "loss": res.loss,
                    "bits_per_token": res.bits_per_token,
                    "bits_per_char": res.bits_per_char,
                    "perplexity": res.perplexity,
                    "tokens": res.tokens,
                    "chars": res.chars,
                    "level": m.level,
                }
            )
            + "\n"
        )
    else:
        write(
            f"loss        {res.loss:.4f} nats/{unit}\n"
            f"bits        {res.bits_per_token:.4f} bits/{unit}\n"
            f"bits/char   {res.bits_per_char:.4f} bits/char ({res.chars:,} characters)\n"
            f"perplexity  {res.perplexity:.2f}\n"
            f"tokens      {res.tokens:,}\n"
        )


def _evaluate_seq2seq(m, path: str, beam: int, settings: EvalConfig, shared: Shared) -> None:
    s2s = m.checkpoint.task_cfg
    with compiling_status(shared.quiet):
        m.warm(batch=settings.batch_size)
    res = m.evaluate(
        path,
        beam=beam,
        batch_size=settings.batch_size,
        encoding=shared.encoding,
        errors=shared.errors,
    )
    if shared.json_out:
        write(json.dumps({**res.to_dict(), "beam": beam, "level": s2s.tgt_level}) + "\n")
        return
    unit = "char" if s2s.tgt_level == "char" else "token"
    write(
        f"loss                 {res.loss:.4f} nats/{unit} (teacher-forced)\n"
        f"perplexity           {res.perplexity:.3f}\n"
        f"sequence accuracy    {100 * res.accuracy:.2f}% of {res.sources:,} sources "
        f"(beam {beam})\n"
        f"sequence error rate  {100 * res.sequence_error_rate:.2f}%\n"
        f"token error rate     {100 * res.token_error_rate:.2f}%\n"
    )
