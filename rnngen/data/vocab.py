"""Character, word and subword vocabularies: build, encode, decode, to/from a JSON-able dict.

Char level works on Unicode code points. Word level splits each line on whitespace and ends it with
``<eos>`` (the PTB/WikiText convention); words outside the vocabulary map to ``<unk>``. BPE level
spells every text in byte-level subwords (``rnngen.data.bpe``): no unknown token, and decoding
gives back the exact text.
"""

import codecs
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from rnngen.data import bpe
from rnngen.nn.config import LEVELS

EOS = "<eos>"
UNK = "<unk>"


class Vocab:
    """Token <-> id mapping for one level ("char", "word" or "bpe"; a BPE vocabulary also holds
    its ``tokenizer.json``)."""

    def __init__(self, level: str, tokens: list[str], tokenizer: str | None = None) -> None:
        if level not in LEVELS:
            raise ValueError(f"level must be 'char', 'word' or 'bpe', not {level!r}")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError("tokens must be a list of strings")
        if (level == "bpe") != (tokenizer is not None):
            raise ValueError("a bpe vocabulary, and only it, holds a tokenizer")
        if level == "bpe" and tokens != bpe.tokens_of(tokenizer):
            raise ValueError("its tokens are not its tokenizer's")
        self.level = level
        self.tokenizer = tokenizer
        self._tk = None  # the tokenizers.Tokenizer, made at the first encode
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

    @property
    def line_end(self) -> str:
        """The token a line end is: ``\\n``, ``<eos>``, or the byte 0x0A's subword."""
        return {"char": "\n", "word": EOS, "bpe": bpe.NEWLINE}[self.level]

    @property
    def open(self) -> bool:
        """Whether a text can hold what this vocabulary cannot spell: characters it never saw
        (char level; an error) or words (word level; read as <unk>). A BPE spells every text."""
        return self.level != "bpe"

    # ---- building -------------------------------------------------------------------------------

    @classmethod
    def build(
        cls, text: str, level: str, max_vocab: int | None = None, min_count: int = 1
    ) -> "Vocab":
        """Vocabulary of ``text``: sorted code points, words by descending frequency, or a BPE of
        ``max_vocab`` tokens (default ``bpe.DEFAULT_VOCAB``) learned from it."""
        if level == "char":
            return cls("char", sorted(set(text)))
        if level == "bpe":
            return cls.learned(bpe.batches(text), max_vocab or bpe.DEFAULT_VOCAB)
        return cls.from_counts(Counter(text.split()), max_vocab, min_count)

    @classmethod
    def learned(
        cls, pieces: Iterable[str], size: int, read: Callable[[int], None] | None = None
    ) -> "Vocab":
        """A BPE vocabulary of at most ``size`` tokens learned from the text of ``pieces`` (each
        ending at a line end, but the last), read once; ``read(characters)`` follows it."""
        return cls.from_tokenizer(bpe.learn(pieces, size, read))

    @classmethod
    def from_tokenizer(cls, tokenizer: str) -> "Vocab":
        """The BPE vocabulary of a ``tokenizer.json``. Raises ValueError when it is not one."""
        return cls("bpe", bpe.tokens_of(tokenizer), tokenizer)

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
        if self.level == "bpe":
            yield from (self.itos[i] for i in self.encode(text))
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
        if self.level == "bpe":
            return []
        seen: dict[str, None] = {}
        for tok in self.split(text, close_last_line=False):
            if tok not in self.stoi:
                seen.setdefault(tok, None)
        return list(seen)

    def encode(self, text: str, close_last_line: bool = True) -> np.ndarray:
        """Token ids (int32). Unknown words become <unk>; unknown characters raise KeyError."""
        if self.level == "char":
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int32, count=len(text))
        if self.level == "bpe":
            return self._encode_bpe(text)
        unk = self.stoi[UNK]
        words = self.split(text, close_last_line)
        return np.fromiter((self.stoi.get(w, unk) for w in words), dtype=np.int32)

    def _encode_bpe(self, text: str) -> np.ndarray:
        if self._tk is None:
            self._tk = bpe.load(self.tokenizer)
        parts = self._tk.encode_batch(bpe.batches(text), add_special_tokens=False)
        if not parts:
            return np.zeros(0, dtype=np.int32)
        return np.concatenate([np.asarray(p.ids, dtype=np.int32) for p in parts])

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids; at word level <eos> becomes a newline."""
        decode = StreamDecoder(self)
        return decode(ids) + decode.flush()

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
        if self.level == "bpe":
            return self, []  # a BPE spells every text: the tokenizer stays as it is
        return self.extended_with(Counter(text.split()), max_vocab, min_count)

    def extended_with(
        self, seen: set[str] | Counter, max_vocab: int | None = None, min_count: int = 1
    ) -> tuple["Vocab", list[str]]:
        """``extended`` from what the new text holds: its characters (a set), or its word counts
        (a Counter)."""
        if self.level == "bpe":
            return self, []
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

    def spans(self, ids: Iterable[int]) -> list[str]:
        """The text each token adds, in order (together: the decoded text). A subword that ends
        inside a character adds nothing; the one that completes it adds the character."""
        if self.level != "bpe":
            return [self.itos[i] for i in ids]
        decode = self.decoder()
        out = [decode([i]) for i in ids]
        if out:
            out[-1] += decode.flush()
        return out

    def shown(self, i: int) -> str:
        """Token ``i`` as a person reads it: a subword's bytes as text (U+FFFD for a part of a
        character), else the token."""
        if self.level != "bpe":
            return self.itos[i]
        return _token_bytes(self)[i].decode("utf-8", "replace")

    def decoder(self) -> "StreamDecoder":
        """A stateful decoder for streaming output piece by piece."""
        return StreamDecoder(self)

    # ---- serialisation --------------------------------------------------------------------------

    def to_dict(self) -> dict:
        if self.level == "bpe":
            # the tokens are the tokenizer's; its digest tells an edited tokenizer on load
            return {
                "level": "bpe",
                "tokenizer": self.tokenizer,
                "sha256": bpe.digest(self.tokenizer),
            }
        return {"level": self.level, "tokens": self.itos}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocab":
        """Raises ValueError (or KeyError, TypeError) when ``d`` is not a vocabulary."""
        if d["level"] == "bpe":
            tokenizer = d["tokenizer"]
            if not isinstance(tokenizer, str):
                raise ValueError("its tokenizer is not a tokenizer.json string")
            if d.get("sha256") != bpe.digest(tokenizer):
                raise ValueError(
                    "its tokenizer was edited (its SHA-256 is not the one recorded beside it)"
                )
            try:
                return cls.from_tokenizer(tokenizer)
            except ValueError as e:
                raise ValueError(f"its tokenizer {e}") from None
        return cls(d["level"], d["tokens"])


class StreamDecoder:
    """Decodes token ids chunk by chunk, remembering whether a space is due before the next word
    (word level), or the first bytes of a character whose last bytes are still to come (BPE
    level: a subword may end inside a UTF-8 sequence; bytes that never make a character become
    U+FFFD)."""

    def __init__(self, vocab: Vocab, at_line_start: bool = True) -> None:
        self.vocab = vocab
        self.at_line_start = at_line_start
        if vocab.level == "bpe":
            self.utf8 = codecs.getincrementaldecoder("utf-8")("replace")
            self.token_bytes = _token_bytes(vocab)

    def __call__(self, ids: Iterable[int]) -> str:
        v = self.vocab
        if v.level == "char":
            return "".join(v.itos[i] for i in ids)
        if v.level == "bpe":
            return self.utf8.decode(b"".join(self.token_bytes[i] for i in ids))
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

    def flush(self) -> str:
        """The end of the text: what is held back of an unfinished character (as U+FFFD)."""
        return self.utf8.decode(b"", True) if self.vocab.level == "bpe" else ""


def _token_bytes(vocab: Vocab) -> list[bytes]:
    """The bytes each token of a BPE vocabulary stands for, made once per vocabulary."""
    cached = getattr(vocab, "_bytes", None)
    if cached is None:
        cached = vocab._bytes = [bpe.token_bytes(t) for t in vocab.itos]
    return cached
