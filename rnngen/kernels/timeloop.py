"""The time loops of every recurrent layer, written once for all cells: forward and backward.

Only the recurrent product ``h_{t-1} @ W_hh`` lives inside the time loop. The caller
(``rnngen.nn.recurrent``) does the input projection of all T steps as one GEMM before the forward
(or hands a character model's (V, G) table, read by token), and the weight gradients as GEMMs over
all T*B rows after the backward. What happens to one batch row at one step is the cell's own math
(``rnngen.kernels.cellcall``): the loops below know nothing of gates.

    forward   for t = 0..T-1:  rec = h_{t-1} @ W_hh;  every row b: the cell's forward step
    backward  for t = T-1..0:  every row b: the cell's backward step;  dhr = grads[0][t] @ W_hh^T

The batch rows are independent, so the loops split them into ``parts`` ranges and run each range's
whole time loop on its own core: no thread handoff per step. The per-step product is tiny (e.g.
16x128 @ 128x512) and BLAS handles it badly, so in float32 the loops use their own GEMM
(``rnngen.kernels.gemm``: W packed once per call into 64-column panels, a register-blocked AVX-512
micro-kernel per tile); float64 keeps ``np.dot`` (the gradient-check path). Every sum keeps its
order whatever ``parts`` is, so the results do not depend on the number of threads, bit for bit.

Arguments, for B batch rows, T steps, H units, G = gates * H columns:

    cell    the cell's ``CellKernels``
    xin     (R, G)       input projections x @ W_ih, without bias (read)
    xrow    (T, B) int   the row of xin that step t of batch row b reads
    bias    (nb, G)      the cell's bias vectors
    W_hh    (H, G)       recurrent weights
    states  tuple of (T+1, B, H): the cell's state over time, states[0] = h; row 0 holds the
            initial state (the caller writes it), the forward writes rows 1..T
    caches  tuple of (T, B, ...): what the cell's backward needs, written by the forward
    grads   tuple of (T, B, G): out, the cell's pre-activation gradients; grads[0] is the one
            w.r.t. h_{t-1} @ W_hh (what multiplies W_hh^T)
    dhs     (T, B, H)    gradient w.r.t. h_1..h_T arriving from above (read)
    sums    tuple of (B, ...): out, per batch row, the sums over t the cell keeps (bias gradients),
            zeroed here
    carry   tuple of (B, H): in, the gradient arriving at the final state's other parts; out, at
            the initial state's (the cell's business)
    dh      (B, H)       in: gradient arriving at h_T (zero under truncated BPTT); out: at h_0
"""

import numpy as np
from numba import njit, prange

from rnngen.kernels import JIT, JIT_PAR
from rnngen.kernels.cellcall import cell_backward, cell_forward
from rnngen.kernels.gemm import PANEL, gemm_panels, pack_panels, use_packed


def forward(cell, xin, xrow, bias, W_hh, states, caches, lengths, parts: int) -> None:
    """Forward over T steps of all B rows, split into ``parts`` ranges run in parallel."""
    if use_packed(xin, W_hh, states[0]):
        _forward_par_packed(
            cell, xin, xrow, bias, pack_panels(W_hh), states, caches, lengths, parts
        )
    else:
        _forward_par(cell, xin, xrow, bias, W_hh, states, caches, lengths, parts)


def forward_packed(cell, xin, xrow, bias, Wp, states, caches, parts: int) -> None:
    """``forward`` of all T steps of every row, with W_hh packed by the caller (``pack_panels``),
    once for many calls: a model stepping one token at a time (``rnngen.generate.batch``) would
    otherwise pack it every step."""
    lengths = np.full(xrow.shape[1], xrow.shape[0], np.int64)
    _forward_par_packed(cell, xin, xrow, bias, Wp, states, caches, lengths, parts)


def backward(cell, grads, dhs, W_hh, states, caches, sums, carry, dh, lengths, parts: int) -> None:
    """Backward over T steps of all B rows, in reverse order of the forward, split into ``parts``
    ranges run in parallel."""
    for s in sums:
        s[...] = 0.0
    if use_packed(grads[0], W_hh, dhs):
        WTp = pack_panels(W_hh.T)
        _backward_par_packed(cell, grads, dhs, WTp, states, caches, sums, carry, dh, lengths, parts)
    else:
        W_hhT = np.ascontiguousarray(W_hh.T)
        _backward_par(cell, grads, dhs, W_hhT, states, caches, sums, carry, dh, lengths, parts)


# ---------------------------------------------------------------------------------------------
# time loops over batch rows b0:b1. Row b runs lengths[b] steps; at the later ones (padding of a
# shorter sequence) its state is held, so the state at T is the state after its last true step,
# and the backward passes the gradient at T straight back to that step.


@njit(**JIT)
def _hold(states, t, b):
    for s in states:
        s[t + 1, b] = s[t, b]


@njit(**JIT)
def _no_grads(grads, t, b):
    for g in grads:
        g[t, b] = 0.0


