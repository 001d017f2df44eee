"""``rnngen eval``: a model's average loss on a text, in nats and bits per token, and perplexity."""

import json
from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import compiling_status, warn, write
from rnngen.cli.params import Shared, settings_options
from rnngen.train.config import EvalConfig


@settings_options(EvalConfig, Shared.only("threads", "json_out", "quiet", "encoding", "errors"))
def evaluate(
    model: Annotated[Path, typer.Argument(help="Checkpoint file or run directory.")],
    path: Annotated[str, typer.Argument(help="Text file to score; '-' reads stdin.")],
    *,
    settings: EvalConfig,
    shared: Shared,
) -> None:
    """Average loss (nats per token), bits per token and perplexity of a model on a text."""
    from rnngen.data.batches import eval_shape
    from rnngen.data.text import read_text
    from rnngen.errors import DataError
    from rnngen.kernels.threads import apply, plan_threads
    from rnngen.nn.memory import FLOAT, activation_floats, check_fits
    from rnngen.train import checkpoint
    from rnngen.train.evaluate import evaluate as evaluate_text
    from rnngen.warmup import warm_training_kernels

    B, T = settings.batch_size, settings.seq_len
    with user_errors():
        settings.validate()
        shared.validate()
        ckpt = checkpoint.load(checkpoint.resolve(model))
        text, name = read_text(path, shared.encoding, shared.errors)
        vocab = ckpt.vocab
        unknown = vocab.unknown(text)
        if unknown and vocab.level == "char":
            shown = ", ".join(repr(ch) for ch in unknown[:20])
            raise DataError(f"{name}: has characters the model does not know: {shown}")
        tokens = vocab.encode(text)
        if len(tokens) < 2:
            raise DataError(f"{name}: needs at least two tokens to score")
        if unknown:
            warn(f"{len(unknown):,} word types not in the vocabulary were scored as <unk>")
        B, T = eval_shape(len(tokens), B, T)
        check_fits(FLOAT * activation_floats(ckpt.model_cfg, T, B),
                   f"evaluating in batches of {B} x {T}",
                   "use a smaller --batch-size or --seq-len")  # fmt: skip
        plan = plan_threads(shared.threads, B)
        apply(plan)
        net = ckpt.build_model(parts=plan.parts)
        with compiling_status(shared.quiet):
            warm_training_kernels(plan.parts, ckpt.model_cfg.cell, None)
        res = evaluate_text(net, tokens, settings.batch_size, settings.seq_len)
    unit = "char" if vocab.level == "char" else "word"
    if shared.json_out:
        write(json.dumps({"loss": res.loss, "bits_per_token": res.bits_per_token,
                          "perplexity": res.perplexity, "tokens": res.tokens,
                          "level": vocab.level}) + "\n")  # fmt: skip
    else:
        write(f"loss        {res.loss:.4f} nats/{unit}\n"
              f"bits        {res.bits_per_token:.4f} bits/{unit}\n"
              f"perplexity  {res.perplexity:.2f}\n"
              f"tokens      {res.tokens:,}\n")  # fmt: skip
