"""``get_corpus``: resolve a request, plan the files to write, and either build a built-in
corpus or download a catalogued one (all files verified, then moved into place all or nothing)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rnngen.data.catalog.builtin import build_builtin
from rnngen.data.catalog.downloads import (
    DEFAULT_TIMEOUT,
    ProgressFn,
    _download_verified,
    _Meter,
    _mirror_base,
    source_url,
)
from rnngen.data.catalog.schema import CatalogEntry, CorpusFile, resolve
from rnngen.data.catalog.store import (
    _atomic_write,
    _is_cached,
    _make_dirs,
    _remove_empty,
    _write_error,
)
from rnngen.errors import CorpusError
from rnngen.files import fsync_dir

NoticeFn = Callable[[str], None]
"""Called with a one-line, human-readable notice (e.g. a cache hit)."""


def _targets(
    corpus: CatalogEntry, split: str | None, dest: Path | None
) -> list[tuple[CorpusFile, Path]]:
    """The (file, final path) pairs to write for a request."""
    if corpus.splits and split is None:
        directory = dest if dest is not None else Path(corpus.name)
        if directory.exists() and not directory.is_dir():
            raise CorpusError(f"{directory} exists and is not a directory")
        return [(f, directory / f"{f.split}{corpus.suffix}") for f in corpus.files]
    entry = corpus.file(split)
    name = corpus.name if split is None else f"{corpus.name}.{split}"
    default = Path(name + corpus.suffix)
    if dest is None:
        return [(entry, default)]
    return [(entry, dest / default.name if dest.is_dir() else dest)]


def _get_builtin(
    corpus: CatalogEntry, plan: list[tuple[CorpusFile, Path]], notice: NoticeFn | None
) -> list[Path]:
    """Build and write each file of ``plan`` (each file whole, atomically)."""
    created = _make_dirs(dict.fromkeys(target.parent for _, target in plan))
    try:
        for entry, target in plan:
            data = build_builtin(corpus.name, entry.split)
            try:
                if target.is_file() and target.read_bytes() == data:
                    _say(notice, f"{target}: already up to date")
                    continue
            except OSError:
                pass
            _atomic_write(target, data)
    except BaseException:
        _remove_empty(created)
        raise
    return [target for _, target in plan]


def _say(notice: NoticeFn | None, message: str) -> None:
    if notice is not None:
        notice(message)


def _download_all(
    plan: list[tuple[CorpusFile, Path]],
    mirror: str | None,
    progress: ProgressFn | None,
    notice: NoticeFn | None,
    timeout: float,
) -> list[Path]:
    """Fetch and verify every file, then move them all into place (all or nothing)."""
    urls = [source_url(entry, mirror) for entry, _ in plan]
    meter = _Meter(sum(entry.size or 0 for entry, _ in plan), progress)
    meter.add(0)
    created = _make_dirs(dict.fromkeys(target.parent for _, target in plan))
    pending: list[tuple[Path, Path]] = []
    try:
        for (entry, target), url in zip(plan, urls, strict=True):
            if _is_cached(target, entry):
                _say(notice, f"{target}: already present, sha256 ok; not downloading")
                meter.add(entry.size or 0)
                continue
            pending.append((_download_verified(entry, url, target, meter, timeout), target))
        for tmp, target in pending:
            os.replace(tmp, target)
    except BaseException as exc:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        _remove_empty(created)
        if isinstance(exc, OSError):
            raise _write_error(plan[0][1].parent, exc) from None
        raise
    for directory in dict.fromkeys(target.parent for _, target in plan):
        fsync_dir(directory)
    return [target for _, target in plan]


def get_corpus(
    name: str,
    dest: Path | None = None,
    *,
    mirror: str | None = None,
    progress: ProgressFn | None = None,
    notice: NoticeFn | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Path]:
    """Write corpus ``name`` (``NAME`` or ``NAME:SPLIT``) to ``dest``; return the written paths.

    A single-file corpus, or one split, is written as a file (default ``./NAME.txt`` or
    ``./NAME.SPLIT.txt``; if ``dest`` is an existing directory, the file goes inside it). A corpus
    with splits is written as a directory (default ``./NAME/``) of ``train.txt``, ``valid.txt``
    and ``test.txt``. A corpus of pairs (``dates``) is written as ``.tsv`` files.

    Downloads come from the upstream HTTPS URL, or from ``mirror`` (default: the
    ``RNNGEN_CORPUS_MIRROR`` environment variable), a base URL (http, https or file) or a local
    directory under which each file lives at its catalogued ``mirror_path``. Every file is
    checked against the catalogued sha256 before it is moved into place; files already present
    with the right checksum are not downloaded again (``notice`` is told).

    ``progress(bytes_done, bytes_total)`` is called as bytes arrive, across all files.

    Raises :class:`CorpusError` (:class:`UnknownCorpusError` for an unknown name or split).
    """
    corpus, split = resolve(name)
    plan = _targets(corpus, split, dest)
    if corpus.builtin:
        return _get_builtin(corpus, plan, notice)
    return _download_all(plan, _mirror_base(mirror), progress, notice, timeout)
