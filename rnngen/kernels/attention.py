"""Attention's jitted parts: the masked softmax over source positions and Bahdanau's additive
scores, forward and backward side by side. The products (scores of general and dot attention,
contexts) are batched GEMMs in ``rnngen.nn.seq2seq.attention``.

Shapes: B batch rows, T decoder steps, S source positions, A units of the additive score.
Position s of row b is real while s < src_len[b]; the others get probability 0, so padding changes
no output and receives no gradient. Every sum keeps its order whatever the number of threads.
"""

from numba import njit, prange

from rnngen.kernels import JIT_PAR
from rnngen.kernels.mathfn import exp, tanh


@njit(**JIT_PAR)
def masked_softmax(scores, src_len, probs):
    """probs (B, T, S) = softmax over s < src_len[b] of scores (B, T, S); 0 beyond."""
    B, T, S = scores.shape
    zero = scores.dtype.type(0.0)
    for b in prange(B):
        n = src_len[b]
        for t in range(T):
            z, p = scores[b, t], probs[b, t]
            m = z[0]
            for s in range(1, n):
                m = max(m, z[s])
            total = zero
            for s in range(n):
                p[s] = exp(z[s] - m)
                total += p[s]
            inv = scores.dtype.type(1.0) / total
            for s in range(n):
                p[s] *= inv
            for s in range(n, S):
                p[s] = zero


@njit(**JIT_PAR)
def masked_softmax_backward(dprobs, probs, src_len):
    """dprobs (B, T, S) in place: the gradient w.r.t. the probabilities in, w.r.t. the scores
    out: p * (dp - sum_s p dp); 0 at padding."""
    B, T, S = probs.shape
    zero = probs.dtype.type(0.0)
    for b in prange(B):
        n = src_len[b]
        for t in range(T):
            d, p = dprobs[b, t], probs[b, t]
            dot = zero
            for s in range(n):
                dot += p[s] * d[s]
            for s in range(n):
                d[s] = p[s] * (d[s] - dot)
            for s in range(n, S):
                d[s] = zero


@njit(**JIT_PAR)
def additive_scores(Q, K, v, src_len, U, scores):
    """scores[b, t, s] = v . tanh(Q[b, t] + K[b, s]) for s < src_len[b] (0 beyond);
    Q (B, T, A), K (B, S, A), v (A,); U (B, T, S, A) out: the tanh, for the backward."""
    B, T, A = Q.shape
    S = K.shape[1]
    zero = Q.dtype.type(0.0)
    for b in prange(B):
        for t in range(T):
            for s in range(S):
                if s >= src_len[b]:
                    scores[b, t, s] = zero
                    continue
                u, q, k = U[b, t, s], Q[b, t], K[b, s]
                acc = zero
                for a in range(A):
                    u[a] = tanh(q[a] + k[a])
                    acc += v[a] * u[a]
                scores[b, t, s] = acc


@njit(**JIT_PAR)
def additive_scores_backward(dscores, U, v, src_len, dQ, dK, dv_rows):
    """The gradients of ``additive_scores``: dQ (B, T, A) and dK (B, S, A) written, dv_rows
    (B, A) written with each row's share of v's gradient (the caller sums them in order)."""
    B, T, S, A = U.shape
    zero = U.dtype.type(0.0)
    one = U.dtype.type(1.0)
    for b in prange(B):
        dQ[b] = zero
        dK[b] = zero
        dv_rows[b] = zero
        for t in range(T):
            for s in range(src_len[b]):
                g = dscores[b, t, s]
                u, dq, dk, dv = U[b, t, s], dQ[b, t], dK[b, s], dv_rows[b]
                for a in range(A):
                    dv[a] += g * u[a]
                    d = g * v[a] * (one - u[a] * u[a])
                    dq[a] += d
                    dk[a] += d


# ---------------------------------------------------------------------------------------------
# batched products of small matrices, one batch row per core at a time: NumPy's matmul of stacked
# float32 matrices does not reach BLAS here (300 ms for 64 x (9, 256) @ (256, 256) against 2 ms as
# one 2-D product), and each row's product is too small for BLAS anyway. The inner loops run over
# contiguous rows, so LLVM vectorises them.


@njit(**JIT_PAR)
def bmm_nn(A, Bm, out, accumulate):
    """out[b] (M, N) (+)= A[b] (M, K) @ Bm[b] (K, N)."""
    nb, M, K = A.shape
    N = Bm.shape[2]
    for b in prange(nb):
        for m in range(M):
            o = out[b, m]
            if not accumulate:
                o[:] = 0.0
            for k in range(K):
                a = A[b, m, k]
                row = Bm[b, k]
                for n in range(N):
                    o[n] += a * row[n]


@njit(**JIT_PAR)
def bmm_nt(A, Bm, out):
    """out[b] (M, N) = A[b] (M, K) @ Bm[b]^T, Bm (nb, N, K)."""
    nb, M, K = A.shape
    N = Bm.shape[1]
    for b in prange(nb):
        for m in range(M):
            a = A[b, m]
            for n in range(N):
                row = Bm[b, n]
                acc = A.dtype.type(0.0)
                for k in range(K):
                    acc += a[k] * row[k]
                out[b, m, n] = acc


@njit(**JIT_PAR)
def bmm_tn(A, Bm, out, accumulate):
    """out[b] (M, N) (+)= A[b]^T @ Bm[b], A (nb, K, M), Bm (nb, K, N)."""
    nb, K, M = A.shape
    N = Bm.shape[2]
    for b in prange(nb):
        if not accumulate:
            out[b] = 0.0
        for k in range(K):
            row = Bm[b, k]
            for m in range(M):
                a = A[b, k, m]
                o = out[b, m]
                for n in range(N):
                    o[n] += a * row[n]
