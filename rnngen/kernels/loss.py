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
def softmax_xent(logits, targets, scale, parts):
    """Cross-entropy of softmax(logits) against targets, and its gradient, in one pass.

    logits  (N, V)  in: logits; out: scale * (softmax - onehot), the gradient of scale * sum loss
    targets (N,)    int token ids
    Returns the summed loss in nats (float64 accumulators, so long sums stay exact). The rows are
    split into ``parts`` ranges run in parallel (at word level the exps cost as much as a GEMM);
    the sum is the same for the same ``parts``.
    """
    N = logits.shape[0]
    parts = max(1, min(parts, N))
    totals = np.zeros(parts)
    for p in prange(parts):
        totals[p] = _softmax_xent_rows(logits, targets, scale, p * N // parts, (p + 1) * N // parts)
    return totals.sum()


@njit(**JIT)
def _softmax_xent_rows(logits, targets, scale, n0, n1):
    """``softmax_xent`` over rows n0:n1; returns their summed loss."""
    V = logits.shape[1]
    total = 0.0
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
        for v in range(V):
            z[v] *= k
        z[y] -= scale
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
def softmax_xent_loss(logits, targets):
    """Summed cross-entropy of softmax(logits) (N, V) against targets (N,); logits untouched."""
    total = 0.0
    for n in range(logits.shape[0]):
        total += _row_xent(logits[n], targets[n])
    return total


@njit(**JIT)
def softmax_xent_rows(logits, targets, out):
    """Cross-entropy of each row of softmax(logits) (N, V) against targets (N,) into out (N,)."""
    for n in range(logits.shape[0]):
        out[n] = _row_xent(logits[n], targets[n])
