"""``--resume``: continue a run of either kind, the language model's (``rnngen.training.run``) or the
sequence-to-sequence model's (``rnngen.tasks.seq2seq.runs``), as its checkpoint says."""

from pathlib import Path
from typing import Any

import rnngen.checkpoint as checkpoint
from rnngen.errors import flag_name
from rnngen.tasks.seq2seq.runs import resume_seq2seq
from rnngen.training.run import Flag, Inputs, find_resumable, resume_trainer
from rnngen.training.trainer import Trainer


def resume_run(resume: Path, inputs: Inputs, given: dict[str, Any], threads: int | None = None,
               flag: Flag = flag_name, group: Any = None) -> Trainer:  # fmt: skip
    """A trainer that continues the run ``resume`` (a run directory or a checkpoint); ``group``:
    the processes training together."""
    ck_path, run_dir = find_resumable(resume)
    if checkpoint.read_header(ck_path).get("task") == "seq2seq":
        ck = checkpoint.load(ck_path)
        return resume_seq2seq(ck, run_dir, inputs, given, threads, flag, group)
    return resume_trainer(resume, inputs, given, threads, flag, group)
