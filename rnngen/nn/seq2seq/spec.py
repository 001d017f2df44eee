"""The sequence-to-sequence network as checkpoints see it (``rnngen.nn.networks``)."""

from typing import Any

from rnngen.errors import ConfigError
from rnngen.nn.config import ModelConfig
from rnngen.nn.networks import NetworkSpec
from rnngen.nn.seq2seq.config import Seq2SeqConfig


def _param_shapes(m: ModelConfig, s2s: Seq2SeqConfig) -> dict[str, tuple[int, ...]]:
    from rnngen.nn.seq2seq.network import param_shapes

    return param_shapes(m, s2s)


def target_size(vocab: Any) -> int:
    """The decoder's vocabulary size V: the target tokens, and the boundary (a char or BPE side
    has no <s>/</s> token of its own)."""
    return len(vocab) + (vocab.level != "word")


def _check(m: ModelConfig, s2s: Seq2SeqConfig, vocab: Any, more: dict) -> tuple[str, str] | None:
    try:
        s2s.check_with(m.hidden)
    except ConfigError as e:
        return "", e.render(lambda n: f"seq2seq.{n}")
    src = more["src_vocab"]
    for v, level, size, what, want in (
        (src, s2s.src_level, s2s.src_vocab, "seq2seq.src_vocab", len(src)),
        (vocab, s2s.tgt_level, m.vocab_size, "model.vocab_size", target_size(vocab)),
    ):
        if v.level != level:
            return what.split(".")[0], f"level {v.level!r} disagrees with the settings ({level!r})"
        if size != want:
            return what, f"is {size}, but the vocabulary implies {want}"
    return None


def _build(m: ModelConfig, s2s: Seq2SeqConfig, dtype: Any, parts: int) -> Any:
    from rnngen.nn.seq2seq.network import Seq2SeqNetwork

    return Seq2SeqNetwork(m, s2s, dtype, parts=parts)


def _legacy(d: dict) -> dict:
    """Files from before a setting was recorded meant its default of the time: no label smoothing,
    the best checkpoint by loss."""
    return {"label_smoothing": 0.0, "best_by": "loss", **d}


SPEC = NetworkSpec(
    task="seq2seq",
    what="a sequence-to-sequence model",
    settings=Seq2SeqConfig,
    vocabs=("src_vocab",),
    carries_state=False,
    names_task=True,
    param_shapes=_param_shapes,
    check=_check,
    build=_build,
    legacy=_legacy,
)
