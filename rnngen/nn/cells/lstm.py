"""The LSTM cell (Hochreiter & Schmidhuber 1997, with a forget gate), as ``torch.nn.LSTM`` has it.

Gate blocks are ordered [i | f | g | o], as PyTorch orders them, so weights are comparable
(transposed: ours are (D, 4H)); the layer has one bias, PyTorch's b_ih + b_hh.

    i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)

with a = x_t @ W_ih + h_{t-1} @ W_hh + b. The state is (h, c). The forward keeps the activated
gates and tanh(c_t) for the backward, which carries the gradient at c from step to step and sums
each batch row's gate gradients over time as it writes them (the bias gradient).

The math of one row is written once (``_forward_row``, ``_backward_row``); training's time loops
(``rnngen.kernels.timeloop``) and the sampler run it through the three small functions at the end.
It goes through one view per gate block: with ``a[H + j]``-style indexing LLVM does not vectorise
(3x slower).
"""

import numpy as np
from numba import njit

from rnngen.kernels import JIT
from rnngen.kernels.cellcall import CellKernels
from rnngen.kernels.mathfn import sigmoid, tanh
from rnngen.nn.cells.base import Cell

# ---------------------------------------------------------------------------------------------
# the math of one batch row, forward and backward side by side


@njit(**JIT)
def _forward_row(a, x, r, bias, c_prev, c, tc, h, H):
    """a (4H) out: activated gates; x, r, bias (4H): input and recurrent pre-activations, bias;
    c_prev (H) in, c, tc, h (H) out: c_t, tanh(c_t), h_t. c may be c_prev (in place)."""
    ai, af, ag, ao = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H : 4 * H]
    xi, xf, xg, xo = x[:H], x[H : 2 * H], x[2 * H : 3 * H], x[3 * H : 4 * H]
    ri, rf, rg, ro = r[:H], r[H : 2 * H], r[2 * H : 3 * H], r[3 * H : 4 * H]
    bi, bf, bg, bo = bias[:H], bias[H : 2 * H], bias[2 * H : 3 * H], bias[3 * H : 4 * H]
    for j in range(H):
        i = sigmoid(xi[j] + ri[j] + bi[j])
        f = sigmoid(xf[j] + rf[j] + bf[j])
        g = tanh(xg[j] + rg[j] + bg[j])
        o = sigmoid(xo[j] + ro[j] + bo[j])
        ai[j], af[j], ag[j], ao[j] = i, f, g, o
        cj = f * c_prev[j] + i * g
        c[j] = cj
        tcj = tanh(cj)
        tc[j] = tcj
        h[j] = o * tcj


@njit(**JIT)
def _backward_row(d, a, dht, dhr, c_prev, tc, dcb, ds, H):
    """d (4H) out: gate pre-activation gradients, also added to ds (4H); dht + dhr = gradient at
    h_t; dcb (H) in: gradient at c_t from step t+1, out: at c_{t-1}."""
    one = d.dtype.type(1.0)
    ai, af, ag, ao = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H : 4 * H]
    di, df, dg, do = d[:H], d[H : 2 * H], d[2 * H : 3 * H], d[3 * H : 4 * H]
    si, sf, sg, so = ds[:H], ds[H : 2 * H], ds[2 * H : 3 * H], ds[3 * H : 4 * H]
    for j in range(H):
        i, f, g, o = ai[j], af[j], ag[j], ao[j]
        dh_j = dht[j] + dhr[j]
        tcj = tc[j]
        dc_j = dcb[j] + dh_j * o * (one - tcj * tcj)
        vi = dc_j * g * i * (one - i)
        vf = dc_j * c_prev[j] * f * (one - f)
        vg = dc_j * i * (one - g * g)
        vo = dh_j * tcj * o * (one - o)
        di[j], df[j], dg[j], do[j] = vi, vf, vg, vo
        si[j] += vi
        sf[j] += vf
        sg[j] += vg
        so[j] += vo
        dcb[j] = dc_j * f


# ---------------------------------------------------------------------------------------------
# where the rows are: training's time loops and the sampler (rnngen.kernels.cellcall)


@njit(**JIT)
def forward(t, b, x, rec, bias, states, caches):
    """states (hs, cs), each (T+1, B, H); caches (acts (T, B, 4H), tcs (T, B, H))."""
    hs, cs = states
    acts, tcs = caches
    H = hs.shape[2]
    _forward_row(acts[t, b], x, rec, bias[0], cs[t, b], cs[t + 1, b], tcs[t, b], hs[t + 1, b], H)


@njit(**JIT)
def backward(t, b, dht, dhr, states, caches, grads, sums, carry):
    """grads (dG (T, B, 4H),): both sides; sums (db (B, 4H),); carry (dc (B, H),)."""
    cs = states[1]
    acts, tcs = caches
    H = cs.shape[2]
    _backward_row(
        grads[0][t, b], acts[t, b], dht, dhr, cs[t, b], tcs[t, b], carry[0][b], sums[0][b], H
    )


@njit(**JIT)
def step(x, rec, bias, state, u0, u1, scratch):
    """state (2, H): h and c, units u0:u1 updated in place; scratch (>= 6 (u1 - u0)).

    c_{t-1} is copied out first: with c_prev and c the same array, LLVM's run-time alias check
    fails and the loop runs scalar, 13x slower (measured)."""
    n = u1 - u0
    c = state[1, u0:u1]
    c_prev = scratch[5 * n : 6 * n]
    for j in range(n):  # a loop, not c_prev[:] = c: no shape check to compile (1.3 s)
        c_prev[j] = c[j]
    _forward_row(
        scratch[: 4 * n], x, rec, bias[0], c_prev, c, scratch[4 * n : 5 * n], state[0, u0:u1], n
    )


class LSTM(Cell):
    name = "lstm"
    about = "LSTM (gates [i f g o], as torch.nn.LSTM)"
    prefix = "lstm"
    gates = 4
    biases = ("b",)
    state = ("h", "c")
    caches = (4, 1)  # activated gates, tanh(c_t)
    grads = 1
    sums = (4,)
    carry = 1  # the gradient at c
    scratch = 6
    kernels = CellKernels("lstm", forward, backward, step, __file__)

    def init_biases(self, biases: np.ndarray, H: int) -> None:
        """The forget gate starts open (bias 1, the others 0): gradients flow through c."""
        biases[0] = 0.0
        biases[0, H : 2 * H] = 1.0
