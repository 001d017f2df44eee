"""LSTM time loops: forward and backward side by side.

Only the recurrent product ``h @ W_hh`` lives inside the time loop. The caller does the input
projection of all T steps as one GEMM before the forward, and the weight gradients as one GEMM over
all T*B rows after the backward (see ``rnngen.cells``). The loops do the passes over (T, B, 4H)
that would otherwise each cost a trip through memory: the forward adds the bias in the gate math
and reads input rows by index (so a character model's layer 0 reads its (V, 4H) table directly),
and the backward sums each batch row's gate gradients over time as it writes them (the bias
gradient, summed over rows by the caller in an order that does not depend on ``parts``, so the
result is the same bit for bit whatever the number of threads). Gate blocks are ordered
[i | f | g | o], as PyTorch orders them, so weights are comparable.

    i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)

The batch rows are independent, so the loops split them into ``parts`` ranges and run each range's
whole time loop on its own core: no thread handoff per step. Gate math uses one view per gate block;
with ``a[H + j]``-style indexing LLVM does not vectorise (3x slower).

The per-step product is tiny (e.g. 16x128 @ 128x512) and BLAS handles it badly, so in float32 the
loops use their own GEMM (``rnngen.kernels.gemm``: W packed once per call into 64-column panels, a
register-blocked AVX-512 micro-kernel per tile). Float64 keeps ``np.dot`` (the gradient-check path).
"""

import numpy as np
from numba import njit, prange

from rnngen.kernels import JIT, JIT_PAR
from rnngen.kernels.gemm import PANEL, gemm_panels, pack_panels, use_packed
from rnngen.kernels.mathfn import sigmoid, tanh

# ---------------------------------------------------------------------------------------------
# gate math of one batch row (shared by both GEMM paths)


@njit(**JIT)
def _gates_forward(a, x, r, bias, c_prev, c, tc, h, H):
    """a (4H) out: activated gates; x, r, bias (4H): input and recurrent pre-activations, bias."""
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
def _gates_backward(d, a, dht, dhr, c_prev, tc, dcb, ds, H):
    """d (4H) out: gate pre-activation gradients, also added to ds (4H); dht + dhr = gradient at
    h_t; dcb in/out."""
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
# time loops over batch rows b0:b1


@njit(**JIT)
def lstm_forward_rows(xin, xrow, bias, W_hh, h0, c0, hs, cs, acts, tcs, b0, b1):
    """Forward over T steps for batch rows b0:b1, keeping what the backward needs (BLAS path).

    xin  (R, 4H)      input projections x @ W_ih, without the bias (read)
    xrow (T, B)       the row of xin that step t of batch row b reads
    bias (4H)         the layer's bias, added in the gate math
    W_hh (H, 4H)      recurrent weights
    h0   (B, H)       carried hidden state;  c0 (B, H) carried cell state
    hs   (T+1, B, H)  out: hs[0] = h0, hs[t+1] = h_t
    cs   (T+1, B, H)  out: cs[0] = c0, cs[t+1] = c_t
    acts (T, B, 4H)   out: activated gates [i f g o]
    tcs  (T, B, H)    out: tanh(c_t)
    """
    T = xrow.shape[0]
    H = W_hh.shape[0]
    hs[0, b0:b1] = h0[b0:b1]
    cs[0, b0:b1] = c0[b0:b1]
    rec = np.empty((b1 - b0, 4 * H), xin.dtype)  # (B_part, 4H)
    for t in range(T):
        np.dot(hs[t, b0:b1], W_hh, rec)
        for b in range(b0, b1):
            _gates_forward(
                acts[t, b], xin[xrow[t, b]], rec[b - b0], bias, cs[t, b], cs[t + 1, b],
                tcs[t, b], hs[t + 1, b], H,
            )  # fmt: skip


@njit(**JIT)
def lstm_backward_rows(dG, dhs, W_hhT, acts, cs, tcs, dh, dc, db, b0, b1):
    """Backward over T steps for batch rows b0:b1, in reverse order of the forward (BLAS path).

    dG    (T, B, 4H)  out: gradient of the loss w.r.t. the gate pre-activations
    dhs   (T, B, H)   gradient w.r.t. h_1..h_T arriving from above (read)
    W_hhT (4H, H)     W_hh transposed, contiguous
    acts, cs, tcs     caches written by ``lstm_forward_rows``
    dh, dc (B, H)     in: gradient arriving at h_T, c_T (zero under truncated BPTT);
                      out: gradient w.r.t. h0, c0
    db    (B, 4H)     out: db[b] = sum over t of dG[t, b] (the bias gradient of batch row b)
    """
    T = dG.shape[0]
    H = W_hhT.shape[1]
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            _gates_backward(dG[t, b], acts[t, b], dhs[t, b], dh[b], cs[t, b], tcs[t, b], dc[b],
                            db[b], H)  # fmt: skip
        np.dot(dG[t, b0:b1], W_hhT, dh[b0:b1])


