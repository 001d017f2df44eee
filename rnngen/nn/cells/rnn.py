"""The Elman RNN cell (Elman 1990), as ``torch.nn.RNN`` writes it, with tanh or ReLU:

    h_t = f(x_t @ W_ih + h_{t-1} @ W_hh + b)        f = tanh, or ReLU

with the single bias b (PyTorch's b_ih + b_hh). The state is h alone, and the backward takes f'
from the outputs alone (tanh: 1 - h^2, ReLU: h > 0), so the forward keeps nothing but h. The
backward sums each batch row's pre-activation gradient over time as it writes it (the bias
gradient).

The math of one row is written once (``_forward_row``, ``_backward_row``), for both nonlinearities;
each is a cell of its own (``rnn-tanh``, ``rnn-relu``), whose small functions at the end fix
``relu`` when they are compiled.
"""

from numba import njit

from rnngen.kernels import JIT
from rnngen.kernels.cellcall import CellKernels
from rnngen.kernels.mathfn import tanh
from rnngen.nn.cells.base import Cell

# ---------------------------------------------------------------------------------------------
# the math of one batch row, forward and backward side by side


@njit(**JIT)
def _forward_row(h, x, bias, rec, H, relu):
    """h (H) out: f(x + bias + rec); x (H) x_t @ W_ih, rec (>= H) h_{t-1} @ W_hh."""
    zero = h.dtype.type(0.0)
    if relu:
        for j in range(H):
            v = (x[j] + bias[j]) + rec[j]
            h[j] = zero if v < zero else v  # not max(): NaN propagates
    else:
        for j in range(H):
            h[j] = tanh((x[j] + bias[j]) + rec[j])


@njit(**JIT)
def _backward_row(d, h, dht, dhr, s, H, relu):
    """d (H) out: gradient w.r.t. the pre-activation, also added to the running sum s (H);
    dht + dhr = gradient at h_t = f(...)."""
    zero = d.dtype.type(0.0)
    one = d.dtype.type(1.0)
    if relu:
        for j in range(H):
            v = (dht[j] + dhr[j]) if h[j] > zero else zero
            d[j] = v
            s[j] += v
    else:
        for j in range(H):
            hj = h[j]
            v = (dht[j] + dhr[j]) * (one - hj * hj)
            d[j] = v
            s[j] += v


# ---------------------------------------------------------------------------------------------
# where the rows are: training's time loops and the sampler (rnngen.kernels.cellcall)
# states (hs (T+1, B, H),); no caches; grads (dG (T, B, H),); sums (db (B, H),); no carry


@njit(**JIT)
def forward_tanh(t, b, x, rec, bias, states, caches):
    hs = states[0]
    _forward_row(hs[t + 1, b], x, bias[0], rec, hs.shape[2], False)


@njit(**JIT)
def backward_tanh(t, b, dht, dhr, states, caches, grads, sums, carry):
    hs = states[0]
    _backward_row(grads[0][t, b], hs[t + 1, b], dht, dhr, sums[0][b], hs.shape[2], False)


@njit(**JIT)
def step_tanh(x, rec, bias, state, u0, u1, scratch):
    _forward_row(state[0, u0:u1], x, bias[0], rec, u1 - u0, False)


@njit(**JIT)
def forward_relu(t, b, x, rec, bias, states, caches):
    hs = states[0]
    _forward_row(hs[t + 1, b], x, bias[0], rec, hs.shape[2], True)


@njit(**JIT)
def backward_relu(t, b, dht, dhr, states, caches, grads, sums, carry):
    hs = states[0]
    _backward_row(grads[0][t, b], hs[t + 1, b], dht, dhr, sums[0][b], hs.shape[2], True)


@njit(**JIT)
def step_relu(x, rec, bias, state, u0, u1, scratch):
    _forward_row(state[0, u0:u1], x, bias[0], rec, u1 - u0, True)


class RNN(Cell):
    prefix = "rnn"
    gates = 1
    biases = ("b",)
    state = ("h",)
    caches = ()
    grads = 1
    sums = (1,)
    carry = 0

    def __init__(self, nonlinearity: str) -> None:
        self.name = f"rnn-{nonlinearity}"
        self.about = f"Elman RNN with {nonlinearity} (as torch.nn.RNN)"
        if nonlinearity == "tanh":
            self.kernels = CellKernels(self.name, forward_tanh, backward_tanh, step_tanh, __file__)
        else:
            self.kernels = CellKernels(self.name, forward_relu, backward_relu, step_relu, __file__)


RNN_TANH, RNN_RELU = RNN("tanh"), RNN("relu")
