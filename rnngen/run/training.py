"""The library's orchestration of a training run, for ``rnngen.train`` and ``rnngen train`` alike:
start the group (one process, replicas in threads, or MPI processes when launched by ``mpiexec``),
set the trainer up on every member (the root reads the data; the others follow), warm the kernels
once, train, report through a reporter and stop on a flag. Nothing here branches on the task: the
task object (``rnngen.tasks``) does what differs."""

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rnngen.errors import UsageError, flag_name
from rnngen.tasks import TASKS, task


def start_group(
    distributed: str = "auto",
    replicas: int = 1,
    threads: int | None = None,
) -> tuple[Any, int | None]:
    """(the members training together, threads for this one: its share of the machine's cores
    unless ``threads`` says). ``distributed``: "auto" (MPI when an MPI launcher started several
    processes) or "off"; ``replicas``: N replicas in threads of this process."""
    from rnngen.kernels.threads import available_cores
    from rnngen.parallel.group import launched_size, make_group, share_of_cores
    from rnngen.parallel.replicas import start

    if replicas != 1:
        return start(
            replicas, threads, launched_size() if distributed == "auto" else 1, _follow_the_root
        )
    group = make_group(distributed)
    if threads is None and group.size > 1:
        threads = share_of_cores(group, available_cores())
    return group, threads


def replicas_for(
    replicas: int | None,
    task_name: str,
    given: dict[str, Any],
    resume: str | Path | None = None,
    distributed: str = "auto",
) -> int:
    """The replicas a run trains in: ``replicas`` when the user names them; else, under an MPI
    launcher, 1 (its processes share the batch); for ``--resume``, the count the run recorded
    (1 for a run that records none, as every run from before the default); for a new run, the
    task's own count (``Task.replicas``: a sequence-to-sequence batch is 2 shards, whatever the
    cores, so the model does not depend on them), or 1 when the batch does not split or Numba's
    threading layer cannot run replicas (its 'workqueue' layer)."""
    if replicas is not None:
        return replicas
    from rnngen.parallel.group import launched_size

    if distributed == "auto" and launched_size() > 1:
        return 1
    if resume is not None:
        import rnngen.checkpoint as checkpoint

        ck_path, _ = checkpoint.find_resumable(Path(resume))
        return checkpoint.recorded_replicas(ck_path)
    if task_name not in TASKS:
        return 1  # prepare names the problem
    from rnngen.config.training import TrainConfig
    from rnngen.parallel.replicas import layer_runs_replicas

    t = task(task_name)
    batch = given.get("batch_size", t.defaults.get("batch_size", TrainConfig.batch_size))
    if t.replicas == 1 or not isinstance(batch, int) or batch % t.replicas:
        return 1
    return t.replicas if layer_runs_replicas() else 1


def _follow_the_root(group: Any, threads: int | None) -> None:
    """A replica other than the root: the trainer the root sets up, trained in step with it."""
    from rnngen.run.launch import SetupError, setup

    try:
        trainer = setup(group, _not_root, threads)
    except SetupError:
        return  # every replica raises it, and the root reports it
    if trainer.done_reason() is None:
        trainer.run()


def _not_root() -> None:  # setup builds on the root only
    raise AssertionError("a replica other than the root was asked to build the trainer")


def split_settings(
    settings: dict[str, Any], own: type | None, flag: Callable[[str], str] = flag_name
) -> tuple[dict, dict, dict]:
    """(the model's, training's, the task's own) of ``settings``. A name no task knows is a
    UsageError listing the settings; another task's setting says which task it is for."""
    from rnngen.config.training import TrainConfig
    from rnngen.nn.config import ModelConfig

    def names(cls: type | None) -> set[str]:
        return set() if cls is None else {f.name for f in dataclasses.fields(cls)}

    others = {n: task(n) for n in TASKS}
    mine = (names(ModelConfig), names(TrainConfig), names(own))
    for name in settings:
        if any(name in n for n in mine):
            continue
        for other in others.values():
            if name in names(other.settings):
                raise UsageError(f"{flag(name)} applies to {other.plural}: add --task {other.name}")
        known = sorted(set().union(*mine, *(names(t.settings) for t in others.values())))
        raise UsageError(f"unknown setting {name!r}; the settings are: {', '.join(known)}")
    return tuple({k: v for k, v in settings.items() if k in n} for n in mine)  # type: ignore


