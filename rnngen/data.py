"""Corpus files -> token arrays -> the stateful (T, B) batch stream of truncated BPTT.

Each of the B batch rows reads its own contiguous stretch of the corpus (char-rnn style), so the
hidden state carried from one batch to the next belongs to the same stream of text.
"""

import codecs
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnngen.errors import UserError


class DataError(UserError):
    """A problem with the user's input text; the message names the file and what to do."""


ERRORS = ("strict", "replace")  # --errors: refuse undecodable bytes, or read them as U+FFFD


@dataclass
class Text:
    """Decoded input text and where it came from."""

    text: str
    name: str  # for messages: the path, '<stdin>', or 'a.txt + 2 more files'
    sources: list[str]  # the paths given ('-' for stdin), as given


def check_encoding(encoding: str, errors: str) -> str | None:
    """None if ``encoding`` and ``errors`` are usable, else what is wrong (a usage error)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        return f"--encoding {encoding!r} is not a known text encoding (e.g. utf-8, latin-1, cp1252)"
    if errors not in ERRORS:
        return f"--errors must be 'strict' or 'replace', not {errors!r}"
    return None


def read_text(
    path: str | Path, encoding: str = "utf-8", errors: str = "strict", allow_empty: bool = False
) -> tuple[str, str]:
    """(text, display name) of one text file, or stdin for '-'. Raises DataError."""
    if str(path) == "-":
        raw, name = sys.stdin.buffer.read(), "<stdin>"
        return ("" if allow_empty and not raw else decode_text(raw, name, encoding, errors)), name
    p = Path(path)
    name = str(p)
    if not p.exists():
        raise DataError(f"{name}: no such file")
    if p.is_dir():
        raise DataError(f"{name}: is a directory, not a text file")
    raw = _read_bytes(p)
    return ("" if allow_empty and not raw else decode_text(raw, name, encoding, errors)), name


def read_texts(paths: list[str], encoding: str = "utf-8", errors: str = "strict") -> Text:
    """Files, directories (every text file below, in sorted order) and '-' (stdin), joined.

    Each file's text ends with a newline before the next one starts. In a directory, hidden files
    and directories are skipped, and so are binary files (NUL bytes) and empty ones; a directory
    without any text file is an error. Raises DataError.
    """
    if not paths:
        raise DataError("no input: give a file, a directory or '-' for stdin")
    if sum(str(p) == "-" for p in paths) > 1:
        raise DataError("'-' (stdin) can be given only once")
    parts: list[str] = []
    for path in paths:
        if str(path) != "-" and Path(path).is_dir():
            files = _text_files(Path(path), encoding)
            if not files:
                raise DataError(f"{path}: no text files in this directory")
            for f, raw in files:
                parts.append(decode_text(raw, str(f), encoding, errors))
        else:
            parts.append(read_text(path, encoding, errors)[0])
    text = "".join(t if t.endswith("\n") or i == len(parts) - 1 else t + "\n"
                   for i, t in enumerate(parts))  # fmt: skip
    first = "<stdin>" if str(paths[0]) == "-" else str(paths[0])
    name = first if len(paths) == 1 else f"{first} + {len(paths) - 1} more"
    return Text(text, name, [str(p) for p in paths])


def _read_bytes(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror or e})") from None


def _text_files(root: Path, encoding: str) -> list[tuple[Path, bytes]]:
    """(path, bytes) of every non-hidden, non-empty, non-binary file below ``root``, sorted by
    path (component by component: ``a/z.txt`` comes before ``b.txt``)."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        files += [Path(dirpath) / f for f in filenames if not f.startswith(".")]
    found = []
    for f in sorted(files):
        if f.is_file():
            raw = _read_bytes(f)
            if raw and not _looks_binary(raw, encoding):
                found.append((f, raw))
    return found


def _looks_binary(raw: bytes, encoding: str) -> bool:
    """NUL bytes mean binary, except in the UTF-16/32 encodings, where they are ordinary."""
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    return not wide and b"\x00" in raw[:65536]


