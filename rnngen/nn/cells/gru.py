"""The GRU cell (Cho et al. 2014), as ``torch.nn.GRU`` writes it.

Gate blocks are ordered [r | z | n], and the two biases are kept apart because the reset gate
multiplies the recurrent part of the candidate, bias included:

    r = sigmoid(xr + hr)      z = sigmoid(xz + hz)      n = tanh(xn + r * hn)
    h_t = (1 - z) * n + z * h_{t-1}        computed as n + z * (h_{t-1} - n), as PyTorch does

where x* are the blocks of x_t @ W_ih + b_ih and h* those of h_{t-1} @ W_hh + b_hh. The state is h
alone. The backward writes two pre-activation gradients, which differ only in the n block, where
the recurrent side is scaled by r: dGh (w.r.t. h_{t-1} @ W_hh + b_hh, what multiplies W_hh^T and
gives dW_hh) and dGx (w.r.t. the input projection, giving dW_ih and the input's gradient). Unlike
the LSTM's, h_{t-1} also reaches h_t directly (through z); the backward carries that part of the
gradient (dh_t * z) to the next step itself, apart from the part through W_hh.

The bias gradients are summed per batch row as the backward writes dGx and dGh: db_ih is the sum
of dGx; db_hh shares db_ih's r and z blocks (the two sides enter the same pre-activations) and has
the sum of dGh's n block as its own.

The math of one row is written once (``_forward_row``, ``_backward_row``); training's time loops
and the sampler run it through the three small functions at the end.
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
def _forward_row(a, hn, x, b_ih, rec, b_hh, h_prev, h, H):
    """a (3H) out: activated [r z n]; hn (H) out: recurrent n pre-activation incl. its bias.

    x (3H) x_t @ W_ih without bias; rec (>= 3H) h_{t-1} @ W_hh without bias; h (H) out: h_t
    (h may be h_prev: in place).
    """
    ar, az, an = a[:H], a[H : 2 * H], a[2 * H : 3 * H]
    xr, xz, xn = x[:H], x[H : 2 * H], x[2 * H : 3 * H]
    ir_, iz, in_ = b_ih[:H], b_ih[H : 2 * H], b_ih[2 * H : 3 * H]  # input bias
    rr, rz, rn = rec[:H], rec[H : 2 * H], rec[2 * H : 3 * H]
    br, bz, bn = b_hh[:H], b_hh[H : 2 * H], b_hh[2 * H : 3 * H]
    for j in range(H):
        r = sigmoid((xr[j] + ir_[j]) + (rr[j] + br[j]))
        z = sigmoid((xz[j] + iz[j]) + (rz[j] + bz[j]))
        hnj = rn[j] + bn[j]
        n = tanh((xn[j] + in_[j]) + r * hnj)
        ar[j], az[j], an[j] = r, z, n
        hn[j] = hnj
        h[j] = n + z * (h_prev[j] - n)


@njit(**JIT)
def _backward_row(dx, dg, a, hn, h_prev, dht, dhr, dhd, sx, sn, H):
    """dx, dg (3H) out: gradients w.r.t. the input and recurrent pre-activations; dx is also added
    to the running sum sx (3H), and dg's n block to sn (H) (its r and z blocks are dx's).

    The gradient at h_t is dht + dhr + dhd (from above, through W_hh, directly through z);
    dhd (H) out: the direct part dh_t * z that reaches h_{t-1}.
    """
    one = dx.dtype.type(1.0)
    ar, az, an = a[:H], a[H : 2 * H], a[2 * H : 3 * H]
    dxr, dxz, dxn = dx[:H], dx[H : 2 * H], dx[2 * H : 3 * H]
    dgr, dgz, dgn = dg[:H], dg[H : 2 * H], dg[2 * H : 3 * H]
    sxr, sxz, sxn = sx[:H], sx[H : 2 * H], sx[2 * H : 3 * H]
    for j in range(H):
        r, z, n = ar[j], az[j], an[j]
        dh = dht[j] + dhr[j] + dhd[j]
        da_n = dh * (one - z) * (one - n * n)
        da_r = da_n * hn[j] * r * (one - r)
        da_z = dh * (h_prev[j] - n) * z * (one - z)
        dxr[j], dxz[j], dxn[j] = da_r, da_z, da_n
        dgr[j], dgz[j], dgn[j] = da_r, da_z, da_n * r
        sxr[j] += da_r
        sxz[j] += da_z
        sxn[j] += da_n
        sn[j] += da_n * r
        dhd[j] = dh * z


# ---------------------------------------------------------------------------------------------
# where the rows are: training's time loops and the sampler (rnngen.kernels.cellcall)


@njit(**JIT)
def forward(t, b, x, rec, bias, states, caches):
    """states (hs (T+1, B, H),); caches (acts (T, B, 3H), hns (T, B, H)); bias (b_ih, b_hh)."""
    hs = states[0]
    acts, hns = caches
    _forward_row(
        acts[t, b], hns[t, b], x, bias[0], rec, bias[1], hs[t, b], hs[t + 1, b], hs.shape[2]
    )


@njit(**JIT)
def backward(t, b, dht, dhr, states, caches, grads, sums, carry):
    """grads (dGh, dGx), each (T, B, 3H); sums (dbx (B, 3H), dbn (B, H)); carry (dhd (B, H),)."""
    hs = states[0]
    acts, hns = caches
    dGh, dGx = grads
    _backward_row(
        dGx[t, b],
        dGh[t, b],
        acts[t, b],
        hns[t, b],
        hs[t, b],
        dht,
        dhr,
        carry[0][b],
        sums[0][b],
        sums[1][b],
        hs.shape[2],
    )


@njit(**JIT)
def step(x, rec, bias, state, u0, u1, scratch):
    """state (1, H): h, units u0:u1 updated in place; scratch (>= 5 (u1 - u0)). h_{t-1} is
    copied out first, so the loop vectorises (see the LSTM's step)."""
    n = u1 - u0
    h = state[0, u0:u1]
    h_prev = scratch[4 * n : 5 * n]
    for j in range(n):  # a loop: no shape check to compile (see the LSTM's step)
        h_prev[j] = h[j]
    _forward_row(scratch[: 3 * n], scratch[3 * n : 4 * n], x, bias[0], rec, bias[1], h_prev, h, n)


class GRU(Cell):
    name = "gru"
    about = "GRU (gates [r z n], as torch.nn.GRU)"
    prefix = "gru"
    gates = 3
    biases = ("b_ih", "b_hh")  # b_hh sits inside r * (h W_hn + b_hn): it cannot merge with b_ih
    state = ("h",)
    caches = (3, 1)  # activated gates, the recurrent n pre-activation
    grads = 2  # dGh, dGx
    sums = (3, 1)  # dbx, dbn
    carry = 1  # the gradient reaching h_{t-1} directly through z
    scratch = 5
    kernels = CellKernels("gru", forward, backward, step, __file__)

    def bias_grads(self, sums: tuple[np.ndarray, ...], dbias: np.ndarray) -> None:
        db_ih, db_hh = dbias[0], dbias[1]
        H = sums[1].shape[1]
        np.sum(sums[0], axis=0, out=db_ih)
        db_hh[: 2 * H] = db_ih[: 2 * H]  # r and z: both biases enter the same pre-activation
        np.sum(sums[1], axis=0, out=db_hh[2 * H :])

    def initial_state_grad(
        self, dh: np.ndarray, carry: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, ...]:
        dh += carry[0]  # through W_hh, plus directly through z
        return (dh,)
