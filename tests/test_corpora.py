"""Tests for the corpus catalog, ``rnngen.data.catalog`` and the installed ``rnngen corpus`` CLI.

Downloads are served by a real HTTP server on 127.0.0.1 from the project's shared corpora
directory (``<repo>/../shared/corpora``); tests that need it are skipped when it is absent.
CLI tests run the installed ``rnngen`` command in a subprocess.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from clitools import cli_env

from rnngen.data.catalog import (
    MIRROR_ENV,
    STDLIB_CAP,
    CorpusError,
    UnknownCorpusError,
    build_builtin,
    build_python_docs,
    build_python_stdlib,
    get_corpus,
    load_catalog,
    resolve,
    sha256_file,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"shared corpora directory {SHARED} is absent"
)
CATALOG = {c.name: c for c in load_catalog()}


# --------------------------------------------------------------------------- helpers


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1; yield the base URL."""
    handler = partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expected_sha(name: str, split: str | None = None) -> str:
    digest = CATALOG[name].file(split).sha256
    assert digest is not None
    return digest


def corrupt_copy(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` with a few bytes changed (same size)."""
    data = bytearray(src.read_bytes())
    for i in (0, len(data) // 2, len(data) - 2):
        data[i] = ord("#") if data[i] != ord("#") else ord("%")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))


def find_rnngen() -> str | None:
    """The installed ``rnngen`` command: next to this interpreter, else on PATH."""
    for scripts in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = scripts / "rnngen"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("rnngen")


@pytest.fixture(scope="module")
def mirror() -> Iterator[str]:
    if not SHARED.is_dir():
        pytest.skip(f"shared corpora directory {SHARED} is absent")
    with serve(SHARED) as url:
        yield url


@pytest.fixture(scope="module")
def rnngen_exe() -> str:
    exe = find_rnngen()
    if exe is None:
        pytest.skip("the rnngen command is not installed (pip install -e .)")
    return exe


@pytest.fixture()
def run(rnngen_exe: str, tmp_path: Path):
    """Run ``rnngen ARGS`` in ``tmp_path`` (no colour, no inherited mirror); bytes output."""

    def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        # this checkout's rnngen, no colour (clitools.cli_env); no inherited mirror
        environ = cli_env({MIRROR_ENV: None, "COLUMNS": "200", **(env or {})})
        result = subprocess.run(
            [rnngen_exe, *args],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            timeout=300,
            check=False,
        )
        for stream in (result.stdout, result.stderr):
            assert b"Traceback" not in stream
        return result

    return _run


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return result.stderr.decode().strip().splitlines()


def files_under(directory: Path) -> list[Path]:
    return sorted(p.relative_to(directory) for p in directory.rglob("*"))


# --------------------------------------------------------------------------- catalog


def test_catalog_is_well_formed() -> None:
    names = [c.name for c in load_catalog()]
    assert len(names) == len(set(names))
    assert {
        "tinyshakespeare",
        "ptb",
        "ptb-char",
        "wikitext-2",
        "python-docs",
        "python-stdlib",
        "dates",
    } <= set(names)
    for corpus in load_catalog():
        assert corpus.license
        assert corpus.splits in ((), ("train", "valid", "test"))
        if corpus.builtin:
            continue
        for entry in corpus.files:
            assert entry.url is not None
            assert entry.url.startswith("https://raw.githubusercontent.com/")
            assert entry.upstream is not None
            assert entry.url.endswith(f"/{entry.upstream.commit}/{entry.upstream.path}")
            assert entry.sha256 is not None and len(entry.sha256) == 64
            assert entry.size is not None and entry.size > 0
            assert entry.mirror_path and not entry.mirror_path.startswith("/")


def catalogued_files() -> list[tuple[str, str | None]]:
    return [(c.name, f.split) for c in load_catalog() if not c.builtin for f in c.files]


@needs_shared
@pytest.mark.parametrize(("name", "split"), catalogued_files())
def test_catalog_matches_shared_files(name: str, split: str | None) -> None:
    entry = CATALOG[name].file(split)
    assert entry.mirror_path is not None
    path = SHARED / entry.mirror_path
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    assert path.stat().st_size == entry.size
    assert sha256_file(path) == entry.sha256


def test_resolve_names_and_splits() -> None:
    assert resolve("ptb") == (CATALOG["ptb"], None)
    assert resolve("ptb:valid") == (CATALOG["ptb"], "valid")
    with pytest.raises(UnknownCorpusError, match="known corpora: tinyshakespeare, ptb"):
        resolve("nope")
    with pytest.raises(UnknownCorpusError, match="splits: train, valid, test"):
        resolve("ptb:dev")
    with pytest.raises(UnknownCorpusError, match="has no splits"):
        resolve("tinyshakespeare:train")


# --------------------------------------------------------------------------- built-in corpora


def test_python_docs_builtin() -> None:
    text = build_python_docs()
    data = text.encode("utf-8")
    assert len(data) > 100_000
    assert data.decode("utf-8") == text
    assert "\r" not in text and text.endswith("\n")
    assert "assert" in text and len(set(text)) > 60
    assert build_python_docs() == text


def test_python_stdlib_builtin() -> None:
    text = build_python_stdlib()
    data = text.encode("utf-8")
    assert 1_000_000 < len(data) <= STDLIB_CAP
    assert "\r" not in text and text.endswith("\n")
    assert text.startswith("# ==== ") and "\ndef " in text
    assert build_python_stdlib() == text


def test_get_builtin_writes_file(tmp_path: Path) -> None:
    (path,) = get_corpus("python-docs", tmp_path / "docs.txt")
    assert path.read_bytes() == build_python_docs().encode("utf-8")
    notices: list[str] = []
    get_corpus("python-docs", tmp_path / "docs.txt", notice=notices.append)
    assert notices and "up to date" in notices[0]


def test_dates_builtin_pairs_every_form_with_its_iso_date() -> None:
    """Each line is written<TAB>ISO date, and the written form denotes that date: its numbers,
    month and weekday names agree with the date (checked by reading them back)."""
    import datetime
    import re

    from rnngen.data.dates import FORMATS, MONTHS, WEEKDAYS, build_dates, ordinal, split_of, written

    def forms(date):
        return {written(date, f, c) for f in FORMATS for c in ("lower", "title", "upper")}

    splits = build_dates()
    assert {k: v.count("\n") for k, v in splits.items()} == {
        "train": 40_000,
        "valid": 1_000,
        "test": 1_000,
    }
    assert build_dates() == splits  # deterministic
    seen: dict[str, set[str]] = {}
    for name, text in splits.items():
        targets = set()
        for i, line in enumerate(text.splitlines()):
            source, target = line.split("\t")
            date = datetime.date.fromisoformat(target)
            assert split_of(date) == name and date.isoformat() == target
            low = source.lower()
            words = set(re.findall("[a-z]+", low))
            month = MONTHS[date.month - 1]
            assert words <= {
                month,
                month[:3],
                "of",
                "the",
                "st",
                "nd",
                "rd",
                "th",
                WEEKDAYS[date.weekday()],
                WEEKDAYS[date.weekday()][:3],
            }
            numbers = [int(n) for n in re.findall("[0-9]+", low)]
            if numbers == [int(target.replace("-", ""))]:
                continue  # 20010303
            assert date.year in numbers and date.day in numbers
            assert date.month in numbers or words & {month, month[:3]}
            if i < 2_000:  # (the first 2,000 of each split: 66 forms each take time)
                assert source in forms(date)
            targets.add(target)
        seen[name] = targets
    assert not seen["train"] & seen["valid"] and not seen["train"] & seen["test"]
    ordinals = "1st 2nd 3rd 4th 11th 12th 13th 21st 22nd 23rd 31st 111th".split()
    assert [ordinal(int(o[:-2])) for o in ordinals] == ordinals
    sat = datetime.date(2001, 3, 3)
    assert written(sat, "{weekday}, the {od} of {month} {y}", "title") == (
        "Saturday, the 3rd of March 2001"
    )
    assert written(sat, "the {od} of {month}, {y}", "title") == "The 3rd of March, 2001"
    assert written(sat, "{dy} {d} {mon} {y}", "upper") == "SAT 3 MAR 2001"
    assert written(sat, "{mm}/{dd}/{y}", "lower") == "03/03/2001"


def test_get_dates_writes_its_splits_as_tsv(tmp_path: Path) -> None:
    from rnngen.data.dates import build_dates

    paths = get_corpus("dates", tmp_path / "dates")
    assert [p.name for p in paths] == ["train.tsv", "valid.tsv", "test.tsv"]
    for path, text in zip(paths, build_dates().values(), strict=True):
        assert path.read_text(encoding="utf-8") == text
    (one,) = get_corpus("dates:test", tmp_path)
    assert one.name == "dates.test.tsv" and one.read_bytes() == paths[2].read_bytes()


# --------------------------------------------------------------------------- library downloads


@needs_shared
def test_get_corpus_progress_and_cache(tmp_path: Path, mirror: str) -> None:
    seen: list[tuple[int, int]] = []
    (path,) = get_corpus(
        "tinyshakespeare",
        tmp_path / "ts.txt",
        mirror=mirror,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert sha256(path) == expected_sha("tinyshakespeare")
    assert seen[-1] == (1_115_394, 1_115_394)
    # Cached: a second request succeeds even with an unreachable mirror.
    notices: list[str] = []
    get_corpus("tinyshakespeare", path, mirror=closed_port_url(), notice=notices.append)
    assert notices and "already present" in notices[0]


@needs_shared
def test_get_corpus_from_local_directory_mirror(tmp_path: Path) -> None:
    paths = get_corpus("ptb-char:valid", tmp_path, mirror=str(SHARED))
    assert paths == [tmp_path / "ptb-char.valid.txt"]
    assert sha256(paths[0]) == expected_sha("ptb-char", "valid")


def test_split_corpus_into_existing_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "ptb").write_text("not a directory\n")
    with pytest.raises(CorpusError, match="not a directory"):
        get_corpus("ptb", tmp_path / "ptb", mirror=closed_port_url())


def test_unreachable_mirror_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "new" / "ptb"
    with pytest.raises(CorpusError, match="cannot fetch"):
        get_corpus("ptb", dest, mirror=closed_port_url())
    assert files_under(tmp_path) == []


# --------------------------------------------------------------------------- CLI


@needs_shared
def test_cli_get_single_file(run, tmp_path: Path, mirror: str) -> None:
    result = run("corpus", "get", "tinyshakespeare", "--mirror", mirror)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert "tinyshakespeare.txt" in result.stderr.decode()
    assert sha256(tmp_path / "tinyshakespeare.txt") == expected_sha("tinyshakespeare")
    assert files_under(tmp_path) == [Path("tinyshakespeare.txt")]


@needs_shared
def test_cli_get_split_corpus_directory(run, tmp_path: Path, mirror: str) -> None:
    result = run("corpus", "get", "ptb", "--mirror", mirror + "/")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert sorted(p.name for p in (tmp_path / "ptb").iterdir()) == [
        "test.txt",
        "train.txt",
        "valid.txt",
    ]
    for split in ("train", "valid", "test"):
        assert sha256(tmp_path / "ptb" / f"{split}.txt") == expected_sha("ptb", split)


@needs_shared
def test_cli_get_one_split_via_env_mirror(run, tmp_path: Path, mirror: str) -> None:
    result = run("corpus", "get", "ptb:valid", "-o", "valid.txt", env={MIRROR_ENV: mirror})
    assert result.returncode == 0, result.stderr
    assert files_under(tmp_path) == [Path("valid.txt")]
    assert sha256(tmp_path / "valid.txt") == expected_sha("ptb", "valid")


@needs_shared
def test_cli_get_to_stdout(run, tmp_path: Path, mirror: str) -> None:
    result = run("corpus", "get", "ptb:test", "-o", "-", "--mirror", mirror)
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(result.stdout).hexdigest() == expected_sha("ptb", "test")
    assert files_under(tmp_path) == []


@needs_shared
def test_cli_cached_file_is_not_downloaded_again(run, tmp_path: Path) -> None:
    shutil.copyfile(SHARED / "tinyshakespeare.txt", tmp_path / "tinyshakespeare.txt")
    result = run("corpus", "get", "tinyshakespeare", "--mirror", closed_port_url())
    assert result.returncode == 0, result.stderr
    assert "already present" in result.stderr.decode()


@needs_shared
def test_cli_checksum_mismatch_leaves_no_file(run, tmp_path: Path) -> None:
    served = tmp_path.parent / f"{tmp_path.name}-mirror"
    corrupt_copy(SHARED / "tinyshakespeare.txt", served / "tinyshakespeare.txt")
    with serve(served) as url:
        result = run("corpus", "get", "tinyshakespeare", "--mirror", url)
    assert result.returncode == 1
    assert result.stdout == b""
    (line,) = error_lines(result)
    assert line.startswith("error: checksum mismatch")
    actual = sha256(served / "tinyshakespeare.txt")
    assert expected_sha("tinyshakespeare") in line and actual in line
    assert files_under(tmp_path) == []


@needs_shared
def test_cli_split_corpus_with_one_bad_file_writes_nothing(run, tmp_path: Path) -> None:
    served = tmp_path.parent / f"{tmp_path.name}-mirror"
    (served / "ptb").mkdir(parents=True)
    for split in ("train", "test"):
        name = f"ptb/ptb.{split}.txt"
        (served / name).symlink_to(SHARED / name)
    corrupt_copy(SHARED / "ptb/ptb.valid.txt", served / "ptb/ptb.valid.txt")
    with serve(served) as url:
        result = run("corpus", "get", "ptb", "--mirror", url)
    assert result.returncode == 1
    assert error_lines(result)[-1].startswith("error: checksum mismatch")
    assert files_under(tmp_path) == []


def test_cli_unknown_name(run, tmp_path: Path) -> None:
    result = run("corpus", "get", "shakespeare")
    assert result.returncode == 2
    assert result.stdout == b""
    (line,) = error_lines(result)
    assert line.startswith("error: unknown corpus 'shakespeare'")
    for name in CATALOG:
        assert name in line
    assert files_under(tmp_path) == []


def test_cli_unreachable_mirror(run, tmp_path: Path) -> None:
    result = run("corpus", "get", "tinyshakespeare", "--mirror", closed_port_url())
    assert result.returncode == 1
    assert result.stdout == b""
    (line,) = error_lines(result)
    assert line.startswith("error: cannot fetch http://127.0.0.1:")
    assert files_under(tmp_path) == []


def test_cli_stdout_needs_a_split(run, tmp_path: Path) -> None:
    result = run("corpus", "get", "ptb", "-o", "-")
    assert result.returncode == 2
    assert result.stdout == b""
    assert error_lines(result) == [
        "error: -o - writes one file; name a split: " + ("ptb:train, ptb:valid, ptb:test")
    ]


def test_cli_get_builtin_offline(run, tmp_path: Path) -> None:
    result = run("corpus", "get", "python-docs", "--mirror", closed_port_url())
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "python-docs.txt").read_bytes().decode("utf-8")
    assert len(text) > 100_000 and "\r" not in text


def test_cli_list_json(run) -> None:
    result = run("corpus", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    listing = json.loads(result.stdout)
    assert [c["name"] for c in listing] == list(CATALOG)
    by_name = {c["name"]: c for c in listing}
    docs = by_name["python-docs"]
    assert docs["kind"] == "builtin"
    assert (
        docs["files"][0]["sha256"]
        == hashlib.sha256(build_python_docs().encode("utf-8")).hexdigest()
    )
    assert by_name["ptb"]["splits"] == ["train", "valid", "test"]
    assert by_name["ptb"]["files"][1]["sha256"] == expected_sha("ptb", "valid")
    dates = by_name["dates"]
    assert dates["kind"] == "builtin" and dates["suffix"] == ".tsv"
    assert [f["sha256"] for f in dates["files"]] == [
        hashlib.sha256(build_builtin("dates", s)).hexdigest() for s in ("train", "valid", "test")
    ]


def test_cli_list_table(run) -> None:
    result = run("corpus", "list")
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    out = result.stdout.decode()
    assert "\x1b[" not in out  # NO_COLOR, not a terminal
    for name in CATALOG:
        assert name in out
    docs_sha = hashlib.sha256(build_python_docs().encode("utf-8")).hexdigest()
    assert docs_sha in out
