"""Decoding a sequence-to-sequence model: beam search, greedy search (beam 1) and sampling, and
the greedy pass of scheduled sampling, over a batch of inputs with no Python per token.

One decoder step of one hypothesis (``_step``): layer 0's input product is a row of
table0 = embed @ W_ih0 (V, G); each layer's recurrent product and the cell's own step
(``rnngen.kernels.cellcall.cell_step``, the math training runs); attention over the input's
encoder
outputs; the attentional vector; log-softmax of the output layer. The inputs of a batch are
independent and run in parallel (``prange``), each with its own buffers.

Beam search keeps K live hypotheses per input. Each step extends every live one by each of its K
best tokens; of those K*K candidates, in order of total log-probability, one that ends with </s>
among the K best is finished, the others fill the next K live ones (states reordered by
back-pointer). The search ends when K hypotheses have finished or at ``max_len`` (the live ones
then finish as they are); finished hypotheses are ranked by log-probability per token (length
normalisation). With K = 1 this is greedy search: the argmax token at every step.

Arguments (N inputs, L layers, H units, G = gates * H, V target tokens, S source positions):

    cell     the cell's ``CellKernels``
    table0   (V, G)        embed @ W_ih of layer 0
    W_ih     (L-1, H, G)   input weights of layers 1..L-1 (first axis 0 when L = 1)
    W_hh     (L, H, G)     recurrent weights
    bias     (L, nb, G)    the cell's bias vectors
    init     (N, L, ns, H) the decoder's initial states (ns: the cell's state vectors)
    enc      (N, S, He)    encoder outputs; src_len (N,)
    keys     (N, S, A)     what the scores read: enc @ W_a (general), enc (dot), enc @ W_k
    kind     0 none, 1 general or dot (score = h . key), 2 additive (v . tanh(h @ W_q + key))
    W_q      (H, A), v (A,)   additive only (else any shape)
    W_c      (He + H, H)   attentional vector tanh([c; h] @ W_c) (kind > 0)
    W_out    (H, V), b_out (V,)
"""

import numpy as np
from numba import njit, prange

from rnngen.kernels import JIT, JIT_PAR
from rnngen.kernels.cellcall import cell_step
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
def _step(cell, tok, state, n, table0, W_ih, W_hh, bias, enc, src_len, keys, kind, W_q, v, W_c,
          W_out, b_out, bufs, logp):  # fmt: skip
    """One decoder step of one hypothesis of input n: reads token ``tok``, updates state
    (L, ns, H) in place, writes logp (V,) = the log-softmax of the next token's logits.
    bufs: (xg (G), rec (G), scratch, ch (He + H), scores (S), q (A), att (H))."""
    xg, rec, scratch, ch, scores, q, att = bufs
    L, H = W_hh.shape[0], W_hh.shape[1]
    for j in range(xg.shape[0]):
        xg[j] = table0[tok, j]
    for k in range(L):
        if k > 0:
            _matvec(state[k - 1, 0], W_ih[k - 1], xg)
        _matvec(state[k, 0], W_hh[k], rec)
        cell_step(cell, xg, rec, bias[k], state[k], 0, H, scratch)
    h = state[L - 1, 0]
    if kind == 0:
        for j in range(H):
            att[j] = h[j]
    else:
        S = src_len[n]
        He = enc.shape[2]
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
        ch[:He] = 0.0
        for s in range(S):
            p = scores[s] / total
            e = enc[n, s]
            for j in range(He):
                ch[j] += p * e[j]
        for j in range(H):
            ch[He + j] = h[j]
        _matvec(ch, W_c, att)
        for j in range(H):
            att[j] = tanh(att[j])
    _matvec(att, W_out, logp)
    m = -np.inf
    for j in range(logp.shape[0]):
        logp[j] += b_out[j]
        m = max(m, logp[j])
    total = 0.0
    for j in range(logp.shape[0]):
        total += np.exp(np.float64(logp[j] - m))
    lse = m + np.float32(np.log(total))
    for j in range(logp.shape[0]):
        logp[j] -= lse


