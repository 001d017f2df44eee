"""GRU time loops: forward and backward side by side.

The cell is PyTorch's ``torch.nn.GRU``, gate blocks ordered [r | z | n], with the two biases kept
apart because the reset gate multiplies the recurrent part of the candidate, bias included:

    r = sigmoid(xr + hr)      z = sigmoid(xz + hz)      n = tanh(xn + r * hn)
    h_t = (1 - z) * n + z * h_{t-1}        computed as n + z * (h_{t-1} - n), as PyTorch does

where x* are the blocks of x_t @ W_ih + b_ih and h* those of h_{t-1} @ W_hh + b_hh. As for the
LSTM (``rnngen.kernels.lstm``), only the recurrent product lives in the time loop: the caller
projects the inputs of all T steps as one GEMM (without b_ih, which the gate math adds; rows read
by index, so a character model's layer 0 reads its (V, 3H) table) and computes the weight
gradients as GEMMs over all T*B rows, from the two pre-activation gradients the backward returns
(they differ only in the n block, where the recurrent side is scaled by r):

    dW_ih = X^T dGx    dX = dGx W_ih^T    dW_hh = hs[:T]^T dGh

The bias gradients are summed per batch row as the backward writes dGx and dGh, in an order that
does not depend on ``parts``: db_ih = sum of dbx's rows; db_hh has db_ih's r and z blocks (the two
sides share those pre-activations) and, as its n block, the sum of dbn's rows.

Unlike the LSTM, h_{t-1} also reaches h_t directly (through z), so the gradient flowing back to
h_{t-1} is dGh_t @ W_hh^T plus dh_t * z; the loop carries the two parts in separate buffers, so the
GEMM can overwrite its output.

Performance follows lstm.py: the batch is split into ``parts`` ranges whose whole time loops run on
one core each; float32 uses the packed micro-kernel of ``rnngen.kernels.gemm`` (W packed once per
call), float64 ``np.dot``; gate math goes through one view per gate block so LLVM vectorises it,
with the vectorisable float32 tanh/sigmoid of ``rnngen.kernels.mathfn``.
"""

import numpy as np
from numba import njit, prange

from rnngen.kernels import JIT, JIT_PAR
from rnngen.kernels.gemm import PANEL, gemm_panels, pack_panels, use_packed
from rnngen.kernels.mathfn import sigmoid, tanh

# ---------------------------------------------------------------------------------------------
# gate math of one batch row (shared by both GEMM paths)


