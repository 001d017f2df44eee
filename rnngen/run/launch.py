"""Setting up a data-parallel run: the root process prepares the run (reads and encodes the text
into the run's token file, checks the options, takes the run directory's lock) and the others
follow from what it sends them, mapping the same token file (a sequence-to-sequence run's
pairs, which are small, are sent whole).

A failure anywhere during set-up is reported once (by the root, naming the process when it was not
the root) and every process exits with its status: no process is left waiting for the others.
"""

from collections.abc import Callable

from rnngen.config.training import TrainConfig
from rnngen.errors import UserError
from rnngen.nn.config import ModelConfig
from rnngen.parallel.group import Group
from rnngen.training.trainer import Trainer


class SetupError(UserError):
    """Set-up failed on some process (the message names it, when not the root)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def setup(group: Group, build: Callable[[], Trainer], threads: int | None) -> Trainer:
    """The root's ``build()``; on the other processes, a Trainer in the same state, for their
    rows. Raises SetupError on every process when any failed."""
    if group.size == 1:
        return build()
    trainer, failure, recipe = None, None, None
    if group.is_root:
        try:
            trainer = build()
            recipe = _recipe(trainer)
        except UserError as e:
            failure = e
    group.wait_idle()  # the others sleep while the root reads and encodes the text
    sent = group.bcast(None if failure else recipe)
    if failure is None and not group.is_root and sent is not None:
        try:
            trainer = _follow(sent, group, threads)
        except UserError as e:
            failure = e
    _raise_first(group, failure)
    return trainer


def _raise_first(group: Group, failure: UserError | None) -> None:
    """Raise SetupError everywhere when any process failed: the root reports the first."""
    outcomes = group.allgather(None if failure is None else (str(failure), failure.exit_code))
    for rank, outcome in enumerate(outcomes):
        if outcome is not None:
            message, code = outcome
            if rank:
                message = f"process {rank} of {group.size}: {message}"
            raise SetupError(message, code)


def _recipe(trainer: Trainer) -> dict:
    """What the other processes need to build the same Trainer: its task and settings, where the
    token file is (a task whose data is small sends it: ``data``), and the whole training state
    (weights, optimizer, schedule, position, all rows of the carried state, history)."""
    own = trainer.own_settings
    return {
        "task": trainer.task_name,
        "own": None if own is None else own.to_dict(),
        "data": trainer.shared_data(),
        "model": trainer.mcfg.to_dict(),
        "train": trainer.tcfg.to_dict(),
        "run_dir": trainer.out_dir,
        "meta": trainer.meta,
        "params": trainer.model.params.flat,
        "opt": trainer.opt.state_arrays(),
        "opt_info": trainer.opt.state_info(),
        "schedule": trainer.schedule.state(),
        "state": trainer.restored_state,  # all rows (None: zeros)
        "pos": (trainer.stream.pos.epoch, trainer.stream.pos.step_in_epoch),
        "scalars": {k: getattr(trainer, k) for k in _SCALARS},
    }


_SCALARS = (
    "step",
    "saved_step",
    "history",
    "curve",
    "best",
    "recent",
    "bad_evals",
    "lr",
    "seconds_before",
)


def _follow(recipe: dict, group: Group, threads: int | None) -> Trainer:
    from rnngen.data.batches import Position
    from rnngen.tasks import task

    t = task(recipe["task"])
    mcfg = ModelConfig.from_dict(recipe["model"])
    tcfg = TrainConfig.from_dict(recipe["train"])
    own = None if t.settings is None else t.settings.from_dict(recipe["own"])
    trainer = t.follow(recipe, mcfg, own, tcfg, threads, group)
    trainer.meta = recipe["meta"]
    trainer.model.params.flat[...] = recipe["params"]
    trainer.opt.load_state(recipe["opt"], recipe["opt_info"])
    trainer.schedule.load_state(recipe["schedule"])
    if recipe["state"] is not None:
        trainer.job.assign_carried(recipe["state"])
    trainer.stream.pos = Position(*recipe["pos"])
    for k, v in recipe["scalars"].items():
        setattr(trainer, k, v)
    return trainer
