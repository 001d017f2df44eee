"""A corpus encoded once into a token file beside its run: ``tokens.bin`` (the token ids, in the
smallest unsigned integer type the vocabulary allows) and ``tokens.json`` (what they are: the
vocabulary, the split, the inputs' fingerprints).

Encoding streams the text (``rnngen.data.stream``) in two passes, one to count what the vocabulary
needs and fingerprint the text, one to write the ids, so a 1 GB corpus never sits in memory.
Training, evaluation, ``--resume`` and every MPI process map the file read-only (``np.memmap``):
no copy, and the operating system's page cache holds one copy for all processes on a machine.

Nothing unchecked reaches a kernel: ``tokens.json`` records the SHA-256 of ``tokens.bin`` as it was
written (``--resume`` checks it, ``verify``), and mapping the file checks every id against the
vocabulary (``check_ids``), since the kernels index embedding and output rows with them.
"""

import hashlib
import json
import mmap
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnngen.data import bpe
from rnngen.data.batches import split_tail
from rnngen.data.corpus import Corpus, tail_chars
from rnngen.data.stream import Fingerprint, expand, spool_stdin, text_pieces, whole_lines
from rnngen.data.text import display_name
from rnngen.data.vocab import Vocab
from rnngen.errors import DataError
from rnngen.files import atomic_write, fsync_dir, open_temp, temp_path

TOKENS, META = "tokens.bin", "tokens.json"
FORMAT = "rnngen-tokens"
DTYPES = ("uint8", "uint16", "int32")
MAX_CODE_POINT = 0x110000


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest integer type that holds every id of a vocabulary of ``vocab_size``."""
    if vocab_size <= 1 << 8:
        return np.dtype(np.uint8)
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.int32)


@dataclass
class Source:
    """Inputs to encode: paths ('-' for stdin) and how to decode them."""

    paths: list[str]
    encoding: str = "utf-8"
    errors: str = "strict"

    @property
    def name(self) -> str:
        return display_name(self.paths)


class _Pieces:
    """A source's text, readable more than once (stdin is spooled to a file first)."""

    def __init__(self, src: Source, spool_dir: Path) -> None:
        self.src = src
        self.files = expand(src.paths, src.encoding)
        self.stdin_copy = None
        if "-" in self.files:
            self.stdin_copy = temp_path(spool_dir / ".stdin")
            spool_stdin(self.stdin_copy)

    def __call__(self, level: str):
        pieces = text_pieces(self.files, self.src.encoding, self.src.errors, self.stdin_copy)
        # word and subword tokens never cross a line end: pieces of whole lines encode as the whole
        return whole_lines(pieces) if level != "char" else pieces

    def close(self) -> None:
        if self.stdin_copy is not None:
            self.stdin_copy.unlink(missing_ok=True)


def _code_points(piece: str) -> np.ndarray:
    return np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)


@dataclass
class Scan:
    """What one pass over a text found: its fingerprint, and its characters or word counts."""

    fingerprint: str
    chars: set[str]
    counts: Counter


def scan(pieces, level: str) -> Scan:
    fp, counts = Fingerprint(), Counter()
    seen = np.zeros(MAX_CODE_POINT, dtype=bool)
    for piece in pieces:
        fp.update(piece)
        if level == "char":
            found = np.flatnonzero(np.bincount(_code_points(piece)))
            seen[found] = True
        else:
            counts.update(piece.split())
    chars = {chr(c) for c in np.flatnonzero(seen)}
    return Scan(fp.hexdigest(), chars, counts)


class UnknownTokenError(Exception):
    """A character the vocabulary lacks (the text is not the one the vocabulary came from)."""


class _Encoder:
    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        if vocab.level == "char":
            cps = np.array([ord(t) for t in vocab.itos], dtype=np.int64)
            self.lut = np.full(int(cps.max()) + 1, -1, dtype=np.int32)
            self.lut[cps] = np.arange(len(cps), dtype=np.int32)

    def __call__(self, piece: str) -> np.ndarray:
        if self.vocab.level != "char":
            return self.vocab.encode(piece)
        cps = _code_points(piece)
        if cps.size and int(cps.max()) >= len(self.lut):
            raise UnknownTokenError
        ids = self.lut[cps]
        if ids.size and int(ids.min()) < 0:
            raise UnknownTokenError
        return ids


def _write_ids(
    f, pieces, encode: _Encoder, dtype: np.dtype, fp: Fingerprint, digest
) -> tuple[int, int]:
    """(tokens, characters) written."""
    n = chars = 0
    for piece in pieces:
        fp.update(piece)
        ids = np.ascontiguousarray(encode(piece).astype(dtype, copy=False))
        digest.update(memoryview(ids).cast("B"))
        f.write(memoryview(ids))
        n += len(ids)
        chars += len(piece)
    return n, chars


