"""``rnngen train``: train a language model on text, keeping the best and last checkpoints.

The options are the model's and training's settings (``ModelConfig``, ``TrainConfig``, declared
once), the shared ones, and the few that say where things are: the inputs, the run directory, a run
to continue (``--resume``) or a model to start from (``--init-from``). The work is the library's
(``rnngen.run.training``); this module parses, shows progress, and turns Ctrl-C into a clean
stop.
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
from rnngen.cli.manual import panel
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
    val_file: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Validation text file.", rich_help_panel=panel("data")),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Run directory.",
            show_default="runs/NAME-TIME",
            rich_help_panel=panel("checkpoints"),
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Overwrite the checkpoints of an existing --out.",
            rich_help_panel=panel("checkpoints"),
        ),
    ] = False,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue this run (directory or checkpoint).",
            rich_help_panel=panel("checkpoints"),
        ),
    ] = None,
    init_from: Annotated[
        Path | None,
        typer.Option(
            metavar="MODEL",
            help="Start from this model's weights (fine-tuning).",
            rich_help_panel=panel("checkpoints"),
        ),
    ] = None,
    task: Annotated[
        str,
        typer.Option(
            metavar="lm|seq2seq",
            help="'lm': a language model of the text; 'seq2seq': a model that turns "
            "each line's source into its target (lines are source<TAB>target).",
            rich_help_panel=panel("model"),
        ),
    ] = "lm",
    distributed: Annotated[
        str,
        typer.Option(
            metavar="auto|off",
            help="auto: data-parallel over MPI when started by mpiexec or srun; off.",
            rich_help_panel=panel("parallel"),
        ),
    ] = "auto",
    replicas: Annotated[
        int | None,
        typer.Option(
            help="Train N replicas in N threads of this process, each on 1/N of every batch "
            "(as mpiexec -n N does; --threads then counts each one's threads). The model "
            "depends on N, not on the cores.",
            show_default="2 for seq2seq, 1 for language models, a resumed run's own",
            rich_help_panel=panel("parallel"),
        ),
    ] = None,
    *,
    model: ModelConfig,
    training: TrainConfig,
    seq2seq: Seq2SeqConfig,
    shared: Shared,
) -> None:
    """Train a recurrent language model on text (or, with --task seq2seq, an encoder-decoder on
    source<TAB>target pairs), keeping the best and last checkpoints."""
    from rnngen.run.training import Session, prepare, replicas_for

    quiet = shared.quiet
    user_given, name_flag = given(ctx), flag_of(ctx)
    settings = {k: v for k, v in user_given.items() if k in _names(model, training, seq2seq)}
    with user_errors():
        shared.validate()
        replicas = replicas_for(replicas, task, settings, resume, distributed)
        session = Session(distributed, replicas, shared.threads)
    if not session.group.is_root:  # the root alone talks: progress, messages, errors, --json
        err.quiet = quiet = True
    with user_errors(), session:  # the group's end (its replicas joined) on every way out
        if paths and "-" in paths and sys.stdin.isatty():
            info("reading the corpus from stdin; end it with Ctrl-D", quiet)
        trainer = session.prepare(
            lambda threads, group: prepare(
                paths,
                val_file=val_file,
                out=out,
                force=force,
                resume=resume,
                init_from=init_from,
                threads=threads,
                encoding=shared.encoding,
                errors=shared.errors,
                given=settings,
                flag=name_flag,
                notice=lambda m: info(m, quiet),
                task_name=task,
                group=group,
            )
        )
        if resume is not None:
            done = trainer.done_reason()
            if done is not None:
                info(done, quiet)
                raise typer.Exit(0)
            epochs = trainer.step / trainer.stream.steps_per_epoch
            info(
                f"resuming {trainer.out_dir} at step {trainer.step:,} ({epochs:.2f} epochs)", quiet
            )
        else:
            if "task" not in user_given and init_from is None:
                _pairs_hint(paths or [], quiet)
            for notice in session.task.notices(trainer):
                info(notice, quiet)
        _run(session, quiet, shared.json_out and session.group.is_root)


def _pairs_hint(paths: list[str], quiet: bool) -> None:
    """A language model about to be trained on what looks like source<TAB>target pairs (a .tsv,
    or lines that mostly hold one tab): say that --task seq2seq exists. What trains is unchanged."""
    from rnngen.data.pairs import looks_like_pairs

    pairs = [p for p in paths if p != "-" and looks_like_pairs(p)]
    if pairs:
        name = pairs[0] if len(pairs) == 1 else f"{pairs[0]} (and {len(pairs) - 1:,} more)"
        info(
            f"note: {name} looks like source<TAB>target pairs; this trains a language model "
            "on its whole lines. For a model that turns each source into its target, add "
            "--task seq2seq",
            quiet,
        )


def _names(*settings) -> set[str]:
    return {f.name for s in settings for f in dataclasses.fields(s)}


def _run(session, quiet: bool, json_out: bool) -> None:
    """Run the session's trainer with progress on stderr; Ctrl-C or SIGTERM stop it after a
    checkpoint."""
    from rnngen.run.progress import TrainProgress, fmt_rate  # rich.progress: train's alone
    from rnngen.training.rundir import resume_hint

    trainer = session.trainer
    run_dir = trainer.out_dir
    with user_errors():
        info(f"run directory: {run_dir}", quiet)
        with compiling_status(quiet):
            session.warm()
        progress = TrainProgress(err, quiet)
        try:
            with _graceful_stop(session.stop):
                result = session.run(progress)
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
        use = session.task.use
        err.print(f"{use} it:  rnngen {use} {escape(str(run_dir))}", style="dim")
    if json_out:
        print(json.dumps(result.to_dict()), flush=True)
    if result.interrupted:
        err.print(
            f"[yellow]interrupted[/] at step {result.steps:,}; checkpoints are in "
            f"{escape(str(run_dir))}; resume with:"
        )
        n, hint = trainer.group.size, resume_hint(run_dir, trainer.meta)
        if n > 1 and trainer.group.members != "replicas":  # a run keeps its replicas itself
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
