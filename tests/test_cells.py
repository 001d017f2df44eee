"""Every registered cell through the one layer interface, against central finite differences.

A cell is written once (``rnngen.nn.cells``) and runs through the same drivers as every other, so
these tests take every cell of the registry, the ones to come included: one recurrent layer's
forward and backward (weights, biases, the input and the initial state, through
``RecurrentLayer``) against finite differences in float64; float32 against float64; the batch
split across parts, bit for bit; and the sampling step against the training forward.

``LeakyRNN`` below is a cell that is not rnngen's, written as a new cell would be (one class, its
math, its kernels) and registered for these tests only, to show that the interface is all a new
cell needs: caches, a carried gradient, training, and sampling.
"""

import numpy as np
import pytest
import reference as ref
from numba import njit

from rnngen.kernels import JIT
from rnngen.kernels.cellcall import CellKernels
from rnngen.kernels.mathfn import tanh
from rnngen.nn.cells import CELLS
from rnngen.nn.cells.base import Cell
from rnngen.nn.params import FlatParams
from rnngen.nn.recurrent import RecurrentLayer

# ---------------------------------------------------------------------------------------------
# a cell from outside rnngen: h_t = (1 - a) h_{t-1} + a tanh(x W_ih + h_{t-1} W_hh + b), a = 1/2


@njit(**JIT)
def _leaky_row(h, th, x, rec, b, h_prev, H):
    half = h.dtype.type(0.5)
    for j in range(H):
        t = tanh(x[j] + rec[j] + b[j])
        th[j] = t
        h[j] = half * h_prev[j] + half * t


@njit(**JIT)
def _leaky_forward(t, b, x, rec, bias, states, caches):
    hs = states[0]
    _leaky_row(hs[t + 1, b], caches[0][t, b], x, rec, bias[0], hs[t, b], hs.shape[2])


@njit(**JIT)
def _leaky_backward(t, b, dht, dhr, states, caches, grads, sums, carry):
    th, d, s, direct = caches[0][t, b], grads[0][t, b], sums[0][b], carry[0][b]
    half, one = d.dtype.type(0.5), d.dtype.type(1.0)
    for j in range(d.shape[0]):
        dh = dht[j] + dhr[j] + direct[j]
        v = dh * half * (one - th[j] * th[j])
        d[j] = v
        s[j] += v
        direct[j] = dh * half  # to h_{t-1}, not through W_hh


@njit(**JIT)
def _leaky_step(x, rec, bias, state, u0, u1, scratch):
    n = u1 - u0
    h, h_prev = state[0, u0:u1], scratch[n : 2 * n]
    for j in range(n):  # a copy: in place, the loop would not vectorise
        h_prev[j] = h[j]
    _leaky_row(h, scratch[:n], x, rec, bias[0], h_prev, n)


class LeakyRNN(Cell):
    name = "leaky-test"
    about = "half-leaky tanh RNN (tests only)"
    prefix = "leaky"
    gates = 1
    biases = ("b",)
    state = ("h",)
    caches = (1,)  # tanh of the pre-activation
    grads = 1
    sums = (1,)
    carry = 1
    scratch = 2
    kernels = CellKernels("leaky-test", _leaky_forward, _leaky_backward, _leaky_step, __file__)

    def initial_state_grad(self, dh, carry):
        dh += carry[0]
        return (dh,)


@pytest.fixture
def with_leaky():
    CELLS["leaky-test"] = LeakyRNN()
    yield
    del CELLS["leaky-test"]


ALL = [*CELLS, "leaky-test"]

# ---------------------------------------------------------------------------------------------
# one layer, in any dtype, with its parameters in a flat buffer as a model holds them


