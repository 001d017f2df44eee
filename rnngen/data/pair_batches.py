"""Encoded pairs -> padded batches (``rnngen.nn.seq2seq.network.Batch``), bucketed by length.

Training: each epoch shuffles the pairs with a generator seeded by (seed, epoch), sorts each run of
50 batches' worth by length (so a batch holds pairs of similar lengths and little padding), cuts
them into batches of B and shuffles the batches' order. The order is a function of (seed, epoch),
so a position (epoch, step) is all a resumed run needs. Evaluation: every pair once, sorted by
length, in a fixed order.
"""

import numpy as np

from rnngen.data.batches import Position
from rnngen.data.pairs import PairSet
from rnngen.nn.seq2seq.network import Batch

BUCKET = 50  # batches sorted together


def make_batch(pairs: PairSet, idx: np.ndarray, bos: int) -> Batch:
    """The pairs ``idx`` padded: sources with 0, decoder inputs <s> y_1..y_n and outputs
    y_1..y_n </s> with the boundary id ``bos``."""
    B = len(idx)
    src_len = np.array([len(pairs.src[i]) for i in idx], np.int64)
    tgt_len = np.array([len(pairs.tgt[i]) + 1 for i in idx], np.int64)
    S, T = int(src_len.max()), int(tgt_len.max())
    src = np.zeros((S, B), np.int64)
    tin = np.full((T, B), bos, np.int64)
    tout = np.full((T, B), bos, np.int64)
    for b, i in enumerate(idx):
        s, t = pairs.src[i], pairs.tgt[i]
        src[: len(s), b] = s
        tin[1 : len(t) + 1, b] = t
        tout[: len(t), b] = t
    return Batch(src, src_len, tin, tout, tgt_len)


def rows_of(batch: Batch, lo: int, hi: int) -> Batch:
    """Rows lo:hi of a batch, padded to their own longest (a data-parallel process's share)."""
    if (lo, hi) == (0, batch.src.shape[1]):
        return batch
    src_len, tgt_len = batch.src_len[lo:hi], batch.tgt_len[lo:hi]
    S, T = int(src_len.max()), int(tgt_len.max())
    own = np.ascontiguousarray
    return Batch(
        own(batch.src[:S, lo:hi]),
        src_len.copy(),
        own(batch.tgt_in[:T, lo:hi]),
        own(batch.tgt_out[:T, lo:hi]),
        tgt_len.copy(),
    )


def sorted_batches(pairs: PairSet, B: int) -> list[np.ndarray]:
    """Evaluation: every pair once, by (source length, target length, index), B at a time."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs.src[i]), len(pairs.tgt[i]), i))
    return [np.array(order[a : a + B], np.int64) for a in range(0, len(order), B)]


class PairBatches:
    """The training batches of ``pairs``, B pairs each (the last of an epoch may hold fewer)."""

    def __init__(self, pairs: PairSet, B: int, seed: int, bos: int) -> None:
        self.pairs, self.B, self.seed, self.bos = pairs, B, seed, bos
        self.steps_per_epoch = -(-len(pairs) // B)
        self.pos = Position()
        self._order: tuple[int, list[np.ndarray]] | None = None
        self.src_len = np.array([len(s) for s in pairs.src])
        self.tgt_len = np.array([len(t) for t in pairs.tgt])

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        if self._order is not None and self._order[0] == epoch:
            return self._order[1]
        rng = np.random.default_rng([self.seed, epoch])
        perm = rng.permutation(len(self.pairs))
        chunk = BUCKET * self.B
        batches = []
        for a in range(0, len(perm), chunk):
            part = perm[a : a + chunk]
            part = part[np.lexsort((self.tgt_len[part], self.src_len[part]))]  # stable
            batches.extend(part[b : b + self.B] for b in range(0, len(part), self.B))
        batches = [batches[i] for i in rng.permutation(len(batches))]
        self._order = (epoch, batches)
        return batches

    def next(self) -> tuple[Batch, bool]:
        """The next batch, and whether it starts an epoch."""
        if self.pos.step_in_epoch >= self.steps_per_epoch:
            self.pos = Position(self.pos.epoch + 1, 0)
        new_epoch = self.pos.step_in_epoch == 0
        idx = self.epoch_batches(self.pos.epoch)[self.pos.step_in_epoch]
        self.pos.step_in_epoch += 1
        return make_batch(self.pairs, idx, self.bos), new_epoch
