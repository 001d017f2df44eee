"""Decoding a sequence-to-sequence model: beam search, greedy search (beam 1) and sampling, and
the greedy pass of scheduled sampling, over a batch of inputs with no Python per token.

One decoder step of the R live hypotheses of one input (``_advance``): layer 0's input product is
a row of table0 = embed @ W_ih0 (V, G) per hypothesis; each layer's input and recurrent products
are one small GEMM over the R hypotheses' rows (``matmul_packed``: the packed-panel kernel of
``rnngen.kernels.gemm`` in float32), then the cell's own step per hypothesis
(``rnngen.kernels.cellcall.cell_step``, the math training runs); attention over the input's
encoder outputs; the attentional vector and the output layer, again one GEMM over the R rows;
log-softmax. At batch 1 a step is bound by streaming the weights from cache, so the K hypotheses
of a beam read each weight once per step, not K times. The inputs of a batch are independent and
run in parallel (``prange``), each with its own buffers.

Beam search keeps K live hypotheses per input. Each step extends every live one by each of its K
best tokens; of those K*K candidates, in order of total log-probability, one that ends with </s>
among the K best is finished, the others fill the next K live ones (states reordered by
back-pointer). The search ends when K hypotheses have finished or at ``max_len`` (the live ones
then finish as they are); finished hypotheses are ranked by log-probability per token (length
normalisation). With K = 1 this is greedy search: the argmax token at every step.

``search`` runs an ensemble of M models of one shape (the same vocabularies, decoder cell, layers
and units, encoder width and attention family): every array of a model below comes stacked along
a first axis of M, each model keeps its own states for every hypothesis, and a hypothesis
extends by the log of the models' mean probability, log (1/M) sum_m p_m(y) (as fairseq's
ensembles). M = 1 is the single model, its log-probabilities unchanged.

Arguments (N inputs, L layers, H units, G = gates * H, V target tokens, S source positions;
"packed": ``rnngen.kernels.gemm.pack_panels``, (panels, rows, 64), in every dtype):

    cell     the cell's ``CellKernels``
    f32      the arrays are float32: the micro-kernel runs (else plain loops over the panels)
    table0   (V, G)        embed @ W_ih of layer 0
    P_ih     (max(L-1, 1), NG, H, 64)  input weights of layers 1..L-1, packed
    P_hh     (L, NG, H, 64)            recurrent weights, packed
    bias     (L, nb, G)    the cell's bias vectors
    init     (N, L, ns, H) the decoder's initial states (ns: the cell's state vectors)
    enc      (N, S, He)    encoder outputs; src_len (N,)
    keys     (N, S, A)     what the scores read: enc @ W_a (general), enc (dot), enc @ W_k
    kind     0 none, 1 general or dot (score = h . key), 2 additive (v . tanh(h @ W_q + key))
    W_q      (H, A), v (A,)   additive only (else any shape)
    P_c      (NH, He + H, 64) attentional vector tanh([c; h] @ W_c), packed (kind > 0)
    P_out    (NV, H, 64), b_out (V,)  the output layer, packed
"""

import numpy as np
from numba import njit, prange

from rnngen.kernels import JIT, JIT_PAR
from rnngen.kernels.cellcall import cell_step
from rnngen.kernels.gemm import matmul_packed, padded
from rnngen.kernels.mathfn import exp, tanh


@njit(**JIT)
def _matvec(x, W, out):
    """out (N,) = x (K,) @ W (K, N)."""
    out[:] = 0.0
    for k in range(x.shape[0]):
        a = x[k]
        row = W[k]
        for j in range(out.shape[0]):
            out[j] += a * row[j]