class OneLayer:
    def __init__(self, cell_name: str, T: int, B: int, D: int, H: int, dtype, parts: int):
        cell = CELLS[cell_name]
        self.layer = RecurrentLayer(cell, 0, D, H, parts)
        shapes = self.layer.param_shapes()
        self.params, self.grads = FlatParams(shapes, dtype), FlatParams(shapes, dtype)
        self.layer.bind(self.params, self.grads)
        self.tape = self.layer.tape(T, B, dtype)
        self.scratch = self.layer.scratch(T, B, dtype)
        self.nstate = len(cell.state)

    def run(self, x, state, R, r):
        """Forward from ``state`` (a tuple, copied), then backward of J = sum(R * h_1..T) +
        sum(r_i * final state_i): returns (J, dx, d initial state)."""
        final = tuple(s.copy() for s in state)
        y = self.layer.forward(x, final, self.tape)
        J = float(np.sum(R * y) + sum(np.sum(ri * fi) for ri, fi in zip(r, final, strict=True)))
        T, B = R.shape[:2]
        dx = np.zeros((T * B, x.shape[2]), x.dtype)
        d0 = self.layer.backward(self.tape, R.copy(), dx, self.scratch, dstate=r)
        return J, dx.reshape(x.shape), tuple(d.copy() for d in d0)


def _case(cell_name, T, B, D, H, rng, dtype=np.float64, parts=1):
    one = OneLayer(cell_name, T, B, D, H, dtype, parts)
    one.params.flat[...] = rng.normal(0, 0.5, one.params.size)
    x = rng.normal(0, 1, (T, B, D)).astype(dtype)
    state = tuple(rng.uniform(-0.8, 0.8, (B, H)).astype(dtype) for _ in range(one.nstate))
    R = rng.normal(0, 1, (T, B, H)).astype(dtype)
    r = tuple(rng.normal(0, 1, (B, H)).astype(dtype) for _ in range(one.nstate))
    return one, x, state, R, r


@pytest.mark.usefixtures("with_leaky")
@pytest.mark.parametrize("cell_name", ALL)
@pytest.mark.parametrize(
    ("T", "B", "D", "H", "parts"), [(1, 1, 2, 3, 1), (4, 3, 5, 6, 2), (6, 5, 3, 7, 2)]
)
def test_layer_gradients_match_finite_differences(cell_name, T, B, D, H, parts, numerics_rng):
    one, x, state, R, r = _case(cell_name, T, B, D, H, numerics_rng, parts=parts)
    _, dx, d0 = one.run(x, state, R, r)
    grads = one.grads.flat.copy()

    def objective() -> float:
        return one.run(x, state, R, r)[0]

    idx = ref.sample_indices(one.params.size, numerics_rng, 150)
    num = ref.numerical_grad(objective, one.params.flat, idx)
    np.testing.assert_allclose(grads[idx], num, rtol=1e-5, atol=1e-7, err_msg="parameters")
    num_x = ref.numerical_grad(objective, x, np.arange(x.size))
    np.testing.assert_allclose(dx.reshape(-1), num_x, rtol=1e-5, atol=1e-7, err_msg="input")
    for i, s in enumerate(state):
        num_s = ref.numerical_grad(objective, s, np.arange(s.size))
        np.testing.assert_allclose(
            d0[i].reshape(-1), num_s, rtol=1e-5, atol=1e-7, err_msg=f"initial state {i}"
        )


@pytest.mark.usefixtures("with_leaky")
@pytest.mark.parametrize("cell_name", ALL)
def test_float32_agrees_with_float64(cell_name, numerics_rng):
    one64, x, state, R, r = _case(cell_name, 7, 5, 9, 70, numerics_rng)
    one32 = OneLayer(cell_name, 7, 5, 9, 70, np.float32, 2)
    one32.params.flat[...] = one64.params.flat
    J64, dx64, d64 = one64.run(x, state, R, r)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    J32, dx32, d32 = one32.run(f32(x), tuple(map(f32, state)), f32(R), tuple(map(f32, r)))
    assert J32 == pytest.approx(J64, rel=1e-5)
    scale = np.abs(one64.grads.flat).max()
    np.testing.assert_allclose(one32.grads.flat, one64.grads.flat, atol=2e-5 * scale, rtol=1e-4)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=2e-5 * np.abs(dx64).max())
    for a, b in zip(d32, d64, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5 * np.abs(b).max())


