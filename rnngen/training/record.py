"""What a checkpoint holds of a training run, and reading it back: the weights, the optimizer's
and the schedule's state, the step and data position, the history and the best evaluation, the
carried state of all rows (the task's job says what it carries and what else it stores)."""

from typing import Any

import numpy as np

import rnngen.checkpoint as checkpoint
from rnngen.data.batches import Position
from rnngen.errors import CheckpointError


def checkpoint_of(
    t: Any,
    train_loss: float,
    state: dict[str, np.ndarray],
) -> checkpoint.Checkpoint:
    """The checkpoint of the run of trainer ``t`` now, with the carried state of all rows."""
    info = {
        **t.meta,
        "corpus": t.corpus.name,
        "fingerprint": t.corpus.fingerprint,
        "epoch": t.stream.pos.epoch,
        "step_in_epoch": t.stream.pos.step_in_epoch,
        "epochs": t.step / t.stream.steps_per_epoch,
        "optimizer": t.opt.state_info(),
        "schedule": t.schedule.state(),
        "bad_evals": t.bad_evals,
        "lr": t.lr,
        "train_loss": train_loss,
        "best_val_loss": t.best_val,
        **{f"best_{k}": v for k, v in (t.best or {}).items() if k != "val_loss"},
        "history": t.history,
        "curve": t.curve,
        "recent_losses": t.recent,
        # what --resume trains in when not told (rnngen.run.training.replicas_for)
        "replicas": t.group.size if t.group.members == "replicas" else 1,
    }
    return checkpoint.Checkpoint(
        model_cfg=t.mcfg,
        train_cfg=t.tcfg,
        vocab=t.corpus.vocab,
        params=dict(t.model.params.views),
        step=t.step,
        arrays={**t.opt.state_arrays(), **state, **t.job.start_arrays(t.step)},
        info=info,
        **t.job.checkpoint_part(),
    )


def restore(t: Any, ck: checkpoint.Checkpoint) -> None:
    """Trainer ``t`` continues the run ``ck`` was saved from: weights, optimizer state, step,
    data position, carried state, history. The data and settings must be the run's own."""
    ck.check_training_state()
    load_weights(t.model, ck.params)
    t.opt.load_state(ck.arrays, ck.info["optimizer"])
    t.schedule.load_state(ck.info["schedule"])
    t.stream.pos = Position(ck.info["epoch"], ck.info["step_in_epoch"])
    t.step = t.saved_step = ck.step
    t.history = list(ck.info.get("history") or [])
    t.curve = list(ck.info.get("curve") or [])
    best = ck.info.get("best_val_loss")
    t.best = None
    if best is not None:  # the measures it was kept by, as the info records them
        more = {
            k[len("best_") :]: v
            for k, v in ck.info.items()
            if k.startswith("best_val_") and k != "best_val_loss" and v is not None
        }
        t.best = {"val_loss": best, **more}
    t.recent[:] = ck.info.get("recent_losses") or []
    t.bad_evals = ck.info.get("bad_evals") or 0
    t.lr = float(ck.info.get("lr") or t.lr)
    t.seconds_before = float(t.history[-1].get("seconds", 0.0)) if t.history else 0.0
    t.restored_state = t.job.restore(ck)  # all rows; this member continues its own


def load_weights(model: Any, params: dict[str, np.ndarray]) -> None:
    """Copy weights into ``model`` by name. A parameter may be smaller along an axis (a
    vocabulary that grew, ``--init-from``): the rest keeps its fresh initialisation."""
    for name, view in model.params.views.items():
        src = params.get(name)
        if (
            src is None
            or src.ndim != view.ndim
            or any(a > b for a, b in zip(src.shape, view.shape, strict=True))
        ):
            raise CheckpointError(f"parameter {name} is missing or mis-shaped")
        view[tuple(slice(0, n) for n in src.shape)] = src