@njit(**JIT)
def _advance(
    cell,
    f32,
    R,
    toks,
    states,
    n,
    table0,
    P_ih,
    P_hh,
    bias,
    enc,
    src_len,
    keys,
    kind,
    W_q,
    v,
    P_c,
    P_out,
    b_out,
    bufs,
    logp,
):
    """One decoder step of the R hypotheses of input n: hypothesis r reads token toks[r] and
    updates states[r] (L, ns, H) in place; logp[r, :V] = the log-softmax of its next token's
    logits. bufs: (xg (K, Gp), rec (K, Gp), scratch, ch (K, He + H), scores (S), q (A),
    att (K, Hp))."""
    xg, rec, scratch, ch, scores, q, att = bufs
    L, ns, H = states.shape[1], states.shape[2], states.shape[3]
    V = b_out.shape[0]
    sl = L * ns * H  # flat stride between hypotheses in states
    for r in range(R):
        for j in range(table0.shape[1]):
            xg[r, j] = table0[toks[r], j]
    for k in range(L):
        if k > 0:  # h_t of layer k-1 (updated) @ W_ih
            matmul_packed(f32, states, (k - 1) * ns * H, sl, R, P_ih[k - 1], xg)
        matmul_packed(f32, states, k * ns * H, sl, R, P_hh[k], rec)  # h_{t-1} of layer k @ W_hh
        for r in range(R):
            cell_step(cell, xg[r], rec[r], bias[k], states[r, k], 0, H, scratch)
    if kind == 0:
        for r in range(R):
            for j in range(H):
                att[r, j] = states[r, L - 1, 0, j]
    else:
        S = src_len[n]
        He = enc.shape[2]
        for r in range(R):
            h = states[r, L - 1, 0]
            if kind == 2:
                _matvec(h, W_q, q)
            m = -np.inf
            for s in range(S):
                key = keys[n, s]
                acc = 0.0
                if kind == 1:
                    for j in range(key.shape[0]):
                        acc += h[j] * key[j]
                else:
                    for j in range(key.shape[0]):
                        acc += v[j] * tanh(q[j] + key[j])
                scores[s] = acc
                m = max(m, acc)
            total = 0.0
            for s in range(S):
                scores[s] = exp(scores[s] - m)
                total += scores[s]
            c = ch[r]
            c[:He] = 0.0
            for s in range(S):
                p = scores[s] / total
                e = enc[n, s]
                for j in range(He):
                    c[j] += p * e[j]
            for j in range(H):
                c[He + j] = h[j]
        matmul_packed(f32, ch, 0, ch.shape[1], R, P_c, att)
        for r in range(R):
            for j in range(H):
                att[r, j] = tanh(att[r, j])
    matmul_packed(f32, att, 0, att.shape[1], R, P_out, logp)
    for r in range(R):
        lp = logp[r]
        m = -np.inf
        for j in range(V):
            lp[j] += b_out[j]
            m = max(m, lp[j])
        total = 0.0
        for j in range(V):
            total += np.exp(np.float64(lp[j] - m))
        lse = m + np.float32(np.log(total))
        for j in range(V):
            lp[j] -= lse


@njit(**JIT)
def _bufs(K, cell_scratch, G, He, H, S, A, like):
    """_advance's working arrays for K hypotheses, of like's dtype."""
    dt = like.dtype
    return (
        np.zeros((K, padded(G)), dt),
        np.zeros((K, padded(G)), dt),
        np.empty(cell_scratch, dt),
        np.zeros((K, He + H), dt),
        np.empty(max(S, 1), dt),
        np.empty(max(A, 1), dt),
        np.zeros((K, padded(H)), dt),
    )


@njit(**JIT)
def _top(lp, V, K, picked, best):
    """best[:K] = the K largest of lp[:V], largest first (the lower index first among equals,
    as a stable sort); picked (V,) bool scratch."""
    for j in range(V):
        picked[j] = False
    for i in range(K):
        b, m = -1, -np.inf
        for j in range(V):
            if not picked[j] and (b < 0 or lp[j] > m):
                b, m = j, lp[j]
        best[i] = b
        picked[b] = True


@njit(**JIT)
def _uniform(seed, n, t):
    """A uniform [0, 1) number from (seed, input, step): splitmix64 of the three."""
    z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
    z += np.uint64(n) * np.uint64(0xBF58476D1CE4E5B9)
    z += np.uint64(t + 1) * np.uint64(0x94D049BB133111EB)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) / 9007199254740992.0