CHUNK = 1 << 22  # bytes per read when a token file is digested or its ids checked


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (about 0.1 s per 100 MB here, from the page
    cache)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def check_ids(path: Path, dtype: str, vocab_size: int) -> None:
    """Raise DataError when an id in the token file ``path`` is not one of a vocabulary of
    ``vocab_size`` (0 <= id < vocab_size): the kernels index embedding and output rows with them,
    unchecked. Read in chunks into one buffer, not through the map, so the check adds nothing to
    the process's RSS (about 30 ms per 100 MB here, from the page cache)."""
    dt = np.dtype(dtype)
    buf = bytearray(CHUNK - CHUNK % dt.itemsize)
    done = 0  # ids checked
    with open(path, "rb") as f:
        while n := f.readinto(buf):
            part = np.frombuffer(buf, dt, count=n // dt.itemsize)
            if part.size and (int(part.max()) >= vocab_size or int(part.min()) < 0):
                at = int(np.flatnonzero((part >= vocab_size) | (part < 0))[0])
                raise DataError(
                    f"{path}: holds token id {int(part[at])} at position {done + at:,}, but its "
                    f"vocabulary has {vocab_size:,} tokens (ids 0 to {vocab_size - 1:,}); the "
                    "file is damaged"
                )
            done += part.size


def encode_corpus(
    run_dir: Path,
    level: str,
    train: Source,
    val: Source | None = None,
    val_frac: float = 0.1,
    val_max: int | None = None,
    vocab: Vocab | None = None,
    grow: bool = False,
    max_vocab: int | None = None,
    min_count: int = 1,
    expect: tuple[str, str | None] | None = None,
    bpe_size: int | None = None,
    notice: Callable[[str], None] | None = None,
) -> tuple[Corpus, list[str]]:
    """Encode ``train`` (and ``val``) into ``run_dir``'s token file and map it: (corpus, tokens
    added to ``vocab``).

    Without ``val``, the tail ``val_frac`` of the text is held out for validation, at most
    ``val_max`` tokens (the fraction recorded is the one used). The vocabulary is ``vocab``, grown
    by what the text adds when ``grow`` (``--init-from``), or
    built from the text (a BPE of ``bpe_size`` learned from the training text alone, ``notice``
    told how it goes). With ``expect`` (the fingerprints of training and validation text a run
    was trained on, for ``--resume``), a text that is not that one raises ``TextChangedError`` and
    leaves no token file. Raises DataError for unreadable input.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    parts = [_Pieces(train, run_dir)] + ([_Pieces(val, run_dir)] if val is not None else [])
    try:
        added: list[str] = []
        if vocab is None and level == "bpe":
            vocab = learn_bpe(parts[0](level), train.name, bpe_size, notice)
        elif vocab is None or grow:
            s_train = scan(parts[0](level), level)
            s_val = scan(parts[1](level), level) if val is not None else None
            if level == "char":
                chars = s_train.chars | (s_val.chars if s_val else set())
                if vocab is None:
                    vocab = Vocab("char", sorted(chars))
                else:
                    vocab, added = vocab.extended_with(chars)
            elif vocab is None:
                vocab = Vocab.from_counts(s_train.counts, max_vocab, min_count)
            else:
                vocab, added = vocab.extended_with(s_train.counts, max_vocab, min_count)
        dtype = token_dtype(len(vocab))
        encode = _Encoder(vocab)
        fd, tmp = open_temp(run_dir / TOKENS)
        fps = [Fingerprint(), Fingerprint()]
        digest = hashlib.sha256()  # of the bytes written: --resume checks the file against it
        try:
            with os.fdopen(fd, "wb") as f:
                written = [
                    _write_ids(f, p(level), encode, dtype, fp, digest)
                    for p, fp in zip(parts, fps, strict=False)
                ]
                counts = [n for n, _ in written]
                f.flush()
                os.fsync(f.fileno())
            got = (fps[0].hexdigest(), fps[1].hexdigest() if val is not None else None)
            if expect is not None and got != tuple(expect):
                raise TextChangedError(got)
            os.replace(tmp, run_dir / TOKENS)
        except UnknownTokenError:
            raise TextChangedError((None, None)) from None
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(run_dir)
    finally:
        for p in parts:
            p.close()
    if val is None and val_max is not None and counts[0] * val_frac > val_max:
        val_frac = val_max / counts[0]
    meta = {
        "format": FORMAT,
        "version": 1,
        "dtype": dtype.name,
        "level": level,
        "name": train.name,
        "tokens": counts[0],
        "val_tokens": counts[1] if val is not None else None,
        "val_frac": None if val is not None else val_frac,
        "fingerprint": got[0],
        "val_fingerprint": got[1],
        "chars": written[0][1],  # characters of the text (before a tail split)
        "val_chars": written[1][1] if val is not None else None,
        "sha256": digest.hexdigest(),
        "vocab": vocab.to_dict(),
    }
    atomic_write(run_dir / META, json.dumps(meta).encode())
    return open_corpus(run_dir), added


def learn_bpe(
    pieces: Iterable[str], name: str, size: int | None, notice: Callable[[str], None] | None
) -> Vocab:
    """A BPE vocabulary learned from the training text's ``pieces``, saying how it goes (every
    5 s while it reads, and what it came to)."""
    size = size or bpe.DEFAULT_VOCAB
    bpe.check_vocab_size(size)
    say = notice or (lambda _: None)
    say(f"learning {size:,} byte-level subwords from {name}…")
    t0 = last = time.monotonic()

    def read(chars: int) -> None:
        nonlocal last
        if time.monotonic() - last > 5:
            last = time.monotonic()
            say(f"learning subwords: {chars / 1e6:,.1f}M characters read")

    vocab = Vocab.learned(pieces, size, read)
    took = time.monotonic() - t0
    say(f"learned {len(vocab):,} subwords in {took:.1f} s")
    if len(vocab) < size:
        say(
            f"warning: {name} holds too little text for {size:,} subwords: the vocabulary "
            f"stops at {len(vocab):,} (every pair seen twice or more is merged)"
        )
    return vocab


class TextChangedError(Exception):
    """The text read is not the one expected: (fingerprint, validation fingerprint) found."""


def read_meta(run_dir: Path) -> dict | None:
    """The token file's description, or None when there is no usable token file."""
    try:
        meta = json.loads((run_dir / META).read_text())
        size = (run_dir / TOKENS).stat().st_size
    except (OSError, ValueError):
        return None
    try:
        ok = (
            meta["format"] == FORMAT
            and meta["dtype"] in DTYPES
            and size
            == np.dtype(meta["dtype"]).itemsize * (meta["tokens"] + (meta["val_tokens"] or 0))
        )
    except (KeyError, TypeError):
        return None
    return meta if ok else None


