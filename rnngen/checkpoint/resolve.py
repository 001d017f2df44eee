"""Finding a checkpoint: from a file, a run directory, or the newest run under the current
directory; and the checkpoint a run continues from (``--resume``)."""

from pathlib import Path

from rnngen.checkpoint.fileformat import SUFFIX
from rnngen.errors import CheckpointError


def resolve(model: str | Path | None, cwd: Path | None = None) -> Path:
    """A checkpoint file from a file path, a run directory (its best checkpoint), or — with no
    argument — the most recently written checkpoint under ``./runs``, in a run directory directly
    under the current directory (``--out mymodel``) or in the current directory itself."""
    if model is not None:
        p = Path(model)
        if p.is_dir():
            for name in ("best" + SUFFIX, "last" + SUFFIX):
                if (p / name).is_file():
                    return p / name
            found = sorted(p.glob("*" + SUFFIX), key=lambda q: q.stat().st_mtime)
            if found:
                return found[-1]
            raise CheckpointError(f"{p}: no checkpoint in this directory")
        if not p.exists():
            raise CheckpointError(f"{p}: no such file")
        return p
    base = cwd or Path.cwd()
    runs = [
        *base.glob("runs/*/last" + SUFFIX),
        *base.glob("*/last" + SUFFIX),
        *base.glob("*" + SUFFIX),
    ]
    if not runs:
        raise CheckpointError(
            "no model given and none found under ./runs or in a run directory here; train one "
            "with `rnngen train FILE` or name a checkpoint: `rnngen sample MODEL`"
        )
    newest = max(runs, key=lambda q: q.stat().st_mtime)
    if newest.name == "last" + SUFFIX and (newest.parent / ("best" + SUFFIX)).is_file():
        return newest.parent / ("best" + SUFFIX)
    return newest


def find_resumable(resume: Path) -> tuple[Path, Path]:
    """(checkpoint, run directory) of ``--resume RUN``: a run directory's last checkpoint, or a
    checkpoint file."""
    if resume.is_dir():
        for name in ("last", "best"):
            if (resume / (name + SUFFIX)).is_file():
                return resume / (name + SUFFIX), resume
        raise CheckpointError(f"{resume}: no checkpoint to resume in this directory")
    if resume.is_file():
        return resume, resume.parent
    raise CheckpointError(
        f"{resume}: no such run; give a run directory (as printed by rnngen train) or a checkpoint"
    )
