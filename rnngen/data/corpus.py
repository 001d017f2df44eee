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
            # char level: every code point of train and val gets an id; word level: train words
            vocab_text = text if (val_text is None or level == "word") else text + val_text
            vocab = Vocab.build(vocab_text, level, max_vocab=max_vocab, min_count=min_count)
        tokens = vocab.encode(text)
        if val_text is not None:
            train, val = tokens, vocab.encode(val_text)
        elif val_frac > 0:
            train, val = split_tail(tokens, val_frac)
        else:
            train, val = tokens, None
        if val is not None and len(val) < 2:
            val = None
        return cls(vocab, train, val, name, fingerprint(text))
