"""The models a server holds: each named (its run directory's name, or ``NAME=PATH``), loaded
once, with what its requests need (the vocabulary, the batched generator of a language model)."""

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnngen.errors import UsageError


@dataclass
class Served:
    """One model being served."""

    name: str
    model: Any  # a rnngen.LanguageModel or rnngen.Seq2SeqModel
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def task(self) -> str:
        return self.model.checkpoint.task

    @property
    def is_lm(self) -> bool:
        return self.task == "lm"

    @property
    def vocab(self) -> Any:
        return self.model.checkpoint.vocab

    def card(self) -> dict:
        """The model as ``GET /v1/models`` lists it (OpenAI's fields, then rnngen's)."""
        c = self.model.config
        return {
            "id": self.name,
            "object": "model",
            "created": self.created,
            "owned_by": "rnngen",
            "task": "seq2seq" if not self.is_lm else "lm",
            "level": c.level,
            "cell": c.cell,
            "layers": c.layers,
            "hidden": c.hidden,
            "vocab_size": c.vocab_size,
            "endpoints": ["/v1/completions", "/v1/score"]
            if self.is_lm
            else ["/v1/translate", "/v1/score"],
        }


def name_of(path: Path) -> str:
    """A model's name when none is given: its run directory's name (the directory of a
    checkpoint file)."""
    p = path.resolve()
    return (p if p.is_dir() else p.parent).name


def split_spec(spec: Any) -> tuple[str | None, Path]:
    """``NAME=PATH`` or ``PATH`` -> (name or None, path). A path that exists as given wins over
    a name in it (a directory may hold ``=``)."""
    text = os.fspath(spec)
    name, sep, path = text.partition("=")
    if sep and name and not Path(text).exists():
        return name, Path(path)
    return None, Path(text)


def load_models(specs: Any) -> list[Served]:
    """The models of ``specs`` (paths, ``NAME=PATH`` strings, a {name: path} dict, or loaded
    models), loaded and named, names unique."""
    from rnngen.tasks.models import TrainedModel, load

    if isinstance(specs, dict):
        items = [(str(n), p) for n, p in specs.items()]
    else:
        if isinstance(specs, str | os.PathLike | TrainedModel):
            specs = [specs]
        items = []
        for s in specs:
            if isinstance(s, TrainedModel):
                items.append((None, s))
            else:
                items.append(split_spec(s))
    if not items:
        raise UsageError("give at least one model to serve")
    served: list[Served] = []
    for name, what in items:
        m = what if isinstance(what, TrainedModel) else load(what)
        name = name or name_of(Path(m.path))
        if any(s.name == name for s in served):
            raise UsageError(f"two models are named {name!r}; name them with NAME=PATH")
        served.append(Served(name, m))
    return served