@njit(**JIT)
def _forward_rows_packed(xin, xrow, bias, Wp, h0, c0, hs, cs, acts, tcs, b0, b1):
    """``lstm_forward_rows`` with the float32 micro-kernel; Wp = pack_panels(W_hh)."""
    T, B, G = acts.shape
    H = G // 4
    M = b1 - b0
    hs[0, b0:b1] = h0[b0:b1]
    cs[0, b0:b1] = c0[b0:b1]
    ldc = Wp.shape[0] * PANEL
    rec = np.empty((M, ldc), xin.dtype)  # (B_part, 4H padded to whole panels)
    lda = hs.strides[1] // 4
    for t in range(T):
        aoff = (t * hs.strides[0] + b0 * hs.strides[1]) // 4
        gemm_panels(hs, aoff, lda, M, Wp, rec, ldc)
        for b in range(b0, b1):
            _gates_forward(
                acts[t, b], xin[xrow[t, b]], rec[b - b0], bias, cs[t, b], cs[t + 1, b],
                tcs[t, b], hs[t + 1, b], H,
            )  # fmt: skip


@njit(**JIT)
def _backward_rows_packed(dG, dhs, WTp, acts, cs, tcs, dh, dc, db, b0, b1):
    """``lstm_backward_rows`` with the float32 micro-kernel; WTp = pack_panels(W_hh.T)."""
    T, B, G = dG.shape
    H = G // 4
    M = b1 - b0
    ldc = WTp.shape[0] * PANEL
    dhr = np.empty((M, ldc), dG.dtype)  # gradient reaching h_t through the recurrence
    dhr[:, :H] = dh[b0:b1]
    lda = dG.strides[1] // 4
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            _gates_backward(dG[t, b], acts[t, b], dhs[t, b], dhr[b - b0], cs[t, b], tcs[t, b],
                            dc[b], db[b], H)  # fmt: skip
        aoff = (t * dG.strides[0] + b0 * dG.strides[1]) // 4
        gemm_panels(dG, aoff, lda, M, WTp, dhr, ldc)
    dh[b0:b1] = dhr[:, :H]


# ---------------------------------------------------------------------------------------------
# public kernels: the batch split into ``parts`` ranges run in parallel


def lstm_forward(xin, xrow, bias, W_hh, h0, c0, hs, cs, acts, tcs, parts: int) -> None:
    """Forward over all B rows, split into ``parts`` ranges run in parallel.

    Shapes as in ``lstm_forward_rows``; ``parts`` >= 1 (capped at B). Dense inputs pass
    xin = xp.reshape(T*B, 4H) with xrow[t, b] = t*B + b; at character level xin can be the
    (V, 4H) table embed @ W_ih with xrow the tokens, so no (T, B, 4H) input array exists at all.
    """
    if use_packed(acts, W_hh, hs, xin):
        _forward_par_packed(xin, xrow, bias, pack_panels(W_hh), h0, c0, hs, cs, acts, tcs, parts)
    else:
        _forward_par(xin, xrow, bias, W_hh, h0, c0, hs, cs, acts, tcs, parts)


def lstm_backward(dG, dhs, W_hh, acts, cs, tcs, dh, dc, db, parts: int) -> None:
    """Backward over all B rows, split into ``parts`` ranges run in parallel.

    Shapes as in ``lstm_backward_rows``; ``parts`` >= 1 (capped at B).
    """
    db[...] = 0.0
    if use_packed(dG, W_hh, dhs, acts):
        _backward_par_packed(dG, dhs, pack_panels(W_hh.T), acts, cs, tcs, dh, dc, db, parts)
    else:
        W_hhT = np.ascontiguousarray(W_hh.T)
        _backward_par(dG, dhs, W_hhT, acts, cs, tcs, dh, dc, db, parts)


# one parallel driver per GEMM path, picked in Python by use_packed: a driver holding both paths
# compiled both, 8-10 s of first compile per kernel against 4-5


@njit(**JIT_PAR)
def _forward_par_packed(xin, xrow, bias, Wp, h0, c0, hs, cs, acts, tcs, parts):
    B = acts.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _forward_rows_packed(xin, xrow, bias, Wp, h0, c0, hs, cs, acts, tcs, b0, b1)


@njit(**JIT_PAR)
def _forward_par(xin, xrow, bias, W_hh, h0, c0, hs, cs, acts, tcs, parts):
    B = acts.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        lstm_forward_rows(xin, xrow, bias, W_hh, h0, c0, hs, cs, acts, tcs, b0, b1)


@njit(**JIT_PAR)
def _backward_par_packed(dG, dhs, WTp, acts, cs, tcs, dh, dc, db, parts):
    B = dG.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _backward_rows_packed(dG, dhs, WTp, acts, cs, tcs, dh, dc, db, b0, b1)


@njit(**JIT_PAR)
def _backward_par(dG, dhs, W_hhT, acts, cs, tcs, dh, dc, db, parts):
    B = dG.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        lstm_backward_rows(dG, dhs, W_hhT, acts, cs, tcs, dh, dc, db, b0, b1)
