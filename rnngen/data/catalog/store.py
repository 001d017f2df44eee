"""Files of the corpus store: sha256 of a file, the cache check against the catalog, atomic
writes and temporary files beside their target, creating (and cleaning up) directories; OS errors
become one-line ``CorpusError``s."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from rnngen.data.catalog.schema import CorpusFile
from rnngen.errors import CorpusError
from rnngen.files import atomic_write, open_temp


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_cached(target: Path, expected: CorpusFile) -> bool:
    try:
        if not target.is_file() or target.stat().st_size != expected.size:
            return False
        return sha256_file(target) == expected.sha256
    except OSError:
        return False


def _write_error(where: Path, exc: OSError) -> CorpusError:
    return CorpusError(f"cannot write to {where}: {exc.strerror or exc}")


def _temp_beside(target: Path) -> tuple[int, Path]:
    """This process's temporary file next to ``target`` (same file system)."""
    try:
        return open_temp(target)
    except OSError as exc:
        raise _write_error(target.parent, exc) from None


def _atomic_write(target: Path, data: bytes) -> None:
    try:
        atomic_write(target, data)
    except OSError as exc:
        raise _write_error(target, exc) from None


def _make_dirs(directories: Iterable[Path]) -> list[Path]:
    """Create missing directories; return those created, deepest first (for cleanup)."""
    created: list[Path] = []
    for directory in directories:
        missing = [d for d in (directory, *directory.parents) if not d.exists()]
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise CorpusError(f"{directory} exists and is not a directory") from None
        except OSError as exc:
            raise _write_error(directory, exc) from None
        created.extend(missing)
    return created


def _remove_empty(directories: list[Path]) -> None:
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            pass