def verify(run_dir: Path, meta: dict) -> str | None:
    """What is wrong with ``run_dir``'s token file against the checksum ``meta`` records for it
    (None: it is the file that was written), as a message's end."""
    recorded = meta.get("sha256")
    if not isinstance(recorded, str):
        return "records no checksum (written by an older rnngen)"
    try:
        found = file_digest(run_dir / TOKENS)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if found != recorded:
        return f"does not match the checksum {META} recorded when it was written"
    return None


def open_corpus(run_dir: Path, meta: dict | None = None) -> Corpus:
    """The corpus of ``run_dir``'s token file, mapped read-only, every id checked against the
    vocabulary. Raises DataError."""
    meta = meta or read_meta(run_dir)
    if meta is None:
        raise DataError(f"{run_dir / TOKENS}: missing or damaged token file")
    try:
        vocab = Vocab.from_dict(meta["vocab"])
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{run_dir / META}: vocab is not a vocabulary ({e})") from None
    n, n_val = meta["tokens"], meta["val_tokens"] or 0
    mm = np.memmap(run_dir / TOKENS, dtype=meta["dtype"], mode="r", shape=(n + n_val,))
    check_ids(run_dir / TOKENS, meta["dtype"], len(vocab))
    if meta["val_tokens"] is not None:
        train, val = mm[:n], mm[n:]
    elif meta["val_frac"]:
        train, val = split_tail(mm, meta["val_frac"])
    else:
        train, val = mm, None
    if val is not None and len(val) < 2:
        val = None
    chars, val_chars = meta.get("chars"), meta.get("val_chars")
    if isinstance(chars, int) and val is not None and meta["val_tokens"] is None:
        val_chars = tail_chars(vocab, val)  # the held-out tail's
        chars -= val_chars
    return Corpus(
        vocab, train, val, meta["name"], meta["fingerprint"], _count(chars), _count(val_chars)
    )


def _count(n) -> int | None:
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def release_pages(*arrays: np.ndarray | None) -> None:
    """Let go of the token file's pages these arrays (views of its map) have touched: they leave
    this process's RSS and stay in the page cache, to be mapped again at the next touch (a minor
    fault). Training calls it at every evaluation, so a long run's RSS does not grow by the
    whole token file as its rows advance through it. Arrays in memory are left alone."""
    seen = set()
    for a in arrays:
        m = getattr(a, "_mmap", None)
        if m is not None and id(m) not in seen and hasattr(mmap, "MADV_DONTNEED"):
            seen.add(id(m))
            m.madvise(mmap.MADV_DONTNEED)
