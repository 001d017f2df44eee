"""A corpus ready to train on: its vocabulary and its training and validation tokens."""

from dataclasses import dataclass

import numpy as np

from rnngen.data.batches import split_tail
from rnngen.data.text import fingerprint
from rnngen.data.vocab import Vocab


@dataclass
class Corpus:
    """Tokenised training (and validation) data with its vocabulary."""

    vocab: Vocab
    train: np.ndarray
    val: np.ndarray | None
    name: str
    fingerprint: str
    train_chars: int | None = None  # characters of the text the tokens spell (bits per char)
    val_chars: int | None = None

    def chars_per_token(self, split: str = "val") -> float | None:
        """Characters per token of a split ("train" or "val"), None when unknown."""
        tokens, chars = (
            (self.val, self.val_chars) if split == "val" else (self.train, self.train_chars)
        )
        return None if tokens is None or not chars or not len(tokens) else chars / len(tokens)

    @classmethod
    def from_text(
        cls,
        text: str,
        name: str,
        level: str,
        val_text: str | None = None,
        val_frac: float = 0.1,
        max_vocab: int | None = None,
        min_count: int = 1,
        vocab: Vocab | None = None,
    ) -> "Corpus":
        """Tokenise ``text`` with ``vocab``, or with a vocabulary built from it; hold out
        ``val_text``, or else the last ``val_frac`` of the tokens, for validation."""
        if vocab is None:
            # char level: every code point of train and val gets an id; word level: train words;
            # bpe: learned from the training text
            vocab_text = text if (val_text is None or level != "char") else text + val_text
            vocab = Vocab.build(vocab_text, level, max_vocab=max_vocab, min_count=min_count)
        tokens = vocab.encode(text)
        chars, val_chars = len(text), None
        if val_text is not None:
            train, val = tokens, vocab.encode(val_text)
            val_chars = len(val_text)
        elif val_frac > 0:
            train, val = split_tail(tokens, val_frac)
            val_chars = tail_chars(vocab, val)
            chars -= val_chars
        else:
            train, val = tokens, None
        if val is not None and len(val) < 2:
            val = None
        return cls(vocab, train, val, name, fingerprint(text), chars, val_chars)


def tail_chars(vocab: Vocab, tail: np.ndarray) -> int:
    """The characters of a held-out tail of tokens: its decoded text's (the text's own at char
    and BPE level; at word level its words with one space between them and a line end for each
    <eos>, so whitespace runs of the text count as one)."""
    return len(vocab.decode(np.asarray(tail)))
