"""Starting and resuming a language model's run: read and encode the text into the run's token
file (or map the one there), build or grow the vocabulary, and hand a locked ``Trainer`` back;
``--init-from`` starts from a trained model's weights."""

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rnngen.checkpoint as checkpoint
from rnngen.config.training import STOP_LIMITS, TrainConfig
from rnngen.data import bpe
from rnngen.data.stream import expand
from rnngen.data.text import display_name
from rnngen.data.tokenfile import (
    META,
    TOKENS,
    Source,
    TextChangedError,
    encode_corpus,
    open_corpus,
    read_meta,
    verify,
)
from rnngen.errors import CheckpointError, ConfigError, DataError, UsageError, flag_name
from rnngen.nn.config import ModelConfig
from rnngen.parallel.group import Alone, Group, check_batch
from rnngen.tasks.lm.training import lm_trainer
from rnngen.training.rundir import (
    RESUME_FREE,
    Flag,
    Inputs,
    conflict,
    default_run_dir,
    inputs_meta,
    lock_run_dir,
    refuse_existing,
    resumed_limits,
)
from rnngen.training.trainer import Trainer

VAL_MAX_TOKENS = 1_000_000  # the default validation split's cap, in tokens
FINETUNE_FREE = {"vocab_size", "dropout", "dropout_input"}  # model settings --init-from may change


def _val_source(val_file: str | None, encoding: str, errors: str) -> Source | None:
    if val_file is None:
        return None
    if val_file != "-" and Path(val_file).is_dir():
        raise DataError(f"{val_file}: is a directory, not a text file")
    return Source([val_file], encoding, errors)


class _TokenFilesOnFailure:
    """Removes the token file written into a new run directory when the run is not set up after
    all (and the directory, if it was made for the run and is left empty)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir, self.made = run_dir, not run_dir.exists()  # before it is made

    def __enter__(self) -> None: ...

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            return
        for name in (TOKENS, META):
            (self.run_dir / name).unlink(missing_ok=True)
        if self.made:
            try:
                self.run_dir.rmdir()
            except OSError:
                pass


def check_settings(model: ModelConfig, train: TrainConfig, val_file: str | None) -> None:
    """The rules between the model's settings, training's and the inputs (ConfigError)."""
    if train.val_frac is not None and val_file is not None:
        raise ConfigError("val_frac", "and --val-file conflict: give one of them")
    if model.level != "word" and (train.max_vocab is not None or train.min_count != 1):
        raise ConfigError("max_vocab", "and {min_count} apply to {level} word only")
    if model.level == "bpe":
        bpe.check_vocab_size(model.vocab_size or bpe.DEFAULT_VOCAB)
        bpe.tokenizers_module()  # the extra is there, before any text is read
    elif model.vocab_size:
        raise ConfigError(
            "vocab_size",
            "applies to {level} bpe only (a character vocabulary is the text's characters; at "
            "word level {max_vocab} keeps the most frequent words)",
        )


def new_trainer(
    model: ModelConfig,
    train: TrainConfig,
    inputs: Inputs,
    out: Path | None = None,
    force: bool = False,
    threads: int | None = None,
    init_from: Path | None = None,
    given: dict[str, Any] | None = None,
    flag: Flag = flag_name,
    notice: Callable[[str], None] | None = None,
    group: Group | None = None,
) -> Trainer:
    """A Trainer for a new run on ``inputs``, in ``out`` (default ``runs/NAME-TIME``), locked;
    with ``init_from``, starting from that model's weights and vocabulary (``given``: the
    settings the user gave, which must agree with the model's sizes)."""
    given = given or {}
    model.validate(resolved=False)
    train.validate(resolved=False)
    model, train = model.resolve().validate(), train.resolve().validate()
    check_settings(model, train, inputs.val_file)
    if not inputs.paths:
        raise UsageError("give the text to train on: files, directories, or '-' for stdin")
    base = None
    if init_from is not None:  # the model's vocabulary, grown for the new text
        base = checkpoint.load(checkpoint.resolve(init_from))
        if base.task != "lm":
            raise UsageError(
                f"{base.path}: holds a {base.task} model, not a language model; --init-from "
                "starts a language model from a language model's weights"
            )
        stored = {k: v for k, v in base.model_cfg.to_dict().items() if k not in FINETUNE_FREE}
        problem = conflict(
            {k: v for k, v in given.items() if k in stored}, stored, set(), str(init_from), flag
        )
        if problem:
            raise UsageError(f"{problem}; with --init-from the model's sizes come from the model")
        model = dataclasses.replace(
            base.model_cfg,
            dropout=model.dropout if "dropout" in given else base.model_cfg.dropout,
            dropout_input=(
                model.dropout_input if "dropout_input" in given else base.model_cfg.dropout_input
            ),
        )
    check_batch(group or Alone(), train.batch_size)
    expand(inputs.paths, inputs.encoding)  # the inputs exist, before a run directory is made
    val_src = _val_source(inputs.val_file, inputs.encoding, inputs.errors)
    if val_src is not None:
        expand(val_src.paths, inputs.encoding)
    run_dir = out or default_run_dir(display_name(inputs.paths))
    refuse_existing(run_dir, force)
    cleanup = _TokenFilesOnFailure(run_dir)
    # first: nothing is written into a directory another run holds (its token file included)
    lock = lock_run_dir(run_dir)
    try:
        trainer, added = _new_in_locked(
            model, train, inputs, run_dir, base, val_src, threads, group, cleanup, notice
        )
    except BaseException:
        lock.release()
        raise
    trainer.lock = lock
    if base is not None and notice is not None:
        what = "characters" if base.vocab.level == "char" else "words"
        if base.vocab.level == "bpe":
            notice(f"starting from {base.path}; its subwords spell any text")
        elif added:
            shown = ", ".join(repr(t) for t in added[:10]) + (", …" if len(added) > 10 else "")
            notice(
                f"starting from {base.path}; added {len(added):,} {what} it did not know "
                f"to its vocabulary: {shown}"
            )
        else:
            notice(f"starting from {base.path}; its vocabulary covers the new text")
    return trainer