@pytest.mark.usefixtures("with_leaky")
@pytest.mark.parametrize("cell_name", ALL)
def test_the_batch_split_does_not_change_a_bit(cell_name, numerics_rng):
    """float32 (the micro-kernel path): the same results for 1, 2, 3 and 8 parts."""
    base, x, state, R, r = _case(cell_name, 5, 8, 6, 33, numerics_rng, np.float32)
    want = base.run(x, state, R, r)
    for parts in (2, 3, 8):
        other = OneLayer(cell_name, 5, 8, 6, 33, np.float32, parts)
        other.params.flat[...] = base.params.flat
        got = other.run(x, state, R, r)
        assert got[0] == want[0]
        assert np.array_equal(other.grads.flat, base.grads.flat), parts
        assert np.array_equal(got[1], want[1])
        assert all(np.array_equal(a, b) for a, b in zip(got[2], want[2], strict=True))


@pytest.mark.usefixtures("with_leaky")
@pytest.mark.parametrize("cell_name", ALL)
def test_the_sampling_step_is_the_training_forward(cell_name, numerics_rng):
    """The step sampling runs (in place, on one row) gives the states the training forward
    wrote: the same math (the recurrent product here is NumPy's, so to rounding)."""
    from rnngen.kernels.cellcall import cell_step

    @njit
    def steps(cell, xp, rec, bias, state, scratch):
        cell_step(cell, xp, rec, bias, state, 0, state.shape[1], scratch)

    one, x, state, R, r = _case(cell_name, 4, 3, 5, 6, numerics_rng, np.float32)
    layer, tape = one.layer, one.tape
    layer.forward(x, tuple(s.copy() for s in state), tape)
    cell = layer.cell
    for b in range(3):
        s = np.stack([st[b] for st in state])  # (S, H), this row's state
        scratch = np.zeros(max(1, cell.scratch * layer.H), np.float32)
        for t in range(4):
            rec = (tape.states[0][t, b] @ layer.W_hh).astype(np.float32)
            steps(cell.kernels, tape.xp[t, b], rec, layer.bias, s, scratch)
            for i in range(len(state)):
                np.testing.assert_allclose(s[i], tape.states[i][t + 1, b], rtol=1e-5, atol=1e-6)


@pytest.mark.learning
@pytest.mark.usefixtures("with_leaky")
def test_a_new_cell_trains_saves_and_samples(tmp_path):
    """The whole path for a cell rnngen has never seen: a language model of it learns, its
    checkpoint passes the checks, and the sampler writes with it."""
    from clitools import measured, repetitive_text

    import rnngen.checkpoint as checkpoint
    from rnngen.config.training import TrainConfig
    from rnngen.data.corpus import Corpus
    from rnngen.generate.sample import SampleConfig, Sampler
    from rnngen.nn.config import ModelConfig
    from rnngen.tasks.lm.training import lm_trainer

    corpus = Corpus.from_text(repetitive_text(), "rep.txt", "char", val_frac=0.1)
    mcfg = ModelConfig(cell="leaky-test", vocab_size=len(corpus.vocab), embed=8, hidden=32)
    tcfg = TrainConfig(seq_len=16, batch_size=8, lr=1e-2, steps=150, eval_every=50)
    result = lm_trainer(mcfg, tcfg, corpus, tmp_path / "run").run()
    ratio = result.history[-1]["val_loss"] / result.history[0]["val_loss"]
    assert measured("new cell val loss last/first (< 0.6)", ratio) < 0.6  # 0.148 measured
    ck = checkpoint.load(result.checkpoint)
    assert ck.model_cfg.cell == "leaky-test" and "leaky0.W_hh" in ck.params
    text = "".join(Sampler(ck).generate(SampleConfig(length=200, seed=1, temp=0.5)))
    assert len(text) == 200 and set(text) <= set(corpus.vocab.itos)
