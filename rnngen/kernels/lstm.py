"""LSTM time loops: forward and backward side by side.

Only the recurrent product ``h @ W_hh`` lives inside the time loop. The caller does the input
projection of all T steps as one GEMM before the forward, and the weight gradients as one GEMM over
all T*B rows after the backward (see ``rnngen.model``). Gate blocks are ordered [i | f | g | o], as
PyTorch orders them, so weights are comparable.

    i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)

The batch rows are independent, so ``*_par`` split them into ``parts`` ranges and run each range's
whole time loop on its own core (single-threaded BLAS inside): no thread handoff per step. Gate math
uses one view per gate block; with ``a[H + j]``-style indexing LLVM does not vectorise (3x slower).
"""

import numpy as np
from numba import njit, prange

from rnngen.kernels import JIT, JIT_PAR
from rnngen.kernels.mathfn import sigmoid, tanh


@njit(**JIT)
def lstm_forward_rows(xp, W_hh, h0, c0, hs, cs, acts, tcs, b0, b1):
    """Forward over T steps for batch rows b0:b1, keeping what the backward needs.

    xp   (T, B, 4H)   input projections x_t @ W_ih + b of all steps (read)
    W_hh (H, 4H)      recurrent weights
    h0   (B, H)       carried hidden state;  c0 (B, H) carried cell state
    hs   (T+1, B, H)  out: hs[0] = h0, hs[t+1] = h_t
    cs   (T+1, B, H)  out: cs[0] = c0, cs[t+1] = c_t
    acts (T, B, 4H)   out: activated gates [i f g o]
    tcs  (T, B, H)    out: tanh(c_t)
    """
    T = xp.shape[0]
    H = W_hh.shape[0]
    hs[0, b0:b1] = h0[b0:b1]
    cs[0, b0:b1] = c0[b0:b1]
    rec = np.empty((b1 - b0, 4 * H), xp.dtype)  # (B_part, 4H)
    for t in range(T):
        np.dot(hs[t, b0:b1], W_hh, rec)
        for b in range(b0, b1):
            a, x, r = acts[t, b], xp[t, b], rec[b - b0]
            ai, af, ag, ao = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
            xi, xf, xg, xo = x[:H], x[H : 2 * H], x[2 * H : 3 * H], x[3 * H :]
            ri, rf, rg, ro = r[:H], r[H : 2 * H], r[2 * H : 3 * H], r[3 * H :]
            c_prev, c, tc, h = cs[t, b], cs[t + 1, b], tcs[t, b], hs[t + 1, b]
            for j in range(H):
                i = sigmoid(xi[j] + ri[j])
                f = sigmoid(xf[j] + rf[j])
                g = tanh(xg[j] + rg[j])
                o = sigmoid(xo[j] + ro[j])
                ai[j], af[j], ag[j], ao[j] = i, f, g, o
                cj = f * c_prev[j] + i * g
                c[j] = cj
                tcj = tanh(cj)
                tc[j] = tcj
                h[j] = o * tcj


@njit(**JIT)
def lstm_backward_rows(dG, dhs, W_hhT, acts, cs, tcs, dh, dc, b0, b1):
    """Backward over T steps for batch rows b0:b1, in reverse order of the forward.

    dG    (T, B, 4H)  out: gradient of the loss w.r.t. the gate pre-activations
    dhs   (T, B, H)   gradient w.r.t. h_1..h_T arriving from above (read)
    W_hhT (4H, H)     W_hh transposed, contiguous
    acts, cs, tcs     caches written by ``lstm_forward_rows``
    dh, dc (B, H)     in: gradient arriving at h_T, c_T (zero under truncated BPTT);
                      out: gradient w.r.t. h0, c0
    """
    T = dG.shape[0]
    H = W_hhT.shape[1]
    one = dG.dtype.type(1.0)
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            a, d = acts[t, b], dG[t, b]
            ai, af, ag, ao = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
            di, df, dg, do = d[:H], d[H : 2 * H], d[2 * H : 3 * H], d[3 * H :]
            dht, c_prev, tc, dhb, dcb = dhs[t, b], cs[t, b], tcs[t, b], dh[b], dc[b]
            for j in range(H):
                i, f, g, o = ai[j], af[j], ag[j], ao[j]
                dh_j = dht[j] + dhb[j]
                dc_j = dcb[j] + dh_j * o * (one - tc[j] * tc[j])
                di[j] = dc_j * g * i * (one - i)
                df[j] = dc_j * c_prev[j] * f * (one - f)
                dg[j] = dc_j * i * (one - g * g)
                do[j] = dh_j * tc[j] * o * (one - o)
                dcb[j] = dc_j * f
        np.dot(dG[t, b0:b1], W_hhT, dh[b0:b1])


@njit(**JIT_PAR)
def lstm_forward(xp, W_hh, h0, c0, hs, cs, acts, tcs, parts):
    """``lstm_forward_rows`` over all B rows, split into ``parts`` ranges run in parallel."""
    B = xp.shape[1]
    for p in prange(parts):
        lstm_forward_rows(xp, W_hh, h0, c0, hs, cs, acts, tcs, p * B // parts, (p + 1) * B // parts)


@njit(**JIT_PAR)
def lstm_backward(dG, dhs, W_hhT, acts, cs, tcs, dh, dc, parts):
    """``lstm_backward_rows`` over all B rows, split into ``parts`` ranges run in parallel."""
    B = dG.shape[1]
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        lstm_backward_rows(dG, dhs, W_hhT, acts, cs, tcs, dh, dc, b0, b1)