@njit(**JIT)
def _mean_prob(logps, M, R, V, logp):
    """logp[r, :V] = log (1/M) sum_m exp(logps[m, r, :V]), in float64 (M = 1: a copy)."""
    if M == 1:
        for r in range(R):
            for j in range(V):
                logp[r, j] = logps[0, r, j]
        return
    for r in range(R):
        for j in range(V):
            m = -np.inf
            for i in range(M):
                m = max(m, np.float64(logps[i, r, j]))
            total = 0.0
            for i in range(M):
                total += np.exp(np.float64(logps[i, r, j]) - m)
            logp[r, j] = m + np.log(total / M)


@njit(**JIT_PAR)
def search(
    cell,
    cell_scratch,
    f32,
    K,
    n_best,
    max_len,
    bos,
    temp,
    seed,
    table0,
    P_ih,
    P_hh,
    bias,
    init,
    enc,
    src_len,
    keys,
    kind,
    W_q,
    v,
    P_c,
    P_out,
    b_out,
    out_tokens,
    out_len,
    out_score,
    out_count,
):
    """Beam search with K beams (greedy when K = 1; sampling at temperature ``temp`` > 0, K = 1)
    for each of the N inputs, by an ensemble of M models (the model arrays stacked along a first
    axis of M: table0 (M, V, G), init (M, N, L, ns, H), enc (M, N, S, He), ...). Out: out_tokens
    (N, n_best, max_len) int32 (without </s>), out_len (N, n_best), out_score (N, n_best)
    float64 total log-probability (with </s>), out_count (N,) how many were found (<= n_best)."""
    M, N = init.shape[0], init.shape[1]
    L, ns, H = init.shape[2], init.shape[3], init.shape[4]
    V, G = b_out.shape[1], table0.shape[2]
    S, He, A = enc.shape[2], enc.shape[3], q_width(kind, W_q[0])
    K = min(K, V)
    for n in prange(N):
        bufs = _bufs(K, cell_scratch, G, He, H, S, A, table0)
        states = np.empty((M, K, L, ns, H), table0.dtype)
        nxt = np.empty((M, K, L, ns, H), table0.dtype)
        for i in range(M):
            for k in range(K):
                states[i, k] = init[i, n]
        toks = np.zeros((K, max_len), np.int32)
        ntoks = np.zeros((K, max_len), np.int32)
        last = np.full(K, bos, np.int64)
        score = np.zeros(K, np.float64)
        nscore = np.zeros(K, np.float64)
        logps = np.empty((M, K, padded(V)), table0.dtype)
        logp = np.empty((K, V), np.float64)
        picked = np.zeros(V, np.bool_)
        best = np.empty(K, np.int64)
        fin_toks = np.zeros((2 * K, max_len), np.int32)
        fin_len = np.zeros(2 * K, np.int64)
        fin_score = np.zeros(2 * K, np.float64)
        nfin = 0
        live = 1  # the first step extends <s> alone
        cand_score = np.empty(K * K, np.float64)
        cand_from = np.empty(K * K, np.int64)
        cand_tok = np.empty(K * K, np.int64)
        for t in range(max_len):
            for i in range(M):
                _advance(
                    cell,
                    f32,
                    live,
                    last,
                    states[i],
                    n,
                    table0[i],
                    P_ih[i],
                    P_hh[i],
                    bias[i],
                    enc[i],
                    src_len,
                    keys[i],
                    kind,
                    W_q[i],
                    v[i],
                    P_c[i],
                    P_out[i],
                    b_out[i],
                    bufs,
                    logps[i],
                )
            _mean_prob(logps, M, live, V, logp)
            nc = 0
            for k in range(live):
                if temp > 0.0:  # sampling: one candidate, drawn
                    u = _uniform(seed, n, t)
                    m = -np.inf
                    for j in range(V):
                        m = max(m, logp[k, j] / temp)
                    tot = 0.0
                    for j in range(V):
                        tot += np.exp(logp[k, j] / temp - m)
                    acc, pick = 0.0, V - 1
                    for j in range(V):
                        acc += np.exp(logp[k, j] / temp - m) / tot
                        if u < acc:
                            pick = j
                            break
                    cand_score[nc], cand_from[nc], cand_tok[nc] = score[k] + logp[k, pick], k, pick
                    nc += 1
                    continue
                _top(logp[k], V, K, picked, best)
                for j in best:
                    cand_score[nc], cand_from[nc], cand_tok[nc] = score[k] + logp[k, j], k, j
                    nc += 1
            order = np.argsort(-cand_score[:nc], kind="mergesort")
            nlive = 0
            for r in range(nc):
                i = order[r]
                k, tok = cand_from[i], cand_tok[i]
                if tok == bos:  # finishes if it ranks among the K best candidates
                    if r < K and nfin < K:
                        fin_toks[nfin, :t] = toks[k, :t]
                        fin_len[nfin] = t
                        fin_score[nfin] = cand_score[i]
                        nfin += 1
                elif nlive < K:
                    ntoks[nlive, :t] = toks[k, :t]
                    ntoks[nlive, t] = tok
                    nscore[nlive] = cand_score[i]
                    for e in range(M):
                        nxt[e, nlive] = states[e, k]
                    nlive += 1
                if nfin >= K:
                    break
            if nfin >= K or nlive == 0:
                break
            live = nlive
            for k in range(live):
                for e in range(M):
                    states[e, k] = nxt[e, k]
                toks[k, : t + 1] = ntoks[k, : t + 1]
                last[k] = toks[k, t]
                score[k] = nscore[k]
            if t == max_len - 1:  # out of length: the live ones end here
                for k in range(live):
                    if nfin < 2 * K:
                        fin_toks[nfin] = toks[k]
                        fin_len[nfin] = max_len
                        fin_score[nfin] = score[k]
                        nfin += 1
        # rank by log-probability per token (</s> counted), best first
        norm = np.empty(nfin, np.float64)
        for i in range(nfin):
            norm[i] = fin_score[i] / (fin_len[i] + 1)
        rank = np.argsort(-norm, kind="mergesort")
        count = min(n_best, nfin)
        for r in range(count):
            i = rank[r]
            out_tokens[n, r, : fin_len[i]] = fin_toks[i, : fin_len[i]]
            out_len[n, r] = fin_len[i]
            out_score[n, r] = fin_score[i]
        out_count[n] = count


