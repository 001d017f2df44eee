"""Running the installed ``rnngen`` command in a subprocess, as a user would."""

import fcntl
import json
import os
import shutil
import struct
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def rnngen_exe() -> str:
    """The installed console script (PATH first, then the interpreter's scripts directory)."""
    found = shutil.which("rnngen")
    if found:
        return found
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        cand = Path(scripts) / "rnngen"
        if cand.exists():
            return str(cand)
    raise RuntimeError("the rnngen command is not installed: pip install -e '.[test]'")


REPO = Path(__file__).resolve().parent.parent


def measured(what: str, value: float) -> float:
    """A learning test's figure, returned as given and, where ``$RNNGEN_MARGINS`` names a file,
    appended to it as one JSON line with the GEMM path and core count: how the margins written
    beside the ``learning`` tests' assertions were measured (``pytest -m learning`` under
    ``RNNGEN_GEMM=own`` and ``blas`` and under ``taskset -c 0``)."""
    where = os.environ.get("RNNGEN_MARGINS")
    if where:
        row = {
            "what": what,
            "value": float(value),
            "gemm": os.environ.get("RNNGEN_GEMM", "auto"),
            "cores": len(os.sched_getaffinity(0)),
        }
        with open(where, "a") as f:
            f.write(json.dumps(row) + "\n")
    return value


# NumPy's OpenBLAS picks its kernels by CPU, and OPENBLAS_CORETYPE can force others; the
# environment of the machines these tests run on forces the AVX2 "Haswell" ones, whose float32
# GEMM rounds differently for 1, 2 and 3 threads. Tests of thread-count independence run rnngen on
# the kernels OpenBLAS picks itself (AVX-512 there), whose results do not depend on the thread
# count: the condition docs/internals.md states for that promise.
OWN_BLAS_KERNELS = {"OPENBLAS_CORETYPE": None}


def cli_env(env: dict | None = None) -> dict:
    """The environment of a CLI subprocess: no colour, and this checkout's ``rnngen`` package first
    on the path, so the command runs the code under test even where another checkout is
    installed. A variable given as None in ``env`` is removed."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    full = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", "PYTHONPATH": path, **(env or {})}
    return {k: v for k, v in full.items() if v is not None}


def run(
    *args: str,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    env: dict | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run ``rnngen ARGS`` with stdout/stderr captured as text; never a TTY."""
    full_env = cli_env(env)
    return subprocess.run(
        [rnngen_exe(), *args],
        cwd=cwd,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=full_env,
        timeout=timeout,
    )


def mpiexec_exe() -> str:
    """MPICH's mpiexec, installed beside the interpreter by the ``mpich`` wheel."""
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        cand = Path(scripts) / "mpiexec"
        if cand.exists():
            return str(cand)
    found = shutil.which("mpiexec")
    if found:
        return found
    raise RuntimeError("mpiexec is not installed: pip install -e '.[test]' (mpich, mpi4py)")


def mpi(
    n: int, *args: str, cwd: Path, timeout: float = 300, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    """``mpiexec -n N rnngen ARGS`` (``stdin``: what mpiexec passes to rank 0's stdin)."""
    feed = {"stdin": subprocess.DEVNULL} if stdin is None else {"input": stdin}
    return subprocess.run(
        [mpiexec_exe(), "-n", str(n), rnngen_exe(), *args],
        cwd=cwd,
        capture_output=True,
        env=cli_env(),
        timeout=timeout,
        **feed,
    )


def one_and_two_processes(cwd: Path, common: list[str], steps: int) -> None:
    """``rnngen COMMON`` (with --json) as run ``one`` in one process of 1 thread, then twice as
    runs ``two1`` and ``two2`` under ``mpiexec -n 2``, each of which must speak once (rank 0)
    and give each process its share of the 2 cores."""
    one = run(*common, "--out", "one", "--threads", "1", cwd=cwd)
    assert one.returncode == 0, err(one)
    for i in (1, 2):
        p = mpi(2, *common, "--out", f"two{i}", cwd=cwd)
        assert p.returncode == 0, err(p)
        assert len(out(p).strip().splitlines()) == 1  # rank 0 alone prints --json
        assert json.loads(out(p))["steps"] == steps
        assert err(p).count("run directory:") == 1  # ... and the log
        assert "1 threads x 2 processes" in err(p)  # each process its share of the 2 cores


def checkpoint_arrays(path: Path) -> dict:
    """A checkpoint's parameters and carried state, by name, as stored."""
    from safetensors.numpy import load_file

    return {k: v for k, v in load_file(path).items() if k.startswith(("param/", "state."))}


def history(path: Path) -> list[dict]:
    """A checkpoint's record of its evaluations."""
    from rnngen.checkpoint import load

    return load(path).info["history"]


def reversals(n: int, seed: int, longest: int = 12, spaced: bool = False) -> str:
    """n lines ``word<TAB>drow``: random words of 3 to ``longest`` letters of a-t and their
    reversal (``spaced``: one letter per target token, for --tgt-level word)."""
    import random

    r = random.Random(seed)
    words = (
        "".join(r.choice("abcdefghijklmnopqrst") for _ in range(r.randint(3, longest)))
        for _ in range(n)
    )
    sep = " " if spaced else ""
    return "".join(f"{w}\t{sep.join(w[::-1])}\n" for w in words)


def out(p: subprocess.CompletedProcess) -> str:
    return p.stdout.decode("utf-8")


def err(p: subprocess.CompletedProcess) -> str:
    return p.stderr.decode("utf-8")


def repetitive_text(n_lines: int = 400) -> str:
    """A small, very learnable English-like text."""
    lines = [
        "the cat sat on the mat.",
        "the dog sat on the log.",
        "a bird sang in the tree.",
        "the cat saw the bird.",
    ]
    return "\n".join(lines[i % len(lines)] for i in range(n_lines)) + "\n"


def with_meta(data: bytes, edit) -> bytes:
    """A checkpoint file's bytes with ``edit(meta)`` applied to its rnngen metadata (the
    safetensors header is an 8-byte length, then JSON padded to 8 bytes, then the tensors)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["rnngen"])
    edit(meta)
    header["__metadata__"]["rnngen"] = json.dumps(meta)
    new = json.dumps(header).encode()
    new += b" " * ((8 - len(new) % 8) % 8)
    return struct.pack("<Q", len(new)) + new + data[8 + n :]


def with_format_version(data: bytes, version: int) -> bytes:
    """A checkpoint file's bytes with its metadata claiming another format version."""
    return with_meta(data, lambda meta: meta.__setitem__("format_version", version))


def with_tensors(data: bytes, edit) -> bytes:
    """A checkpoint file's bytes with ``edit(tensors)`` applied to its tensors (name -> array),
    the metadata kept."""
    from safetensors.numpy import load, save

    (n,) = struct.unpack("<Q", data[:8])
    metadata = json.loads(data[8 : 8 + n])["__metadata__"]
    tensors = dict(load(data))
    edit(tensors)
    return save(tensors, metadata=metadata)


# Debian's chromium (apt-get install -y chromium), which Playwright drives instead of its own
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)


@contextmanager
def headless_chromium() -> Iterator:
    """A headless Chromium browser driven by Playwright in real time, closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def trained_once(tmp_path_factory, name: str, train: Callable[[Path], object]) -> Path:
    """The directory ``name`` of the test session, filled by ``train(directory)`` once: test
    files that run in different pytest-xdist workers share what it trains, made by whichever
    asks first while the others wait."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's directory, shared by its workers
    root = base / name
    root.mkdir(exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (root / "trained").exists():
            train(root)
            (root / "trained").write_text("")
    return root
