"""The corpus catalog: named text corpora, downloaded and verified, or assembled locally.

The catalog (``corpora/catalog.json``, installed as ``rnngen/corpora/catalog.json``) lists each
corpus with its files. A *download* corpus names, per file, an upstream HTTPS URL, the file's path
on a mirror, its size and its sha256. A *built-in* corpus is assembled from the running Python
with no network; its size and checksum are computed locally because they depend on the Python
version.

A corpus is either one file (``tinyshakespeare``) or a set of splits (``ptb`` has ``train``,
``valid`` and ``test``). ``get_corpus("ptb")`` writes a directory of ``SPLIT.txt`` files;
``get_corpus("ptb:valid")`` writes one split as a file.

Downloads are checked against the catalog's sha256 before they appear at their final path, and are
written atomically: a failed or interrupted download never leaves a partial file behind.

This module does no printing; user-facing problems are raised as ``CorpusError`` (from
``rnngen.errors``) with a one-line message.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import sysconfig
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rnngen._version import __version__
from rnngen.errors import CorpusError, UnknownCorpusError
from rnngen.files import atomic_write, fsync_dir, open_temp

MIRROR_ENV = "RNNGEN_CORPUS_MIRROR"
"""Environment variable read for a mirror base URL when no mirror is passed."""

DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for a connection or for the next chunk of a download."""

STDLIB_CAP = 4_000_000
"""Size cap, in bytes, of the ``python-stdlib`` built-in corpus."""