def _new_in_locked(
    model: ModelConfig,
    train: TrainConfig,
    inputs: Inputs,
    run_dir: Path,
    base: "checkpoint.Checkpoint | None",
    val_src: Source | None,
    threads: int | None,
    group: Group | None,
    cleanup: _TokenFilesOnFailure,
    notice: Callable[[str], None] | None = None,
) -> tuple[Trainer, list[str]]:
    """``new_trainer``'s work once it holds ``run_dir``'s lock: (the trainer, the tokens added to
    ``base``'s vocabulary)."""
    with cleanup:
        corpus, added = encode_corpus(
            run_dir,
            model.level,
            Source(list(inputs.paths), inputs.encoding, inputs.errors),
            val_src,
            val_frac=0.1 if train.val_frac is None else train.val_frac,
            # by default 10% of the text, but no more than a validation split needs (a 100 MB
            # corpus's 10% took a minute and a half to score at the end of a short run)
            val_max=VAL_MAX_TOKENS if train.val_frac is None else None,
            vocab=None if base is None else base.vocab,
            grow=base is not None,
            max_vocab=train.max_vocab,
            min_count=train.min_count,
            bpe_size=model.vocab_size or None,
            notice=notice,
        )
        if corpus.val is None:
            raise DataError(
                f"{corpus.name}: too short to hold out a validation split; give --val-file"
            )
        model = dataclasses.replace(model, vocab_size=len(corpus.vocab))
        if inputs.val_file is None and train.val_frac is None:  # the fraction it came to
            train = dataclasses.replace(train, val_frac=read_meta(run_dir)["val_frac"])
        trainer = lm_trainer(model, train, corpus, run_dir, threads, group)
        val_fp = read_meta(run_dir)["val_fingerprint"]
        trainer.meta = inputs_meta(
            list(inputs.paths), inputs.val_file, val_fp, inputs.encoding, inputs.errors
        )
        if base is not None:
            try:
                trainer.load_weights(base.params)
            except CheckpointError as e:
                raise CheckpointError(
                    f"{base.path}: its weights do not fit the new model ({e}); --init-from "
                    "needs a language model's checkpoint"
                ) from None
            trainer.meta["init_from"] = str(base.path)
    return trainer, added


def resume_trainer(
    ck: "checkpoint.Checkpoint",
    run_dir: Path,
    inputs: Inputs,
    given: dict[str, Any],
    threads: int | None = None,
    flag: Flag = flag_name,
    group: Group | None = None,
) -> Trainer:
    """A Trainer that continues the run ``ck`` was saved from (in ``run_dir``) where it stopped,
    on the same inputs, locked. ``given``: the options the user gave; only stop limits may change
    (they replace the stored ones), and anything else that disagrees with the run is a
    UsageError. A run that has already reached its limits comes back unlocked, with
    ``done_reason`` saying so."""
    stored = {**ck.model_cfg.to_dict(), **ck.train_cfg.to_dict()}
    problem = conflict(given, stored, RESUME_FREE | set(STOP_LIMITS), f"the run in {run_dir}", flag)
    if problem:
        raise UsageError(
            f"{problem}; with --resume give only stop limits (--steps, --epochs, --minutes)"
        )
    ck.check_training_state()
    # first: nothing is read into, or written into, a directory another run holds
    lock = lock_run_dir(run_dir)
    try:
        trainer = _resume_locked(ck, run_dir, inputs, given, threads, group)
    except BaseException:
        lock.release()
        raise
    if trainer.done_reason() is not None:
        lock.release()
        return trainer
    trainer.lock = lock
    return trainer


