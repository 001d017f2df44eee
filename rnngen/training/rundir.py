"""What every task's runs share: the run directory (its default name, refusing to overwrite a
run, checking it can be written), what a run records about its inputs, the options a resumed run
takes, and how a resumed run's stop limits replace the stored ones.

Options arrive as the settings the user gave (``given``: name -> value, for the options given
explicitly, not defaulted), so that a resumed run can refuse options that disagree with it.
"""

import dataclasses
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import rnngen.checkpoint as checkpoint
from rnngen.config.training import TrainConfig
from rnngen.data.tokenfile import read_meta
from rnngen.errors import TrainingError, flag_name
from rnngen.training.lock import RunLock

# options --resume takes besides the stop limits: they change how this session runs, not the run
RESUME_FREE = {
    "paths",
    "resume",
    "threads",
    "quiet",
    "json_out",
    "encoding",
    "errors",
    "val_file",
    "distributed",
    "replicas",
}

Flag = Callable[[str], str]  # a setting's name -> how the user wrote it (--hidden)


@dataclass
class Inputs:
    """Where the text comes from and how to read it."""

    paths: list[str] | None = None  # files, directories, '-' for stdin
    val_file: str | None = None
    encoding: str = "utf-8"
    errors: str = "strict"


def default_run_dir(corpus_name: str) -> Path:
    """``runs/NAME-YYYYmmdd-HHMMSS`` (with a suffix if taken)."""
    stem = Path(corpus_name).stem if corpus_name not in ("-", "<stdin>") else "stdin"
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem) or "corpus"
    base = Path("runs") / f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def prepare_run_dir(run_dir: Path, force: bool) -> RunLock:
    """Refuse to overwrite a run unless ``force``; lock the directory, and make sure it can be
    written."""
    refuse_existing(run_dir, force)
    return lock_run_dir(run_dir)


def lock_run_dir(run_dir: Path) -> RunLock:
    """Make ``run_dir`` (if it is not there), lock it, then check that it can be written: the
    lock comes before anything is written into it, so a run that another one holds is left
    untouched (TrainingError)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TrainingError(
            f"{run_dir}: cannot write the run directory ({e.strerror or e})"
        ) from None
    lock = RunLock(run_dir)
    try:
        probe_run_dir(run_dir)
    except BaseException:
        lock.release()
        raise
    return lock


def refuse_existing(run_dir: Path, force: bool) -> None:
    """Raise TrainingError when ``run_dir`` holds a run's checkpoints, unless ``force``."""
    existing = sorted(run_dir.glob("*" + checkpoint.SUFFIX)) if run_dir.is_dir() else []
    if existing and not force:
        raise TrainingError(
            f"{run_dir}: already holds {existing[0].name}; choose another --out, add --force to "
            f"overwrite it, or continue it with --resume {run_dir}"
        )


def probe_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise TrainingError(
            f"{run_dir}: cannot write the run directory ({e.strerror or e})"
        ) from None


def inputs_meta(
    paths: list[str], val_path: str | None, val_fingerprint: str | None, encoding: str, errors: str
) -> dict:
    """What a run records about its inputs: absolute paths, decoding, validation fingerprint."""

    def where(p: str) -> str:
        return p if p == "-" else str(Path(p).resolve())

    return {
        "sources": [where(p) for p in paths],
        "encoding": encoding,
        "errors": errors,
        "val_source": None if val_path is None else where(val_path),
        "val_fingerprint": val_fingerprint,
    }


def resume_hint(run_dir: Path, meta: dict) -> str:
    """The command that continues ``run_dir``."""
    if "-" in (meta.get("sources") or []) and read_meta(run_dir) is None:  # no token file
        return f"… | rnngen train - --resume {shlex.quote(str(run_dir))}  (the same text on stdin)"
    return f"rnngen train --resume {shlex.quote(str(run_dir))}"


def conflict(
    given: dict[str, Any], stored: dict, allowed: set[str], against: str, flag: Flag = flag_name
) -> str | None:
    """A message about the first given option that disagrees with ``stored`` (or that is neither
    stored nor ``allowed``), or None."""
    for name, value in given.items():
        if name in allowed:
            continue
        if name not in stored:
            return f"{flag(name)} cannot be combined with {against}"
        if value != stored[name]:
            shown = value if not isinstance(value, str) else repr(value)
            has = stored[name]
            return f"{flag(name)} {shown} conflicts with {against}, which has {name} {has!r}"
    return None


def resumed_limits(tcfg: TrainConfig, given: dict[str, Any]) -> TrainConfig:
    """A resumed run's training settings: the stop limits given replace the stored ones."""
    budget = ("steps", "minutes", "epochs")  # given together, they replace the stored budget
    if any(n in given for n in budget):
        tcfg = dataclasses.replace(tcfg, **{n: given.get(n) for n in budget})
    if "patience" in given:
        tcfg = dataclasses.replace(tcfg, patience=given["patience"])
    tcfg.validate()
    return tcfg
