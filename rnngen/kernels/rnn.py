"""Elman RNN time loops: forward and backward side by side.

    h_t = f(xp_t + h_{t-1} @ W_hh)        f = tanh, or ReLU when ``relu`` is True

with xp_t = x_t @ W_ih + b and the single bias b (PyTorch's b_ih + b_hh of ``torch.nn.RNN``). As
for the LSTM (``rnngen.kernels.lstm``), only the recurrent product lives in the time loop: the
caller projects the inputs of all T steps as one GEMM (without b, which the loop adds; rows read by
index, so a character model's layer 0 reads its (V, H) table) and, from the pre-activation
gradient dG the backward returns, computes dW_ih = X^T dG, dX = dG W_ih^T and dW_hh = hs[:T]^T dG.
The backward sums dG per batch row as it writes it (the bias gradient, in an order that does not
depend on ``parts``), and takes f' from the outputs alone (tanh: 1 - h^2, ReLU: h > 0), so no
pre-activations are stored.

Performance follows lstm.py: the batch is split into ``parts`` ranges whose whole time loops run on
one core each; float32 uses the packed micro-kernel of ``rnngen.kernels.gemm`` (W packed once per
call), float64 ``np.dot``; the float32 tanh is the vectorisable one of ``rnngen.kernels.mathfn``.
``relu`` is a runtime flag tested outside the loop over units, so both variants vectorise.
"""

import numpy as np
from numba import njit, prange

from rnngen.kernels import JIT, JIT_PAR
from rnngen.kernels.gemm import PANEL, gemm_panels, pack_panels, use_packed
from rnngen.kernels.mathfn import tanh

# ---------------------------------------------------------------------------------------------
# activation of one batch row (shared by both GEMM paths)


@njit(**JIT)
def _act_forward(h, x, bias, rec, H, relu):
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
def _act_backward(d, h, dht, dhr, s, H, relu):
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
# time loops over batch rows b0:b1


@njit(**JIT)
def _forward_rows(xin, xrow, bias, W_hh, h0, hs, relu, b0, b1):
    """``rnn_forward`` for batch rows b0:b1 (BLAS path)."""
    T = xrow.shape[0]
    H = W_hh.shape[0]
    hs[0, b0:b1] = h0[b0:b1]
    rec = np.empty((b1 - b0, H), xin.dtype)  # (B_part, H)
    for t in range(T):
        np.dot(hs[t, b0:b1], W_hh, rec)
        for b in range(b0, b1):
            _act_forward(hs[t + 1, b], xin[xrow[t, b]], bias, rec[b - b0], H, relu)


@njit(**JIT)
def _backward_rows(dG, dhs, W_hhT, hs, dh, db, relu, b0, b1):
    """``rnn_backward`` for batch rows b0:b1, in reverse order of the forward (BLAS path)."""
    T = dG.shape[0]
    H = W_hhT.shape[1]
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            _act_backward(dG[t, b], hs[t + 1, b], dhs[t, b], dh[b], db[b], H, relu)
        np.dot(dG[t, b0:b1], W_hhT, dh[b0:b1])


@njit(**JIT)
def _forward_rows_packed(xin, xrow, bias, Wp, h0, hs, relu, b0, b1):
    """``_forward_rows`` with the float32 micro-kernel; Wp = pack_panels(W_hh)."""
    T = xrow.shape[0]
    H = hs.shape[2]
    M = b1 - b0
    hs[0, b0:b1] = h0[b0:b1]
    ldc = Wp.shape[0] * PANEL
    rec = np.empty((M, ldc), xin.dtype)  # (B_part, H padded to whole panels)
    lda = hs.strides[1] // 4
    for t in range(T):
        aoff = (t * hs.strides[0] + b0 * hs.strides[1]) // 4
        gemm_panels(hs, aoff, lda, M, Wp, rec, ldc)
        for b in range(b0, b1):
            _act_forward(hs[t + 1, b], xin[xrow[t, b]], bias, rec[b - b0], H, relu)


