"""The text of the inputs as a stream of pieces: what ``read_texts`` returns as one string (files,
directories, stdin; decoded, a BOM dropped, CR and CRLF line ends made LF, each file ending with a
newline before the next), read a few MB at a time, so that a 1 GB corpus never sits in memory."""

import codecs
import hashlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from rnngen.data.text import check_paths, looks_binary, text_files, undecodable
from rnngen.errors import DataError

CHUNK = 1 << 22  # bytes read at a time


def expand(paths: list[str], encoding: str) -> list[Path | str]:
    """The files to read, in order: given files, the text files below given directories, and '-'
    (stdin). Raises DataError as ``read_texts`` does."""
    check_paths(paths)
    files: list[Path | str] = []
    for path in paths:
        if str(path) == "-":
            files.append("-")
            continue
        p = Path(path)
        if not p.exists():
            raise DataError(f"{p}: no such file")
        if p.is_dir():
            found = text_files(p, encoding)
            if not found:
                raise DataError(f"{path}: no text files in this directory")
            files += found
        else:
            files.append(p)
    return files


def spool_stdin(target: Path) -> None:
    """Copy stdin into ``target`` (streamed), for a second pass over it."""
    with open(target, "wb") as f:
        shutil.copyfileobj(sys.stdin.buffer, f, CHUNK)


def file_pieces(
    path: Path, name: str, encoding: str, errors: str, chunk: int = CHUNK
) -> Iterator[str]:
    """One file's text in pieces (of ``chunk`` bytes read), as ``decode_text`` would give it
    whole. Raises DataError."""
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    offset, first, held = 0, True, ""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise DataError(f"{name}: cannot read ({e.strerror or e})") from None
    with f:
        while True:
            try:
                raw = f.read(chunk)
            except OSError as e:
                raise DataError(f"{name}: cannot read ({e.strerror or e})") from None
            final = not raw
            if offset == 0:
                if final:
                    raise DataError(f"{name}: is empty")
                if looks_binary(raw, encoding):
                    raise DataError(
                        f"{name}: looks like a binary file (it contains NUL bytes), not text"
                    )
            pending = decoder.getstate()[0]
            try:
                text = decoder.decode(raw, final)
            except UnicodeDecodeError as e:
                data = pending + raw
                raise undecodable(
                    name, encoding, data[e.start], offset - len(pending) + e.start
                ) from None
            offset += len(raw)
            if first and text:
                first = False
                if text.startswith("\ufeff"):
                    text = text[1:]
            text = held + text
            held = ""
            if not final and text.endswith("\r"):  # maybe the first half of a CRLF
                text, held = text[:-1], "\r"
            if text:
                yield text.replace("\r\n", "\n").replace("\r", "\n")
            if final:
                return


def text_pieces(
    files: list[Path | str],
    encoding: str,
    errors: str,
    stdin_copy: Path | None = None,
    chunk: int = CHUNK,
) -> Iterator[str]:
    """The joined text of ``files`` (from ``expand``) in pieces; '-' reads ``stdin_copy``."""
    for i, f in enumerate(files):
        path, name = (stdin_copy, "<stdin>") if f == "-" else (f, str(f))
        last = ""
        for piece in file_pieces(path, name, encoding, errors, chunk):
            last = piece
            yield piece
        if i < len(files) - 1 and not last.endswith("\n"):
            yield "\n"


def whole_lines(pieces: Iterator[str]) -> Iterator[str]:
    """The same text in pieces that end at a line end (but the last)."""
    carry = ""
    for piece in pieces:
        piece = carry + piece
        cut = piece.rfind("\n") + 1
        carry = piece[cut:]
        if cut:
            yield piece[:cut]
    if carry:
        yield carry


class Fingerprint:
    """``rnngen.data.text.fingerprint`` of a text fed in pieces."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def update(self, piece: str) -> None:
        self.h.update(piece.encode("utf-8"))

    def hexdigest(self) -> str:
        return self.h.hexdigest()[:16]
