"""Starting and resuming a sequence-to-sequence run: read the pairs, build or check the
vocabularies, hold out validation pairs, and hand a locked ``Trainer`` back (the language
model's counterparts are in ``rnngen.tasks.lm.runs``)."""

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

import rnngen.checkpoint as checkpoint
from rnngen.config.training import STOP_LIMITS, TrainConfig
from rnngen.data import bpe
from rnngen.data.pairs import Pair, build_vocab, encode_pairs, held_out, read_pairs, target_size
from rnngen.data.vocab import UNK, Vocab
from rnngen.errors import ConfigError, DataError, UsageError, flag_name
from rnngen.nn.config import ModelConfig
from rnngen.nn.seq2seq.config import Seq2SeqConfig
from rnngen.parallel.group import Alone, Group, check_batch
from rnngen.tasks.seq2seq.training import PairCorpus, seq2seq_trainer
from rnngen.training.rundir import (
    RESUME_FREE,
    Flag,
    Inputs,
    RunLock,
    conflict,
    default_run_dir,
    inputs_meta,
    prepare_run_dir,
    probe_run_dir,
    resumed_limits,
)
from rnngen.training.trainer import Trainer


def _split(
    pairs: list[Pair],
    val: list[Pair] | None,
    frac: float,
    max_len: int,
) -> tuple[list[Pair], list[Pair], int]:
    """(training pairs within max_len, validation pairs, pairs skipped as too long)."""
    if val is None:
        val = [p for p in pairs if held_out(p.source, frac)]
        pairs = [p for p in pairs if not held_out(p.source, frac)]
    kept = [p for p in pairs if len(p.src) <= max_len and len(p.tgt) < max_len]
    return kept, val, len(pairs) - len(kept)


def _src(p: Pair) -> list[str]:
    return p.src


def _tgt(p: Pair) -> list[str]:
    return p.tgt


def pair_corpus(
    inputs: Inputs,
    s2s: Seq2SeqConfig,
    val_frac: float,
    vocabs: tuple[Vocab, Vocab] | None = None,
    max_vocab: int | None = None,
    min_count: int = 1,
    bpe_size: int | None = None,
) -> PairCorpus:
    """The pairs of ``inputs``, encoded with ``vocabs`` or with vocabularies built from them
    (a word-level side's capped by ``max_vocab`` and ``min_count``, counted on the training
    pairs; a BPE side's ``bpe_size`` subwords learned from the training pairs alone)."""
    pairs, name, fp = read_pairs(
        inputs.paths, s2s.src_level, s2s.tgt_level, inputs.encoding, inputs.errors
    )
    val = val_fp = None
    if inputs.val_file is not None:
        val, _, val_fp = read_pairs(
            [inputs.val_file], s2s.src_level, s2s.tgt_level, inputs.encoding, inputs.errors
        )
    subwords = "bpe" in (s2s.src_level, s2s.tgt_level)  # lengths known once encoded
    train, val, skipped = _split(pairs, val, val_frac, 1 << 62 if subwords else s2s.max_len)
    if vocabs is None:
        # every token of train and validation gets an id, unless a cap leaves the rarer
        # training words (and the validation words training lacks) to <unk>; subwords are
        # learned from the training pairs alone
        capped = max_vocab is not None or min_count > 1
        counted = train if capped else train + val
        cap = (max_vocab, min_count, bpe_size)
        vocabs = tuple(
            build_vocab((side(p) for p in (train if level == "bpe" else counted)), level, *cap)
            for side, level in ((_src, s2s.src_level), (_tgt, s2s.tgt_level))
        )
    src_vocab, tgt_vocab = vocabs
    encoded = encode_pairs(train, src_vocab, tgt_vocab)
    if subwords:
        encoded, skipped = encoded.within(s2s.max_len)
    if not len(encoded):
        raise DataError(f"{name}: no training pairs within --max-len {s2s.max_len}")
    return PairCorpus(
        src_vocab,
        tgt_vocab,
        encoded,
        encode_pairs(val, src_vocab, tgt_vocab) if val else None,
        name,
        fp,
        skipped,
        val_fp,
    )