_CHUNK = 1 << 16
_USER_AGENT = f"rnngen/{__version__} (+corpus download)"
_MIRROR_SCHEMES = ("http", "https", "file")

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)`` while downloading."""

NoticeFn = Callable[[str], None]
"""Called with a one-line, human-readable notice (e.g. a cache hit)."""


@dataclass(frozen=True)
class Upstream:
    """Where a catalogued file comes from: a repository, a commit and a path in it."""

    repo: str
    commit: str
    path: str
    git_blob: str | None = None


@dataclass(frozen=True)
class CorpusFile:
    """One file of a corpus: the whole corpus, or one split of it.

    ``size`` and ``sha256`` are ``None`` in the catalog for built-in corpora; see
    :func:`with_local_checksums`.
    """

    split: str | None
    size: int | None
    sha256: str | None
    url: str | None = None
    mirror_path: str | None = None
    upstream: Upstream | None = None
    note: str = ""


@dataclass(frozen=True)
class CatalogEntry:
    """A named corpus of the catalog."""

    name: str
    kind: str
    description: str
    license: str
    license_note: str
    source: str
    files: tuple[CorpusFile, ...]
    suffix: str = ".txt"  # of the files written (".tsv" for a corpus of pairs)

    @property
    def builtin(self) -> bool:
        """True for corpora assembled locally from the running Python."""
        return self.kind == "builtin"

    @property
    def splits(self) -> tuple[str, ...]:
        """Split names (``train``, ``valid``, ``test``), or ``()`` for a single-file corpus."""
        return tuple(f.split for f in self.files if f.split is not None)

    @property
    def size(self) -> int | None:
        """Total size in bytes, or ``None`` when not known without building the corpus."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)

    def file(self, split: str | None = None) -> CorpusFile:
        """The file for ``split`` (``None`` for a single-file corpus)."""
        if split is None and self.splits:
            raise UnknownCorpusError(
                f"corpus {self.name!r} has splits; name one: {self._split_specs()}"
            )
        if split is not None and not self.splits:
            raise UnknownCorpusError(f"corpus {self.name!r} has no splits; use {self.name!r}")
        for f in self.files:
            if f.split == split:
                return f
        raise UnknownCorpusError(
            f"corpus {self.name!r} has no split {split!r}; splits: {', '.join(self.splits)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the corpus."""
        data = dataclasses.asdict(self)
        data["files"] = [_drop_empty(dataclasses.asdict(f)) for f in self.files]
        data["splits"] = list(self.splits)
        data["size"] = self.size
        return data

    def _split_specs(self) -> str:
        return ", ".join(f"{self.name}:{s}" for s in self.splits)


# --------------------------------------------------------------------------- catalog


def catalog_text() -> str:
    """The raw catalog JSON, from the installed package or, for editable installs, the repo."""
    packaged = resources.files("rnngen") / "corpora" / "catalog.json"
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    in_repo = Path(__file__).resolve().parents[2] / "corpora" / "catalog.json"
    try:
        return in_repo.read_text(encoding="utf-8")
    except OSError as exc:
        raise CorpusError(f"corpus catalog not found ({in_repo}: {exc.strerror})") from None


@functools.cache
def _catalog() -> tuple[CatalogEntry, ...]:
    try:
        raw = json.loads(catalog_text())
        return tuple(_parse_corpus(entry) for entry in raw["corpora"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"corpus catalog is malformed: {exc!r}") from None


def load_catalog() -> list[CatalogEntry]:
    """All catalogued corpora, in catalog order."""
    return list(_catalog())


def corpus_names() -> list[str]:
    """The names of all catalogued corpora."""
    return [c.name for c in _catalog()]


def _parse_corpus(entry: dict[str, Any]) -> CatalogEntry:
    if entry["kind"] not in ("download", "builtin"):
        raise ValueError(f"{entry['name']}: unknown kind {entry['kind']!r}")
    return CatalogEntry(
        name=entry["name"],
        kind=entry["kind"],
        description=entry.get("description", ""),
        license=entry["license"],
        license_note=entry.get("license_note", ""),
        source=entry.get("source", ""),
        files=tuple(_parse_file(f) for f in entry["files"]),
        suffix=entry.get("suffix", ".txt"),
    )


def _parse_file(entry: dict[str, Any]) -> CorpusFile:
    upstream = entry.get("upstream")
    return CorpusFile(
        split=entry.get("split"),
        size=entry.get("size"),
        sha256=entry.get("sha256"),
        url=entry.get("url"),
        mirror_path=entry.get("mirror_path"),
        upstream=Upstream(**upstream) if upstream else None,
        note=entry.get("note", ""),
    )


def _drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in (None, "")}


def resolve(spec: str) -> tuple[CatalogEntry, str | None]:
    """Parse ``NAME`` or ``NAME:SPLIT`` into the corpus and the split (``None`` if not given).

    Raises :class:`UnknownCorpusError` naming the known corpora or splits.
    """
    name, sep, split = spec.partition(":")
    for corpus in _catalog():
        if corpus.name == name:
            if sep:
                corpus.file(split)  # validates the split
                return corpus, split
            return corpus, None
    known = ", ".join(corpus_names())
    raise UnknownCorpusError(f"unknown corpus {name!r}; known corpora: {known}")


# --------------------------------------------------------------------------- built-in corpora


def _normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def build_python_docs() -> str:
    """English prose: ``pydoc_data.topics`` texts concatenated in sorted key order."""
    try:
        from pydoc_data import topics
    except ImportError:
        raise CorpusError(
            "python-docs needs the stdlib module pydoc_data, which is missing"
        ) from None
    return _normalize("".join(topics.topics[key] for key in sorted(topics.topics)))


def _stdlib_sources() -> Iterator[tuple[str, str]]:
    root = Path(sysconfig.get_path("stdlib"))
    for path in sorted(root.glob("*.py"), key=lambda p: p.name):
        try:
            yield path.name, path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue


def build_python_stdlib(cap: int = STDLIB_CAP) -> str:
    """Python source: the stdlib's top-level ``*.py`` files, sorted, up to ``cap`` bytes.

    Each file is preceded by a ``# ==== NAME ====`` line. Whole files are added in name order
    until the next one would pass the cap; files that are not UTF-8 are skipped.
    """
    parts: list[str] = []
    total = 0
    for name, text in _stdlib_sources():
        part = f"# ==== {name} ====\n" + _normalize(text)
        size = len(part.encode("utf-8"))
        if total + size > cap:
            break
        parts.append(part)
        total += size
    if not parts:
        raise CorpusError("python-stdlib: found no readable *.py files in the standard library")
    return "".join(parts)


@functools.cache
def build_dates() -> dict[str, str]:
    """Dates as people write them and their ISO 8601 form (``rnngen.data.dates``)."""
    from rnngen.data import dates

    return dates.build_dates()


_BUILDERS: dict[str, Callable[[], str | dict[str, str]]] = {
    "python-docs": build_python_docs,
    "python-stdlib": build_python_stdlib,
    "dates": build_dates,
}


def build_builtin(name: str, split: str | None = None) -> bytes:
    """The UTF-8 bytes of built-in corpus ``name`` (of its ``split``, when it has splits),
    assembled locally."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise UnknownCorpusError(f"no built-in corpus named {name!r}") from None
    text = builder()
    if isinstance(text, dict):
        if split not in text:
            raise UnknownCorpusError(f"built-in corpus {name!r} has no split {split!r}")
        text = text[split]
    return text.encode("utf-8")


def with_local_checksums(corpus: CatalogEntry) -> CatalogEntry:
    """``corpus`` with size and sha256 filled in; built-in corpora are built to compute them."""
    if not corpus.builtin:
        return corpus
    files = []
    for f in corpus.files:
        data = build_builtin(corpus.name, f.split)
        files.append(dataclasses.replace(f, size=len(data),
                                         sha256=hashlib.sha256(data).hexdigest()))  # fmt: skip
    return dataclasses.replace(corpus, files=tuple(files))


def python_version() -> str:
    """The running Python's version, which built-in corpora depend on."""
    return platform.python_version()


# --------------------------------------------------------------------------- hashing, files


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


# --------------------------------------------------------------------------- network


def _mirror_base(mirror: str | None) -> str | None:
    """Normalize a mirror (URL or local directory) to a base URL, or ``None`` for upstream."""
    if mirror is None:
        mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        return None
    if "://" not in mirror:
        directory = Path(mirror).expanduser()
        if not directory.is_dir():
            raise CorpusError(f"mirror {mirror!r} is neither a URL nor a directory")
        return directory.resolve().as_uri()
    scheme = urllib.parse.urlsplit(mirror).scheme.lower()
    if scheme not in _MIRROR_SCHEMES:
        raise CorpusError(f"mirror {mirror!r}: unsupported scheme (use http, https or file)")
    return mirror.rstrip("/")


def source_url(entry: CorpusFile, mirror: str | None = None) -> str:
    """Where to fetch ``entry``: the mirror (a normalized base URL) or the upstream HTTPS URL."""
    if mirror is not None:
        if not entry.mirror_path:
            raise CorpusError("catalog entry has no mirror_path")
        return mirror + "/" + urllib.parse.quote(entry.mirror_path)
    if not entry.url or not entry.url.startswith("https://"):
        raise CorpusError(f"refusing to download from a non-HTTPS URL: {entry.url!r}")
    return entry.url


def _offline_hint() -> str:
    return f"(offline? use a mirror: --mirror URL or {MIRROR_ENV})"


def _open_url(url: str, timeout: float) -> Any:
    # imported here: urllib.request pulls in ssl, http, email (30 ms); no other command needs them
    import http.client
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # scheme checked in source_url
    except urllib.error.HTTPError as exc:
        exc.close()
        raise CorpusError(f"download failed: HTTP {exc.code} {exc.reason} for {url}") from None
    except urllib.error.URLError as exc:
        reason = getattr(exc.reason, "strerror", None) or exc.reason
        raise CorpusError(f"cannot fetch {url}: {reason} {_offline_hint()}") from None
    except (TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
        raise CorpusError(f"cannot fetch {url}: {exc or type(exc).__name__}") from None


def _read_chunks(response: Any, url: str) -> Iterator[bytes]:
    import http.client  # loaded already by _open_url

    while True:
        try:
            chunk = response.read(_CHUNK)
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            reason = f"{exc}" or type(exc).__name__
            raise CorpusError(f"download of {url} failed: {reason} {_offline_hint()}") from None
        if not chunk:
            return
        yield chunk


def _check(entry: CorpusFile, url: str, size: int, digest: str) -> None:
    if digest != entry.sha256:
        raise CorpusError(
            f"checksum mismatch for {url}: expected sha256 {entry.sha256}, got {digest} "
            f"({size} bytes, expected {entry.size})"
        )


class _Meter:
    """Cumulative byte counter across the files of one request, feeding ``progress``."""

    def __init__(self, total: int, progress: ProgressFn | None) -> None:
        self.done = 0
        self.total = total
        self.progress = progress

    def add(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)


def _download_verified(
    entry: CorpusFile, url: str, target: Path, meter: _Meter, timeout: float
) -> Path:
    """Download ``url`` to a temp file beside ``target``; return its path once verified."""
    fd, tmp = _temp_beside(target)
    digest, size = hashlib.sha256(), 0
    expected = entry.size if entry.size is not None else -1
    try:
        with os.fdopen(fd, "wb") as out, _open_url(url, timeout) as response:
            for chunk in _read_chunks(response, url):
                size += len(chunk)
                if 0 <= expected < size:
                    raise CorpusError(f"{url} is larger than the catalogued {expected} bytes")
                out.write(chunk)
                digest.update(chunk)
                meter.add(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        _check(entry, url, size, digest.hexdigest())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _write_error(target, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


# --------------------------------------------------------------------------- get


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


def _get_builtin(corpus: CatalogEntry, plan: list[tuple[CorpusFile, Path]],
                 notice: NoticeFn | None) -> list[Path]:  # fmt: skip
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
