"""The parts of ``rnngen train`` that continue earlier work: ``--resume RUN`` and ``--init-from``.

Also the run directory checks and what a run records about its inputs (so ``--resume`` can read
them again and make sure they did not change).
"""

import dataclasses
import shlex
from pathlib import Path

import typer

from rnngen import checkpoint
from rnngen.cli import check, fail, info
from rnngen.config import ModelConfig
from rnngen.data import DataError, Text, fingerprint, read_text, read_texts
from rnngen.finetune import extend_vocab
from rnngen.train import Corpus, Trainer
from rnngen.vocab import Vocab

STOP_LIMITS = ("steps", "minutes", "epochs", "patience")
FINETUNE_FREE = {"vocab_size", "dropout", "dropout_input"}  # model settings --init-from may change
# options --resume takes besides the stop limits: they change how this session runs, not the run
RESUME_FREE = {"paths", "resume", "threads", "quiet", "json_out", "encoding", "errors", "val_file"}


def given(ctx: typer.Context, name: str) -> bool:
    """True if the user gave option ``name`` (not its default)."""
    source = ctx.get_parameter_source(name)  # an enum (typer may vendor click): by name
    return getattr(source, "name", None) in ("COMMANDLINE", "ENVIRONMENT")


def _flag(ctx: typer.Context, name: str) -> str:
    for p in ctx.command.params:
        if p.name == name and p.opts:
            return max(p.opts, key=len)
    return "--" + name.replace("_", "-")


def conflict(ctx: typer.Context, stored: dict, allowed: set[str], against: str) -> str | None:
    """A message about the first given option that disagrees with ``stored`` (or that is neither
    stored nor ``allowed``), or None."""
    for name, value in ctx.params.items():
        if name in allowed or not given(ctx, name):
            continue
        flag = _flag(ctx, name)
        if name not in stored:
            return f"{flag} cannot be combined with {against}"
        if value != stored[name]:
            shown = value if not isinstance(value, str) else repr(value)
            return f"{flag} {shown} conflicts with {against}, which has {name} {stored[name]!r}"
    return None


def prepare_run_dir(run_dir: Path, force: bool) -> None:
    """Refuse to overwrite a run unless ``force``; make sure the directory can be written."""
    existing = sorted(run_dir.glob("*" + checkpoint.SUFFIX)) if run_dir.is_dir() else []
    if existing and not force:
        fail(
            f"{run_dir}: already holds {existing[0].name}; choose another --out, add --force to "
            f"overwrite it, or continue it with --resume {run_dir}",
            1,
        )
    probe_run_dir(run_dir)


def probe_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        fail(f"{run_dir}: cannot write the run directory ({e.strerror or e})", 1)


def inputs_meta(src: Text, val_path: str | None, val_text: str | None, encoding: str,
                errors: str) -> dict:  # fmt: skip
    """What a run records about its inputs: absolute paths, decoding, validation fingerprint."""

    def where(p: str) -> str:
        return p if p == "-" else str(Path(p).resolve())

    return {
        "sources": [where(p) for p in src.sources],
        "encoding": encoding,
        "errors": errors,
        "val_source": None if val_path is None else where(val_path),
        "val_fingerprint": None if val_text is None else fingerprint(val_text),
    }


def resume_hint(run_dir: Path, meta: dict) -> str:
    """The command that continues ``run_dir``."""
    cmd = f"rnngen train --resume {shlex.quote(str(run_dir))}"
    if "-" in meta.get("sources", []):
        return f"… | rnngen train - --resume {shlex.quote(str(run_dir))}  (the same text on stdin)"
    return cmd


# ---- --resume -----------------------------------------------------------------------------------


def _find_resumable(resume: Path) -> tuple[Path, Path]:
    """(checkpoint, run directory) of ``--resume RUN``: a run directory's last checkpoint, or a
    checkpoint file."""
    if resume.is_dir():
        for name in ("last", "best"):
            if (resume / (name + checkpoint.SUFFIX)).is_file():
                return resume / (name + checkpoint.SUFFIX), resume
        raise checkpoint.CheckpointError(f"{resume}: no checkpoint to resume in this directory")
    if resume.is_file():
        return resume, resume.parent
    raise checkpoint.CheckpointError(
        f"{resume}: no such run; give a run directory (as printed by rnngen train) or a checkpoint"
    )


