"""The ``rnngen`` command line: parse, open files, call the library, print.

stdout carries data only (generated text, --json output, eval results); progress, logs, warnings and
errors go to stderr. Exit codes: 0 success, 1 runtime failure, 2 usage error, 130 interrupted.
"""

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from rnngen.cli_corpus import corpus_app
from rnngen.data import check_encoding
from rnngen.progress import TrainProgress, fmt_rate

app = typer.Typer(
    help="Train recurrent language models on text files, on a CPU, and sample text from them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(corpus_app, name="corpus")


def _version(value: bool) -> None:
    if value:
        from rnngen import __version__

        print(f"rnngen {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Train recurrent language models on text files, on a CPU, and sample text from them."""
    signal.signal(signal.SIGINT, _interrupted)


def _interrupted(signum, frame) -> NoReturn:  # noqa: ARG001
    """Ctrl-C outside training: stop at once, no traceback, exit status 130."""
    raise SystemExit(130)


# Colour and styles only on a terminal (rich's default) and never with NO_COLOR set (no-color.org;
# rich alone would drop the colours but keep bold)
COLOR_SYSTEM = None if os.environ.get("NO_COLOR") else "auto"


class _StderrConsole(Console):
    def on_broken_pipe(self) -> None:
        """stderr went away (``2>&1 | head`` closed the pipe): drop the messages and carry on (rich
        would exit), so losing the log never costs a training run its model."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stderr.fileno())
        self.quiet = True


err = _StderrConsole(stderr=True, highlight=False, soft_wrap=True, color_system=COLOR_SYSTEM)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, then exit: 1 for runtime failures, 2 for usage errors."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def info(message: str, quiet: bool = False) -> None:
    if not quiet:
        err.print(escape(message), style="dim")


def check(ok: bool, message: str) -> None:
    """Usage check: exit 2 with ``message`` unless ``ok``."""
    if not ok:
        fail(message, 2)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's user-facing errors into one-line messages and exit 1."""
    from rnngen.errors import UserError

    try:
        yield
    except UserError as e:
        fail(str(e), 1)
    except OSError as e:  # the system refused a read or a write the library did not expect to fail
        where = f"{e.filename}: " if e.filename else ""
        fail(f"{where}{e.strerror or e}", 1)


@contextmanager
def compiling_status(quiet: bool) -> Iterator[None]:
    """Show 'compiling kernels' only if loading the kernels takes long (a cold Numba cache)."""
    message = "compiling kernels, first run only (about half a minute)…"
    status = err.status(message, spinner="dots")
    shown = threading.Event()

    def show() -> None:
        if not quiet:
            shown.set()
            if err.is_terminal:
                status.start()
            else:
                err.print(message)

    timer = threading.Timer(2.0, show)  # cached kernels load in ~0.5 s; a compile takes 10-30 s
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if shown.is_set():
            if err.is_terminal:
                status.stop()
            info("kernels compiled and cached", quiet)


# ---- train ------------------------------------------------------------------------------------


def _default_run_dir(corpus_name: str) -> Path:
    stem = Path(corpus_name).stem if corpus_name not in ("-", "<stdin>") else "stdin"
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem) or "corpus"
    base = Path("runs") / f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


@contextmanager
def _graceful_stop(request: Callable[[], None]) -> Iterator[None]:
    """First SIGINT/SIGTERM asks the loop to stop after the current step; a second one aborts."""
    hits = {"n": 0}

    def handler(signum, frame):  # noqa: ARG001
        hits["n"] += 1
        if hits["n"] > 1:
            raise SystemExit(130)  # the last checkpoint on disk stays (writes are atomic)
        request()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@app.command()
def train(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Text files, directories (every text file below) or '-' (stdin) to train on.",
            show_default=False,
        ),
    ] = None,
    level: Annotated[str, typer.Option(help="Tokens: 'char' (code points) or 'word'.")] = "char",
    cell: Annotated[str, typer.Option(help="lstm, gru, rnn-tanh or rnn-relu.")] = "lstm",
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers (L).")] = 2,
    hidden: Annotated[int, typer.Option(help="Hidden units per layer (H).")] = 256,
    embed: Annotated[
        int | None, typer.Option(help="Embedding width (E); default 64 for char, H for word.")
    ] = None,
    dropout: Annotated[
        float, typer.Option(help="Dropout between layers and before the output (training only).")
    ] = 0.0,
    dropout_input: Annotated[
        float | None,
        typer.Option(help="Dropout on the embedding output (default: --dropout for word, 0 char)."),
    ] = None,
    tie: Annotated[
        bool, typer.Option("--tie", help="Tie the output layer to the embedding (E = H).")
    ] = False,
    init_scale: Annotated[
        float | None, typer.Option(help="Initialise every weight uniform in [-S, S].")
    ] = None,
    seq_len: Annotated[int, typer.Option(help="Unrolled steps per batch (T).")] = 64,
    batch_size: Annotated[int, typer.Option(help="Parallel streams per batch (B).")] = 32,
    optimizer: Annotated[str, typer.Option(help="adam, adamw, sgd, rmsprop or adagrad.")] = "adam",
    lr: Annotated[float, typer.Option(help="Learning rate [2e-3; 1 for sgd].")] = None,
    weight_decay: Annotated[
        float, typer.Option(help="L2 weight decay (decoupled for adamw).")
    ] = 0.0,
    momentum: Annotated[float, typer.Option(help="SGD momentum.")] = 0.0,
    schedule: Annotated[
        str, typer.Option(help="Learning rate: constant, step, plateau or cosine.")
    ] = "constant",
    decay: Annotated[
        float | None, typer.Option(help="Factor per decay: step [0.5], plateau [0.25].")
    ] = None,
    decay_after: Annotated[
        float, typer.Option(help="step: epochs at the full rate before decaying.")
    ] = 4.0,
    warmup: Annotated[int, typer.Option(help="Steps of linear learning-rate warmup.")] = 0,
    min_lr: Annotated[float, typer.Option(help="cosine: the final learning rate.")] = 0.0,
    patience: Annotated[
        int | None, typer.Option(help="Stop after N evaluations without improvement.")
    ] = None,
    clip: Annotated[float, typer.Option(help="Global gradient-norm clip (0 = off).")] = 5.0,
    steps: Annotated[int | None, typer.Option(help="Stop after N steps.")] = None,
    minutes: Annotated[float | None, typer.Option(help="Stop after M minutes.")] = None,
    epochs: Annotated[
        float | None, typer.Option(help="Stop after E passes (default 10 if no other limit).")
    ] = None,
    val_frac: Annotated[
        float | None, typer.Option(help="Hold out this tail fraction for validation [0.1].")
    ] = None,
    val_file: Annotated[Path | None, typer.Option(help="Validation text file.")] = None,
    eval_every: Annotated[int | None, typer.Option(help="Steps between evaluations.")] = None,
    max_vocab: Annotated[int | None, typer.Option(help="Word level: keep N words.")] = None,
    min_count: Annotated[int, typer.Option(help="Word level: rarer words become <unk>.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same model).")] = 0,
    out: Annotated[Path | None, typer.Option(help="Run directory (runs/NAME-TIME).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the checkpoints of an existing --out.")
    ] = False,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all cores).")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print final metrics as JSON on stdout.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    encoding: Annotated[str, typer.Option(help="Text encoding of the inputs.")] = "utf-8",
    errors: Annotated[
        str, typer.Option(help="Undecodable bytes: 'strict' (refuse) or 'replace' (U+FFFD).")
    ] = "strict",
    resume: Annotated[
        Path | None, typer.Option(help="Continue this run (directory or checkpoint).")
    ] = None,
    init_from: Annotated[
        Path | None, typer.Option(help="Start from this model's weights (fine-tuning).")
    ] = None,
) -> None:
    """Train a recurrent language model on text, keeping the best and last checkpoints."""
    from rnngen.cells import CELLS
    from rnngen.optim import OPTIMIZERS
    from rnngen.schedule import SCHEDULES

    check(level in ("char", "word"), f"--level must be 'char' or 'word', not {level!r}")
    check(cell in CELLS, f"--cell must be one of {', '.join(CELLS)}, not {cell!r}")
    check(optimizer in OPTIMIZERS,
          f"--optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")  # fmt: skip
    check(schedule in SCHEDULES,
          f"--schedule must be one of {', '.join(SCHEDULES)}, not {schedule!r}")  # fmt: skip
    if lr is None:
        lr = 1.0 if optimizer == "sgd" else 1e-2 if optimizer == "adagrad" else 2e-3
    check(0 <= dropout < 1, f"--dropout must be in [0, 1) (got {dropout:g})")
    check(dropout_input is None or 0 <= dropout_input < 1,
          f"--dropout-input must be in [0, 1) (got {dropout_input})")  # fmt: skip
    if dropout_input is None:  # char-rnn and torch-rnn never drop the input characters
        dropout_input = dropout if level == "word" else 0.0
    e_width = embed or (64 if level == "char" else hidden)
    check(
        not tie or e_width == hidden,
        f"--tie needs --embed equal to --hidden (got embed {e_width}, hidden {hidden})",
    )
    check(init_scale is None or init_scale > 0, f"--init-scale must be positive (got {init_scale})")
    check(weight_decay >= 0, f"--weight-decay must be >= 0 (got {weight_decay:g})")
    check(0 <= momentum < 1, f"--momentum must be in [0, 1) (got {momentum:g})")
    check(momentum == 0 or optimizer == "sgd", "--momentum applies to --optimizer sgd only")
    check(decay is None or 0 < decay < 1, f"--decay must be in (0, 1) (got {decay})")
    check(decay is None or schedule in ("step", "plateau"),
          "--decay applies to --schedule step or plateau")  # fmt: skip
    check(decay_after >= 0, f"--decay-after must be >= 0 (got {decay_after:g})")
    check(warmup >= 0, f"--warmup must be >= 0 (got {warmup})")
    check(min_lr >= 0, f"--min-lr must be >= 0 (got {min_lr:g})")
    check(patience is None or patience >= 1, f"--patience must be at least 1 (got {patience})")
    for name, value in [("--layers", layers), ("--hidden", hidden), ("--seq-len", seq_len),
                        ("--batch-size", batch_size), ("--min-count", min_count)]:  # fmt: skip
        check(value >= 1, f"{name} must be at least 1 (got {value})")
    check(embed is None or embed >= 1, f"--embed must be at least 1 (got {embed})")
    check(lr > 0, f"--lr must be positive (got {lr:g})")
    check(clip >= 0, f"--clip must be >= 0 (got {clip:g})")
    check(steps is None or steps >= 1, f"--steps must be at least 1 (got {steps})")
    check(minutes is None or minutes > 0, f"--minutes must be positive (got {minutes})")
    check(epochs is None or epochs > 0, f"--epochs must be positive (got {epochs})")
    check(eval_every is None or eval_every >= 1, f"--eval-every must be >= 1 (got {eval_every})")
    check(max_vocab is None or max_vocab >= 3, f"--max-vocab must be at least 3 (got {max_vocab})")
    check(threads is None or threads >= 1, f"--threads must be at least 1 (got {threads})")
    check(
        val_frac is None or 0 < val_frac < 1,
        f"--val-frac must be between 0 and 1, exclusive (got {val_frac or 0:g})",
    )
    check(not (val_frac is not None and val_file is not None),
          "--val-frac and --val-file conflict: give one of them")  # fmt: skip
    check(level == "word" or (max_vocab is None and min_count == 1),
          "--max-vocab and --min-count apply to --level word only")  # fmt: skip

    problem = check_encoding(encoding, errors)
    check(problem is None, problem or "")
    check(resume is None or init_from is None, "--resume and --init-from conflict: give one")
    check(resume is not None or bool(paths),
          "give the text to train on: files, directories, or '-' for stdin")  # fmt: skip

    from rnngen import cli_train
    from rnngen.config import ModelConfig, TrainConfig
    from rnngen.data import read_text, read_texts
    from rnngen.train import Corpus, Trainer

    with user_errors():
        if paths and "-" in paths and sys.stdin.isatty():
            info("reading the corpus from stdin; end it with Ctrl-D", quiet)
        if resume is not None:
            trainer = cli_train.resume_trainer(ctx, resume, paths, encoding, errors, val_file,
                                               threads, quiet)  # fmt: skip
            return _run_training(trainer, quiet, json_out)
        src = read_texts(paths, encoding, errors)
        text, name = src.text, src.name
        val_text = read_text(val_file, encoding, errors)[0] if val_file is not None else None
        base = vocab = None
        if init_from is not None:  # the model's vocabulary, grown for the new text
            base, vocab, added = cli_train.init_base(ctx, init_from, text, val_text, max_vocab,
                                                     min_count)  # fmt: skip
            level = vocab.level
        corpus = Corpus.from_text(
            text, name, level, val_text=val_text,
            val_frac=0.1 if val_frac is None else val_frac,
            max_vocab=max_vocab, min_count=min_count, vocab=vocab,
        )  # fmt: skip
        if corpus.val is None:
            fail(f"{name}: too short to hold out a validation split; give --val-file", 1)
        mcfg = ModelConfig(
            level=level, cell=cell, vocab_size=len(corpus.vocab), layers=layers, hidden=hidden,
            embed=e_width, dropout=dropout, dropout_input=dropout_input, tie=tie,
        )  # fmt: skip
        if base is not None:
            mcfg = cli_train.finetune_model_cfg(ctx, base, len(corpus.vocab), dropout,
                                                dropout_input)  # fmt: skip
        tcfg = TrainConfig(
            seq_len=seq_len, batch_size=batch_size, optimizer=optimizer, lr=lr,
            momentum=momentum, weight_decay=weight_decay, clip=clip, schedule=schedule,
            decay=decay, decay_after=decay_after, warmup=warmup, min_lr=min_lr,
            patience=patience, init_scale=init_scale, steps=steps, minutes=minutes,
            epochs=epochs, val_frac=0.0 if val_file else (val_frac or 0.1),
            eval_every=eval_every, seed=seed, max_vocab=max_vocab, min_count=min_count,
        )  # fmt: skip
        run_dir = out or _default_run_dir(name)
        cli_train.prepare_run_dir(run_dir, force)
        trainer = Trainer(mcfg, tcfg, corpus, run_dir, threads=threads)
        trainer.meta = cli_train.inputs_meta(src, val_file and str(val_file), val_text, encoding,
                                             errors)  # fmt: skip
        if base is not None:
            cli_train.start_from(trainer, base, added, quiet)
        _run_training(trainer, quiet, json_out)


