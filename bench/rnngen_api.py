"""The rnngen internals the benchmarks drive, found in either package layout: this tree's, or that
of a checkout from before the architecture issue (commit f81c9d0 and earlier), which ``--against
DIR`` runs side by side with this one. Nothing here is used by rnngen itself."""

import numpy as np

try:  # the layout of rnngen/{nn,train,generate,data,kernels}
    import rnngen.checkpoint as checkpoint
    from rnngen.config.training import TrainConfig
    from rnngen.data.vocab import Vocab
    from rnngen.generate.sample import SampleConfig, Sampler, default_threads
    from rnngen.kernels.threads import apply as apply_threads
    from rnngen.kernels.threads import plan_threads as _plan
    from rnngen.nn.config import ModelConfig
    from rnngen.nn.lm import LMNetwork
    from rnngen.training.optim import Adam

    LAYOUT = "layers"

    def plan_threads(threads: int | None, batch: int, hidden: int):
        return _plan(threads, batch)

    def new_state(model: LMNetwork, B: int):
        return model.new_state(B)

except ImportError:  # the flat layout of commit f81c9d0
    from rnngen.optim import Adam  # type: ignore[no-redef]
    from rnngen.sample import SampleConfig, Sampler, default_threads  # type: ignore[no-redef]
    from rnngen.threads import apply as apply_threads  # type: ignore[no-redef]
    from rnngen.threads import plan_threads  # type: ignore[no-redef]
    from rnngen.vocab import Vocab  # type: ignore[no-redef]

    from rnngen import checkpoint  # type: ignore[no-redef]
    from rnngen.config import ModelConfig, TrainConfig  # type: ignore[no-redef]
    from rnngen.tasks.lm.model import LMNetwork, State  # type: ignore[no-redef]

    LAYOUT = "flat"

    def new_state(model, B: int):  # type: ignore[no-redef]
        return State.zeros(model.cfg, B, model.dtype)


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