def check_sides(corpus: PairCorpus, s2s: Seq2SeqConfig, train: TrainConfig) -> list[str]:
    """Refuse a word-level side whose vocabulary holds no word (only <eos> and <unk>): every
    token of that side would read as <unk>, and the model would learn nothing of it. Returns
    warnings about a side whose training tokens are mostly <unk>."""
    sides = (
        ("source", corpus.src_vocab, s2s.src_level, corpus.train.src),
        ("target", corpus.vocab, s2s.tgt_level, corpus.train.tgt),
    )
    notes = []
    for side, vocab, level, seqs in sides:
        if level != "word":
            continue
        if len(vocab) > 2:
            unk = vocab.stoi[UNK]
            total = sum(len(a) for a in seqs)
            unknown = sum(int(np.count_nonzero(a == unk)) for a in seqs)
            if total and unknown * 2 > total:
                notes.append(
                    f"{corpus.name}: {unknown / total:.0%} of the {side} tokens of the training "
                    f"pairs read as <unk> (a vocabulary of {len(vocab) - 2:,} {side} words); "
                    "lower --min-count or raise --max-vocab"
                )
            continue
        if train.min_count > 1:
            why = (
                f"no {side} word occurs at least --min-count {train.min_count} times in the "
                "training pairs"
            )
        else:
            why = f"the training pairs hold no {side} words"
        raise DataError(
            f"{corpus.name}: {why}, so every {side} token would be <unk>; lower --min-count, or "
            f"give more pairs"
        )
    return notes


def _small_bpe(corpus: PairCorpus, s2s: Seq2SeqConfig, asked: int) -> list[str]:
    """Warnings about a BPE side whose training pairs hold too little text for the subwords
    asked."""
    asked = asked or bpe.DEFAULT_VOCAB
    return [
        f"{corpus.name}: the {side} side holds too little text for {asked:,} subwords: its "
        f"vocabulary stops at {len(v):,} (every pair of tokens seen twice or more is merged)"
        for side, v, level in (
            ("source", corpus.src_vocab, s2s.src_level),
            ("target", corpus.vocab, s2s.tgt_level),
        )
        if level == "bpe" and len(v) < asked
    ]


def new_seq2seq_trainer(
    model: ModelConfig,
    s2s: Seq2SeqConfig,
    train: TrainConfig,
    inputs: Inputs,
    out: Path | None = None,
    force: bool = False,
    threads: int | None = None,
    group: Group | None = None,
) -> Trainer:
    """A trainer for a new seq2seq run on ``inputs``, in ``out`` (default runs/NAME-TIME),
    locked."""
    model.validate(resolved=False)
    s2s.validate(resolved=False)
    train.validate(resolved=False)
    check_batch(group or Alone(), train.batch_size)
    if train.val_frac is not None and inputs.val_file is not None:
        raise ConfigError("val_frac", "and --val-file conflict: give one of them")
    if not inputs.paths:
        raise UsageError("give the pairs to train on: files, directories, or '-' for stdin")
    model, train = model.resolve(), train.resolve()
    s2s = s2s.resolve_with(model.level, model.hidden)
    model.validate()
    s2s.validate()
    s2s.check_with(model.hidden)
    if s2s.encoder == "bi" and model.hidden < 2 and s2s.enc_hidden is None:
        raise ConfigError("hidden", "must be at least 2 for a bidirectional encoder")
    if "bpe" in (s2s.src_level, s2s.tgt_level):
        bpe.check_vocab_size(model.vocab_size or bpe.DEFAULT_VOCAB)
        bpe.tokenizers_module()  # the extra is there, before any pair is read
    elif model.vocab_size:
        raise ConfigError(
            "vocab_size", "applies to a bpe side only (--src-level or --tgt-level bpe)"
        )
    if "word" not in (s2s.src_level, s2s.tgt_level) and (
        train.max_vocab is not None or train.min_count != 1
    ):
        raise ConfigError(
            "max_vocab",
            "and {min_count} apply to a word-level side only (--src-level or --tgt-level word)",
        )
    frac = 0.05 if train.val_frac is None else train.val_frac
    corpus = pair_corpus(
        inputs, s2s, frac, None, train.max_vocab, train.min_count, model.vocab_size or None
    )
    notes = check_sides(corpus, s2s, train) + _small_bpe(corpus, s2s, model.vocab_size)
    if corpus.val is None:
        raise DataError(
            f"{corpus.name}: too few pairs to hold out validation pairs; give --val-file"
        )
    model = dataclasses.replace(model, level=s2s.tgt_level, vocab_size=target_size(corpus.vocab))
    s2s = dataclasses.replace(s2s, src_vocab=len(corpus.src_vocab))
    if inputs.val_file is None and train.val_frac is None:
        train = dataclasses.replace(train, val_frac=frac)
    run_dir = out or default_run_dir(corpus.name)
    trainer = seq2seq_trainer(model, s2s, train, corpus, run_dir, threads, group)
    trainer.meta = inputs_meta(
        inputs.paths, inputs.val_file, corpus.val_fingerprint, inputs.encoding, inputs.errors
    )
    trainer.notes.extend(notes)
    trainer.lock = prepare_run_dir(run_dir, force)  # last: nothing after it can fail
    return trainer


