"""Verified downloads: the mirror (argument or ``RNNGEN_CORPUS_MIRROR``) or the upstream HTTPS
URL, fetched in chunks to a temporary file beside the target and checked against the catalogued
size and sha256 before the caller may move it into place."""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rnngen._version import __version__
from rnngen.data.catalog.schema import CorpusFile
from rnngen.data.catalog.store import _temp_beside, _write_error
from rnngen.errors import CorpusError

MIRROR_ENV = "RNNGEN_CORPUS_MIRROR"
"""Environment variable read for a mirror base URL when no mirror is passed."""

DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for a connection or for the next chunk of a download."""

_CHUNK = 1 << 16
_USER_AGENT = f"rnngen/{__version__} (+corpus download)"
_MIRROR_SCHEMES = ("http", "https", "file")

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)`` while downloading."""


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
