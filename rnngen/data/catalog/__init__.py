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

This package does no printing; user-facing problems are raised as ``CorpusError`` (from
``rnngen.errors``) with a one-line message.

One module per job; this one re-exports the public names:

- ``schema``: the records (``CatalogEntry``, ``CorpusFile``, ``Upstream``), reading the catalog,
  ``resolve``;
- ``builtin``: the built-in corpora's builders, ``with_local_checksums``;
- ``store``: sha256 of files, the cache check, atomic writes, directories;
- ``downloads``: the mirror, source URLs and verified downloads;
- ``get``: ``get_corpus``, which puts them together.

A test that patches a name must patch it in the module that looks it up (e.g.
``rnngen.data.catalog.downloads._open_url``), not here.
"""

from rnngen.data.catalog.builtin import (
    STDLIB_CAP,
    build_builtin,
    build_dates,
    build_python_docs,
    build_python_stdlib,
    python_version,
    with_local_checksums,
)
from rnngen.data.catalog.downloads import (
    DEFAULT_TIMEOUT,
    MIRROR_ENV,
    ProgressFn,
    source_url,
)
from rnngen.data.catalog.get import NoticeFn, get_corpus
from rnngen.data.catalog.schema import (
    CatalogEntry,
    CorpusFile,
    Upstream,
    catalog_text,
    corpus_names,
    load_catalog,
    resolve,
)
from rnngen.data.catalog.store import sha256_file
from rnngen.errors import CorpusError, UnknownCorpusError

__all__ = [
    "DEFAULT_TIMEOUT",
    "MIRROR_ENV",
    "STDLIB_CAP",
    "CatalogEntry",
    "CorpusError",
    "CorpusFile",
    "NoticeFn",
    "ProgressFn",
    "UnknownCorpusError",
    "Upstream",
    "build_builtin",
    "build_dates",
    "build_python_docs",
    "build_python_stdlib",
    "catalog_text",
    "corpus_names",
    "get_corpus",
    "load_catalog",
    "python_version",
    "resolve",
    "sha256_file",
    "source_url",
    "with_local_checksums",
]
