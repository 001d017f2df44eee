"""Scoring lines one by one: the surprisal of each line under a model, from the model's start state.

Each line is read as the sampler starts a text: from the model's start state after a line break
("\\n" at char level, ``<eos>`` at word level, the line end's byte at BPE level), and every token of
the line is scored, its line end included.
Lines are independent, so many are scored at once: sorted by length, padded to a common length
and run as one (T, B) batch; padded positions are masked out of the sums.
"""

import math
from dataclasses import dataclass

import numpy as np

from rnngen.data.vocab import Vocab
from rnngen.errors import DataError

LOGIT_BUDGET = (
    4_000_000  # logits held at once (T * B * V floats): bounds memory on big vocabularies
)
MAX_BATCH = 64
WINDOW = 128  # time steps per forward call; long lines run in windows with the state carried


@dataclass
class LineScore:
    bits: float  # total surprisal of the line, line end included
    tokens: int  # tokens scored (the line end counts as one)
    chars: int = 0  # characters of the line, its line end included

    @property
    def bits_per_token(self) -> float:
        return self.bits / self.tokens if self.tokens else 0.0

    @property
    def bits_per_char(self) -> float:
        """The line's bits over its characters (its line end counts as one): comparable across
        character, word and subword models."""
        return self.bits / self.chars if self.chars else 0.0

    @property
    def perplexity(self) -> float:
        return 2.0 ** min(self.bits_per_token, 1000.0)


def encode_lines(
    vocab: Vocab, lines: list[str], source: str = "the text"
) -> tuple[list[np.ndarray], int | None, list[str]]:
    """(token ids of each line with its line end, start token id or None, unknown words).

    At char level a character the model does not know raises DataError naming it, ``source`` and
    the first line that has it; at word level unknown words are read as <unk> and returned.
    """
    end_id = vocab.stoi.get(vocab.line_end)
    seqs: list[np.ndarray] = []
    unknown: dict[str, None] = {}
    for n, line in enumerate(lines, 1):
        missing = vocab.unknown(line)
        if missing and vocab.level == "char":
            shown = ", ".join(repr(ch) for ch in missing[:10])
            raise DataError(f"{source}: line {n} has characters the model does not know: {shown}")
        for w in missing:
            unknown.setdefault(w, None)
        ids = vocab.encode(line, close_last_line=False).astype(np.int64)
        if end_id is not None:
            ids = np.append(ids, end_id)
        seqs.append(ids)
    start = end_id  # a text starts as after a line break, as the sampler starts
    return seqs, start, list(unknown)


def score_sequences(
    model, seqs: list[np.ndarray], start: int | None, chars: list[int] | None = None
) -> list[LineScore]:
    """Surprisal of each token sequence from the start state: the model reads ``start`` (when not
    None) and predicts every token of the sequence (``chars``: the characters each spells)."""
    scores: list[LineScore | None] = [None] * len(seqs)
    V = model.cfg.vocab_size
    zero_state_nats = None
    if start is None:  # predicting the first token from the zero state: the output bias alone
        b = model.params["out.b"].astype(np.float64)
        zero_state_nats = np.logaddexp.reduce(b) - b
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    at = 0
    while at < len(order):
        T_max = len(seqs[order[at]]) + (0 if start is None else 1) - 1
        W = max(1, min(WINDOW, T_max))
        B = max(1, min(MAX_BATCH, LOGIT_BUDGET // (W * V), len(order) - at))
        batch = order[at : at + B]
        at += B
        totals = _score_batch(model, [seqs[i] for i in batch], start, W)
        for k, i in enumerate(batch):
            nats = totals[k]
            if zero_state_nats is not None and len(seqs[i]):
                nats += zero_state_nats[seqs[i][0]]
            scores[i] = LineScore(nats / math.log(2), len(seqs[i]), chars[i] if chars else 0)
    return scores  # type: ignore[return-value]


def _score_batch(model, seqs: list[np.ndarray], start: int | None, window: int) -> np.ndarray:
    """Summed nats of each sequence of one batch (every token but the first when start is None)."""
    B = len(seqs)
    full = [s if start is None else np.concatenate([[start], s]) for s in seqs]
    T = max(len(s) for s in full) - 1  # inputs are the tokens but the last
    totals = np.zeros(B, np.float64)
    if T < 1:
        return totals
    tokens = np.zeros((T + 1, B), np.int32)  # padded with id 0; masked out below
    mask = np.zeros((T, B), bool)
    for b, s in enumerate(full):
        tokens[: len(s), b] = s
        mask[: len(s) - 1, b] = True
    state = model.start_state(B)
    for a in range(0, T, window):
        x = np.ascontiguousarray(tokens[a : a + window][: T - a])
        y = np.ascontiguousarray(tokens[a + 1 : a + 1 + window][: T - a])
        losses = model.token_losses(x, y, state)
        totals += np.where(mask[a : a + len(x)], losses, 0.0).sum(axis=0)
    return totals
