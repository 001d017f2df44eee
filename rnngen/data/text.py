"""Reading text: files, directories and stdin, decoded with a known encoding, refused with a clear
message when they are binary, empty or undecodable."""

import codecs
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from rnngen.errors import DataError, UsageError

ERRORS = ("strict", "replace")  # --errors: refuse undecodable bytes, or read them as U+FFFD


@dataclass
class Text:
    """Decoded input text and where it came from."""

    text: str
    name: str  # for messages: the path, '<stdin>', or 'a.txt + 2 more files'
    sources: list[str]  # the paths given ('-' for stdin), as given


def check_encoding(encoding: str, errors: str) -> None:
    """Raise UsageError unless ``encoding`` and ``errors`` are usable."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UsageError(
            f"--encoding {encoding!r} is not a known text encoding (e.g. utf-8, latin-1, cp1252)"
        ) from None
    if errors not in ERRORS:
        raise UsageError(f"--errors must be 'strict' or 'replace', not {errors!r}")


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
    check_paths(paths)
    parts: list[str] = []
    for path in paths:
        if str(path) != "-" and Path(path).is_dir():
            files = text_files(Path(path), encoding)
            if not files:
                raise DataError(f"{path}: no text files in this directory")
            for f in files:
                parts.append(decode_text(_read_bytes(f), str(f), encoding, errors))
        else:
            parts.append(read_text(path, encoding, errors)[0])
    text = "".join(
        t if t.endswith("\n") or i == len(parts) - 1 else t + "\n" for i, t in enumerate(parts)
    )
    return Text(text, display_name(paths), [str(p) for p in paths])


def display_name(paths: list[str]) -> str:
    """How messages name the inputs: the path, '<stdin>', or 'a.txt + 2 more'."""
    first = "<stdin>" if str(paths[0]) == "-" else str(paths[0])
    return first if len(paths) == 1 else f"{first} + {len(paths) - 1} more"


def check_paths(paths: list[str]) -> None:
    """Raise DataError when no path is given, or stdin more than once."""
    if not paths:
        raise DataError("no input: give a file, a directory or '-' for stdin")
    if sum(str(p) == "-" for p in paths) > 1:
        raise DataError("'-' (stdin) can be given only once")


def _read_bytes(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror or e})") from None


def text_files(root: Path, encoding: str) -> list[Path]:
    """Every non-hidden, non-empty, non-binary file below ``root``, sorted by path (component by
    component: ``a/z.txt`` comes before ``b.txt``). Only each file's first 64 kB is read."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        files += [Path(dirpath) / f for f in filenames if not f.startswith(".")]
    found = []
    for f in sorted(files):
        if f.is_file():
            head = read_head(f)
            if head and not looks_binary(head, encoding):
                found.append(f)
    return found


def read_head(p: Path, n: int = 65536) -> bytes:
    """The first ``n`` bytes of a file. Raises DataError."""
    try:
        with open(p, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror or e})") from None


def looks_binary(raw: bytes, encoding: str) -> bool:
    """NUL bytes mean binary, except in the UTF-16/32 encodings, where they are ordinary."""
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    return not wide and b"\x00" in raw[:65536]


def decode_text(raw: bytes, name: str, encoding: str = "utf-8", errors: str = "strict") -> str:
    """Bytes -> text with '\\n' line ends; binary data or undecodable bytes raise DataError
    (with ``errors='replace'`` undecodable bytes become U+FFFD instead)."""
    if not raw:
        raise DataError(f"{name}: is empty")
    if looks_binary(raw, encoding):
        raise DataError(f"{name}: looks like a binary file (it contains NUL bytes), not text")
    try:
        text = raw.decode(encoding, errors)
    except UnicodeDecodeError as e:
        raise undecodable(name, encoding, raw[e.start], e.start) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def undecodable(name: str, encoding: str, byte: int, offset: int) -> DataError:
    """The error for a byte that does not decode, at ``offset`` of file ``name``."""
    enc = codecs.lookup(encoding).name
    what = "valid UTF-8" if enc == "utf-8" else f"valid {enc}"
    return DataError(
        f"{name}: is not {what} (bad byte 0x{byte:02x} at offset {offset}); "
        "give its --encoding, or --errors replace"
    )


def fingerprint(text: str) -> str:
    """Short sha256 of the corpus text, stored in checkpoints."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