def _token_file_problem(run_dir: Path, tokens: dict | None, own: bool) -> str | None:
    """What is wrong with the token file in ``run_dir`` (``tokens``: its description, None when
    unusable; ``own``: it describes this run's text and vocabulary), as a message naming it; None
    when it is sound or there is none."""
    where = run_dir / TOKENS
    if tokens is None:
        if where.exists() or (run_dir / META).exists():
            return f"{where}: is damaged (its size or {META} is not what was written)"
        return None
    if not own:
        return f"{where}: is not this run's token file ({META} describes another text)"
    problem = verify(run_dir, tokens)
    return None if problem is None else f"{where}: {problem}"


def _resume_locked(
    ck: "checkpoint.Checkpoint",
    run_dir: Path,
    inputs: Inputs,
    given: dict[str, Any],
    threads: int | None,
    group: Group | None,
) -> Trainer:
    """``resume_trainer``'s work once it holds ``run_dir``'s lock. The run's own token file is
    used when it is the one written for this run (its checksum); else it is encoded again from the
    text the run was trained on (its fingerprint checked), or the run is refused."""
    ck_path = ck.path
    meta = {
        k: ck.info.get(k)
        for k in ("sources", "encoding", "errors", "val_source", "val_fingerprint")
    }
    enc = inputs.encoding if "encoding" in given else (meta["encoding"] or "utf-8")
    errs = inputs.errors if "errors" in given else (meta["errors"] or "strict")
    val_path = inputs.val_file if inputs.val_file is not None else meta["val_source"]
    tcfg = ck.train_cfg
    expect = (ck.info.get("fingerprint"), meta["val_fingerprint"] if val_path else None)
    tokens = read_meta(run_dir)
    own = (
        tokens is not None
        and (tokens["fingerprint"], tokens["val_fingerprint"]) == expect
        and tokens["vocab"] == ck.vocab.to_dict()
        and tokens["val_frac"] == (None if val_path else tcfg.val_frac)
    )
    given_text = bool(inputs.paths) or inputs.val_file is not None
    damaged = None if given_text else _token_file_problem(run_dir, tokens, own)
    if own and not given_text and damaged is None:
        corpus = open_corpus(run_dir, tokens)  # the run's own token file: no text read
        paths = meta["sources"] or []
    else:
        lead = f"{damaged}, and cannot be rebuilt: " if damaged else ""
        paths = inputs.paths
        if not paths:
            paths = meta["sources"]
            if not paths:
                raise UsageError(
                    f"{lead}{ck_path}: does not record its corpus; give the corpus paths with "
                    "--resume"
                )
            if "-" in paths:
                raise UsageError(
                    f"{lead}the run in {run_dir} was trained on stdin: pipe the same text "
                    f"in again, ... | rnngen train - --resume {run_dir}"
                )
        src = Source(list(paths), enc, errs)
        try:
            corpus, _ = encode_corpus(
                run_dir,
                ck.vocab.level,
                src,
                _val_source(val_path, enc, errs),
                val_frac=tcfg.val_frac or 0.0,
                vocab=ck.vocab,
                expect=expect,
            )
        except TextChangedError as e:
            if e.args[0][0] != expect[0]:
                found = f"fingerprint {e.args[0][0]}, " if e.args[0][0] else ""
                raise DataError(
                    f"{lead}{src.name}: is not the text the run in {run_dir} was trained on "
                    f"({found}not {expect[0]}); to train on new text, start a new run with "
                    f"--init-from {run_dir}"
                ) from None
            raise DataError(
                f"{lead}{val_path}: is not the validation text of the run in {run_dir}"
            ) from None
        except DataError as e:
            if damaged:
                raise DataError(f"{lead}{e}") from None
            raise
    notes = [] if damaged is None else [f"{damaged}; rebuilt it from {display_name(paths)}"]
    corpus.name = ck.info.get("corpus") or corpus.name
    tcfg = resumed_limits(tcfg, given)
    trainer = lm_trainer(ck.model_cfg, tcfg, corpus, run_dir, threads, group)
    trainer.restore(ck)
    trainer.meta = {**meta, **inputs_meta(list(paths), val_path, expect[1], enc, errs)}
    if ck.info.get("init_from"):
        trainer.meta["init_from"] = ck.info["init_from"]
    trainer.notes.extend(notes)
    return trainer
