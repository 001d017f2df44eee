"""The rnngen internals the benchmarks drive, found in any of three package layouts: this tree's,
the one before "One house for both tasks" (rnngen/train/...), or the flat one of commit f81c9d0
and earlier; ``--against DIR`` runs another checkout side by side with this one. Nothing here is
used by rnngen itself."""

import numpy as np

try:  # this tree's layout: rnngen/{tasks,training,generate,checkpoint,config,nn,kernels}
    import rnngen.checkpoint as checkpoint
    from rnngen.config.training import TrainConfig
    from rnngen.data.vocab import Vocab
    from rnngen.generate.sample import SampleConfig, Sampler, default_threads
    from rnngen.kernels.threads import apply as apply_threads
    from rnngen.kernels.threads import plan_threads as _plan
    from rnngen.nn.config import ModelConfig
    from rnngen.nn.lm import LMNetwork
    from rnngen.training.optim import Adam

    LAYOUT = "tasks"
except ImportError:
    try:  # rnngen/{nn,train,generate,data,kernels}, before "One house for both tasks"
        from rnngen.train import checkpoint  # type: ignore[no-redef]
        from rnngen.train.config import TrainConfig  # type: ignore[no-redef]
        from rnngen.train.optim import Adam  # type: ignore[no-redef]

        from rnngen.data.vocab import Vocab  # type: ignore[no-redef]
        from rnngen.generate.sample import (  # type: ignore[no-redef]
            SampleConfig,
            Sampler,
            default_threads,
        )
        from rnngen.kernels.threads import apply as apply_threads  # type: ignore[no-redef]
        from rnngen.kernels.threads import plan_threads as _plan  # type: ignore[no-redef]
        from rnngen.nn.config import ModelConfig  # type: ignore[no-redef]
        from rnngen.nn.lm import LanguageModel as LMNetwork  # type: ignore[no-redef]

        LAYOUT = "layers"
    except ImportError:  # the flat layout of commit f81c9d0
        from rnngen.model import LanguageModel as LMNetwork  # type: ignore[no-redef]
        from rnngen.model import State  # type: ignore[no-redef]
        from rnngen.optim import Adam  # type: ignore[no-redef]
        from rnngen.sample import SampleConfig, Sampler, default_threads  # type: ignore[no-redef]
        from rnngen.threads import apply as apply_threads  # type: ignore[no-redef]
        from rnngen.threads import plan_threads  # type: ignore[no-redef]
        from rnngen.vocab import Vocab  # type: ignore[no-redef]

        from rnngen import checkpoint  # type: ignore[no-redef]
        from rnngen.config import ModelConfig, TrainConfig  # type: ignore[no-redef]

        LAYOUT = "flat"

if LAYOUT == "flat":

    def new_state(model, B: int):  # type: ignore[no-redef]
        return State.zeros(model.cfg, B, model.dtype)

else:

    def plan_threads(threads: int | None, batch: int, hidden: int):  # type: ignore[no-redef]
        return _plan(threads, batch)

    def new_state(model, B: int):  # type: ignore[no-redef]
        return model.new_state(B)


__all__ = [
    "LAYOUT",
    "Adam",
    "LMNetwork",
    "ModelConfig",
    "SampleConfig",
    "Sampler",
    "TrainConfig",
    "Vocab",
    "apply_threads",
    "checkpoint",
    "default_threads",
    "new_state",
    "np",
    "plan_threads",
]
