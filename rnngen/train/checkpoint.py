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
from rnngen.errors import CheckpointError, ConfigError, UsageError
from rnngen.files import atomic_write
from rnngen.nn.cells import CELLS
from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import LanguageModel, State, param_shapes
from rnngen.nn.seq2seq.config import Seq2SeqConfig
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
    s2s: Seq2SeqConfig | None = None  # a sequence-to-sequence model's own settings
    src_vocab: Vocab | None = None  # its source vocabulary (``vocab`` is the target's)

    @property
    def task(self) -> str:
        return "lm" if self.s2s is None else "seq2seq"

    def require(self, task: str, command: str) -> None:
        """Raise UsageError, naming the command that fits, unless this is a ``task`` model."""
        if task == self.task:
            return
        if task == "lm":
            raise UsageError(f"{self.path}: is a sequence-to-sequence model; {command} needs a "
                             f"language model; to turn lines into lines use: rnngen translate "
                             f"{self.path}")  # fmt: skip
        raise UsageError(f"{self.path}: is a language model; {command} needs a sequence-to-"
                         f"sequence model (rnngen train --task seq2seq); to generate text use: "
                         f"rnngen sample {self.path}")  # fmt: skip

    def build_model(self, parts: int = 1) -> Any:
        """The model this checkpoint describes (``LanguageModel`` or ``Seq2SeqModel``), with its
        weights."""
        if self.s2s is not None:
            from rnngen.nn.seq2seq.model import Seq2SeqModel

            model = Seq2SeqModel(self.model_cfg, self.s2s, np.float32, parts=parts)
        else:
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
        **_seq2seq_meta(ckpt),
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


def _seq2seq_meta(ckpt: Checkpoint) -> dict:
    if ckpt.s2s is None:
        return {}
    return {"task": "seq2seq", "seq2seq": ckpt.s2s.to_dict(), "src_vocab": ckpt.src_vocab.to_dict()}


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
    vocab = _vocab(meta, "vocab", "its vocabulary", fail)
    task = meta.get("task", "lm")
    if task not in ("lm", "seq2seq"):
        raise fail("task", f"must be 'lm' or 'seq2seq' (got {_short(task)})")
    s2s = src_vocab = None
    if task == "seq2seq":
        s2s, src_vocab = _seq2seq_parts(path, meta, model_cfg, vocab, fail)
    else:
        if vocab.level != model_cfg.level:
            raise fail("vocab.level", f"is {vocab.level!r}, but model.level is "
                       f"{model_cfg.level!r}")  # fmt: skip
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
    _check_params(path, model_cfg, params, s2s)
    return Checkpoint(model_cfg, train_cfg, vocab, params, step, arrays, info, path, s2s, src_vocab)


def _vocab(meta: dict, key: str, what: str, fail) -> Vocab:
    """The vocabulary stored under ``key``, checked."""
    d = meta.get(key)
    if not isinstance(d, dict):
        raise fail(key, f"is missing: a checkpoint holds {what}")
    try:
        return Vocab.from_dict(d)
    except (KeyError, TypeError, ValueError) as e:
        raise fail(key, f"is not a vocabulary ({e})") from None


def _seq2seq_parts(path: Path, meta: dict, m: ModelConfig, vocab: Vocab, fail) -> tuple:
    """A seq2seq checkpoint's settings and source vocabulary, checked against each other."""
    from rnngen.data.pairs import target_size

    s2s = _settings(path, meta, "seq2seq", Seq2SeqConfig, None)
    try:
        s2s.check_with(m.hidden)
    except ConfigError as e:
        raise CheckpointError(f"{path}: {e.render(lambda n: f'seq2seq.{n}')}") from None
    src_vocab = _vocab(meta, "src_vocab", "its source vocabulary", fail)
    for v, level, size, what in (
        (src_vocab, s2s.src_level, s2s.src_vocab, "seq2seq.src_vocab"),
        (vocab, s2s.tgt_level, m.vocab_size, "model.vocab_size"),
    ):
        want = len(v) if v is src_vocab else target_size(v)
        if v.level != level:
            raise fail(f"{what.split('.')[0]}", f"level {v.level!r} disagrees with the settings "
                       f"({level!r})")  # fmt: skip
        if size != want:
            raise fail(what, f"is {size}, but the vocabulary implies {want}")
    return s2s, src_vocab


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


def _check_params(path: Path, cfg: ModelConfig, params: dict[str, np.ndarray],
                  s2s: Seq2SeqConfig | None = None) -> None:  # fmt: skip
    """Every parameter the settings imply, with its shape, float32 and finite; no other."""
    per_layer = 2 + len(CELLS[cfg.cell].biases)
    if cfg.layers * per_layer > len(params):  # before listing the names of 10^9 layers
        raise CheckpointError(f"{path}: model.layers is {cfg.layers}, but the file holds "
                              f"{len(params)} parameters")  # fmt: skip
    want = param_shapes(cfg) if s2s is None else _s2s_shapes(cfg, s2s)
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
    "best_val_error": ("a number in [0, 1]", lambda v: _is_num(v) and 0 <= v <= 1),
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
    "val_error": ("a number in [0, 1]", lambda v: _is_num(v) and 0 <= v <= 1),
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
    shapes = param_shapes(m) if ck.s2s is None else _s2s_shapes(m, ck.s2s)
    P = sum(int(np.prod(s)) for s in shapes.values())
    for buf in MOMENTS[t.optimizer]:
        _check_array(ck, f"{t.optimizer}.{buf}", (P,), fail)
    if ck.s2s is not None:  # nothing carried from batch to batch
        return
    for name in CELLS[m.cell].state:
        _check_array(ck, f"state.{name}", (m.layers, t.batch_size, m.hidden), fail)


def _s2s_shapes(m: ModelConfig, s2s: Seq2SeqConfig) -> dict[str, tuple[int, ...]]:
    from rnngen.nn.seq2seq.model import param_shapes as s2s_shapes

    return s2s_shapes(m, s2s)


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
