"""Scoring lines (``rnngen score``), in process, against the obvious one-line-at-a-time loop."""

import math

import numpy as np
import pytest

from rnngen.data.vocab import Vocab
from rnngen.errors import DataError
from rnngen.generate.score import encode_lines, score_sequences
from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import LMNetwork, State


def _model(vocab: Vocab, cell: str = "lstm") -> LMNetwork:
    cfg = ModelConfig(level=vocab.level, cell=cell, vocab_size=len(vocab), embed=6, hidden=10)
    m = LMNetwork(cfg)
    m.init_weights(np.random.default_rng(4))
    return m


def _slow_bits(model: LMNetwork, ids: list[int]) -> float:
    """Surprisal of ids[1:] after reading ids[:-1] one token at a time, batch 1."""
    state = State.zeros(model.cfg, 1)
    nats = 0.0
    for a, b in zip(ids[:-1], ids[1:], strict=True):
        x = np.array([[a]], np.int32)
        nats += model.loss_sum(x, np.array([[b]], np.int32), state)
    return nats / math.log(2)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_char_lines_score_as_one_at_a_time_from_the_start_state(cell):
    vocab = Vocab.build("the cat sat.\nabc\n", "char")
    model = _model(vocab, cell)
    lines = ["the cat", "", "a", "tac eht" * 30, "sat."]  # lengths differ: padding and windows
    seqs, start, unknown = encode_lines(vocab, lines)
    assert unknown == [] and start == vocab.stoi["\n"]
    scores = score_sequences(model, seqs, start)
    nl = vocab.stoi["\n"]
    for line, s in zip(lines, scores, strict=True):
        ids = [nl, *(vocab.stoi[c] for c in line), nl]  # from after a line break, to its end
        assert s.tokens == len(line) + 1
        assert s.bits == pytest.approx(_slow_bits(model, ids), rel=1e-4)
        assert s.perplexity == pytest.approx(2**s.bits_per_token)


def test_word_lines_read_unknown_words_as_unk():
    vocab = Vocab.build("the cat sat\nthe dog sat\n", "word")
    model = _model(vocab)
    seqs, start, unknown = encode_lines(vocab, ["the zebra sat", "the cat"])
    assert unknown == ["zebra"] and start == vocab.stoi["<eos>"]
    s = score_sequences(model, seqs, start)
    w = vocab.stoi
    ids = [w["<eos>"], w["the"], w["<unk>"], w["sat"], w["<eos>"]]
    assert s[0].tokens == 4 and s[0].bits == pytest.approx(_slow_bits(model, ids), rel=1e-4)


def test_unknown_characters_name_the_line():
    vocab = Vocab.build("abc\n", "char")
    with pytest.raises(
        DataError,
        match=r"lines.txt: line 2 has characters the model does not "
        r"know: 'x'",
    ):
        encode_lines(vocab, ["abc", "abx"], "lines.txt")


def test_without_a_line_break_token_the_first_token_comes_from_the_zero_state():
    vocab = Vocab.build("abcab", "char")  # no "\n": lines are scored without their line end
    model = _model(vocab)
    seqs, start, _ = encode_lines(vocab, ["abca"])
    assert start is None
    (s,) = score_sequences(model, seqs, start)
    b = model.params["out.b"].astype(np.float64)
    first = (np.logaddexp.reduce(b) - b[vocab.stoi["a"]]) / math.log(2)
    ids = [vocab.stoi[c] for c in "abca"]
    assert s.tokens == 4
    assert s.bits == pytest.approx(first + _slow_bits(model, ids), rel=1e-4)
