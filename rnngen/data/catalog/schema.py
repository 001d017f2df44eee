"""The catalog's schema and its parsing: the corpus, file and upstream records, reading
``catalog.json`` and resolving ``NAME`` or ``NAME:SPLIT`` to a catalogued corpus."""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rnngen.errors import CorpusError, UnknownCorpusError


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
    in_repo = Path(__file__).resolve().parents[3] / "corpora" / "catalog.json"
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
