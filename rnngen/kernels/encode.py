"""The encoder at inference: every layer and direction of a batch of sources in one jitted call,
with no tape and nothing allocated per layer in Python.

Training's encoder (``rnngen.nn.seq2seq.encoder``) runs each layer as a ``RecurrentLayer`` over the
whole batch, keeping what the backward needs; at translate time with a batch of one source that
Python and the tapes cost more than the arithmetic (about 0.5 ms per word at L2 H256). Here each
source runs on its own (``prange`` over the batch): per layer and direction, the input products of
all its steps are one small GEMM (at layer 0 rows of the table embed @ W_ih), then per step the
recurrent product (the packed-panel micro-kernel of ``rnngen.kernels.gemm`` in float32) and the
cell's own step (``rnngen.kernels.cellcall.cell_step``, the math training runs). A backward
direction reads the source from its last true token to its first. Optionally the attention's keys
(enc @ W) come out too.

Arguments (N sources, S positions, L layers, nd directions, h units per direction,
He = nd * h, G = gates * h, ns state vectors, packed as ``rnngen.kernels.gemm.pack_panels``):

    src      (S, N) int64 token ids, as ``Batch.src``; src_len (N,)
    tables   (nd, V, G)                   layer 0's embed @ W_ih per direction
    P_ih     (max(L-1, 1), nd, NG, He, 64) input weights of layers 1..L-1, packed
    P_hh     (L, nd, NG, h, 64)           recurrent weights, packed
    bias     (L, nd, nb, G)
    P_key    (NK, He, 64)                 the keys' weights, packed (with_keys)
    out: enc (N, S, He) (zero past each source's length), finals (N, L, ns, He) (both
         directions' final states concatenated), keys (N, S, >= 64 * NK) (with_keys)
"""

import numpy as np
from numba import njit, prange

from rnngen.kernels import JIT_PAR
from rnngen.kernels.cellcall import cell_step
from rnngen.kernels.gemm import matmul_packed, padded


@njit(**JIT_PAR)
def encode(
    cell,
    cell_scratch,
    f32,
    src,
    src_len,
    tables,
    P_ih,
    P_hh,
    bias,
    with_keys,
    P_key,
    enc,
    finals,
    keys,
):
    S, N = src.shape
    L, nd, h = P_hh.shape[0], P_hh.shape[1], P_hh.shape[3]
    G, He, ns = tables.shape[2], enc.shape[2], finals.shape[2]
    dt = tables.dtype
    for n in prange(N):
        T = src_len[n]
        xg = np.zeros((S, padded(G)), dt)
        rec = np.zeros((1, padded(G)), dt)
        state = np.zeros((1, ns, h), dt)
        scratch = np.empty(cell_scratch, dt)
        inp = np.zeros((S, He), dt)
        out = np.zeros((S, He), dt)
        for k in range(L):
            for d in range(nd):
                if k == 0:
                    for t in range(T):
                        row = tables[d, src[t, n]]
                        for j in range(G):
                            xg[t, j] = row[j]
                else:
                    matmul_packed(f32, inp, 0, He, T, P_ih[k - 1, d], xg)
                state[...] = 0.0
                for i in range(T):
                    t = i if d == 0 else T - 1 - i
                    matmul_packed(f32, state, 0, h, 1, P_hh[k, d], rec)  # h_{t-1}: state[0, 0]
                    cell_step(cell, xg[t], rec[0], bias[k, d], state[0], 0, h, scratch)
                    for j in range(h):
                        out[t, d * h + j] = state[0, 0, j]
                for v in range(ns):
                    for j in range(h):
                        finals[n, k, v, d * h + j] = state[0, v, j]
            inp, out = out, inp
        for t in range(S):
            for j in range(He):
                enc[n, t, j] = inp[t, j] if t < T else 0.0
        if with_keys:
            matmul_packed(f32, inp, 0, He, T, P_key, keys[n])
            for t in range(T, S):
                keys[n, t] = 0.0
