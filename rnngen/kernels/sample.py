"""Batch-1 inference: one recurrent step per token, and sampling from the next-token distribution.

Layer 0's input product is a row lookup: ``table0 = embed @ W_ih0 + b0`` (V, 4H) is precomputed
once, so a step costs the recurrent mat-vecs and the output projection only.
"""

import numpy as np
from numba import njit

from rnngen.kernels import JIT
from rnngen.kernels.mathfn import exp, sigmoid, tanh

LSTM, GRU, RNN_TANH, RNN_RELU = 0, 1, 2, 3  # cell codes (``CELL_CODES`` in rnngen.sample)


@njit(**JIT)
def _cell(gi, gh, c, h, cell):
    """One layer's state update in place. gi (G,) input part with its bias, gh (G,) recurrent
    part h @ W_hh + b_hh; c and h (H,). Gate blocks as in training: LSTM [i f g o], GRU [r z n]."""
    H = h.shape[0]
    if cell == LSTM:
        a = gi + gh
        ai, af, ag, ao = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
        for j in range(H):
            cj = sigmoid(af[j]) * c[j] + sigmoid(ai[j]) * tanh(ag[j])
            c[j] = cj
            h[j] = sigmoid(ao[j]) * tanh(cj)
    elif cell == GRU:
        one = h.dtype.type(1.0)
        xr, xz, xn = gi[:H], gi[H : 2 * H], gi[2 * H :]
        hr, hz, hn = gh[:H], gh[H : 2 * H], gh[2 * H :]
        for j in range(H):
            r = sigmoid(xr[j] + hr[j])
            z = sigmoid(xz[j] + hz[j])
            n = tanh(xn[j] + r * hn[j])
            h[j] = (one - z) * n + z * h[j]
    elif cell == RNN_TANH:
        for j in range(H):
            h[j] = tanh(gi[j] + gh[j])
    else:
        zero = h.dtype.type(0.0)
        for j in range(H):
            h[j] = max(gi[j] + gh[j], zero)


@njit(**JIT)
def step(tok, h, c, table0, W_ih_up, b_up, W_hh, b_hh, W_out, b_out, logits, cell):
    """Consume token ``tok``: update h, c (L, H) in place and write next-token logits (V,).

    table0  (V, G)        embed @ W_ih of layer 0, plus its input bias (G = gates x H)
    W_ih_up (L-1, H, G)   input weights of layers 1..L-1;  b_up (L-1, G) their input biases
    W_hh    (L, H, G)     recurrent weights;  b_hh (L, G) recurrent biases (GRU; zeros otherwise)
    W_out   (H, V), b_out (V,)
    """
    L = h.shape[0]
    _cell(table0[tok], np.dot(h[0], W_hh[0]) + b_hh[0], c[0], h[0], cell)
    for k in range(1, L):
        gi = np.dot(h[k - 1], W_ih_up[k - 1]) + b_up[k - 1]
        _cell(gi, np.dot(h[k], W_hh[k]) + b_hh[k], c[k], h[k], cell)
    np.dot(h[L - 1], W_out, logits)
    logits += b_out


@njit(**JIT)
def draw(logits, temp, top_k, top_p):
    """Sample a token id from softmax(logits / temp), restricted to the top-k and the top-p
    nucleus; temp == 0 takes the argmax."""
    V = logits.shape[0]
    if temp <= 0.0:
        return np.argmax(logits)
    z = logits.astype(np.float64) / temp
    z -= z.max()
    p = np.empty(V)
    for v in range(V):
        p[v] = exp(z[v])
    if (top_k > 0 and top_k < V) or top_p < 1.0:
        order = np.argsort(-p)
        keep = V if top_k <= 0 else min(top_k, V)
        if top_p < 1.0:
            total = p.sum()
            acc = 0.0
            for r in range(keep):
                acc += p[order[r]]
                if acc >= top_p * total:
                    keep = r + 1
                    break
        q = np.zeros(V)
        for r in range(keep):
            q[order[r]] = p[order[r]]
        p = q
    u = np.random.random() * p.sum()
    acc = 0.0
    for v in range(V):
        acc += p[v]
        if u < acc and p[v] > 0.0:
            return v
    return np.argmax(p)


@njit(**JIT)
def advance(feed, out, h, c, table0, W_ih_up, b_up, W_hh, b_hh, W_out, b_out, logits, cell, temp,
            top_k, top_p, seed):  # fmt: skip
    """Consume the tokens ``feed`` (a prime), then fill ``out`` (n,) with sampled tokens, each fed
    back in. State h, c and the next-token logits carry over to the next call. ``seed`` >= 0
    reseeds Numba's generator (separate from NumPy's) first.

    One entry point on purpose: each jitted entry costs ~0.2 s to load from Numba's cache, and
    ``rnngen sample`` start-up is what users feel.
    """
    if seed >= 0:
        np.random.seed(seed)
    for n in range(feed.shape[0]):
        step(feed[n], h, c, table0, W_ih_up, b_up, W_hh, b_hh, W_out, b_out, logits, cell)
    for n in range(out.shape[0]):
        tok = draw(logits, temp, top_k, top_p)
        out[n] = tok
        step(tok, h, c, table0, W_ih_up, b_up, W_hh, b_hh, W_out, b_out, logits, cell)
