"""The tasks rnngen trains models for, by name. Adding a task is its own folder here (a ``Task``,
its trainer, its runs and its public model class; ``rnngen.tasks.base``), its network's spec
(``rnngen.nn.networks``), and one line in ``WHERE``.

A task's module is imported when the task is first used, so that naming the tasks costs nothing.
"""

from importlib import import_module

from rnngen.errors import UsageError
from rnngen.tasks.base import Task

WHERE = {  # name -> "module:attribute" of its Task
    "lm": "rnngen.tasks.lm.task:TASK",
    "seq2seq": "rnngen.tasks.seq2seq.task:TASK",
}
TASKS = tuple(WHERE)


def task(name: str) -> Task:
    """The task called ``name``; UsageError naming the tasks for another name."""
    if name not in WHERE:
        raise UsageError(f"--task must be one of {', '.join(TASKS)} (got {name!r})")
    module, _, attribute = WHERE[name].partition(":")
    return getattr(import_module(module), attribute)
