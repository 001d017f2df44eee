"""``rnngen train``: train a language model on text, keeping the best and last checkpoints.

The options are the model's and training's settings (``ModelConfig``, ``TrainConfig``, declared
once), the shared ones, and the few that say where things are: the inputs, the run directory, a run
to continue (``--resume``) or a model to start from (``--init-from``). The work is the library's
(``rnngen.train.run``); this module parses, shows progress, and turns Ctrl-C into a clean stop.
"""

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from rnngen.cli.errors import INTERRUPTED, user_errors
from rnngen.cli.output import compiling_status, err, info
from rnngen.cli.params import Shared, flag_of, given, settings_options
from rnngen.errors import UsageError
from rnngen.nn.config import ModelConfig
from rnngen.train.config import TrainConfig


@settings_options(
    ModelConfig, TrainConfig, Shared.only("threads", "json_out", "quiet", "encoding", "errors")
)
def train(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Text files, directories (every text file below) or '-' (stdin) to train on.",
            show_default=False,
        ),
    ] = None,
    val_file: Annotated[Path | None, typer.Option(help="Validation text file.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default: runs/NAME-TIME).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the checkpoints of an existing --out.")
    ] = False,
    resume: Annotated[
        Path | None, typer.Option(help="Continue this run (directory or checkpoint).")
    ] = None,
    init_from: Annotated[
        Path | None, typer.Option(help="Start from this model's weights (fine-tuning).")
    ] = None,
    distributed: Annotated[
        str,
        typer.Option(help="auto: data-parallel over MPI when started by mpiexec or srun; off."),
    ] = "auto",
    *,
    model: ModelConfig,
    training: TrainConfig,
    shared: Shared,
) -> None:
    """Train a recurrent language model on text, keeping the best and last checkpoints."""
    from rnngen.train.run import Inputs, new_trainer, resume_trainer

    quiet = shared.quiet
    user_given, name_flag = given(ctx), flag_of(ctx)
    with user_errors():
        shared.validate()
        group, threads = _group(distributed, shared.threads)
    if not group.is_root:  # the root alone talks: progress, messages, errors, --json
        err.quiet = quiet = True
    with user_errors():
        if resume is not None and init_from is not None:
            raise UsageError("--resume and --init-from conflict: give one")
        inputs = Inputs(paths, None if val_file is None else str(val_file), shared.encoding,
                        shared.errors)  # fmt: skip
        if paths and "-" in paths and sys.stdin.isatty():
            info("reading the corpus from stdin; end it with Ctrl-D", quiet)
        if resume is not None:  # the options given must be valid before they are compared
            model.validate(resolved=False)
            training.validate(resolved=False)
            trainer = _setup(group, threads, lambda: resume_trainer(
                resume, inputs, user_given, threads, name_flag, group))  # fmt: skip
            done = trainer.done_reason()
            if done is not None:
                info(done, quiet)
                raise typer.Exit(0)
            epochs = trainer.step / trainer.stream.steps_per_epoch
            info(f"resuming {trainer.out_dir} at step {trainer.step:,} ({epochs:.2f} epochs)",
                 quiet)  # fmt: skip
        else:
            trainer = _setup(group, threads, lambda: new_trainer(
                model, training, inputs, out, force, threads, init_from, user_given, name_flag,
                lambda m: info(m, quiet), group))  # fmt: skip
    _run(trainer, quiet, shared.json_out and group.is_root)


def _group(distributed: str, threads: int | None):
    """(the processes training together, threads for this one: its share of the machine's
    cores unless --threads says)."""
    from rnngen.kernels.threads import available_cores
    from rnngen.train.distributed import make_group, share_of_cores

    group = make_group(distributed)
    if threads is None and group.size > 1:
        threads = share_of_cores(group, available_cores())
    return group, threads


def _setup(group, threads, build):
    """The Trainer ``build`` makes, set up on every process; a failure is reported once."""
    from rnngen.train.launch import setup

    return setup(group, build, threads)


def _run(trainer, quiet: bool, json_out: bool) -> None:
    """Run ``trainer`` with progress on stderr; Ctrl-C or SIGTERM stop it after a checkpoint."""
    from rnngen.cli.progress import TrainProgress, fmt_rate  # rich.progress: train's alone
    from rnngen.train.run import resume_hint
    from rnngen.warmup import warm_training_kernels

    run_dir = trainer.out_dir
    with user_errors():
        info(f"run directory: {run_dir}", quiet)
        with compiling_status(quiet):
            m, t = trainer.mcfg, trainer.tcfg
            warm_training_kernels(
                trainer.plan.parts, m.cell, t.optimizer, m.dropout > 0 or bool(m.dropout_input)
            )
        progress = TrainProgress(err, quiet)

        def stop() -> None:
            trainer.stop_requested = True

        try:
            with _graceful_stop(stop):
                result = trainer.run(progress)
        finally:
            progress.close()

    if not quiet:
        val = f"{result.best_val_loss:.4f}" if result.best_val_loss is not None else "–"
        err.print(
            f"[bold]done[/]: {result.steps:,} steps in {result.seconds:.0f} s "
            f"({fmt_rate(result.tokens_per_sec)}), train loss {result.train_loss:.4f}, "
            f"best val loss {val}"
        )
        err.print(f"checkpoint: {escape(result.checkpoint)}")
        err.print(f"sample it:  rnngen sample {escape(str(run_dir))}", style="dim")
    if json_out:
        print(json.dumps(result.to_dict()), flush=True)
    if result.interrupted:
        err.print(f"[yellow]interrupted[/] at step {result.steps:,}; checkpoints are in "
                  f"{escape(str(run_dir))}; resume with:")  # fmt: skip
        launcher = f"mpiexec -n {trainer.group.size} " if trainer.group.size > 1 else ""
        err.print(escape(launcher + resume_hint(run_dir, trainer.meta)))
        raise typer.Exit(INTERRUPTED)


@contextmanager
def _graceful_stop(request: Callable[[], None]) -> Iterator[None]:
    """First SIGINT/SIGTERM asks the loop to stop after the current step; a second one aborts."""
    hits = {"n": 0}

    def handler(signum, frame):  # noqa: ARG001
        hits["n"] += 1
        if hits["n"] > 1:
            raise SystemExit(INTERRUPTED)  # the last checkpoint on disk stays (writes are atomic)
        request()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
