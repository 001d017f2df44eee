"""Breaking the loops small models fall into: a repetition penalty (CTRL, Keskar et al. 2019) and
a ban on repeating word n-grams, applied to one sample's next-token logits.

Both work on words, whitespace-separated as the word-level vocabulary splits them. At word level a
word is a token: the penalty divides (or, when negative, multiplies) the logit of every word the
text already holds by R, and a token that would complete an N-gram the text already holds is
banned. At character level a word ends at its first whitespace character, so that is where both
act: when the word being written is one the text already holds, every whitespace character's
logit takes the penalty; when ending it would repeat an N-gram of words, whitespace is banned and
the model has to write the word on. At bpe level both act on subwords, the tokens, as Hugging
Face's ``generate`` does: a subword already written takes the penalty, and a subword that would
repeat an N-subword run is banned.
"""

from dataclasses import dataclass, field

import numpy as np

from rnngen.data.vocab import EOS, Vocab


@dataclass
class Controls:
    """The settings: R (1 = off) and N (0 = off)."""

    repetition_penalty: float = 1.0
    no_repeat_ngram: int = 0

    @property
    def active(self) -> bool:
        return self.repetition_penalty != 1.0 or self.no_repeat_ngram > 0


def penalise(logits: np.ndarray, ids: np.ndarray, r: float) -> None:
    """CTRL's rule on ``logits`` (V,) in place at ``ids``: positive ones / r, negative ones * r."""
    v = logits[ids]
    logits[ids] = np.where(v > 0, v / r, v * r)


@dataclass
class WordHistory:
    """What one sample has written so far, in words: the words seen, the N-grams seen (as the
    (N-1)-word prefix -> the words that followed it), and the word being written (char level)."""

    n: int
    words: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    grams: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    partial: str = ""

    def copy(self) -> "WordHistory":
        return WordHistory(
            self.n,
            list(self.words),
            set(self.seen),
            {k: set(v) for k, v in self.grams.items()},
            self.partial,
        )

    def add_word(self, word: str) -> None:
        if self.n > 0 and len(self.words) >= self.n - 1:
            prefix = tuple(self.words[len(self.words) - self.n + 1 :])
            self.grams.setdefault(prefix, set()).add(word)
        self.words.append(word)
        self.seen.add(word)

    def repeats(self, word: str) -> bool:
        """Whether ``word`` after the last N-1 words completes an N-gram already written."""
        if self.n <= 0 or len(self.words) < self.n - 1:
            return False
        prefix = tuple(self.words[len(self.words) - self.n + 1 :])
        return word in self.grams.get(prefix, ())


class RepetitionGuard:
    """The controls for one sample over ``vocab``: ``feed`` each token written (prime included),
    ``adjust`` the logits before each draw."""

    def __init__(self, vocab: Vocab, controls: Controls) -> None:
        self.vocab, self.controls = vocab, controls
        self.char = vocab.level == "char"
        self.hist = WordHistory(controls.no_repeat_ngram)
        self.space_ids = np.array([i for i, t in enumerate(vocab.itos) if t.isspace()], np.int64)
        self.eos = vocab.stoi.get(EOS)

    def copy(self) -> "RepetitionGuard":
        new = RepetitionGuard.__new__(RepetitionGuard)
        new.__dict__.update(self.__dict__)
        new.hist = self.hist.copy()
        return new

    def feed(self, token: int) -> None:
        t = self.vocab.itos[token]
        h = self.hist
        if not self.char:
            if token != self.eos:
                h.add_word(t)
            return
        if t.isspace():
            if h.partial:
                h.add_word(h.partial)
                h.partial = ""
        else:
            h.partial += t

    def adjust(self, logits: np.ndarray) -> None:
        """Apply the penalty and the bans to ``logits`` (V,) in place."""
        r, h = self.controls.repetition_penalty, self.hist
        if self.char:
            if not h.partial or not len(self.space_ids):
                return
            if r != 1.0 and h.partial in h.seen:
                penalise(logits, self.space_ids, r)
            if h.repeats(h.partial):
                logits[self.space_ids] = -np.inf
            return
        stoi = self.vocab.stoi
        if r != 1.0 and h.seen:
            penalise(logits, np.fromiter((stoi[w] for w in h.seen if w in stoi), np.int64), r)
        if h.n > 0 and len(h.words) >= h.n - 1:
            banned = h.grams.get(tuple(h.words[len(h.words) - h.n + 1 :]), ())
            ids = [stoi[w] for w in banned if w in stoi]
            if ids:
                logits[ids] = -np.inf
