"""Beam search for a language model: the K most likely continuations of ``length`` tokens.

Each step the K beams' states advance as one (1, K) batch (``BatchGenerator.step``); the K * V
extensions are ranked by their total log-probability, the best K kept, and the states, histories
and repetition guards reordered by their back-pointers. All continuations have the same length, so
their totals compare without length normalisation. The repetition controls apply to each beam's
logits before the log-softmax (beam search is where loops are worst).
"""

import numpy as np

from rnngen.generate.batch import BatchGenerator
from rnngen.generate.config import SampleConfig
from rnngen.generate.controls import Controls
from rnngen.generate.text import cut_at, decoder_after


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """(B, V) float64 log-probabilities of logits (B, V); -inf stays -inf."""
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def beam_search(
    gen: BatchGenerator, prime_ids: np.ndarray, cfg: SampleConfig
) -> list[tuple[str, float]]:
    """The best ``cfg.num`` of ``cfg.beam`` beams: (prime + continuation, its log-probability in
    nats), best first."""
    K = cfg.beam
    state, logits = gen.primed(prime_ids, K)
    guards = gen.guards(prime_ids, K, Controls(cfg.repetition_penalty, cfg.no_repeat_ngram))
    total = np.full(K, -np.inf)
    total[0] = 0.0  # the beams start as one: no duplicates of the same continuation
    tokens = np.zeros((K, 0), np.int64)
    V = logits.shape[1]
    for _ in range(cfg.length):
        if guards is not None:
            for b, g in enumerate(guards):
                g.adjust(logits[b])
        cand = (total[:, None] + log_softmax(logits)).ravel()  # (K * V,)
        cand[~np.isfinite(cand)] = -np.inf
        k = min(K, int(np.isfinite(cand).sum()) or 1)
        best = np.argpartition(-cand, k - 1)[:k] if k < cand.size else np.arange(cand.size)
        best = best[np.argsort(-cand[best], kind="stable")]
        if k < K:  # fewer live extensions than beams: repeat the best to keep the batch shape
            best = np.concatenate([best, np.full(K - k, best[0])])
        beams, toks = best // V, best % V
        total = cand[best]
        if k < K:
            total[k:] = -np.inf
        tokens = np.concatenate([tokens[beams], toks[:, None]], axis=1)
        for a in state.arrays:
            a[...] = a[:, beams]
        if guards is not None:
            guards = [guards[b].copy() for b in beams]
            for g, t in zip(guards, toks, strict=True):
                g.feed(int(t))
        logits = gen.step(toks, state)
    out = []
    for b in range(min(cfg.num, K)):
        text = decoder_after(gen.vocab, cfg.prime)(int(t) for t in tokens[b])
        out.append((cfg.prime + cut_at(text, cfg.stop), float(total[b])))
    return out
