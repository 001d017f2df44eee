"""The networks rnngen trains, one per task, as the layers below the tasks see them: what a
checkpoint of one holds (its own settings, more vocabularies, its parameters, the state a run
carries from batch to batch) and how to build it. Adding a task's network is one spec in its own
module and one entry in ``WHERE``; the task itself (training, generating, its public model) lives
in ``rnngen.tasks``.

Each spec is imported at its first use, as the cells are (``rnngen.nn.cells``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from rnngen.nn.config import ModelConfig

WHERE = {  # task name -> "module:attribute" of its NetworkSpec
    "lm": "rnngen.nn.lm:SPEC",
    "seq2seq": "rnngen.nn.seq2seq.spec:SPEC",
}


@dataclass(frozen=True)
class NetworkSpec:
    """One task's network. ``own`` below is the task's own settings (None when it has none)."""

    task: str  # the name checkpoints record
    what: str  # "a language model", for messages
    settings: type | None  # the class of its own settings, stored in a section named ``task``
    vocabs: tuple[str, ...]  # more vocabularies than the model's (target) one, by name
    carries_state: bool  # whether a run carries the recurrent state from batch to batch
    # whether its files name their task: the language model's keep the layout of the files
    # written before there were tasks (no task key means "lm")
    names_task: bool
    param_shapes: Callable[[ModelConfig, Any], dict[str, tuple[int, ...]]]
    # (where, problem) when the settings and vocabularies disagree, else None
    check: Callable[[ModelConfig, Any, Any, dict[str, Any]], tuple[str, str] | None]
    build: Callable[[ModelConfig, Any, Any, int], Any]  # (model, own, dtype, parts) -> network
    # its own settings as a file stores them -> with what a missing one meant when it was written
    legacy: Callable[[dict], dict] | None = None


def network_spec(task: str) -> NetworkSpec:
    """The spec of ``task``'s network; KeyError for a task rnngen does not know."""
    module, _, attribute = WHERE[task].partition(":")
    return getattr(import_module(module), attribute)


TASKS = tuple(WHERE)
