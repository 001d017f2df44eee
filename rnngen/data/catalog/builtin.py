"""The built-in corpora: assembled locally from the running Python, with no network; their
size and sha256 are computed here because they depend on the Python version."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import platform
import re
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

from rnngen.data.catalog.schema import CatalogEntry
from rnngen.errors import CorpusError, UnknownCorpusError

STDLIB_CAP = 4_000_000
"""Size cap, in bytes, of the ``python-stdlib`` built-in corpus."""


def _normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def build_python_docs() -> str:
    """English prose: the paragraphs of ``pydoc_data.topics``' texts (in sorted key order) that
    are prose, each line without its indentation (``_prose``)."""
    try:
        from pydoc_data import topics
    except ImportError:
        raise CorpusError(
            "python-docs needs the stdlib module pydoc_data, which is missing"
        ) from None
    return _prose(_normalize("".join(topics.topics[key] for key in sorted(topics.topics))))


_RULE = re.compile(r"^\s*([*=~^+-])\1{2,}\s*$")  # a heading's underline, a table's border
_CODE = re.compile(r"^\s*(>>>|\.\.\.|[+|])")  # a prompt, a continuation, a table row


def _prose(text: str) -> str:
    """The prose of a text laid out for a terminal: paragraphs that hold a code prompt or a table
    row, or are code (indented six spaces or more, thick with brackets and operators), are left
    out, and so are heading underlines; the other lines lose their indentation. Samples of a
    model trained on the whole text were half spaces: indentation and tables are a third of it,
    and a model that has seen little of it falls into runs of spaces."""
    kept = []
    for para in re.split(r"\n\s*\n", text):
        lines = [ln for ln in para.split("\n") if ln.strip() and not _RULE.match(ln)]
        if not lines or any(_CODE.match(ln) for ln in lines):
            continue
        indent = min(len(ln) - len(ln.lstrip(" ")) for ln in lines)
        body = "".join(lines)
        symbols = sum(body.count(c) for c in "()[]{}=:_.,'\"") / max(1, len(body))
        if indent >= 6 and symbols > 0.08:
            continue
        kept.append("\n".join(ln.strip() for ln in lines))
    return "\n\n".join(kept) + "\n"


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
        files.append(
            dataclasses.replace(f, size=len(data), sha256=hashlib.sha256(data).hexdigest())
        )
    return dataclasses.replace(corpus, files=tuple(files))


def python_version() -> str:
    """The running Python's version, which built-in corpora depend on."""
    return platform.python_version()
