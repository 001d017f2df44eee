"""Character and word vocabularies: build, encode, decode, to/from a JSON-able dict.

Char level works on Unicode code points. Word level splits each line on whitespace and ends it with
``<eos>`` (the PTB/WikiText convention); words outside the vocabulary map to ``<unk>``.
"""

from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np

EOS = "<eos>"
UNK = "<unk>"


class Vocab:
    """Token <-> id mapping for one level ("char" or "word")."""

    def __init__(self, level: str, tokens: list[str]) -> None:
        if level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', not {level!r}")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError("tokens must be a list of strings")
        self.level = level
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has repeated tokens")
        if level == "char" and any(len(t) != 1 for t in self.itos):
            raise ValueError("a character vocabulary holds single characters")
        if level == "word" and not (EOS in self.stoi and UNK in self.stoi):
            raise ValueError(f"a word vocabulary holds {EOS} and {UNK}")
        if not self.itos:
            raise ValueError("vocabulary is empty")

    def __len__(self) -> int:
        return len(self.itos)

    # ---- building -------------------------------------------------------------------------------

    @classmethod
    def build(
        cls, text: str, level: str, max_vocab: int | None = None, min_count: int = 1
    ) -> "Vocab":
        """Vocabulary of ``text``: sorted code points, or words by descending frequency."""
        if level == "char":
            return cls("char", sorted(set(text)))
        return cls.from_counts(Counter(text.split()), max_vocab, min_count)

    @classmethod
    def from_counts(
        cls, counts: Counter, max_vocab: int | None = None, min_count: int = 1
    ) -> "Vocab":
        """A word vocabulary from word counts: <eos>, <unk>, then words by descending count."""
        counts = Counter(counts)
        counts.pop(EOS, None)
        counts.pop(UNK, None)
        words = sorted(counts, key=lambda w: (-counts[w], w))
        words = [w for w in words if counts[w] >= min_count]
        if max_vocab is not None:
            words = words[: max(0, max_vocab - 2)]
        return cls("word", [EOS, UNK, *words])

    # ---- encoding -------------------------------------------------------------------------------

    def split(self, text: str, close_last_line: bool = True) -> Iterator[str]:
        """The token stream of ``text`` at this vocabulary's level.

        At word level every line ends with <eos>; with ``close_last_line=False`` a last line without
        its newline stays open (a prime that the model continues mid-line)."""
        if self.level == "char":
            yield from text
            return
        lines = text.split("\n")
        open_line = lines.pop()  # "" when the text ends with a newline
        for line in lines:
            yield from line.split()
            yield EOS
        yield from open_line.split()
        if close_last_line and open_line.strip():
            yield EOS

    def unknown(self, text: str) -> list[str]:
        """Tokens of ``text`` missing from the vocabulary, in order of first appearance."""
        seen: dict[str, None] = {}
        for tok in self.split(text, close_last_line=False):
            if tok not in self.stoi:
                seen.setdefault(tok, None)
        return list(seen)

    def encode(self, text: str, close_last_line: bool = True) -> np.ndarray:
        """Token ids (int32). Unknown words become <unk>; unknown characters raise KeyError."""
        if self.level == "char":
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int32, count=len(text))
        unk = self.stoi[UNK]
        words = self.split(text, close_last_line)
        return np.fromiter((self.stoi.get(w, unk) for w in words), dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids; at word level <eos> becomes a newline."""
        return StreamDecoder(self)(ids)

    def extended(
        self,
        text: str,
        val_text: str | None = None,
        max_vocab: int | None = None,
        min_count: int = 1,
    ) -> tuple["Vocab", list[str]]:
        """(this vocabulary with the tokens of a new text it lacks appended, those tokens): every
        old token keeps its id, so a trained model can go on learning on new text
        (``--init-from``).

        Char level: every new code point of the text (and of ``val_text``), sorted. Word level: new
        words of the training text seen at least ``min_count`` times, most frequent first, while
        the vocabulary stays within ``max_vocab``; the others will read as <unk>.
        """
        if self.level == "char":
            return self.extended_with(set(text + (val_text or "")))
        return self.extended_with(Counter(text.split()), max_vocab, min_count)

    def extended_with(
        self, seen: set[str] | Counter, max_vocab: int | None = None, min_count: int = 1
    ) -> tuple["Vocab", list[str]]:
        """``extended`` from what the new text holds: its characters (a set), or its word counts
        (a Counter)."""
        if self.level == "char":
            new = sorted(set(seen) - set(self.stoi))
        else:
            counts = Counter(seen)
            for special in (EOS, UNK):
                counts.pop(special, None)
            new = sorted(
                (w for w, n in counts.items() if n >= min_count and w not in self.stoi),
                key=lambda w: (-counts[w], w),
            )
            if max_vocab is not None:
                new = new[: max(0, max_vocab - len(self))]
        return Vocab(self.level, [*self.itos, *new]), new

    def decoder(self) -> "StreamDecoder":
        """A stateful decoder for streaming output piece by piece."""
        return StreamDecoder(self)

    # ---- serialisation --------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"level": self.level, "tokens": self.itos}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocab":
        """Raises ValueError (or KeyError, TypeError) when ``d`` is not a vocabulary."""
        return cls(d["level"], d["tokens"])


class StreamDecoder:
    """Decodes token ids chunk by chunk, remembering whether a space is due before the next word."""

    def __init__(self, vocab: Vocab, at_line_start: bool = True) -> None:
        self.vocab = vocab
        self.at_line_start = at_line_start

    def __call__(self, ids: Iterable[int]) -> str:
        v = self.vocab
        if v.level == "char":
            return "".join(v.itos[i] for i in ids)
        out: list[str] = []
        for i in ids:
            tok = v.itos[i]
            if tok == EOS:
                out.append("\n")
                self.at_line_start = True
            else:
                if not self.at_line_start:
                    out.append(" ")
                out.append(tok)
                self.at_line_start = False
        return "".join(out)