def resume_seq2seq(
    ck: "checkpoint.Checkpoint",
    run_dir: Path,
    inputs: Inputs,
    given: dict[str, Any],
    threads: int | None = None,
    flag: Flag = flag_name,
    group: Group | None = None,
) -> Trainer:
    """``rnngen.tasks.lm.runs.resume_trainer`` for a seq2seq run."""
    stored = {
        **ck.model_cfg.to_dict(),
        **ck.train_cfg.to_dict(),
        **ck.task_cfg.to_dict(),
        "task": "seq2seq",
    }
    problem = conflict(
        given, stored, RESUME_FREE | set(STOP_LIMITS) | {"level"}, f"the run in {run_dir}", flag
    )
    if problem:
        raise UsageError(
            f"{problem}; with --resume give only stop limits (--steps, --epochs, --minutes)"
        )
    ck.check_training_state()
    info = ck.info
    paths = inputs.paths or info.get("sources")
    if not paths:
        raise UsageError(f"{ck.path}: does not record its pairs; give them with --resume")
    if "-" in paths and not inputs.paths:
        raise UsageError(
            f"the run in {run_dir} was trained on stdin: pipe the same pairs in "
            f"again, ... | rnngen train - --resume {run_dir}"
        )
    enc = inputs.encoding if "encoding" in given else (info.get("encoding") or "utf-8")
    errs = inputs.errors if "errors" in given else (info.get("errors") or "strict")
    val_file = inputs.val_file if inputs.val_file is not None else info.get("val_source")
    again = Inputs(paths, val_file, enc, errs)
    tcfg = resumed_limits(ck.train_cfg, given)
    corpus = pair_corpus(
        again, ck.task_cfg, tcfg.val_frac or 0.0, (ck.vocabs["src_vocab"], ck.vocab)
    )
    if corpus.fingerprint != info.get("fingerprint"):
        raise DataError(
            f"{corpus.name}: are not the pairs the run in {run_dir} was trained on; "
            "to train on new pairs, start a new run"
        )
    val_fp = corpus.val_fingerprint
    if val_fp != info.get("val_fingerprint"):
        raise DataError(f"{val_file}: is not the validation file of the run in {run_dir}")
    trainer = seq2seq_trainer(ck.model_cfg, ck.task_cfg, tcfg, corpus, run_dir, threads, group)
    trainer.restore(ck)
    trainer.meta = inputs_meta(again.paths, again.val_file, val_fp, enc, errs)
    if trainer.done_reason() is not None:
        return trainer
    probe_run_dir(run_dir)
    trainer.lock = RunLock(run_dir)
    return trainer
