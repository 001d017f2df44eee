"""``rnngen train``: train a language model on text, keeping the best and last checkpoints.

The options are the model's and training's settings (``ModelConfig``, ``TrainConfig``, declared
once), the shared ones, and the few that say where things are: the inputs, the run directory, a run
to continue (``--resume``) or a model to start from (``--init-from``). The work is the library's
(``rnngen.training.run``); this module parses, shows progress, and turns Ctrl-C into a clean stop.
"""

import dataclasses
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
from rnngen.config.training import TrainConfig
from rnngen.nn.config import ModelConfig
from rnngen.nn.seq2seq.config import Seq2SeqConfig


@settings_options(
    ModelConfig,
    TrainConfig,
    Seq2SeqConfig,
    Shared.only("threads", "json_out", "quiet", "encoding", "errors"),
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
    task: Annotated[
        str,
        typer.Option(
            help="'lm': a language model of the text; 'seq2seq': a model that turns "
            "each line's source into its target (lines are source<TAB>target)."
        ),
    ] = "lm",
    distributed: Annotated[
        str,
        typer.Option(help="auto: data-parallel over MPI when started by mpiexec or srun; off."),
    ] = "auto",
    replicas: Annotated[
        int,
        typer.Option(
            help="Train N replicas in N threads of this process, each on 1/N of every batch "
            "(as mpiexec -n N does; --threads then counts each one's threads): sequence-to-"
            "sequence models train about 1.5x faster on 2 cores; the model depends on N."
        ),
    ] = 1,
    *,
    model: ModelConfig,
    training: TrainConfig,
    seq2seq: Seq2SeqConfig,
    shared: Shared,
) -> None:
    """Train a recurrent language model on text (or, with --task seq2seq, an encoder-decoder on
    source<TAB>target pairs), keeping the best and last checkpoints."""
    from rnngen.api import prepare_training

    quiet = shared.quiet
    user_given, name_flag = given(ctx), flag_of(ctx)
    settings = {k: v for k, v in user_given.items() if k in _names(model, training, seq2seq)}
    with user_errors():
        shared.validate()
        group, threads = _group(distributed, replicas, shared.threads)
    if not group.is_root:  # the root alone talks: progress, messages, errors, --json
        err.quiet = quiet = True
    with user_errors(), group:  # the group's end (its replicas joined) on every way out
        if paths and "-" in paths and sys.stdin.isatty():
            info("reading the corpus from stdin; end it with Ctrl-D", quiet)
        trainer = _setup(group, threads, lambda: prepare_training(
            paths, val_file=val_file, out=out, force=force, resume=resume, init_from=init_from,
            threads=threads, encoding=shared.encoding, errors=shared.errors, given=settings,
            flag=name_flag, notice=lambda m: info(m, quiet), task=task, group=group,
        ))  # fmt: skip
        if resume is not None:
            done = trainer.done_reason()
            if done is not None:
                info(done, quiet)
                raise typer.Exit(0)
            epochs = trainer.step / trainer.stream.steps_per_epoch
            info(f"resuming {trainer.out_dir} at step {trainer.step:,} ({epochs:.2f} epochs)",
                 quiet)  # fmt: skip
        elif getattr(trainer.corpus, "skipped", 0):
            info(f"skipped {trainer.corpus.skipped:,} training pairs longer than --max-len "
                 f"{trainer.s2s.max_len}", quiet)  # fmt: skip
        _run(trainer, quiet, shared.json_out and group.is_root)


def _group(distributed: str, replicas: int, threads: int | None):
    """(the processes or replicas training together, threads for this one: its share of the
    machine's cores unless --threads says)."""
    from rnngen.kernels.threads import available_cores
    from rnngen.parallel.group import launched_size, make_group, share_of_cores
    from rnngen.parallel.replicas import start

    if replicas != 1:
        return start(replicas, threads, launched_size() if distributed == "auto" else 1)
    group = make_group(distributed)
    if threads is None and group.size > 1:
        threads = share_of_cores(group, available_cores())
    return group, threads


def _setup(group, threads, build):
    """The Trainer ``build`` makes, set up on every process; a failure is reported once."""
    from rnngen.run.launch import setup

    return setup(group, build, threads)


def _names(*settings) -> set[str]:
    return {f.name for s in settings for f in dataclasses.fields(s)}


def _run(trainer, quiet: bool, json_out: bool) -> None:
    """Run ``trainer`` with progress on stderr; Ctrl-C or SIGTERM stop it after a checkpoint."""
    from rnngen.api import run_training
    from rnngen.cli.progress import TrainProgress, fmt_rate  # rich.progress: train's alone
    from rnngen.training.run import resume_hint
    from rnngen.warmup import prepare_sampling, warm_seq2seq_kernels, warm_training_kernels

    run_dir = trainer.out_dir
    with user_errors():
        info(f"run directory: {run_dir}", quiet)
        with compiling_status(quiet):
            m, t = trainer.mcfg, trainer.tcfg
            warm_training_kernels(
                trainer.plan.parts, m.cell, t.optimizer, m.dropout > 0 or bool(m.dropout_input)
            )
            s2s = getattr(trainer, "s2s", None)
            if s2s is not None:
                warm_seq2seq_kernels(trainer.plan.parts, m.cell, s2s.attention, training=True)
        if s2s is None and trainer.group.is_root:
            # the first sample after this run starts warm: its kernel compiles meanwhile, in a
            # process of the lowest priority that outlives this one if it must (nothing to do
            # when the kernel is cached already)
            prepare_sampling(m.cell)
        progress = TrainProgress(err, quiet)

        def stop() -> None:
            trainer.stop_requested = True

        try:
            with _graceful_stop(stop):
                result = run_training(trainer, progress)
        finally:
            progress.close()

    if not quiet:
        val = f"{result.best_val_loss:.4f}" if result.best_val_loss is not None else "–"
        if result.best_val_error is not None:
            val += f" (sequence error {100 * result.best_val_error:.2f}%)"
        err.print(
            f"[bold]done[/]: {result.steps:,} steps in {result.seconds:.0f} s "
            f"({fmt_rate(result.tokens_per_sec)}), train loss {result.train_loss:.4f}, "
            f"best val loss {val}"
        )
        err.print(f"checkpoint: {escape(str(result.checkpoint))}")
        use = "sample" if getattr(trainer, "s2s", None) is None else "translate"
        err.print(f"{use} it:  rnngen {use} {escape(str(run_dir))}", style="dim")
    if json_out:
        print(json.dumps(result.to_dict()), flush=True)
    if result.interrupted:
        err.print(f"[yellow]interrupted[/] at step {result.steps:,}; checkpoints are in "
                  f"{escape(str(run_dir))}; resume with:")  # fmt: skip
        n, hint = trainer.group.size, resume_hint(run_dir, trainer.meta)
        if n > 1 and trainer.group.members == "replicas":
            hint = hint.replace(" --resume ", f" --replicas {n} --resume ", 1)
        elif n > 1:
            hint = f"mpiexec -n {n} {hint}"
        err.print(escape(hint))
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