def prepare(
    paths: list[str] | str | None = None,
    *,
    val_file: str | Path | None = None,
    out: str | Path | None = None,
    force: bool = False,
    resume: str | Path | None = None,
    init_from: str | Path | None = None,
    threads: int | None = None,
    encoding: str = "utf-8",
    errors: str = "strict",
    given: dict[str, Any] | None = None,
    flag: Callable[[str], str] | None = None,
    notice: Callable[[str], None] | None = None,
    task_name: str = "lm",
    group: Any = None,
) -> Any:
    """A trainer ready to run (the run directory locked): a new run of ``task_name`` on ``paths``
    with the settings ``given`` (name -> value), or the run ``resume`` continued (its task from
    its checkpoint), or a new run from ``init_from``'s weights. ``flag`` names settings in
    messages (the command line's flags); ``notice`` receives what the user should know."""
    import rnngen.checkpoint as checkpoint
    from rnngen.config.training import TrainConfig
    from rnngen.data.text import check_encoding
    from rnngen.nn.config import ModelConfig
    from rnngen.training.rundir import Inputs

    given = dict(given or {})
    flag = flag or flag_name
    check_encoding(encoding, errors)
    if isinstance(paths, str | Path):
        paths = [str(paths)]
    if resume is not None and init_from is not None:
        raise UsageError("--resume and --init-from conflict: give one")
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be at least 1 (got {threads})")
    inputs = Inputs(
        [str(p) for p in paths] if paths else None,
        None if val_file is None else str(val_file),
        encoding,
        errors,
    )
    if resume is not None:
        ck_path, run_dir = checkpoint.find_resumable(Path(resume))
        ck = checkpoint.load(ck_path)
        t = task(ck.task)
        m, tr, _ = split_settings({k: v for k, v in given.items() if k != "task"}, t.settings, flag)
        ModelConfig(**m).validate(resolved=False)  # the options given must be valid before
        TrainConfig(**tr).validate(resolved=False)  # they are compared with the run's
        # where a new run would go has no place in a resumed one: the run's own directory
        where = {k: v for k, v in (("out", out), ("force", force or None)) if v is not None}
        return t.resume_trainer(ck, run_dir, inputs, {**given, **where}, threads, flag, group)
    t = task(task_name)
    t.check_given(given, flag, resume is not None, init_from is not None)
    m, tr, own = split_settings({**t.defaults, **given}, t.settings, flag)
    return t.new_trainer(
        ModelConfig(**m),
        None if t.settings is None else t.settings(**own),
        TrainConfig(**tr),
        inputs,
        None if out is None else Path(out),
        force,
        threads,
        None if init_from is None else Path(init_from),
        given,
        flag,
        notice,
        group,
    )


class Session:
    """One training run from start to end, as ``rnngen.train`` and ``rnngen train`` run it::

        with Session(distributed, replicas, threads) as s:
            trainer = s.prepare(lambda threads, group: prepare(..., threads=threads, group=group))
            s.warm()
            result = s.run(reporter)        # s.stop() from a signal handler ends it early

    The group is closed (its replicas joined) on every way out."""

    def __init__(
        self, distributed: str = "auto", replicas: int = 1, threads: int | None = None
    ) -> None:
        self.group, self.threads = start_group(distributed, replicas, threads)
        self.trainer: Any = None

    def __enter__(self) -> "Session":
        self.group.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        if self.trainer is not None and self.trainer.lock is not None:
            self.trainer.lock.release()
        return self.group.__exit__(*exc)

    @property
    def task(self) -> Any:
        return task(self.trainer.task_name)

    def prepare(self, build: Callable[[int | None, Any], Any]) -> Any:
        """The trainer ``build(threads, group)`` makes on the root, set up on every member; a
        failure anywhere is raised everywhere, reported once."""
        from rnngen.run.launch import setup

        self.trainer = setup(self.group, lambda: build(self.threads, self.group), self.threads)
        return self.trainer

    def warm(self) -> None:
        """Compile (or load) the kernels the run uses, once; then what the task does next."""
        self.task.warm_training(self.trainer)
        if self.group.is_root:
            self.task.after_training(self.trainer)

    def stop(self) -> None:
        """Ask the run to stop after the current step (safe from a signal handler)."""
        if self.trainer is not None:
            self.trainer.stop_requested = True

    def run(self, reporter: Any = None) -> Any:
        """Train to the end; the run's ``Run``."""
        from rnngen.tasks.models import Run

        return Run(**vars(self.trainer.run(reporter)))
