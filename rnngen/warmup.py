"""Compile (or load from Numba's cache) every kernel once, on a tiny model of the right types."""

import numpy as np

from rnngen.config import ModelConfig
from rnngen.model import LSTMLM, State
from rnngen.optim import Adam


def warm_training_kernels(parts: int) -> None:
    """Touch every kernel training uses: forward/backward (both part counts), losses, Adam."""
    cfg = ModelConfig(vocab_size=5, embed=3, hidden=4, layers=2)
    model = LSTMLM(cfg, np.float32, parts=max(1, parts))
    model.init_weights(np.random.default_rng(0))
    x = np.zeros((2, 2), np.int32)
    model.forward_backward(x, x, State.zeros(cfg, 2))
    model.loss_sum(x, x, State.zeros(cfg, 2))
    model.token_losses(x, x, State.zeros(cfg, 2))
    Adam(model.params.size, 1e-3).step(model.params.flat, model.grads.flat, 1.0)


def warm_sampling_kernels() -> None:
    """Touch every kernel sampling uses."""
    from rnngen.kernels import sample as ks

    L, H, V = 2, 4, 5
    f = np.zeros
    h, c, logits = f((L, H), np.float32), f((L, H), np.float32), f(V, np.float32)
    w = (f((V, 4 * H), np.float32), f((1, H, 4 * H), np.float32), f((1, 4 * H), np.float32),
         f((L, H, 4 * H), np.float32), f((H, V), np.float32), f(V, np.float32))  # fmt: skip
    ks.advance(np.zeros(1, np.int64), np.zeros(1, np.int64), h, c, *w, logits, 1.0, 0, 1.0, 0)
