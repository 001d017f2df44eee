"""One self-describing checkpoint file: safetensors tensors + JSON metadata, no pickle.

Tensors: every parameter (``param/<name>``), the optimizer's moments, the carried state
(``state.h``, and ``state.c`` for the LSTM). Metadata: format name and version, model and training
settings, vocabulary, step, data position and history. Files are written atomically
(``rnngen.files``): a crash at any moment leaves the previous checkpoint intact.

A checkpoint is untrusted input: models are shared, and a file may be edited or forged. Reading one
checks, before anything is built from it, every setting against the declarations the command line
uses (``rnngen.options``: types, ranges, choices, finite numbers), the vocabulary, and that every
tensor has the name, shape and dtype those settings imply; what fails is refused with one line
naming the file and the field. ``check_training_state`` does the same for what ``--resume`` needs.
"""

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from rnngen._version import __version__
from rnngen.data.vocab import Vocab
from rnngen.errors import CheckpointError, ConfigError
from rnngen.files import atomic_write
from rnngen.nn.cells import CELLS
from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import LanguageModel, State, param_shapes
from rnngen.options import Settings
from rnngen.train.config import MOMENTS, TrainConfig

FORMAT = "rnngen-checkpoint"
FORMAT_VERSION = 2  # 2: state tensors of the cell's state only; val_frac None with a val file
SUFFIX = ".safetensors"
MAX_HEADER = 100_000_000  # bytes of JSON header read at most


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
            view[...] = self.params[name]
        return model

    def state(self) -> State:
        """The carried state the run stopped with (``check_training_state`` first)."""
        names = CELLS[self.model_cfg.cell].state
        return State(names, tuple(self.arrays[f"state.{n}"].copy() for n in names))

    def check_training_state(self) -> None:
        """Raise CheckpointError unless this checkpoint holds all a resumed run needs, in the
        types and shapes its settings imply."""
        _check_training_state(self)


# ---- writing ------------------------------------------------------------------------------------


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
        "train": ckpt.train_cfg.resolve().to_dict(),  # complete: the learning rate it implies
        "vocab": ckpt.vocab.to_dict(),
        "step": ckpt.step,
        "info": ckpt.info,
    }
    # one metadata key: safetensors writes a map's keys in hash order, and checkpoints of the same
    # training must be byte-identical
    blob = st_save(tensors, metadata={"rnngen": json.dumps(meta)})
    try:
        atomic_write(path, blob)
    except OSError as e:
        raise CheckpointError(f"{path}: could not write checkpoint ({e.strerror or e}); the "
                              "previous one is intact") from None  # fmt: skip
    return path


