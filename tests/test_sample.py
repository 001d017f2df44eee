"""Batch-1 inference agrees with the training model; sampling rules behave as documented."""

import numpy as np
import pytest
from numba import njit

from rnngen.checkpoint import Checkpoint
from rnngen.config.training import TrainConfig
from rnngen.data.vocab import Vocab
from rnngen.generate.sample import PrimeError, SampleConfig, Sampler
from rnngen.kernels import sample as ks
from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import LMNetwork, State


@njit
def _seed(s):
    """Seed Numba's generator, which every jitted function (``ks.draw`` too) shares."""
    np.random.seed(s)


def _model(layers=2, V=7, E=5, H=6, seed=0, level="char"):
    cfg = ModelConfig(level=level, vocab_size=V, embed=E, hidden=H, layers=layers)
    m = LMNetwork(cfg)
    m.init_weights(np.random.default_rng(seed))
    toks = list("abcdef\n") if level == "char" else ["<eos>", "<unk>", "a", "b", "c", "d", "e"]
    ck = Checkpoint(cfg, TrainConfig(), Vocab(level, toks[:V]), dict(m.params.views))
    return m, ck


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_step_by_step_logits_equal_the_training_forward(layers):
    m, ck = _model(layers=layers)
    s = Sampler(ck)
    seq = np.array([0, 3, 1, 6, 2, 2, 5], np.int64)
    sampled = s.new_state()  # (L, 2, H): h and c
    logits = np.zeros(7, np.float32)
    ks.advance(
        s.cell.kernels, seq, np.empty(0, np.int64), sampled, *s._weights(), logits, 1.0, 0, 1.0, -1
    )
    # the training path: a (T, 1) batch, top layer's last hidden state through the output layer
    state = State.zeros(m.cfg, 1)
    ws = m._workspace(len(seq), 1)
    top = m._forward(ws, seq.astype(np.int32).reshape(-1, 1), state, None)
    ref = top[-1, 0] @ m.params["out.W"] + m.params["out.b"]
    np.testing.assert_allclose(logits, ref, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(sampled[:, 0], state.h[:, 0], rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(sampled[:, 1], state["c"][:, 0], rtol=2e-5, atol=2e-6)


def test_draw_rules():
    logits = np.array([0.1, 2.0, -1.0, 1.9], np.float32)
    _seed(0)
    assert ks.draw(logits, 0.0, 0, 1.0) == 1  # temp 0: argmax
    assert all(ks.draw(logits, 1.0, 1, 1.0) == 1 for _ in range(50))  # top-k 1
    assert all(ks.draw(logits, 1.0, 0, 1e-6) == 1 for _ in range(50))  # tiny nucleus
    top2 = {int(ks.draw(logits, 1.0, 2, 1.0)) for _ in range(300)}
    assert top2 == {1, 3}


def test_draw_follows_the_softmax_distribution():
    logits = np.array([0.0, 1.0, 2.0], np.float32)
    _seed(1)
    n = 20000
    counts = np.bincount([ks.draw(logits, 1.0, 0, 1.0) for _ in range(n)], minlength=3)
    p = np.exp(logits) / np.exp(logits).sum()
    assert np.all(np.abs(counts / n - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-3)
    # temperature 0.5 sharpens: the top token's share rises
    _seed(2)
    sharp = np.bincount([ks.draw(logits, 0.5, 0, 1.0) for _ in range(n)], minlength=3)
    assert sharp[2] / n > counts[2] / n + 0.1


def test_generate_is_deterministic_per_seed_and_respects_length_and_stop():
    _, ck = _model()
    s = Sampler(ck)
    a = "".join(s.generate(SampleConfig(length=200, seed=5, prime="ab")))
    b = "".join(s.generate(SampleConfig(length=200, seed=5, prime="ab")))
    c = "".join(s.generate(SampleConfig(length=200, seed=6, prime="ab")))
    assert a == b and a != c
    assert a.startswith("ab") and len(a) == 202
    stopped = "".join(s.generate(SampleConfig(length=200, seed=5, prime="ab", stop=a[50:53])))
    assert stopped == a[: a.find(a[50:53], 2)] if a.find(a[50:53], 2) >= 0 else stopped == a


def test_unknown_prime_characters_are_named():
    _, ck = _model()
    with pytest.raises(PrimeError, match="'x', 'z'"):
        Sampler(ck).encode_prime("zax")


def test_word_level_prime_maps_unknown_words_and_output_has_newlines_for_eos():
    _, ck = _model(level="word")
    s = Sampler(ck)
    ids, unk = s.encode_prime("a zebra b")
    assert unk == ["zebra"] and list(ids) == [2, 1, 3]
    text = "".join(s.generate(SampleConfig(length=300, seed=1, temp=1.0)))
    assert "<eos>" not in text and "\n" in text
    assert all(w in {"<unk>", "a", "b", "c", "d", "e"} for w in text.split())
