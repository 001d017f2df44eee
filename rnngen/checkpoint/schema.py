"""Checking a checkpoint's metadata and tensors, which are untrusted input (models are shared, and
a file may be edited or forged): every setting against the declarations the command line uses
(``rnngen.config.settings``: types, ranges, choices, finite numbers), the vocabularies, and that
every tensor has the name, shape and dtype those settings imply. What fails is refused with one
line naming the file and the field, before anything is built from the file."""

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rnngen.config.settings import Settings
from rnngen.config.training import MOMENTS, TrainConfig
from rnngen.data.vocab import Vocab
from rnngen.errors import CheckpointError, ConfigError
from rnngen.nn.cells import CELLS
from rnngen.nn.config import ModelConfig
from rnngen.nn.networks import TASKS, NetworkSpec, network_spec


def checked_parts(path: Path, meta: dict, tensors: dict[str, np.ndarray]) -> dict:
    """The fields of a ``Checkpoint`` read from ``meta`` and ``tensors``, every one checked."""

    def fail(where: str, problem: str) -> CheckpointError:
        return CheckpointError(f"{path}: {where} {problem}")

    legacy = meta["format_version"] < 2
    model_cfg = _settings(path, meta, "model", ModelConfig, None)
    train_cfg = _settings(path, meta, "train", TrainConfig, _legacy_train if legacy else None)
    vocab = _vocab(meta, "vocab", "its vocabulary", fail)
    task = meta.get("task", "lm")
    if task not in TASKS:
        raise fail("task", f"must be {' or '.join(map(repr, TASKS))} (got {_short(task)})")
    spec = network_spec(task)
    own = None if spec.settings is None else _settings(path, meta, task, spec.settings, spec.legacy)
    more = {k: _vocab(meta, k, f"its {k.replace('_', ' ')}ulary", fail) for k in spec.vocabs}
    problem = spec.check(model_cfg, own, vocab, more)
    if problem is not None:
        where, what = problem
        raise CheckpointError(f"{path}: {where + ' ' if where else ''}{what}")
    step = meta.get("step", 0)
    if not _is_int(step) or step < 0:
        raise fail("step", f"must be a whole number >= 0 (got {step!r})")
    info = meta.get("info", {})
    if not isinstance(info, dict):
        raise fail("info", "must be a mapping")
    _check_info(path, info)
    params = {k[len("param/") :]: v for k, v in tensors.items() if k.startswith("param/")}
    arrays = {k: v for k, v in tensors.items() if not k.startswith("param/")}
    _check_params(path, model_cfg, params, lambda: spec.param_shapes(model_cfg, own))
    _check_start(path, spec, model_cfg, arrays)
    return dict(
        model_cfg=model_cfg,
        train_cfg=train_cfg,
        vocab=vocab,
        params=params,
        step=step,
        arrays=arrays,
        info=info,
        path=path,
        task=task,
        task_cfg=own,
        vocabs=more,
    )


def _check_start(path: Path, spec: NetworkSpec, m: ModelConfig, arrays: dict) -> None:
    """The start state, when the file has one: every state vector of the cell, (L, 1, H)
    float32, finite; none for a network that carries no state."""
    start = sorted(k for k in arrays if k.startswith("start."))
    if not start:
        return
    names = CELLS[m.cell].state if spec.carries_state else ()
    if start != sorted(f"start.{n}" for n in names):
        raise CheckpointError(
            f"{path}: tensors {', '.join(start)} do not make the start state of "
            f"a {m.cell} model (start.{', start.'.join(names) or '-'})"
        )
    for k in start:
        a = arrays[k]
        if a.shape != (m.layers, 1, m.hidden) or a.dtype != np.float32:
            raise CheckpointError(
                f"{path}: tensor {k} is {a.dtype} {a.shape}, not float32 {(m.layers, 1, m.hidden)}"
            )
        if not np.isfinite(a).all():
            raise CheckpointError(f"{path}: tensor {k} holds NaN or infinite values")


def _vocab(meta: dict, key: str, what: str, fail) -> Vocab:
    """The vocabulary stored under ``key``, checked."""
    d = meta.get(key)
    if not isinstance(d, dict):
        raise fail(key, f"is missing: a checkpoint holds {what}")
    try:
        return Vocab.from_dict(d)
    except (KeyError, TypeError, ValueError) as e:
        raise fail(key, f"is not a vocabulary ({e})") from None


