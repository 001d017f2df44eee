"""One self-describing checkpoint file: safetensors tensors + JSON metadata, no pickle.

Tensors: every parameter (``param/<name>``), the optimizer moments, the carried hidden state.
Metadata: format name and version, model and training config, vocabulary, step, data position and
history. Files are written atomically: temporary file in the same directory, flush, fsync, rename,
fsync of the directory, so a crash at any moment leaves the previous checkpoint intact.
"""

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from rnngen import __version__
from rnngen.config import ModelConfig, TrainConfig
from rnngen.errors import UserError
from rnngen.model import LanguageModel, State
from rnngen.vocab import Vocab

FORMAT = "rnngen-checkpoint"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"


class CheckpointError(UserError):
    """A checkpoint that cannot be read or written; the message names the file."""


@dataclass
class Checkpoint:
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    vocab: Vocab
    params: dict[str, np.ndarray]
    step: int = 0
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # optimizer moments, state
    info: dict = field(default_factory=dict)  # position, history, fingerprint, ...
    path: Path | None = None

    def build_model(self, parts: int = 1) -> LanguageModel:
        """The model this checkpoint describes, with its weights."""
        model = LanguageModel(self.model_cfg, np.float32, parts=parts)
        for name, view in model.params.views.items():
            if name not in self.params or self.params[name].shape != view.shape:
                raise CheckpointError(f"{self.path}: parameter {name} is missing or mis-shaped")
            view[...] = self.params[name]
        return model

    def state(self) -> State | None:
        if "state.h" in self.arrays and "state.c" in self.arrays:
            return State(self.arrays["state.h"].copy(), self.arrays["state.c"].copy())
        return None


def save(ckpt: Checkpoint, path: str | Path) -> Path:
    """Write ``ckpt`` to ``path`` atomically. Raises CheckpointError (previous file kept)."""
    path = Path(path)
    tensors = {f"param/{k}": np.ascontiguousarray(v) for k, v in ckpt.params.items()}
    tensors.update({k: np.ascontiguousarray(v) for k, v in ckpt.arrays.items()})
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rnngen_version": __version__,
        "model": ckpt.model_cfg.to_dict(),
        "train": ckpt.train_cfg.to_dict(),
        "vocab": ckpt.vocab.to_dict(),
        "step": ckpt.step,
        "info": ckpt.info,
    }
    # one metadata key: safetensors writes a map's keys in hash order, and checkpoints of the same
    # training must be byte-identical
    blob = st_save(tensors, metadata={"rnngen": json.dumps(meta)})
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        reason = e.strerror or str(e)
        raise CheckpointError(
            f"{path}: could not write checkpoint ({reason}); the previous one is intact"
        ) from None
    return path


def remove_stale_temps(directory: Path) -> None:
    """Delete temporary files that writers killed mid-write left behind (their process is gone)."""
    for tmp in directory.glob(f".*{SUFFIX}.tmp*"):
        pid = tmp.name.rsplit(".tmp", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_header(path: str | Path) -> dict:
    """The rnngen metadata of a checkpoint, validated; tensors are not read."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: not an rnngen checkpoint (file too short)")
            (n,) = struct.unpack("<Q", head)
            size = path.stat().st_size
            if n > 100_000_000 or 8 + n > size:
                raise CheckpointError(f"{path}: not an rnngen checkpoint, or truncated")
            header = json.loads(f.read(n))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory without a checkpoint in it") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path}: not an rnngen checkpoint") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror or e})") from None
    md = (header.get("__metadata__") or {}) if isinstance(header, dict) else {}
    try:
        meta = json.loads(md["rnngen"])
        if meta["format"] != FORMAT:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{path}: not an rnngen checkpoint") from None
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer rnngen (format {version}; this one reads up to "
            f"{FORMAT_VERSION}); upgrade rnngen to use it"
        )
    # the data section must hold every tensor's bytes
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise CheckpointError(f"{path}: checkpoint is truncated ({size} of {8 + n + end} bytes)")
    return meta


def load(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint file."""
    path = Path(path)
    meta = read_header(path)
    try:
        tensors = st_load(path.read_bytes())
    except Exception as e:  # safetensors raises its own error types on corrupt data
        raise CheckpointError(f"{path}: corrupt checkpoint ({e})") from None
    params = {k[len("param/") :]: v for k, v in tensors.items() if k.startswith("param/")}
    arrays = {k: v for k, v in tensors.items() if not k.startswith("param/")}
    return Checkpoint(
        model_cfg=ModelConfig.from_dict(meta["model"]),
        train_cfg=TrainConfig.from_dict(meta["train"]),
        vocab=Vocab.from_dict(meta["vocab"]),
        params=params,
        step=int(meta.get("step", 0)),
        arrays=arrays,
        info=meta.get("info", {}),
        path=path,
    )


def resolve(model: str | Path | None, cwd: Path | None = None) -> Path:
    """A checkpoint file from a file path, a run directory (its best checkpoint), or — with no
    argument — the most recently written checkpoint under ``./runs`` or the current directory."""
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
    runs = [q for q in base.glob("runs/*/last" + SUFFIX)] + list(base.glob("*" + SUFFIX))
    if not runs:
        raise CheckpointError(
            "no model given and none found under ./runs; train one with `rnngen train FILE` "
            "or name a checkpoint: `rnngen sample MODEL`"
        )
    newest = max(runs, key=lambda q: q.stat().st_mtime)
    if newest.name == "last" + SUFFIX and (newest.parent / ("best" + SUFFIX)).is_file():
        return newest.parent / ("best" + SUFFIX)
    return newest