@njit(**JIT)
def _forward_rows(cell, xin, xrow, bias, W_hh, states, caches, lengths, b0, b1):
    """``forward`` for batch rows b0:b1 (BLAS path)."""
    T = xrow.shape[0]
    hs = states[0]
    rec = np.empty((b1 - b0, W_hh.shape[1]), xin.dtype)  # (B_part, G)
    for t in range(T):
        np.dot(hs[t, b0:b1], W_hh, rec)
        for b in range(b0, b1):
            if t < lengths[b]:
                cell_forward(cell, t, b, xin[xrow[t, b]], rec[b - b0], bias, states, caches)
            else:
                _hold(states, t, b)


@njit(**JIT)
def _backward_rows(cell, grads, dhs, W_hhT, states, caches, sums, carry, dh, lengths, b0, b1):
    """``backward`` for batch rows b0:b1, in reverse order of the forward (BLAS path)."""
    T = dhs.shape[0]
    dhr = np.empty((b1 - b0, dhs.shape[2]), dhs.dtype)  # gradient reaching h_t through W_hh
    dhr[:] = dh[b0:b1]
    dG = grads[0]
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            if t < lengths[b]:
                cell_backward(
                    cell, t, b, dhs[t, b], dhr[b - b0], states, caches, grads, sums, carry
                )
            else:
                _no_grads(grads, t, b)
        np.dot(dG[t, b0:b1], W_hhT, dhr)
        for b in range(b0, b1):
            if t >= lengths[b]:  # a held step passes the gradient at h_T straight through
                dhr[b - b0] = dh[b]
    dh[b0:b1] = dhr


@njit(**JIT)
def _forward_rows_packed(cell, xin, xrow, bias, Wp, states, caches, lengths, b0, b1):
    """``_forward_rows`` with the float32 micro-kernel; Wp = pack_panels(W_hh)."""
    T = xrow.shape[0]
    hs = states[0]
    M = b1 - b0
    ldc = Wp.shape[0] * PANEL
    rec = np.empty((M, ldc), xin.dtype)  # (B_part, G padded to whole panels)
    lda = hs.strides[1] // 4
    for t in range(T):
        aoff = (t * hs.strides[0] + b0 * hs.strides[1]) // 4
        gemm_panels(hs, aoff, lda, M, Wp, rec, ldc)
        for b in range(b0, b1):
            if t < lengths[b]:
                cell_forward(cell, t, b, xin[xrow[t, b]], rec[b - b0], bias, states, caches)
            else:
                _hold(states, t, b)


@njit(**JIT)
def _backward_rows_packed(cell, grads, dhs, WTp, states, caches, sums, carry, dh, lengths, b0, b1):
    """``_backward_rows`` with the float32 micro-kernel; WTp = pack_panels(W_hh.T)."""
    T, H = dhs.shape[0], dhs.shape[2]
    M = b1 - b0
    ldc = WTp.shape[0] * PANEL
    dhr = np.empty((M, ldc), dhs.dtype)  # (B_part, H padded): gradient reaching h_t through W_hh
    dhr[:, :H] = dh[b0:b1]
    dG = grads[0]
    lda = dG.strides[1] // 4
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            if t < lengths[b]:
                cell_backward(
                    cell, t, b, dhs[t, b], dhr[b - b0], states, caches, grads, sums, carry
                )
            else:
                _no_grads(grads, t, b)
        aoff = (t * dG.strides[0] + b0 * dG.strides[1]) // 4
        gemm_panels(dG, aoff, lda, M, WTp, dhr, ldc)
        for b in range(b0, b1):
            if t >= lengths[b]:  # a held step passes the gradient at h_T straight through
                dhr[b - b0, :H] = dh[b]
    dh[b0:b1] = dhr[:, :H]


# ---------------------------------------------------------------------------------------------
# the batch split into ``parts`` ranges run in parallel: one driver per GEMM path, picked in Python
# by use_packed (a driver holding both paths compiled both, 8-10 s of first compile against 4-5)


@njit(**JIT_PAR)
def _forward_par_packed(cell, xin, xrow, bias, Wp, states, caches, lengths, parts):
    B = xrow.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _forward_rows_packed(cell, xin, xrow, bias, Wp, states, caches, lengths, b0, b1)


@njit(**JIT_PAR)
def _forward_par(cell, xin, xrow, bias, W_hh, states, caches, lengths, parts):
    B = xrow.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _forward_rows(cell, xin, xrow, bias, W_hh, states, caches, lengths, b0, b1)


@njit(**JIT_PAR)
def _backward_par_packed(cell, grads, dhs, WTp, states, caches, sums, carry, dh, lengths, parts):
    B = dhs.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _backward_rows_packed(
            cell, grads, dhs, WTp, states, caches, sums, carry, dh, lengths, b0, b1
        )


@njit(**JIT_PAR)
def _backward_par(cell, grads, dhs, W_hhT, states, caches, sums, carry, dh, lengths, parts):
    B = dhs.shape[1]
    parts = max(1, min(parts, B))
    for p in prange(parts):
        b0, b1 = p * B // parts, (p + 1) * B // parts
        _backward_rows(cell, grads, dhs, W_hhT, states, caches, sums, carry, dh, lengths, b0, b1)
