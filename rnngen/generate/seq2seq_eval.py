"""How well a sequence-to-sequence model turns sources into their references: the teacher-forced
loss per target token (and perplexity), then decoded outputs scored as grapheme-to-phoneme papers
do. A source on several lines has several references: an output equal to any of them is correct
(sequence accuracy, and its complement the sequence or "word" error rate), and its token edit
distance counts against the closest one, over that reference's length (token or "phoneme" error
rate, summed over sources then divided)."""

import math
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein
from scipy.special import logsumexp

from rnngen.data.pair_batches import make_batch, sorted_batches
from rnngen.data.pairs import PairSet, boundary
from rnngen.generate.translate import Translator
from rnngen.nn.seq2seq.network import Seq2SeqNetwork


@dataclass
class Seq2SeqScores:
    loss: float  # nats per target token, teacher-forced
    tokens: int
    sources: int  # distinct sources decoded
    correct: int
    edits: int  # token edits against the closest reference, summed
    ref_tokens: int  # the closest references' lengths, summed

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700.0))

    @property
    def accuracy(self) -> float:
        return self.correct / self.sources

    @property
    def sequence_error_rate(self) -> float:
        return 1.0 - self.accuracy

    @property
    def token_error_rate(self) -> float:
        return self.edits / max(self.ref_tokens, 1)

    def to_dict(self) -> dict:
        return {
            "loss": self.loss,
            "perplexity": self.perplexity,
            "tokens": self.tokens,
            "sources": self.sources,
            "accuracy": self.accuracy,
            "sequence_error_rate": self.sequence_error_rate,
            "token_error_rate": self.token_error_rate,
        }


def validation_loss(model: Seq2SeqNetwork, pairs: PairSet, B: int, bos: int) -> float:
    """Mean teacher-forced cross-entropy (nats) per target token of every pair (``bos``: the
    target vocabulary's boundary id)."""
    total, count = validation_sums(model, pairs, B, bos)
    return total / count


def validation_sums(
    model: Seq2SeqNetwork, pairs: PairSet, B: int, bos: int, part: tuple[int, int] = (0, 1)
) -> tuple[float, int]:
    """(summed cross-entropy, target tokens) of every pair; with ``part`` (rank, size), of
    every size-th batch from the rank-th (a data-parallel process's share: the batches go by
    length, so the shares are alike)."""
    total, count = 0.0, 0
    rank, size = part
    for idx in sorted_batches(pairs, B)[rank::size]:
        batch = make_batch(pairs, idx, bos)
        total += model.loss_sum(batch)
        count += batch.tokens
    return total, count


def teacher_forced_loss(translator: Translator, pairs: PairSet, B: int) -> tuple[float, int]:
    """Mean cross-entropy per target token of the pairs whose targets the model can write (a
    reference with a character it does not know has no loss; it still counts in the rates)."""
    keep = [i for i, t in enumerate(pairs.tgt) if len(t) == 0 or t.min() >= 0]
    if not keep:
        return float("nan"), 0
    pairs = PairSet(
        [pairs.src[i] for i in keep], [pairs.tgt[i] for i in keep], [pairs.sources[i] for i in keep]
    )
    bos = boundary(translator.tgt_vocab)
    if len(translator.models) == 1:
        return validation_loss(translator.model, pairs, B, bos), pairs.target_tokens
    return ensemble_loss(translator.models, pairs, B, bos), pairs.target_tokens


def ensemble_loss(models: list[Seq2SeqNetwork], pairs: PairSet, B: int, bos: int) -> float:
    """Mean cross-entropy per target token of an ensemble, -log (1/M) sum_m p_m(y), the
    probability its search extends by: each model's per-token losses, combined token by
    token."""
    total, count = 0.0, 0
    for idx in sorted_batches(pairs, B):
        batch = make_batch(pairs, idx, bos)
        losses = np.stack([m.token_losses(batch) for m in models])  # (M, N)
        total -= float(np.sum(logsumexp(-losses, axis=0) - np.log(len(models))))
        count += batch.tokens
    return total / count


def evaluate_pairs(
    translator: Translator, pairs: PairSet, beam: int = 5, B: int = 32, max_len: int = 100
) -> Seq2SeqScores:
    """Loss, sequence accuracy and token error rate of ``pairs`` (encoded with the translator's
    vocabularies)."""
    loss, tokens = teacher_forced_loss(translator, pairs, B)
    return Seq2SeqScores(loss, tokens, *decoded_counts(translator, pairs, beam, B, max_len))


def decoded_counts(
    translator: Translator,
    pairs: PairSet,
    beam: int = 5,
    B: int = 32,
    max_len: int = 100,
    part: tuple[int, int] = (0, 1),
) -> tuple[int, int, int, int]:
    """Each distinct source of ``pairs`` decoded (``beam`` 1: greedy) and scored against its
    references: (sources, correct, token edits against the closest, that reference's tokens).
    With ``part`` (rank, size), every size-th source from the rank-th in length order (a
    data-parallel process's share) and their counts."""
    refs: dict[str, list[list[int]]] = {}
    first: dict[str, int] = {}
    for i, (src, tgt) in enumerate(zip(pairs.sources, pairs.tgt, strict=True)):
        refs.setdefault(src, []).append(tgt.tolist())
        first.setdefault(src, i)
    order = sorted(first, key=lambda s: (len(pairs.src[first[s]]), first[s]))
    rank, size = part
    order = order[rank::size]
    correct = edits = ref_tokens = 0
    for a in range(0, len(order), B):
        chunk = order[a : a + B]
        outs = translator.search_ids([pairs.src[first[s]] for s in chunk], beam, 1, max_len)
        for s, hyps in zip(chunk, outs, strict=True):
            out = hyps[0][0] if hyps else []
            dist, ref = min((Levenshtein.distance(out, r), r) for r in refs[s])
            correct += dist == 0
            edits += dist
            ref_tokens += len(ref)
    return len(order), correct, edits, ref_tokens