@njit(**JIT)
def _backward_rows_packed(dG, dhs, WTp, hs, dh, db, relu, b0, b1):
    """``_backward_rows`` with the float32 micro-kernel; WTp = pack_panels(W_hh.T)."""
    T = dG.shape[0]
    H = hs.shape[2]
    M = b1 - b0
    ldc = WTp.shape[0] * PANEL
    dhr = np.empty((M, ldc), dG.dtype)  # (B_part, H padded): gradient reaching h_t through W_hh
    dhr[:, :H] = dh[b0:b1]
    lda = dG.strides[1] // 4
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            _act_backward(dG[t, b], hs[t + 1, b], dhs[t, b], dhr[b - b0], db[b], H, relu)
        aoff = (t * dG.strides[0] + b0 * dG.strides[1]) // 4
        gemm_panels(dG, aoff, lda, M, WTp, dhr, ldc)
    dh[b0:b1] = dhr[:, :H]


# ---------------------------------------------------------------------------------------------
# public kernels: the batch split into ``parts`` ranges run in parallel


def rnn_forward(xin, xrow, bias, W_hh, h0, hs, relu: bool, parts: int) -> None:
    """Forward over T steps; ``parts`` >= 1 (capped at B).

    xin  (R, H)       input projections x @ W_ih, without the bias (read)
    xrow (T, B)       the row of xin that step t of batch row b reads
    bias (H,)         the layer's bias, added before the activation
    W_hh (H, H)       recurrent weights
    h0   (B, H)       carried hidden state
    hs   (T+1, B, H)  out: hs[0] = h0, hs[t+1] = h_t (all the backward needs)
    relu              bool: ReLU instead of tanh

    Dense inputs pass xin = xp.reshape(T*B, H) with xrow[t, b] = t*B + b; at character level xin
    can be the (V, H) table embed @ W_ih with xrow the tokens.
    """
    if use_packed(hs, W_hh, hs, xin):
        _forward_par_packed(xin, xrow, bias, pack_panels(W_hh), h0, hs, relu, parts)
    else:
        _forward_par(xin, xrow, bias, W_hh, h0, hs, relu, parts)


def rnn_backward(dG, dhs, W_hh, hs, dh, db, relu: bool, parts: int) -> None:
    """Backward over T steps, in reverse order of the forward; ``parts`` >= 1 (capped at B).

    dG    (T, B, H)   out: gradient w.r.t. the pre-activations xp_t + h_{t-1} @ W_hh
    dhs   (T, B, H)   gradient w.r.t. h_1..h_T arriving from above (read)
    W_hh  (H, H)      recurrent weights (transposed and packed here)
    hs    (T+1, B, H) written by ``rnn_forward``
    dh    (B, H)      in: gradient arriving at h_T (zero under truncated BPTT); out: at h0
    db    (B, H)      out: db[b] = sum over t of dG[t, b] (the bias gradient of batch row b)
    relu              bool, as in the forward
    """
    db[...] = 0.0
    if use_packed(dG, W_hh, dhs, hs):
        _backward_par_packed(dG, dhs, pack_panels(W_hh.T), hs, dh, db, relu, parts)
    else:
        W_hhT = np.ascontiguousarray(W_hh.T)
        _backward_par(dG, dhs, W_hhT, hs, dh, db, relu, parts)


# one parallel driver per GEMM path, picked in Python by use_packed: a driver holding both paths
# compiled both, 8-10 s of first compile per kernel against 4-5


@njit(**JIT_PAR)
def _forward_par_packed(xin, xrow, bias, Wp, h0, hs, relu, parts):
    B = hs.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _forward_rows_packed(xin, xrow, bias, Wp, h0, hs, relu, b0, b1)


@njit(**JIT_PAR)
def _forward_par(xin, xrow, bias, W_hh, h0, hs, relu, parts):
    B = hs.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _forward_rows(xin, xrow, bias, W_hh, h0, hs, relu, b0, b1)


@njit(**JIT_PAR)
def _backward_par_packed(dG, dhs, WTp, hs, dh, db, relu, parts):
    B = dG.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _backward_rows_packed(dG, dhs, WTp, hs, dh, db, relu, b0, b1)


@njit(**JIT_PAR)
def _backward_par(dG, dhs, W_hhT, hs, dh, db, relu, parts):
    B = dG.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _backward_rows(dG, dhs, W_hhT, hs, dh, db, relu, b0, b1)
