"""Sampling with the hidden units split into parts (``Sampler(threads=P)``) gives the same
logits, state and text as one part: every output column is the same dot product in the same order,
whichever core computes it. Small models take the serial loop over parts; H = 256 (weights past
``SPLIT_MIN``) takes the parallel one."""

import numba
import numpy as np
import pytest

from rnngen.checkpoint import Checkpoint
from rnngen.config.training import TrainConfig
from rnngen.data.vocab import Vocab
from rnngen.generate.sample import SampleConfig, Sampler, ThreadChooser, default_threads
from rnngen.kernels import sample as ks
from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import LMNetwork, State

CELLS = ["lstm", "gru", "rnn-tanh", "rnn-relu"]


def _checkpoint(cell: str, V: int, E: int, H: int, L: int, tie: bool = False) -> Checkpoint:
    cfg = ModelConfig(vocab_size=V, embed=E, hidden=H, layers=L, cell=cell, tie=tie)
    m = LMNetwork(cfg)
    rng = np.random.default_rng(1)
    m.init_weights(rng)
    for name, view in m.params.views.items():  # biases away from zero, so misplaced ones show
        if ".b" in name:
            view += rng.uniform(-0.5, 0.5, view.shape).astype(view.dtype)
    tokens = ["\n", *(chr(33 + i) for i in range(V - 1))]
    return Checkpoint(cfg, TrainConfig(), Vocab("char", tokens), dict(m.params.views))


def _run(s: Sampler, seq: np.ndarray, n: int):
    """Feed seq, then sample n tokens: (tokens, state (L, S, H), logits)."""
    V = len(s.vocab)
    state = s.new_state()
    logits = np.zeros(V, np.float32)
    out = np.empty(n, np.int64)
    ks.advance(s.cell.kernels, seq, out, state, *s._weights(), logits, 1.0, 0, 1.0, 11)
    return out, state, logits


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("L", "H", "tie"), [(1, 5, False), (2, 7, False), (3, 6, True)])
def test_parts_equal_one_part(cell, L, H, tie) -> None:
    ck = _checkpoint(cell, V=9, E=H if tie else 4, H=H, L=L, tie=tie)
    seq = np.array([0, 3, 1, 8, 2, 2, 5], np.int64)
    want = _run(Sampler(ck, threads=1), seq, 40)
    for P in (2, 3):
        got = _run(Sampler(ck, threads=P), seq, 40)
        np.testing.assert_array_equal(got[0], want[0], err_msg=f"P={P}")
        for a, b in zip(got[1:], want[1:], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=f"P={P}")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_parallel_parts_equal_one_part_and_the_training_forward(cell) -> None:
    ck = _checkpoint(cell, V=1100, E=16, H=256, L=2)  # every layer and the output split
    s1, s2 = Sampler(ck, threads=1), Sampler(ck, threads=2)
    assert 2 * s2.W_rec[0].size >= ks.SPLIT_MIN and s2.W_out.size >= ks.SPLIT_MIN
    seq = np.array([0, 3, 1, 1099, 2, 2, 5], np.int64)
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        want, got = _run(s1, seq, 30), _run(s2, seq, 30)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(got[0], want[0])
    for a, b in zip(got[1:], want[1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # and the state after the prime agrees with the training forward
    m = ck.build_model()
    state = State.zeros(m.cfg, 1)
    m._forward(m._workspace(len(seq), 1), seq.astype(np.int32).reshape(-1, 1), state, None)
    sampled = s2.new_state()
    logits = np.zeros(1100, np.float32)
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        ks.advance(
            s2.cell.kernels,
            seq,
            np.empty(0, np.int64),
            sampled,
            *s2._weights(),
            logits,
            1.0,
            0,
            1.0,
            -1,
        )
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for i, name in enumerate(state.names):
        np.testing.assert_allclose(sampled[:, i], state[name][:, 0], rtol=1e-5, atol=1e-6)


def test_generate_is_the_same_text_for_any_thread_count() -> None:
    ck = _checkpoint("lstm", V=30, E=4, H=8, L=2)
    texts = {
        t: "".join(Sampler(ck, threads=t).generate(SampleConfig(length=300, seed=4, prime="!#")))
        for t in (1, 2)
    }
    assert texts[1] == texts[2] and len(texts[1]) == 302


def test_default_threads_follows_the_weight_size() -> None:
    small = ModelConfig(vocab_size=65, embed=64, hidden=128, layers=2)
    large = ModelConfig(vocab_size=65, embed=64, hidden=512, layers=2)
    word = ModelConfig(level="word", vocab_size=10000, embed=200, hidden=200, layers=2)
    assert default_threads(small, 2) == 1
    assert default_threads(large, 2) == 2 and default_threads(large, 1) == 1
    assert default_threads(word, 4) == 2  # the output layer alone is 8 MB


def test_thread_chooser_explores_then_keeps_the_faster_and_probes_less_and_less() -> None:
    ch = ThreadChooser(2, keep=3, probe_every=4)
    seen = []
    for _ in range(120):
        t = ch.pick()
        seen.append(t)
        ch.record(t, 1.0 if t == 1 else 2.0)  # one thread is faster here
    assert seen[:4] == [2, 1, 2, 1]
    probes = [i for i, t in enumerate(seen) if i >= 4 and t == 2]
    gaps = np.diff(probes)
    assert list(gaps[:2]) == [8, 16] and all(g == 16 for g in gaps[2:])  # backs off to 4x
    # the load changes: two threads become faster, and two probes (16 chunks apart) switch
    later = []
    for _ in range(40):
        later.append(ch.pick())
        ch.record(later[-1], 1.0 if later[-1] == 1 else 0.5)
    assert ch.best == 2 and later.count(2) >= 15 and later[-4:] == [2] * 4
    assert ThreadChooser(1).pick() == 1


def test_default_sampler_gives_the_same_text_as_fixed_threads() -> None:
    ck = _checkpoint("gru", V=1100, E=16, H=256, L=2)
    auto = Sampler(ck)
    assert auto.chooser is not None and Sampler(ck, threads=1).chooser is None
    cfg = SampleConfig(length=600, seed=9, prime="!#")
    assert "".join(auto.generate(cfg)) == "".join(Sampler(ck, threads=1).generate(cfg))
