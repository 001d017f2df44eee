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
    beam: Annotated[
        int, typer.Option(help="Seq2seq models: beam width of the decoded outputs.", min=1)
    ] = 5,
    *,
    settings: EvalConfig,
    shared: Shared,
) -> None:
    """Average loss (nats per token), bits per token and perplexity of a model on a text; for a
    sequence-to-sequence model, on source<TAB>target pairs, also sequence accuracy and error rate
    and token error rate of its decoded outputs."""
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
        if ckpt.s2s is not None:
            return _evaluate_seq2seq(ckpt, path, beam, settings, shared)
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


def _evaluate_seq2seq(ckpt, path: str, beam: int, settings: EvalConfig, shared: Shared) -> None:
    from rnngen.data.pairs import encode_pairs, read_pairs
    from rnngen.generate.seq2seq_eval import evaluate_pairs
    from rnngen.generate.translate import Translator
    from rnngen.kernels.threads import apply, plan_threads
    from rnngen.warmup import warm_seq2seq_kernels

    s2s = ckpt.s2s
    pairs = read_pairs([path], s2s.src_level, s2s.tgt_level, shared.encoding, shared.errors)[0]
    encoded = encode_pairs(pairs, ckpt.src_vocab, ckpt.vocab)
    plan = plan_threads(shared.threads, settings.batch_size)
    apply(plan)
    tr = Translator(ckpt.build_model(parts=plan.parts), ckpt.src_vocab, ckpt.vocab)
    longest = max(len(s) for s in encoded.src)
    if longest > tr.max_src:
        tr.max_src = longest  # evaluation reads every source it is given
    with compiling_status(shared.quiet):
        warm_seq2seq_kernels(plan.parts, ckpt.model_cfg.cell, s2s.attention)
    res = evaluate_pairs(tr, encoded, beam, settings.batch_size, s2s.max_len * 2)
    if shared.json_out:
        write(json.dumps({**res.to_dict(), "beam": beam, "level": s2s.tgt_level}) + "\n")
        return
    unit = "token" if s2s.tgt_level == "word" else "char"
    write(f"loss                 {res.loss:.4f} nats/{unit} (teacher-forced)\n"
          f"perplexity           {res.perplexity:.3f}\n"
          f"sequence accuracy    {100 * res.accuracy:.2f}% of {res.sources:,} sources "
          f"(beam {beam})\n"
          f"sequence error rate  {100 * res.sequence_error_rate:.2f}%\n"
          f"token error rate     {100 * res.token_error_rate:.2f}%\n")  # fmt: skip
