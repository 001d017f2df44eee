"""Checkpoints: one self-describing file per checkpoint (``fileformat``), checked as untrusted
input before anything is built from it (``schema``), found from a path or a run directory
(``resolve``). A checkpoint records its task (``"lm"``, ``"seq2seq"``) and the task's own settings;
what each task's network holds is its ``rnngen.nn.networks`` spec, so nothing here depends on which
task a model is."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnngen.checkpoint.fileformat import FORMAT, FORMAT_VERSION, SUFFIX, read, read_header, write
from rnngen.checkpoint.resolve import find_resumable, resolve
from rnngen.checkpoint.schema import check_training_state, checked_parts
from rnngen.config.training import TrainConfig
from rnngen.data.vocab import Vocab
from rnngen.errors import CheckpointError
from rnngen.files import atomic_write
from rnngen.nn.cells import CELLS
from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import State
from rnngen.nn.networks import NetworkSpec, network_spec

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SUFFIX",
    "Checkpoint",
    "find_resumable",
    "load",
    "read_header",
    "resolve",
    "save",
]


@dataclass
class Checkpoint:
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    vocab: Vocab  # the model's (a seq2seq model's: the target's)
    params: dict[str, np.ndarray]
    step: int = 0
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # optimizer moments, state
    info: dict = field(default_factory=dict)  # position, history, fingerprint, ...
    path: Path | None = None
    task: str = "lm"  # which task's model (rnngen.nn.networks)
    task_cfg: Any = None  # the task's own settings (a seq2seq model's Seq2SeqConfig)
    vocabs: dict[str, Vocab] = field(default_factory=dict)  # more vocabularies, by name

    @property
    def spec(self) -> NetworkSpec:
        return network_spec(self.task)

    def build_model(self, parts: int = 1) -> Any:
        """The network this checkpoint describes, with its weights (and the state a text starts
        from, for a network that carries one)."""
        model = self.spec.build(self.model_cfg, self.task_cfg, np.float32, parts)
        for name, view in model.params.views.items():
            view[...] = self.params[name]
        if self.spec.carries_state:
            model.start = self.start_state()
        return model

    def start_state(self) -> State | None:
        """The state a text starts from (``start.h``, the LSTM's ``start.c``: (L, 1, H)), as
        training recorded it; None for a checkpoint without one (written before rnngen recorded
        it: its texts start from zeros, as they always did)."""
        names = CELLS[self.model_cfg.cell].state
        if f"start.{names[0]}" not in self.arrays:
            return None
        return State(names, tuple(self.arrays[f"start.{n}"] for n in names))

    def state(self) -> State:
        """The carried state the run stopped with (``check_training_state`` first)."""
        names = CELLS[self.model_cfg.cell].state
        return State(names, tuple(self.arrays[f"state.{n}"].copy() for n in names))

    def check_training_state(self) -> None:
        """Raise CheckpointError unless this checkpoint holds all a resumed run needs, in the
        types and shapes its settings imply."""
        check_training_state(
            self.path,
            self.spec,
            self.model_cfg,
            self.train_cfg,
            self.task_cfg,
            self.info,
            self.arrays,
        )


def save(ckpt: Checkpoint, path: str | Path) -> Path:
    """Write ``ckpt`` to ``path`` atomically. Raises CheckpointError (previous file kept)."""
    tensors = {f"param/{k}": v for k, v in ckpt.params.items()}
    tensors.update(ckpt.arrays)
    own = {}
    if ckpt.spec.names_task:
        own = {
            "task": ckpt.task,
            ckpt.task: ckpt.task_cfg.to_dict(),
            **{k: v.to_dict() for k, v in ckpt.vocabs.items()},
        }
    meta = {
        "model": ckpt.model_cfg.to_dict(),
        "train": ckpt.train_cfg.resolve().to_dict(),  # complete: the learning rate it implies
        "vocab": ckpt.vocab.to_dict(),
        **own,
        "step": ckpt.step,
        "info": ckpt.info,
    }
    written = write(Path(path), tensors, meta)
    write_tokenizers(ckpt, written.parent)
    return written


def tokenizer_files(ckpt: Checkpoint) -> dict[str, Vocab]:
    """The ``tokenizer.json`` files a checkpoint's BPE vocabularies are written to beside it
    (file name -> vocabulary): ``tokenizer.json``, or a seq2seq model's ``src-tokenizer.json`` and
    ``tgt-tokenizer.json``. The checkpoint holds its own copy; these are for other tools."""
    sides = (
        {"src-": ckpt.vocabs.get("src_vocab"), "tgt-": ckpt.vocab}
        if ckpt.vocabs
        else {"": ckpt.vocab}
    )
    return {f"{k}tokenizer.json": v for k, v in sides.items() if v is not None and v.level == "bpe"}


def write_tokenizers(ckpt: Checkpoint, where: Path) -> None:
    """Write (or rewrite, when it differs) each of ``tokenizer_files`` into ``where``. Raises
    CheckpointError."""
    for name, vocab in tokenizer_files(ckpt).items():
        target = where / name
        data = vocab.tokenizer.encode("utf-8")
        try:
            if not target.exists() or target.read_bytes() != data:
                atomic_write(target, data)
        except OSError as e:
            raise CheckpointError(f"{target}: could not write ({e.strerror or e})") from None


MAX_REPLICAS = 1024


def recorded_replicas(path: str | Path) -> int:
    """The replicas (threads of one process, each on its share of every batch) the run that
    wrote checkpoint ``path`` trained in: 1 when it records none (runs from before the record,
    and runs of one process or of MPI processes). Reads the metadata only."""
    info = read_header(path).get("info")
    n = info.get("replicas", 1) if isinstance(info, dict) else 1
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_REPLICAS:
        raise CheckpointError(
            f"{path}: info.replicas must be a whole number from 1 to {MAX_REPLICAS} (got {n!r})"
        )
    return n


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint file and check it (``rnngen.checkpoint.schema``). Raises
    CheckpointError."""
    path = Path(path)
    meta, tensors = read(path)
    return Checkpoint(**checked_parts(path, meta, tensors))