@njit(**JIT)
def _gates_forward(a, hn, x, b_ih, rec, b_hh, h_prev, h, H):
    """a (3H) out: activated [r z n]; hn (H) out: recurrent n pre-activation incl. its bias.

    x (3H) x_t @ W_ih without bias; rec (>= 3H) h_{t-1} @ W_hh without bias; h (H) out: h_t.
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
def _gates_backward(dx, dg, a, hn, h_prev, dht, dhr, dhd, sx, sn, H):
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
# time loops over batch rows b0:b1


@njit(**JIT)
def _forward_rows(xin, xrow, b_ih, W_hh, b_hh, h0, hs, acts, hns, b0, b1):
    """``gru_forward`` for batch rows b0:b1 (BLAS path)."""
    T = xrow.shape[0]
    H = W_hh.shape[0]
    hs[0, b0:b1] = h0[b0:b1]
    rec = np.empty((b1 - b0, 3 * H), xin.dtype)  # (B_part, 3H)
    for t in range(T):
        np.dot(hs[t, b0:b1], W_hh, rec)
        for b in range(b0, b1):
            _gates_forward(acts[t, b], hns[t, b], xin[xrow[t, b]], b_ih, rec[b - b0], b_hh,
                           hs[t, b], hs[t + 1, b], H)  # fmt: skip


@njit(**JIT)
def _backward_rows(dGx, dGh, dhs, W_hhT, acts, hns, hs, dh, dbx, dbn, b0, b1):
    """``gru_backward`` for batch rows b0:b1, in reverse order of the forward (BLAS path)."""
    T = dGx.shape[0]
    H = W_hhT.shape[1]
    M = b1 - b0
    dhr = np.empty((M, H), dGx.dtype)  # gradient reaching h_t through W_hh
    dhr[:] = dh[b0:b1]
    dhd = np.zeros((M, H), dGx.dtype)  # gradient reaching h_t directly through z
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            _gates_backward(
                dGx[t, b], dGh[t, b], acts[t, b], hns[t, b], hs[t, b], dhs[t, b],
                dhr[b - b0], dhd[b - b0], dbx[b], dbn[b], H,
            )  # fmt: skip
        np.dot(dGh[t, b0:b1], W_hhT, dhr)
    dh[b0:b1] = dhr + dhd


@njit(**JIT)
def _forward_rows_packed(xin, xrow, b_ih, Wp, b_hh, h0, hs, acts, hns, b0, b1):
    """``_forward_rows`` with the float32 micro-kernel; Wp = pack_panels(W_hh)."""
    T = xrow.shape[0]
    H = hs.shape[2]
    M = b1 - b0
    hs[0, b0:b1] = h0[b0:b1]
    ldc = Wp.shape[0] * PANEL
    rec = np.empty((M, ldc), xin.dtype)  # (B_part, 3H padded to whole panels)
    lda = hs.strides[1] // 4
    for t in range(T):
        aoff = (t * hs.strides[0] + b0 * hs.strides[1]) // 4
        gemm_panels(hs, aoff, lda, M, Wp, rec, ldc)
        for b in range(b0, b1):
            _gates_forward(acts[t, b], hns[t, b], xin[xrow[t, b]], b_ih, rec[b - b0], b_hh,
                           hs[t, b], hs[t + 1, b], H)  # fmt: skip


@njit(**JIT)
def _backward_rows_packed(dGx, dGh, dhs, WTp, acts, hns, hs, dh, dbx, dbn, b0, b1):
    """``_backward_rows`` with the float32 micro-kernel; WTp = pack_panels(W_hh.T)."""
    T = dGx.shape[0]
    H = hs.shape[2]
    M = b1 - b0
    ldc = WTp.shape[0] * PANEL
    dhr = np.empty((M, ldc), dGx.dtype)  # (B_part, H padded): gradient through W_hh
    dhr[:, :H] = dh[b0:b1]
    dhd = np.zeros((M, H), dGx.dtype)  # gradient reaching h_t directly through z
    lda = dGh.strides[1] // 4
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            _gates_backward(
                dGx[t, b], dGh[t, b], acts[t, b], hns[t, b], hs[t, b], dhs[t, b],
                dhr[b - b0], dhd[b - b0], dbx[b], dbn[b], H,
            )  # fmt: skip
        aoff = (t * dGh.strides[0] + b0 * dGh.strides[1]) // 4
        gemm_panels(dGh, aoff, lda, M, WTp, dhr, ldc)
    dh[b0:b1] = dhr[:, :H] + dhd


# ---------------------------------------------------------------------------------------------
# public kernels: the batch split into ``parts`` ranges run in parallel


def gru_forward(xin, xrow, b_ih, W_hh, b_hh, h0, hs, acts, hns, parts: int) -> None:
    """Forward over T steps, keeping what the backward needs; ``parts`` >= 1 (capped at B).

    xin  (R, 3H)      input projections x @ W_ih, without the bias (read)
    xrow (T, B)       the row of xin that step t of batch row b reads
    b_ih (3H,)        input bias, added in the gate math
    W_hh (H, 3H)      recurrent weights;  b_hh (3H,) recurrent bias
    h0   (B, H)       carried hidden state
    hs   (T+1, B, H)  out: hs[0] = h0, hs[t+1] = h_t
    acts (T, B, 3H)   out: activated gates [r z n]
    hns  (T, B, H)    out: the n block of h_{t-1} @ W_hh + b_hh

    Dense inputs pass xin = xp.reshape(T*B, 3H) with xrow[t, b] = t*B + b; at character level
    xin can be the (V, 3H) table embed @ W_ih with xrow the tokens.
    """
    if use_packed(acts, W_hh, hs, xin):
        Wp = pack_panels(W_hh)
        _forward_par_packed(xin, xrow, b_ih, Wp, b_hh, h0, hs, acts, hns, parts)
    else:
        _forward_par(xin, xrow, b_ih, W_hh, b_hh, h0, hs, acts, hns, parts)


def gru_backward(dGx, dGh, dhs, W_hh, acts, hns, hs, dh, dbx, dbn, parts: int) -> None:
    """Backward over T steps, in reverse order of the forward; ``parts`` >= 1 (capped at B).

    dGx   (T, B, 3H)  out: gradient w.r.t. the input pre-activations x_t @ W_ih + b_ih
    dGh   (T, B, 3H)  out: gradient w.r.t. h_{t-1} @ W_hh + b_hh
    dhs   (T, B, H)   gradient w.r.t. h_1..h_T arriving from above (read)
    W_hh  (H, 3H)     recurrent weights (transposed and packed here)
    acts, hns, hs     caches written by ``gru_forward``
    dh    (B, H)      in: gradient arriving at h_T (zero under truncated BPTT); out: at h0
    dbx   (B, 3H)     out: dbx[b] = sum over t of dGx[t, b] (b_ih's gradient of batch row b)
    dbn   (B, H)      out: the same sums of dGh's n block (the rest of dGh equals dGx)
    """
    dbx[...] = 0.0
    dbn[...] = 0.0
    if use_packed(dGh, W_hh, dhs, acts):
        WTp = pack_panels(W_hh.T)
        _backward_par_packed(dGx, dGh, dhs, WTp, acts, hns, hs, dh, dbx, dbn, parts)
    else:
        W_hhT = np.ascontiguousarray(W_hh.T)
        _backward_par(dGx, dGh, dhs, W_hhT, acts, hns, hs, dh, dbx, dbn, parts)


# one parallel driver per GEMM path, picked in Python by use_packed: a driver holding both paths
# compiled both, 8-10 s of first compile per kernel against 4-5


@njit(**JIT_PAR)
def _forward_par_packed(xin, xrow, b_ih, Wp, b_hh, h0, hs, acts, hns, parts):
    B = acts.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _forward_rows_packed(xin, xrow, b_ih, Wp, b_hh, h0, hs, acts, hns, b0, b1)


@njit(**JIT_PAR)
def _forward_par(xin, xrow, b_ih, W_hh, b_hh, h0, hs, acts, hns, parts):
    B = acts.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _forward_rows(xin, xrow, b_ih, W_hh, b_hh, h0, hs, acts, hns, b0, b1)


@njit(**JIT_PAR)
def _backward_par_packed(dGx, dGh, dhs, WTp, acts, hns, hs, dh, dbx, dbn, parts):
    B = dGx.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _backward_rows_packed(dGx, dGh, dhs, WTp, acts, hns, hs, dh, dbx, dbn, b0, b1)


@njit(**JIT_PAR)
def _backward_par(dGx, dGh, dhs, W_hhT, acts, hns, hs, dh, dbx, dbn, parts):
    B = dGx.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _backward_rows(dGx, dGh, dhs, W_hhT, acts, hns, hs, dh, dbx, dbn, b0, b1)