@njit(**JIT)
def q_width(kind, W_q):
    return W_q.shape[1] if kind == 2 else 0


@njit(**JIT_PAR)
def guided(
    cell,
    cell_scratch,
    f32,
    tgt_in,
    keep,
    table0,
    P_ih,
    P_hh,
    bias,
    init,
    enc,
    src_len,
    keys,
    kind,
    W_q,
    v,
    P_c,
    P_out,
    b_out,
    out,
):
    """Scheduled sampling's decoder inputs: out (T, B) = tgt_in where keep, else the greedy
    guess of the step before, given the inputs chosen before it (row 0 is kept)."""
    T, B = tgt_in.shape
    H, V, G = init.shape[3], b_out.shape[0], table0.shape[1]
    S, He, A = enc.shape[1], enc.shape[2], q_width(kind, W_q)
    for b in prange(B):
        bufs = _bufs(1, cell_scratch, G, He, H, S, A, table0)
        state = np.empty((1, init.shape[1], init.shape[2], H), table0.dtype)
        state[0] = init[b]
        logp = np.empty((1, padded(V)), table0.dtype)
        tok = np.empty(1, np.int64)
        out[0, b] = tgt_in[0, b]
        for t in range(T - 1):
            tok[0] = out[t, b]
            _advance(
                cell,
                f32,
                1,
                tok,
                state,
                b,
                table0,
                P_ih,
                P_hh,
                bias,
                enc,
                src_len,
                keys,
                kind,
                W_q,
                v,
                P_c,
                P_out,
                b_out,
                bufs,
                logp,
            )
            out[t + 1, b] = tgt_in[t + 1, b] if keep[t + 1, b] else np.argmax(logp[0, :V])