def _settings(
    path: Path, meta: dict, section: str, cls: type[Settings], legacy: Callable[[dict], dict] | None
) -> Any:
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


def _check_params(
    path: Path,
    cfg: ModelConfig,
    params: dict[str, np.ndarray],
    shapes: Callable[[], dict[str, tuple[int, ...]]],
) -> None:
    """Every parameter the settings imply (``shapes()``), with its shape, float32 and finite; no
    other."""
    per_layer = 2 + len(CELLS[cfg.cell].biases)
    if cfg.layers * per_layer > len(params):  # before listing the names of 10^9 layers
        raise CheckpointError(
            f"{path}: model.layers is {cfg.layers}, but the file holds {len(params)} parameters"
        )
    want = shapes()
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
        raise CheckpointError(
            f"{path}: parameter {extra[0]} is not part of the model its settings describe"
        )


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
    ),
    "encoding": ("a string", lambda v: isinstance(v, str)),
    "errors": ("a string", lambda v: isinstance(v, str)),
    "val_source": ("a string", lambda v: isinstance(v, str)),
    "val_fingerprint": ("a string", lambda v: isinstance(v, str)),
    "init_from": ("a string", lambda v: isinstance(v, str)),
    "recent_losses": (
        "a list of numbers",
        lambda v: isinstance(v, list) and all(_is_num(x) for x in v),
    ),
    "optimizer": ("a mapping", lambda v: isinstance(v, dict)),
    "schedule": ("a mapping", lambda v: isinstance(v, dict)),
    "history": ("a list", lambda v: isinstance(v, list)),
    "curve": (
        "a list of [step, loss, lr, seconds]",
        lambda v: (
            isinstance(v, list)
            and all(isinstance(r, list) and len(r) == 4 and all(_is_num(x) for x in r) for r in v)
        ),
    ),
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
                raise CheckpointError(
                    f"{path}: info.history[{i}].{key} must be {what} (got {_short(v)})"
                )


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def check_training_state(
    path: Path | None,
    spec: NetworkSpec,
    m: ModelConfig,
    t: TrainConfig,
    own: Any,
    info: dict,
    arrays: dict,
) -> None:
    """Raise CheckpointError unless the checkpoint holds all a resumed run needs, in the types and
    shapes its settings imply."""

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{path}: cannot resume from this checkpoint: {problem}")

    for key in ("epoch", "step_in_epoch", "optimizer", "schedule"):
        if info.get(key) is None:
            raise fail(f"info.{key} is missing")
    opt = info["optimizer"]
    if opt.get("optimizer") != t.optimizer:
        raise fail(
            f"info.optimizer.optimizer is {opt.get('optimizer')!r}, but train.optimizer "
            f"is {t.optimizer!r}"
        )
    if not _is_int(opt.get("t")) or opt["t"] < 0:
        raise fail(f"info.optimizer.t must be a whole number >= 0 (got {_short(opt.get('t'))})")
    scale = info["schedule"].get("scale", 1.0)
    if not _is_num(scale) or not math.isfinite(scale) or scale <= 0:
        raise fail(f"info.schedule.scale must be a positive number (got {_short(scale)})")
    P = sum(int(np.prod(s)) for s in spec.param_shapes(m, own).values())
    for buf in MOMENTS[t.optimizer]:
        _check_array(arrays, f"{t.optimizer}.{buf}", (P,), fail)
    if spec.carries_state:
        for name in CELLS[m.cell].state:
            _check_array(arrays, f"state.{name}", (m.layers, t.batch_size, m.hidden), fail)


def _check_array(arrays: dict, name: str, shape: tuple[int, ...], fail) -> None:
    a = arrays.get(name)
    if a is None:
        raise fail(f"tensor {name} is missing")
    if a.shape != shape or a.dtype != np.float32:
        raise fail(f"tensor {name} is {a.dtype} {a.shape}, not float32 {shape}")
    if not np.isfinite(a).all():
        raise fail(f"tensor {name} holds NaN or infinite values")