def _run_training(trainer, quiet: bool, json_out: bool) -> None:
    """Run ``trainer`` with progress on stderr; Ctrl-C or SIGTERM stop it after a checkpoint."""
    from rnngen import cli_train

    run_dir = trainer.out_dir
    with user_errors():
        info(f"run directory: {run_dir}", quiet)
        from rnngen.warmup import warm_training_kernels

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
        err.print(escape(cli_train.resume_hint(run_dir, trainer.meta)))
        raise typer.Exit(130)


# ---- sample -----------------------------------------------------------------------------------


def _write(text: str) -> None:
    """Write to stdout; a closed pipe (``| head``) ends the program quietly."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
    except OSError as e:  # a full disk or a failing device behind stdout
        fail(f"cannot write the output ({e.strerror or e})", 1)


@app.command()
def sample(
    model: Annotated[
        Path | None,
        typer.Argument(help="Checkpoint file or run directory (default: the newest under ./runs)."),
    ] = None,
    temp: Annotated[float, typer.Option(help="Temperature; 0 takes the most likely token.")] = 1.0,
    top_k: Annotated[int, typer.Option(help="Sample among the K most likely (0 = all).")] = 0,
    top_p: Annotated[float, typer.Option(help="Nucleus: smallest set with this mass.")] = 1.0,
    prime: Annotated[str, typer.Option(help="Text to start from (printed first).")] = "",
    length: Annotated[int, typer.Option(help="Tokens to generate after the prime.")] = 1000,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same text).")] = None,
    num: Annotated[int, typer.Option(help="Number of samples, separated by a blank line.")] = 1,
    stop: Annotated[
        str | None, typer.Option(help="End a sample where this string appears.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads (default: 2 for large models if faster).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
) -> None:
    """Generate text from a trained model; it streams to stdout as it is generated."""
    check(temp >= 0, f"--temp must be >= 0 (got {temp:g})")
    check(top_k >= 0, f"--top-k must be >= 0 (got {top_k})")
    check(0 < top_p <= 1, f"--top-p must be in (0, 1] (got {top_p:g})")
    check(length >= 0, f"--length must be >= 0 (got {length})")
    check(num >= 1, f"--num must be at least 1 (got {num})")
    check(stop is None or stop != "", "--stop must not be empty")
    check(threads is None or threads >= 1, f"--threads must be at least 1 (got {threads})")

    from rnngen import checkpoint
    from rnngen.sample import SampleConfig, Sampler

    with user_errors():
        path = checkpoint.resolve(model)
        ckpt = checkpoint.load(path)
        sampler = Sampler(ckpt, threads=threads)
        _, unknown = sampler.encode_prime(prime)
        if model is None or Path(model).is_dir():
            info(f"sampling from {path}", quiet)
        if unknown:
            shown = ", ".join(repr(w) for w in unknown[:10])
            err.print(f"[yellow]warning:[/] prime words not in the vocabulary, read as <unk>: "
                      f"{escape(shown)}")  # fmt: skip
        from rnngen.warmup import warm_sampling_kernels

        # no BLAS inside the sampling kernel: its threads are Numba's, set by the Sampler
        with compiling_status(quiet):
            warm_sampling_kernels()
        for i in range(num):
            if i:
                _write("\n\n")
            cfg = SampleConfig(length=length, temp=temp, top_k=top_k, top_p=top_p, prime=prime,
                               seed=None if seed is None else seed + i, stop=stop)  # fmt: skip
            last = "\n"
            for piece in sampler.generate(cfg):
                _write(piece)
                last = piece[-1:] or last
            if not last.endswith("\n") and sys.stdout.isatty():
                _write("\n")
    if Path(sys.argv[0]).name == "rnngen":
        # The text is out and flushed. Skip the interpreter's teardown: with Numba's kernel
        # loaded it takes ~0.25 s, a quarter of this command's warm start-up. Only when this
        # process is the rnngen command itself, never when the CLI is called from Python.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


# ---- eval -------------------------------------------------------------------------------------


@app.command("eval")
def evaluate_cmd(
    model: Annotated[Path, typer.Argument(help="Checkpoint file or run directory.")],
    path: Annotated[str, typer.Argument(help="Text file to score; '-' reads stdin.")],
    batch_size: Annotated[int, typer.Option(help="Parallel streams.")] = 16,
    seq_len: Annotated[int, typer.Option(help="Steps per window.")] = 64,
    json_out: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
) -> None:
    """Average loss (nats per token), bits per token and perplexity of a model on a text."""
    check(batch_size >= 1, f"--batch-size must be at least 1 (got {batch_size})")
    check(seq_len >= 1, f"--seq-len must be at least 1 (got {seq_len})")
    from rnngen import checkpoint
    from rnngen.data import DataError, read_text
    from rnngen.threads import apply as apply_threads
    from rnngen.threads import plan_threads
    from rnngen.train import evaluate

    with user_errors():
        ckpt = checkpoint.load(checkpoint.resolve(model))
        text, name = read_text(path)
        vocab = ckpt.vocab
        unknown = vocab.unknown(text)
        if unknown and vocab.level == "char":
            shown = ", ".join(repr(ch) for ch in unknown[:20])
            raise DataError(f"{name}: has characters the model does not know: {shown}")
        tokens = vocab.encode(text)
        if len(tokens) < 2:
            raise DataError(f"{name}: needs at least two tokens to score")
        if unknown:
            err.print(f"[yellow]warning:[/] {len(unknown):,} word types not in the vocabulary "
                      "were scored as <unk>")  # fmt: skip
        plan = plan_threads(None, batch_size, ckpt.model_cfg.hidden)
        apply_threads(plan)
        net = ckpt.build_model(parts=plan.parts)
        from rnngen.warmup import warm_training_kernels

        with compiling_status(quiet):
            warm_training_kernels(plan.parts, ckpt.model_cfg.cell, None)
        res = evaluate(net, tokens, batch_size, seq_len)
    unit = "char" if vocab.level == "char" else "word"
    metrics = {
        "loss": res.loss,
        "bits_per_token": res.bits_per_token,
        "perplexity": res.perplexity,
        "tokens": res.tokens,
        "level": vocab.level,
    }
    if json_out:
        print(json.dumps(metrics), flush=True)
    else:
        print(f"loss        {res.loss:.4f} nats/{unit}")
        print(f"bits        {res.bits_per_token:.4f} bits/{unit}")
        print(f"perplexity  {res.perplexity:.2f}")
        print(f"tokens      {res.tokens:,}")


# ---- score, info -------------------------------------------------------------------------------

from rnngen.cli_inspect import info_cmd, score_cmd  # noqa: E402

app.command("score")(score_cmd)
app.command("info")(info_cmd)


def main() -> None:
    app()