@njit(**JIT)
def _bufs(cell_scratch, G, He, H, S, A, like):
    """_step's working arrays, of like's dtype."""
    dt = like.dtype
    return (
        np.empty(G, dt),
        np.empty(G, dt),
        np.empty(cell_scratch, dt),
        np.empty(He + H, dt),
        np.empty(max(S, 1), dt),
        np.empty(max(A, 1), dt),
        np.empty(H, dt),
    )


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


@njit(**JIT_PAR)
def search(cell, cell_scratch, K, n_best, max_len, bos, temp, seed, table0, W_ih, W_hh, bias,
           init, enc, src_len, keys, kind, W_q, v, W_c, W_out, b_out, out_tokens, out_len,
           out_score, out_count):  # fmt: skip
    """Beam search with K beams (greedy when K = 1; sampling at temperature ``temp`` > 0, K = 1)
    for each of the N inputs. Out: out_tokens (N, n_best, max_len) int32 (without </s>),
    out_len (N, n_best), out_score (N, n_best) float64 total log-probability (with </s>),
    out_count (N,) how many were found (<= n_best)."""
    N = init.shape[0]
    L, ns, H = init.shape[1], init.shape[2], init.shape[3]
    V, G = W_out.shape[1], W_hh.shape[2]
    S, He, A = enc.shape[1], enc.shape[2], q_width(kind, W_q)
    for n in prange(N):
        bufs = _bufs(cell_scratch, G, He, H, S, A, table0)
        states = np.empty((K, L, ns, H), table0.dtype)
        nxt = np.empty((K, L, ns, H), table0.dtype)
        for k in range(K):
            states[k] = init[n]
        toks = np.zeros((K, max_len), np.int32)
        ntoks = np.zeros((K, max_len), np.int32)
        score = np.zeros(K, np.float64)
        nscore = np.zeros(K, np.float64)
        logp = np.empty((K, V), table0.dtype)
        fin_toks = np.zeros((2 * K, max_len), np.int32)
        fin_len = np.zeros(2 * K, np.int64)
        fin_score = np.zeros(2 * K, np.float64)
        nfin = 0
        live = 1  # the first step extends <s> alone
        cand_score = np.empty(K * K, np.float64)
        cand_from = np.empty(K * K, np.int64)
        cand_tok = np.empty(K * K, np.int64)
        for t in range(max_len):
            nc = 0
            for k in range(live):
                tok = bos if t == 0 else toks[k, t - 1]
                _step(cell, tok, states[k], n, table0, W_ih, W_hh, bias, enc, src_len, keys,
                      kind, W_q, v, W_c, W_out, b_out, bufs, logp[k])  # fmt: skip
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
                best = np.argsort(-logp[k])[:K]
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
                    nxt[nlive] = states[k]
                    nlive += 1
                if nfin >= K:
                    break
            if nfin >= K or nlive == 0:
                break
            live = nlive
            for k in range(live):
                states[k] = nxt[k]
                toks[k, : t + 1] = ntoks[k, : t + 1]
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
def guided(cell, cell_scratch, tgt_in, keep, table0, W_ih, W_hh, bias, init, enc, src_len,
           keys, kind, W_q, v, W_c, W_out, b_out, out):  # fmt: skip
    """Scheduled sampling's decoder inputs: out (T, B) = tgt_in where keep, else the greedy
    guess of the step before, given the inputs chosen before it (row 0 is kept)."""
    T, B = tgt_in.shape
    H, V, G = init.shape[3], W_out.shape[1], W_hh.shape[2]
    S, He, A = enc.shape[1], enc.shape[2], q_width(kind, W_q)
    for b in prange(B):
        bufs = _bufs(cell_scratch, G, He, H, S, A, table0)
        state = init[b].copy()
        logp = np.empty(V, table0.dtype)
        out[0, b] = tgt_in[0, b]
        for t in range(T - 1):
            _step(cell, out[t, b], state, b, table0, W_ih, W_hh, bias, enc, src_len, keys, kind,
                  W_q, v, W_c, W_out, b_out, bufs, logp)  # fmt: skip
            out[t + 1, b] = tgt_in[t + 1, b] if keep[t + 1, b] else np.argmax(logp)