# ---- reading ------------------------------------------------------------------------------------


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
        raise CheckpointError(f"{path}: format_version must be a whole number from 1 (got "
                              f"{version!r})")  # fmt: skip
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer rnngen (format {version}; this one reads up to "
            f"{FORMAT_VERSION}); upgrade rnngen to use it"
        )
    # the data section must hold every tensor's bytes
    try:
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"),
                  default=0)  # fmt: skip
    except (KeyError, TypeError, ValueError, IndexError):
        raise CheckpointError(f"{path}: not an rnngen checkpoint (bad tensor table)") from None
    if 8 + n + end > size:
        raise CheckpointError(f"{path}: checkpoint is truncated ({size} of {8 + n + end} bytes)")
    return meta


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint file and check it (see the module docstring). Raises CheckpointError."""
    path = Path(path)
    meta = read_header(path)
    try:
        tensors = st_load(path.read_bytes())
    except Exception as e:  # safetensors raises its own error types on corrupt data
        raise CheckpointError(f"{path}: corrupt checkpoint ({e})") from None
    return _checked(path, meta, tensors)


def _checked(path: Path, meta: dict, tensors: dict[str, np.ndarray]) -> Checkpoint:
    def fail(where: str, problem: str) -> CheckpointError:
        return CheckpointError(f"{path}: {where} {problem}")

    legacy = meta["format_version"] < 2
    model_cfg = _settings(path, meta, "model", ModelConfig, None)
    train_cfg = _settings(path, meta, "train", TrainConfig, _legacy_train if legacy else None)
    vocab_d = meta.get("vocab")
    if not isinstance(vocab_d, dict):
        raise fail("vocab", "is missing: a checkpoint holds its vocabulary")
    try:
        vocab = Vocab.from_dict(vocab_d)
    except (KeyError, TypeError, ValueError) as e:
        raise fail("vocab", f"is not a vocabulary ({e})") from None
    if vocab.level != model_cfg.level:
        raise fail("vocab.level", f"is {vocab.level!r}, but model.level is {model_cfg.level!r}")
    if len(vocab) != model_cfg.vocab_size:
        raise fail("model.vocab_size", f"is {model_cfg.vocab_size}, but the vocabulary holds "
                   f"{len(vocab)} tokens")  # fmt: skip
    step = meta.get("step", 0)
    if not _is_int(step) or step < 0:
        raise fail("step", f"must be a whole number >= 0 (got {step!r})")
    info = meta.get("info", {})
    if not isinstance(info, dict):
        raise fail("info", "must be a mapping")
    _check_info(path, info)
    params = {k[len("param/") :]: v for k, v in tensors.items() if k.startswith("param/")}
    arrays = {k: v for k, v in tensors.items() if not k.startswith("param/")}
    _check_params(path, model_cfg, params)
    return Checkpoint(model_cfg, train_cfg, vocab, params, step, arrays, info, path)


def _settings(path: Path, meta: dict, section: str, cls: type[Settings],
              legacy: Callable[[dict], dict] | None) -> Any:  # fmt: skip
    d = meta.get(section)
    if not isinstance(d, dict):
        raise CheckpointError(f"{path}: {section} is missing or not a mapping")
    if legacy is not None:
        d = legacy(dict(d))
    try:
        return cls.from_dict(d).validate(resolved=True)
    except ConfigError as e:
        raise CheckpointError(f"{path}: {e.render(lambda n: f'{section}.{n}')}") from None


def _legacy_train(d: dict) -> dict:
    """Format 1: val_frac 0 meant "validation from a file"."""
    if d.get("val_frac") == 0:
        d["val_frac"] = None
    return d


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _check_params(path: Path, cfg: ModelConfig, params: dict[str, np.ndarray]) -> None:
    """Every parameter the settings imply, with its shape, float32 and finite; no other."""
    per_layer = 2 + len(CELLS[cfg.cell].biases)
    if cfg.layers * per_layer > len(params):  # before listing the names of 10^9 layers
        raise CheckpointError(f"{path}: model.layers is {cfg.layers}, but the file holds "
                              f"{len(params)} parameters")  # fmt: skip
    want = param_shapes(cfg)
    for name, shape in want.items():
        a = params.get(name)
        if a is None:
            raise CheckpointError(f"{path}: parameter {name} is missing")
        if a.shape != shape:
            raise CheckpointError(
                f"{path}: parameter {name} has shape {a.shape}, but the model's settings "
                f"(cell {cfg.cell}, layers {cfg.layers}, hidden {cfg.hidden}, embed {cfg.embed}, "
                f"vocabulary {cfg.vocab_size}{', tied' if cfg.tie else ''}) need {shape}"
            )
        if a.dtype != np.float32:
            raise CheckpointError(f"{path}: parameter {name} is {a.dtype}, not float32")
        if not np.isfinite(a).all():
            raise CheckpointError(f"{path}: parameter {name} holds NaN or infinite values")
    extra = sorted(set(params) - set(want))
    if extra:
        raise CheckpointError(f"{path}: parameter {extra[0]} is not part of the model its "
                              "settings describe")  # fmt: skip


# what info may hold, and what each key must be; None is allowed for every key
_INFO_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "corpus": ("a string", lambda v: isinstance(v, str)),
    "fingerprint": ("a string", lambda v: isinstance(v, str)),
    "epoch": ("a whole number >= 0", lambda v: _is_int(v) and v >= 0),
    "step_in_epoch": ("a whole number >= 0", lambda v: _is_int(v) and v >= 0),
    "epochs": ("a number >= 0", lambda v: _is_num(v) and v >= 0),
    "bad_evals": ("a whole number >= 0", lambda v: _is_int(v) and v >= 0),
    "lr": ("a finite number >= 0", lambda v: _is_num(v) and math.isfinite(v) and v >= 0),
    "train_loss": ("a number", _is_num),
    "best_val_loss": ("a number", _is_num),
    "sources": (
        "a list of strings",
        lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
    ),  # fmt: skip
    "encoding": ("a string", lambda v: isinstance(v, str)),
    "errors": ("a string", lambda v: isinstance(v, str)),
    "val_source": ("a string", lambda v: isinstance(v, str)),
    "val_fingerprint": ("a string", lambda v: isinstance(v, str)),
    "init_from": ("a string", lambda v: isinstance(v, str)),
    "recent_losses": (
        "a list of numbers",
        lambda v: isinstance(v, list) and all(_is_num(x) for x in v),
    ),  # fmt: skip
    "optimizer": ("a mapping", lambda v: isinstance(v, dict)),
    "schedule": ("a mapping", lambda v: isinstance(v, dict)),
    "history": ("a list", lambda v: isinstance(v, list)),
    "curve": (
        "a list of [step, loss, lr, seconds]",
        lambda v: (
            isinstance(v, list)
            and all(isinstance(r, list) and len(r) == 4 and all(_is_num(x) for x in r) for r in v)
        ),
    ),  # fmt: skip
}
_HISTORY_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "step": ("a whole number >= 0", lambda v: _is_int(v) and v >= 0),
    "train_loss": ("a number", _is_num),
    "val_loss": ("a number", _is_num),
    "lr": ("a number", _is_num),
    "seconds": ("a number", _is_num),
}


def _check_info(path: Path, info: dict) -> None:
    for key, (what, ok) in _INFO_TYPES.items():
        v = info.get(key)
        if v is not None and not ok(v):
            raise CheckpointError(f"{path}: info.{key} must be {what} (got {_short(v)})")
    for i, h in enumerate(info.get("history") or []):
        if not isinstance(h, dict) or "step" not in h:
            raise CheckpointError(f"{path}: info.history[{i}] must be a mapping with a step")
        for key, (what, ok) in _HISTORY_TYPES.items():
            v = h.get(key)
            if v is not None and not ok(v):
                raise CheckpointError(f"{path}: info.history[{i}].{key} must be {what} (got "
                                      f"{_short(v)})")  # fmt: skip


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_training_state(ck: Checkpoint) -> None:
    path, info, m, t = ck.path, ck.info, ck.model_cfg, ck.train_cfg

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{path}: cannot resume from this checkpoint: {problem}")

    for key in ("epoch", "step_in_epoch", "optimizer", "schedule"):
        if info.get(key) is None:
            raise fail(f"info.{key} is missing")
    opt = info["optimizer"]
    if opt.get("optimizer") != t.optimizer:
        raise fail(f"info.optimizer.optimizer is {opt.get('optimizer')!r}, but train.optimizer "
                   f"is {t.optimizer!r}")  # fmt: skip
    if not _is_int(opt.get("t")) or opt["t"] < 0:
        raise fail(f"info.optimizer.t must be a whole number >= 0 (got {_short(opt.get('t'))})")
    scale = info["schedule"].get("scale", 1.0)
    if not _is_num(scale) or not math.isfinite(scale) or scale <= 0:
        raise fail(f"info.schedule.scale must be a positive number (got {_short(scale)})")
    P = sum(int(np.prod(s)) for s in param_shapes(m).values())
    for buf in MOMENTS[t.optimizer]:
        _check_array(ck, f"{t.optimizer}.{buf}", (P,), fail)
    for name in CELLS[m.cell].state:
        _check_array(ck, f"state.{name}", (m.layers, t.batch_size, m.hidden), fail)


def _check_array(ck: Checkpoint, name: str, shape: tuple[int, ...], fail) -> None:
    a = ck.arrays.get(name)
    if a is None:
        raise fail(f"tensor {name} is missing")
    if a.shape != shape or a.dtype != np.float32:
        raise fail(f"tensor {name} is {a.dtype} {a.shape}, not float32 {shape}")
    if not np.isfinite(a).all():
        raise fail(f"tensor {name} holds NaN or infinite values")


# ---- finding one --------------------------------------------------------------------------------


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
    runs = [*base.glob("runs/*/last" + SUFFIX), *base.glob("*/last" + SUFFIX),
            *base.glob("*" + SUFFIX)]  # fmt: skip
    if not runs:
        raise CheckpointError(
            "no model given and none found under ./runs or in a run directory here; train one "
            "with `rnngen train FILE` or name a checkpoint: `rnngen sample MODEL`"
        )
    newest = max(runs, key=lambda q: q.stat().st_mtime)
    if newest.name == "last" + SUFFIX and (newest.parent / ("best" + SUFFIX)).is_file():
        return newest.parent / ("best" + SUFFIX)
    return newest
