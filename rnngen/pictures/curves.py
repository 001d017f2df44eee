"""Learning curves of training runs, from their checkpoints' histories: the validation loss at each
evaluation (and, for a seq2seq run that keeps its best by it, the validation sources' greedy
sequence error; for a language model, the validation bits per character, which compare runs of
any level), the training loss between evaluations (the trainer records its mean every tenth
of an evaluation interval), the learning rate and the wall time, read from the checkpoint's header
alone. Drawing them is ``rnngen.pictures.draw`` (matplotlib, ``plot_runs``) or
``rnngen.pictures.terminal`` (braille characters, no extra needed)."""

from dataclasses import dataclass, field
from pathlib import Path

import rnngen.checkpoint as checkpoint
from rnngen.errors import CheckpointError


@dataclass
class Curves:
    """One run's curves. Each point is (step, minutes, value)."""

    name: str
    path: Path
    val: list[tuple[int, float, float]] = field(default_factory=list)
    train: list[tuple[int, float, float]] = field(default_factory=list)
    lr: list[tuple[int, float, float]] = field(default_factory=list)
    error: list[tuple[int, float, float]] = field(default_factory=list)  # greedy, a fraction
    bpc: list[tuple[int, float, float]] = field(default_factory=list)  # val. bits per character

    def per_char(self) -> "Curves":
        """These curves with the validation bits per character in place of the loss (and no
        training loss, which is per token): runs of different levels on one scale. Raises
        CheckpointError for a run without them."""
        if not self.bpc:
            raise CheckpointError(
                f"{self.path}: holds no bits per character (a seq2seq run, or one trained "
                "by an rnngen that did not measure them); plot it without --bits-per-char"
            )
        return Curves(self.name, self.path, val=self.bpc, lr=self.lr, bpc=self.bpc)

    @property
    def best(self) -> tuple[int, float, float] | None:
        """The validation loss point of the best checkpoint: the lowest loss, or, for a run that
        keeps its best by the validation error, the lowest (error, loss)."""
        if not self.val:
            return None
        if not self.error:
            return min(self.val, key=lambda p: p[2])
        loss = {p[0]: p for p in self.val}
        step = min((e[2], loss[e[0]][2], e[0]) for e in self.error if e[0] in loss)[2]
        return loss[step]

    @property
    def best_error(self) -> tuple[int, float, float] | None:
        """The error point of the best checkpoint (None for a run without errors)."""
        best = self.best
        return next((e for e in self.error if best and e[0] == best[0]), None)

    def rows(self) -> list[tuple[str, str, int, float, float]]:
        """(run, series, step, minutes, value), every point, for text output."""
        return [
            (self.name, series, s, m, v)
            for series, pts in (
                ("val_loss", self.val),
                ("val_error", self.error),
                ("val_bits_per_char", self.bpc),
                ("train_loss", self.train),
                ("lr", self.lr),
            )
            for s, m, v in pts
        ]


def read_curves(run: str | Path) -> Curves:
    """The curves of a run directory (its last checkpoint, which holds the whole history) or of a
    checkpoint file. Raises CheckpointError naming the file."""
    p = Path(run)
    if p.is_dir():
        ck = next(
            (
                p / (n + checkpoint.SUFFIX)
                for n in ("last", "best")
                if (p / (n + checkpoint.SUFFIX)).is_file()
            ),
            None,
        )
        if ck is None:
            raise CheckpointError(f"{p}: no checkpoint in this directory")
        name = p.name
    else:
        ck, name = p, (p.parent.name or p.stem)
    info = checkpoint.read_header(ck).get("info") or {}
    history, curve = info.get("history") or [], info.get("curve") or []
    if not isinstance(history, list) or not isinstance(curve, list):
        raise CheckpointError(f"{ck}: info.history is not a list")
    c = Curves(name, ck)
    try:
        for h in history:
            m = float(h.get("seconds") or 0.0) / 60.0
            if h.get("val_loss") is not None:
                c.val.append((int(h["step"]), m, float(h["val_loss"])))
            if h.get("val_bits_per_char") is not None:
                c.bpc.append((int(h["step"]), m, float(h["val_bits_per_char"])))
            if h.get("val_error") is not None:
                c.error.append((int(h["step"]), m, float(h["val_error"])))
            if not curve and h.get("train_loss") is not None:  # runs from before the curve
                c.train.append((int(h["step"]), m, float(h["train_loss"])))
            if not curve and h.get("lr") is not None:
                c.lr.append((int(h["step"]), m, float(h["lr"])))
        for step, loss, lr, seconds in curve:
            c.train.append((int(step), float(seconds) / 60.0, float(loss)))
            c.lr.append((int(step), float(seconds) / 60.0, float(lr)))
    except (TypeError, ValueError, KeyError, AttributeError):
        raise CheckpointError(f"{ck}: info.history or info.curve is malformed") from None
    if not c.val and not c.train:
        raise CheckpointError(f"{ck}: holds no training history to plot (no evaluation yet)")
    return c
