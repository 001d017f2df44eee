"""The checkpoint file: safetensors tensors and one JSON metadata entry, no pickle, written
atomically (``rnngen.files``): a crash at any moment leaves the previous checkpoint intact.

Tensors: every parameter (``param/<name>``), the optimizer's moments, the carried state
(``state.h``, and ``state.c`` for the LSTM). Metadata: format name and version, the task, model and
training settings (and the task's own), vocabularies, step, data position and history.
"""

import json
import struct
from pathlib import Path

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from rnngen._version import __version__
from rnngen.errors import CheckpointError
from rnngen.files import atomic_write

FORMAT = "rnngen-checkpoint"
FORMAT_VERSION = 2  # 2: state tensors of the cell's state only; val_frac None with a val file
SUFFIX = ".safetensors"
MAX_HEADER = 100_000_000  # bytes of JSON header read at most


def write(path: Path, tensors: dict[str, np.ndarray], meta: dict) -> Path:
    """Write ``tensors`` and ``meta`` (format fields added) to ``path`` atomically. Raises
    CheckpointError (the previous file kept)."""
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rnngen_version": __version__,
        **meta,
    }
    # one metadata key: safetensors writes a map's keys in hash order, and checkpoints of the same
    # training must be byte-identical
    blob = st_save(
        {k: np.ascontiguousarray(v) for k, v in tensors.items()},
        metadata={"rnngen": json.dumps(meta)},
    )
    try:
        atomic_write(path, blob)
    except OSError as e:
        raise CheckpointError(
            f"{path}: could not write checkpoint ({e.strerror or e}); the previous one is intact"
        ) from None
    return path


def read_header(path: str | Path) -> dict:
    """The rnngen metadata of a checkpoint, with its format checked; tensors are not read."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: not an rnngen checkpoint (file too short)")
            (n,) = struct.unpack("<Q", head)
            size = path.stat().st_size
            if n > MAX_HEADER or 8 + n > size:
                raise CheckpointError(f"{path}: not an rnngen checkpoint, or truncated")
            header = json.loads(f.read(n))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory without a checkpoint in it") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError(f"{path}: not an rnngen checkpoint") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror or e})") from None
    md = (header.get("__metadata__") or {}) if isinstance(header, dict) else {}
    try:
        meta = json.loads(md["rnngen"])
        if meta["format"] != FORMAT:
            raise ValueError
    except (KeyError, TypeError, ValueError, RecursionError):
        raise CheckpointError(f"{path}: not an rnngen checkpoint") from None
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(
            f"{path}: format_version must be a whole number from 1 (got {version!r})"
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer rnngen (format {version}; this one reads up to "
            f"{FORMAT_VERSION}); upgrade rnngen to use it"
        )
    # the data section must hold every tensor's bytes
    try:
        end = max(
            (int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0
        )
    except (KeyError, TypeError, ValueError, IndexError):
        raise CheckpointError(f"{path}: not an rnngen checkpoint (bad tensor table)") from None
    if 8 + n + end > size:
        raise CheckpointError(f"{path}: checkpoint is truncated ({size} of {8 + n + end} bytes)")
    return meta


def read(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(metadata, tensors) of a checkpoint file, its format checked, nothing else."""
    meta = read_header(path)
    try:
        tensors = st_load(path.read_bytes())
    except Exception as e:  # safetensors raises its own error types on corrupt data
        raise CheckpointError(f"{path}: corrupt checkpoint ({e})") from None
    return meta, tensors