def decode_text(raw: bytes, name: str, encoding: str = "utf-8", errors: str = "strict") -> str:
    """Bytes -> text with '\\n' line ends; binary data or undecodable bytes raise DataError
    (with ``errors='replace'`` undecodable bytes become U+FFFD instead)."""
    if not raw:
        raise DataError(f"{name}: is empty")
    if _looks_binary(raw, encoding):
        raise DataError(f"{name}: looks like a binary file (it contains NUL bytes), not text")
    try:
        text = raw.decode(encoding, errors)
    except UnicodeDecodeError as e:
        enc = codecs.lookup(encoding).name
        what = "valid UTF-8" if enc == "utf-8" else f"valid {enc}"
        raise DataError(
            f"{name}: is not {what} (bad byte 0x{raw[e.start]:02x} at offset {e.start}); "
            "give its --encoding, or --errors replace"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def fingerprint(text: str) -> str:
    """Short sha256 of the corpus text, stored in checkpoints."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def split_tail(tokens: np.ndarray, frac: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation): the last ``frac`` of the tokens is held out."""
    n_val = int(round(len(tokens) * frac))
    return tokens[: len(tokens) - n_val], tokens[len(tokens) - n_val :]


@dataclass
class Position:
    """Where the batch stream is: pass over the data and step within the pass."""

    epoch: int = 0
    step_in_epoch: int = 0


class BatchStream:
    """Stateful truncated-BPTT batches of a token array.

    The tokens are cut into B rows of ``(N - 1) // B`` tokens; batch k holds columns
    ``k*T .. k*T + T`` of every row as inputs and the next token of each as targets.
    """

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int) -> None:
        self.T, self.B = seq_len, batch_size
        row_len = (len(tokens) - 1) // batch_size
        self.steps_per_epoch = row_len // seq_len
        if self.steps_per_epoch < 1:
            raise ValueError("too few tokens for one batch")
        n = row_len * batch_size
        # (B, row_len) inputs and targets; batches are sliced then transposed to (T, B)
        self.inputs = np.ascontiguousarray(tokens[:n].reshape(batch_size, row_len))
        self.targets = np.ascontiguousarray(tokens[1 : n + 1].reshape(batch_size, row_len))
        self.pos = Position()

    def next(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """(inputs (T, B), targets (T, B), new_epoch): new_epoch means 'reset the hidden state'."""
        if self.pos.step_in_epoch >= self.steps_per_epoch:
            self.pos = Position(self.pos.epoch + 1, 0)
        new_epoch = self.pos.step_in_epoch == 0
        a = self.pos.step_in_epoch * self.T
        x = np.ascontiguousarray(self.inputs[:, a : a + self.T].T)
        y = np.ascontiguousarray(self.targets[:, a : a + self.T].T)
        self.pos.step_in_epoch += 1
        return x, y, new_epoch


def eval_batches(tokens: np.ndarray, batch_size: int, seq_len: int):
    """Yield (inputs (T, B), targets (T, B), carry) chunks that score every token after the first.

    B rows of (N - 1) // B tokens are scored in windows of ``seq_len``; the leftover tail continues
    the last row with B = 1 (carry is then the index of the row whose state to keep).
    """
    n_pred = len(tokens) - 1
    B = max(1, min(batch_size, n_pred))
    row_len = n_pred // B
    n = row_len * B
    inputs = tokens[:n].reshape(B, row_len)
    targets = tokens[1 : n + 1].reshape(B, row_len)
    for a in range(0, row_len, seq_len):
        x = np.ascontiguousarray(inputs[:, a : a + seq_len].T)
        y = np.ascontiguousarray(targets[:, a : a + seq_len].T)
        yield x, y, None
    if n < n_pred:
        rest_x = tokens[n:n_pred]
        rest_y = tokens[n + 1 : n_pred + 1]
        for a in range(0, len(rest_x), seq_len):
            x = np.ascontiguousarray(rest_x[a : a + seq_len].reshape(-1, 1))
            y = np.ascontiguousarray(rest_y[a : a + seq_len].reshape(-1, 1))
            yield x, y, B - 1
