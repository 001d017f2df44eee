"""What an exported graph tells a program about itself, in the model's ``metadata_props``
(string keys and values; the structured ones are JSON), so that the ``.onnx`` file alone is
enough to use it: the vocabulary, the special tokens, the state a text starts from, the sizes,
and what each input and output means. ``docs/export.md`` lists the keys."""

import json
from typing import Any

import numpy as np

FORMAT = "rnngen-onnx/1"  # bumped when a key changes meaning


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def common(ck, graph: str, described: dict[str, str], operators: str, int8: bool) -> dict:
    from rnngen._version import __version__

    m = ck.model_cfg
    return {
        "rnngen.format": FORMAT,
        "rnngen.version": __version__,
        "rnngen.task": ck.task,
        "rnngen.graph": graph,
        "rnngen.cell": m.cell,
        "rnngen.layers": str(m.layers),
        "rnngen.hidden": str(m.hidden),
        "rnngen.embed": str(m.embed),
        "rnngen.vocab_size": str(m.vocab_size),
        "rnngen.state": _j(list(_state_names(m.cell))),
        "rnngen.operators": operators,
        "rnngen.int8": _j(int8),
        "rnngen.io": _j(described),
    }


def _state_names(cell: str) -> tuple[str, ...]:
    return ("h", "c") if cell == "lstm" else ("h",)


def _special(vocab) -> dict[str, int | None]:
    from rnngen.data.vocab import EOS, UNK

    return {
        "eos": vocab.stoi.get(EOS),
        "unk": vocab.stoi.get(UNK),
        "newline": vocab.stoi.get(vocab.line_end if vocab.level == "bpe" else "\n"),
    }


def _tokenizer(vocab, key: str) -> dict[str, str]:
    """A BPE vocabulary's tokenizer (the Hugging Face ``tokenizer.json`` text) under ``key``;
    nothing at the other levels."""
    return {key: vocab.tokenizer} if vocab.level == "bpe" else {}


def lm(ck, graph: str, described: dict[str, str], operators: str, int8: bool) -> dict[str, str]:
    """A language model's keys: its vocabulary, level, special tokens, start token and state."""
    vocab, m = ck.vocab, ck.model_cfg
    start_tok = vocab.line_end
    start = ck.start_state()
    names = _state_names(m.cell)
    if start is None:
        state = {n: np.zeros((m.layers, m.hidden), np.float32).tolist() for n in names}
    else:
        state = {n: np.asarray(start[n][:, 0, :], np.float32).tolist() for n in names}
    return {
        **common(ck, graph, described, operators, int8),
        "rnngen.level": vocab.level,
        "rnngen.vocab": _j(vocab.itos),
        **_tokenizer(vocab, "rnngen.tokenizer"),
        "rnngen.special_tokens": _j(_special(vocab)),
        "rnngen.start_token": _j(vocab.stoi.get(start_tok)),
        "rnngen.start_state": _j(state),
        "rnngen.usage": (
            "Start from rnngen.start_state (each vector (layers, hidden), repeated over the "
            "batch), read rnngen.start_token (when not null), then the prime's tokens, one step "
            "each; then sample from the logits and feed each token back. Characters map to ids "
            "by their index in rnngen.vocab; words likewise, unknown ones to <unk>, and a line "
            "break to <eos>. At level bpe, rnngen.tokenizer is a Hugging Face tokenizer.json "
            "(tokenizers.Tokenizer.from_str) whose ids are the model's, and a token's text is "
            "bytes in GPT-2's byte-to-symbol alphabet."
        ),
    }


def seq2seq(
    ck, graph: str, described: dict[str, str], operators: str, int8: bool
) -> dict[str, str]:
    """A sequence-to-sequence model's keys: both vocabularies, the boundary token (read as <s>,
    predicted as </s>), the attention and the longest output ``rnngen translate`` decodes."""
    from rnngen.data.pairs import boundary

    s2s, src, tgt = ck.task_cfg, ck.vocabs["src_vocab"], ck.vocab
    return {
        **common(ck, graph, described, operators, int8),
        "rnngen.src_level": src.level,
        "rnngen.tgt_level": tgt.level,
        "rnngen.src_vocab": _j(src.itos),
        "rnngen.tgt_vocab": _j(tgt.itos),
        **_tokenizer(src, "rnngen.src_tokenizer"),
        **_tokenizer(tgt, "rnngen.tgt_tokenizer"),
        "rnngen.src_special_tokens": _j(_special(src)),
        "rnngen.tgt_special_tokens": _j(_special(tgt)),
        "rnngen.boundary": str(boundary(tgt)),
        "rnngen.encoder": s2s.encoder,
        "rnngen.enc_hidden": str(s2s.enc_hidden),
        "rnngen.attention": s2s.attention,
        "rnngen.max_len": str(s2s.max_len),
        "rnngen.usage": (
            "Run the encoder graph once per batch of sources (ids by their index in "
            "rnngen.src_vocab, unknown words as <unk>; padded to the longest, src_len the true "
            "lengths); its h (and c), enc and keys feed the decoder graph, which reads "
            "rnngen.boundary first, then each chosen token, until it predicts rnngen.boundary "
            "or rnngen.max_len tokens. Target ids index rnngen.tgt_vocab (the boundary at "
            "character and bpe level is the id after the last). A bpe side's rnngen.src_tokenizer "
            "or rnngen.tgt_tokenizer is a Hugging Face tokenizer.json that encodes and decodes it."
        ),
    }
