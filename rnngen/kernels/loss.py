"""Embedding lookup/scatter and the fused softmax cross-entropy."""

import numpy as np
from numba import njit, prange

from rnngen.kernels import JIT, JIT_PAR
from rnngen.kernels.mathfn import exp


@njit(**JIT)
def embedding_forward(out, table, tokens):
    """out (N, E) = table (V, E) rows picked by tokens (N,)."""
    for n in range(tokens.shape[0]):
        out[n] = table[tokens[n]]


@njit(**JIT_PAR)
def embedding_backward(dtable, dout, tokens, parts):
    """dtable (V, E) += dout (N, E) scattered by tokens (N,); repeated tokens accumulate.

    The columns are split into ``parts`` ranges run in parallel, each adding all N rows in order,
    so every entry's sum is the same bit for bit whatever ``parts`` is.
    """
    E = dout.shape[1]
    parts = max(1, min(parts, E))
    for p in prange(parts):
        e0, e1 = p * E // parts, (p + 1) * E // parts
        for n in range(tokens.shape[0]):
            row = dtable[tokens[n], e0:e1]
            d = dout[n, e0:e1]
            for e in range(e1 - e0):
                row[e] += d[e]


@njit(**JIT_PAR)
def softmax_xent(logits, targets, scale, smoothing, parts):
    """Cross-entropy of softmax(logits) against targets, and its gradient, in one pass.

    logits    (N, V)  in: logits; out: scale * (softmax - q), the gradient of scale * the summed
                      objective, where q = (1 - smoothing) onehot(target) + smoothing / V
    targets   (N,)    int token ids
    smoothing         label smoothing eps in [0, 1): the objective of a row is
                      (1 - eps) (-log p_y) + eps mean_v (-log p_v) (Szegedy et al. 2016); 0: plain
    Returns the summed plain cross-entropy -log p_y in nats (what is reported and compared with
    validation; float64 accumulators, so long sums stay exact). The rows are split into ``parts``
    ranges run in parallel (at word level the exps cost as much as a GEMM); the sum is the same
    for the same ``parts``.
    """
    N = logits.shape[0]
    parts = max(1, min(parts, N))
    totals = np.zeros(parts)
    for p in prange(parts):
        n0, n1 = p * N // parts, (p + 1) * N // parts
        totals[p] = _softmax_xent_rows(logits, targets, scale, smoothing, n0, n1)
    return totals.sum()


@njit(**JIT)
def _softmax_xent_rows(logits, targets, scale, smoothing, n0, n1):
    """``softmax_xent`` over rows n0:n1; returns their summed loss."""
    V = logits.shape[1]
    total = 0.0
    spread = logits.dtype.type(scale * smoothing / V)  # what every entry's target share takes off
    hit = logits.dtype.type(scale * (1.0 - smoothing))
    for n in range(n0, n1):
        z = logits[n]
        m = z[0]
        for v in range(1, V):
            m = max(m, z[v])
        y = targets[n]
        zy = z[y] - m
        s = z.dtype.type(0.0)
        for v in range(V):
            e = exp(z[v] - m)
            z[v] = e
            s += e
        total += np.log(s) - zy  # -log p_y = log sum_v e^(z_v - m) - (z_y - m)
        k = scale / s
        if smoothing == 0.0:
            for v in range(V):
                z[v] *= k
            z[y] -= scale
        else:
            for v in range(V):
                z[v] = z[v] * k - spread
            z[y] -= hit
    return total


@njit(inline="always", **JIT)
def _row_xent(z, y):
    """-log softmax(z)[y] for one row z (V,), z untouched: log sum_v e^(z_v - m) - (z_y - m)."""
    m = z[0]
    for v in range(1, z.shape[0]):
        m = max(m, z[v])
    s = z.dtype.type(0.0)
    for v in range(z.shape[0]):
        s += exp(z[v] - m)
    return np.log(s) - (z[y] - m)


@njit(**JIT)
def softmax_xent_loss(logits, targets, smoothing=0.0):
    """Summed cross-entropy of softmax(logits) (N, V) against targets (N,); logits untouched.
    With ``smoothing`` eps > 0, the label-smoothed objective whose gradient ``softmax_xent``
    writes: (1 - eps) (-log p_y) + eps mean_v (-log p_v) per row."""
    total = 0.0
    V = logits.shape[1]
    for n in range(logits.shape[0]):
        z = logits[n]
        nll = _row_xent(z, targets[n])
        if smoothing != 0.0:
            mean = 0.0  # mean_v (-log p_v) = -log p_y + z_y - mean_v z_v
            for v in range(V):
                mean += z[v]
            nll = nll + smoothing * (z[targets[n]] - mean / V)
        total += nll
    return total


@njit(**JIT)
def softmax_xent_rows(logits, targets, out):
    """Cross-entropy of each row of softmax(logits) (N, V) against targets (N,) into out (N,)."""
    for n in range(logits.shape[0]):
        out[n] = _row_xent(logits[n], targets[n])
