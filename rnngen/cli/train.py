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
from rnngen.nn.seq2seq.config import TASKS, Seq2SeqConfig
from rnngen.train.config import TrainConfig


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
    *,
    model: ModelConfig,
    training: TrainConfig,
    seq2seq: Seq2SeqConfig,
    shared: Shared,
) -> None:
    """Train a recurrent language model on text (or, with --task seq2seq, an encoder-decoder on
    source<TAB>target pairs), keeping the best and last checkpoints."""
    from rnngen.train.run import Inputs, new_trainer, resume_trainer

    quiet = shared.quiet
    user_given, name_flag = given(ctx), flag_of(ctx)
    with user_errors():
        shared.validate()
        if task not in TASKS:
            raise UsageError(f"--task must be one of {', '.join(TASKS)} (got {task!r})")
        own = [n for n in user_given if n in Seq2SeqConfig.__dataclass_fields__]
        if task == "lm" and own and resume is None:
            raise UsageError(f"{name_flag(own[0])} applies to sequence-to-sequence models: add "
                             "--task seq2seq")  # fmt: skip
        if task == "seq2seq" and init_from is not None:
            raise UsageError("--init-from is for language models; seq2seq runs start fresh or "
                             "--resume")  # fmt: skip
        if resume is not None and init_from is not None:
            raise UsageError("--resume and --init-from conflict: give one")
        inputs = Inputs(paths, None if val_file is None else str(val_file), shared.encoding,
                        shared.errors)  # fmt: skip
        if paths and "-" in paths and sys.stdin.isatty():
            info("reading the corpus from stdin; end it with Ctrl-D", quiet)
        if resume is not None:  # the options given must be valid before they are compared
            model.validate(resolved=False)
            training.validate(resolved=False)
            trainer = resume_trainer(resume, inputs, user_given, shared.threads, name_flag)
            done = trainer.done_reason()
            if done is not None:
                info(done, quiet)
                raise typer.Exit(0)
            epochs = trainer.step / trainer.stream.steps_per_epoch
            info(f"resuming {trainer.out_dir} at step {trainer.step:,} ({epochs:.2f} epochs)",
                 quiet)  # fmt: skip
        elif task == "seq2seq":
            from rnngen.train.seq2seq_run import new_seq2seq_trainer

            trainer = new_seq2seq_trainer(model, seq2seq, training, inputs, out, force,
                                          shared.threads)  # fmt: skip
            if trainer.corpus.skipped:
                info(f"skipped {trainer.corpus.skipped:,} training pairs longer than --max-len "
                     f"{trainer.s2s.max_len}", quiet)  # fmt: skip
        else:
            trainer = new_trainer(model, training, inputs, out, force, shared.threads, init_from,
                                  user_given, name_flag, lambda m: info(m, quiet))  # fmt: skip
    _run(trainer, quiet, shared.json_out)


def _run(trainer, quiet: bool, json_out: bool) -> None:
    """Run ``trainer`` with progress on stderr; Ctrl-C or SIGTERM stop it after a checkpoint."""
    from rnngen.cli.progress import TrainProgress, fmt_rate  # rich.progress: train's alone
    from rnngen.train.run import resume_hint
    from rnngen.warmup import warm_seq2seq_kernels, warm_training_kernels

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
        use = "translate" if getattr(trainer, "s2s", None) is not None else "sample"
        err.print(f"{use} with: rnngen {use} {escape(str(run_dir))}", style="dim")
    if json_out:
        print(json.dumps(result.to_dict()), flush=True)
    if result.interrupted:
        err.print(f"[yellow]interrupted[/] at step {result.steps:,}; checkpoints are in "
                  f"{escape(str(run_dir))}; resume with:")  # fmt: skip
        err.print(escape(resume_hint(run_dir, trainer.meta)))
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
