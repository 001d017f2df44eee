"""Byte-level BPE subwords: learning a tokenizer from a text (Hugging Face ``tokenizers``), reading
one back with every part checked, and the bytes each token stands for.

The tokenizer is the standard ``tokenizer.json``: a BPE model over the 256 byte symbols (so every
text is representable and there is no unknown token), a pre-tokenizer that first cuts the text
after each line end and then applies the GPT-2 split (letters, digits, punctuation, spaces), and
the byte-level decoder. A line end is always a token of its own (the byte 0x0A's), so the tokens of
a text are the tokens of its lines one after another: a corpus is encoded in pieces that end at
line ends, and a text starts, as at character and word level, after a line end. No special tokens:
a line end is the byte 0x0A, a seq2seq model's boundary is an id of its own after the tokenizer's.
"""

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator

from rnngen.errors import UsageError

BYTES = 256  # the byte alphabet every byte-level BPE vocabulary starts from
DEFAULT_VOCAB = 2048  # tokens, the bytes included: see docs/subwords.md for the measurements
MAX_VOCAB = 1 << 20
INSTALL = 'pip install "rnngen[bpe]"'
BATCH_CHARS = 1 << 20  # characters per batch handed to the tokenizer when encoding


def tokenizers_module():
    """The ``tokenizers`` package, or a UsageError naming the extra that brings it."""
    try:
        import tokenizers
    except ImportError:
        raise UsageError(f"the bpe level needs Hugging Face tokenizers: {INSTALL}") from None
    return tokenizers


def byte_symbols() -> list[str]:
    """The printable character standing for each byte in a byte-level token (GPT-2's table):
    printable Latin-1 bytes stand for themselves, the others for code points from U+0100 up."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    symbols, extra = {}, 0
    for b in range(BYTES):
        if b in keep:
            symbols[b] = chr(b)
        else:
            symbols[b] = chr(BYTES + extra)
            extra += 1
    return [symbols[b] for b in range(BYTES)]


SYMBOLS = byte_symbols()
BYTE_OF = {s: b for b, s in enumerate(SYMBOLS)}
NEWLINE = SYMBOLS[ord("\n")]  # the token of a line end ("Ċ")


def token_bytes(token: str) -> bytes:
    """The bytes a token stands for. Raises KeyError for a character outside the byte symbols."""
    return bytes(BYTE_OF[c] for c in token)


def _new_tokenizer():
    tk = tokenizers_module()
    t = tk.Tokenizer(tk.models.BPE())
    t.pre_tokenizer = tk.pre_tokenizers.Sequence(
        [
            tk.pre_tokenizers.Split("\n", behavior="isolated"),
            tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    t.decoder = tk.decoders.ByteLevel()
    return t


def check_vocab_size(n: int) -> None:
    """Raise UsageError unless ``n`` is a vocabulary size a byte-level BPE can have."""
    if not BYTES <= n <= MAX_VOCAB:
        raise UsageError(
            f"--vocab-size {n:,} is not possible for --level bpe: it counts the {BYTES} byte "
            f"tokens every text is spelled with, so give {BYTES} to {MAX_VOCAB:,} "
            f"(default {DEFAULT_VOCAB:,})"
        )


def learn(pieces: Iterable[str], vocab_size: int, read: Callable[[int], None] | None = None) -> str:
    """The ``tokenizer.json`` (a string) of a byte-level BPE of at most ``vocab_size`` tokens
    learned from the text of ``pieces`` (read once, as a stream); ``read(characters)`` is called
    as the text is read. Uses one core unless TOKENIZERS_PARALLELISM says otherwise."""
    check_vocab_size(vocab_size)
    tk = tokenizers_module()
    t = _new_tokenizer()
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=SYMBOLS,
        special_tokens=[],
    )

    def lines() -> Iterator[str]:
        done = 0
        for piece in pieces:
            yield piece
            done += len(piece)
            if read is not None:
                read(done)

    # both cores (or all): 100 MB in 24 s here instead of 31 s on one; the user's setting wins
    ours = "TOKENIZERS_PARALLELISM" not in os.environ
    if ours:
        os.environ["TOKENIZERS_PARALLELISM"] = "true"
    try:
        t.train_from_iterator(lines(), trainer=trainer)
    finally:
        if ours:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
    return t.to_str()


def digest(tokenizer_json: str) -> str:
    """The SHA-256 of a tokenizer's JSON, as stored beside it."""
    return hashlib.sha256(tokenizer_json.encode("utf-8")).hexdigest()


def tokens_of(tokenizer_json: str) -> list[str]:
    """The tokens of a ``tokenizer.json``, by id, after checking that it is a byte-level BPE
    of the kind ``learn`` writes. Raises ValueError saying what is wrong."""
    try:
        d = json.loads(tokenizer_json)
    except (ValueError, RecursionError):
        raise ValueError("is not JSON") from None
    if not isinstance(d, dict) or not isinstance(d.get("model"), dict):
        raise ValueError("is not a tokenizer")
    model = d["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"is a {model.get('type')!r} tokenizer, not BPE")
    if d.get("added_tokens") or d.get("normalizer") or d.get("post_processor"):
        raise ValueError("has added tokens, a normalizer or a post-processor (rnngen writes none)")
    if (d.get("decoder") or {}).get("type") != "ByteLevel":
        raise ValueError("does not decode bytes (its decoder is not ByteLevel)")
    pre = _new_tokenizer().to_str()
    if d.get("pre_tokenizer") != json.loads(pre)["pre_tokenizer"]:
        raise ValueError("does not cut text as rnngen's byte-level BPE does (its pre_tokenizer)")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError("has no vocabulary")
    n = len(vocab)
    itos: list[str | None] = [None] * n
    for tok, i in vocab.items():
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < n or itos[i] is not None:
            raise ValueError(
                f"gives token {tok!r} the id {i!r}: ids must be 0 to {n - 1}, once each"
            )
        if not tok or any(c not in BYTE_OF for c in tok):
            raise ValueError(f"has a token {tok!r} that is not made of byte symbols")
        itos[i] = tok
    missing = [b for b, s in enumerate(SYMBOLS) if s not in vocab]
    if missing:
        raise ValueError(f"lacks the token of byte 0x{missing[0]:02x}: not every text is spelled")
    return itos  # type: ignore[return-value]


def load(tokenizer_json: str):
    """A ``tokenizers.Tokenizer`` from checked JSON. Raises ValueError."""
    tk = tokenizers_module()
    try:
        return tk.Tokenizer.from_str(tokenizer_json)
    except Exception as e:  # the Rust side raises its own exception type
        raise ValueError(f"cannot be read by tokenizers ({str(e).splitlines()[0][:200]})") from None


def batches(text: str, size: int = BATCH_CHARS) -> list[str]:
    """``text`` cut after line ends into parts of about ``size`` characters (a part can be longer
    when a line is), for the tokenizer's batch encoding: the same tokens as the whole."""
    parts, start = [], 0
    while start < len(text):
        end = text.find("\n", start + size - 1)
        end = len(text) if end < 0 else end + 1
        parts.append(text[start:end])
        start = end
    return parts