def resume_trainer(ctx: typer.Context, resume: Path, paths: list[str] | None, encoding: str,
                   errors: str, val_file: Path | None, threads: int | None,
                   quiet: bool) -> Trainer:  # fmt: skip
    """A Trainer that continues the run ``resume`` where it stopped, on the same inputs."""
    ck_path, run_dir = _find_resumable(resume)
    ck = checkpoint.load(ck_path)
    stored = {**ck.model_cfg.to_dict(), **ck.train_cfg.to_dict()}
    problem = conflict(ctx, stored, RESUME_FREE | set(STOP_LIMITS), f"the run in {run_dir}")
    if problem:
        fail(f"{problem}; with --resume give only stop limits (--steps, --epochs, --minutes)", 2)
    meta = {k: ck.info.get(k) for k in ("sources", "encoding", "errors", "val_source",
                                        "val_fingerprint")}  # fmt: skip
    enc = encoding if given(ctx, "encoding") else (meta["encoding"] or "utf-8")
    errs = errors if given(ctx, "errors") else (meta["errors"] or "strict")
    if not paths:
        paths = meta["sources"]
        if not paths:
            fail(f"{ck_path}: does not record its corpus; give the corpus paths with --resume", 2)
        if "-" in paths:
            fail(f"the run in {run_dir} was trained on stdin: pipe the same text in again, "
                 f"... | rnngen train - --resume {run_dir}", 2)  # fmt: skip
    src = read_texts(paths, enc, errs)
    if fingerprint(src.text) != ck.info.get("fingerprint"):
        raise DataError(
            f"{src.name}: is not the text the run in {run_dir} was trained on (fingerprint "
            f"{fingerprint(src.text)}, not {ck.info.get('fingerprint')}); to train on new text, "
            f"start a new run with --init-from {run_dir}"
        )
    val_path = str(val_file) if val_file is not None else meta["val_source"]
    val_text = None
    if val_path is not None:
        val_text = read_text(val_path, enc, errs)[0]
        if fingerprint(val_text) != meta["val_fingerprint"]:
            raise DataError(f"{val_path}: is not the validation text of the run in {run_dir}")
    tcfg = ck.train_cfg
    budget = ("steps", "minutes", "epochs")  # given together, they replace the stored budget
    if any(given(ctx, n) for n in budget):
        tcfg = dataclasses.replace(tcfg, **{n: ctx.params[n] for n in budget})
    if "patience" in ctx.params and given(ctx, "patience"):
        tcfg = dataclasses.replace(tcfg, patience=ctx.params["patience"])
    name = ck.info.get("corpus", src.name)
    corpus = Corpus.from_text(src.text, name, ck.vocab.level, val_text=val_text,
                              val_frac=tcfg.val_frac, vocab=ck.vocab)  # fmt: skip
    trainer = Trainer(ck.model_cfg, tcfg, corpus, run_dir, threads=threads)
    trainer.restore(ck)
    trainer.meta = {**meta, **inputs_meta(src, val_path, val_text, enc, errs)}
    if trainer.max_steps is not None and trainer.step >= trainer.max_steps:
        info(f"{run_dir}: already trained for {trainer.step:,} steps, its limit; give a larger "
             "--steps or --epochs to train on", quiet)  # fmt: skip
        raise typer.Exit(0)
    patience = getattr(tcfg, "patience", None)
    if patience is not None and trainer.bad_evals >= patience:
        info(f"{run_dir}: stopped early after {patience} evaluations without improvement; give a "
             "larger --patience to train on", quiet)  # fmt: skip
        raise typer.Exit(0)
    probe_run_dir(run_dir)
    epochs = trainer.step / trainer.stream.steps_per_epoch
    info(f"resuming {run_dir} at step {trainer.step:,} ({epochs:.2f} epochs)", quiet)
    return trainer


# ---- --init-from --------------------------------------------------------------------------------


def init_base(ctx: typer.Context, init_from: Path, text: str, val_text: str | None,
              max_vocab: int | None, min_count: int) -> tuple[checkpoint.Checkpoint, Vocab,
                                                              list[str]]:  # fmt: skip
    """(the checkpoint to start from, its vocabulary grown for the new text, the added tokens).
    Model options that disagree with the checkpoint's are a usage error."""
    ck = checkpoint.load(checkpoint.resolve(init_from))
    stored = {k: v for k, v in ck.model_cfg.to_dict().items() if k not in FINETUNE_FREE}
    problem = conflict(ctx, stored, set(ctx.params) - set(stored), str(init_from))
    check(problem is None, f"{problem}; with --init-from the model's sizes come from the model")
    vocab, added = extend_vocab(ck.vocab, text, val_text, max_vocab, min_count)
    return ck, vocab, added


def finetune_model_cfg(ctx: typer.Context, base: checkpoint.Checkpoint, vocab_size: int,
                       dropout: float, dropout_input: float) -> ModelConfig:  # fmt: skip
    """The model config of a fine-tuning run: the base model's, with the grown vocabulary and, if
    given, a new --dropout / --dropout-input (training settings rather than sizes)."""
    cfg = dataclasses.replace(base.model_cfg, vocab_size=vocab_size)
    if given(ctx, "dropout"):
        cfg = dataclasses.replace(cfg, dropout=dropout)
    if given(ctx, "dropout_input"):
        cfg = dataclasses.replace(cfg, dropout_input=dropout_input)
    return cfg


def start_from(
    trainer: Trainer, base: checkpoint.Checkpoint, added: list[str], quiet: bool
) -> None:
    """Load ``base``'s weights into a new run's model and say what the vocabulary gained."""
    trainer.load_weights(base.params)
    trainer.meta["init_from"] = str(base.path)
    what = "characters" if base.vocab.level == "char" else "words"
    if added:
        shown = ", ".join(repr(t) for t in added[:10]) + (", …" if len(added) > 10 else "")
        info(f"starting from {base.path}; added {len(added):,} {what} it did not know to its "
             f"vocabulary: {shown}", quiet)  # fmt: skip
    else:
        info(f"starting from {base.path}; its vocabulary covers the new text", quiet)
