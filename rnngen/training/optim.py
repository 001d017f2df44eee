"""Optimizers over the flat parameter buffer, with global gradient-norm clipping.

Each optimizer updates the whole flat buffer with one fused kernel (``rnngen.kernels.optim``). The
learning rate is passed to every ``step`` by the caller, which owns the schedule
(``rnngen.training.schedule``). State (moment buffers and the step count) round-trips through
``state_arrays`` / ``state_info`` and ``load_state`` so a resumed run continues bit for bit.
"""

import math

import numpy as np

from rnngen.config.training import MOMENTS, OPTIMIZERS  # declared with the settings
from rnngen.kernels.optim import adagrad_step, adam_step, rmsprop_step, sgd_step, sum_squares


def grad_norm(grad: np.ndarray) -> float:
    """Global L2 norm of the flat gradient buffer."""
    return math.sqrt(sum_squares(grad))


def clip_scale(norm: float, clip: float) -> float:
    """The factor that brings the gradient to global norm ``clip`` (0: no clipping)."""
    return clip / norm if (clip > 0 and norm > clip) else 1.0


class Optimizer:
    """Base: ``step`` clips, updates in place and returns the gradient norm before clipping."""

    name = ""
    buffers: tuple[str, ...] = ()

    def __init__(self, size: int, lr: float, weight_decay: float = 0.0, dtype=np.float32) -> None:
        self.lr = lr  # the base rate; the schedule passes the current one to step()
        self.weight_decay = weight_decay
        self.t = 0
        self.state = {name: np.zeros(size, dtype) for name in self.buffers}

    def step(
        self, params: np.ndarray, grads: np.ndarray, clip: float = 0.0, lr: float | None = None
    ) -> float:
        norm = grad_norm(grads)
        self.t += 1
        self._update(params, grads, self.lr if lr is None else lr, clip_scale(norm, clip))
        return norm

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float, gscale: float) -> None:
        raise NotImplementedError

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {f"{self.name}.{k}": v for k, v in self.state.items()}

    def state_info(self) -> dict:
        return {"optimizer": self.name, "t": self.t}

    def load_state(self, arrays: dict[str, np.ndarray], info: dict) -> None:
        for k, v in self.state.items():
            v[:] = arrays[f"{self.name}.{k}"]
        self.t = int(info["t"])


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; L2 weight decay added to the gradient."""

    name = "adam"
    buffers = MOMENTS["adam"]
    decoupled = False

    def __init__(
        self,
        size: int,
        lr: float,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay: float = 0.0,
        dtype=np.float32,
    ) -> None:
        super().__init__(size, lr, weight_decay, dtype)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update(self, p, g, lr, gscale):
        s = self.state
        adam_step(
            p,
            g,
            s["m"],
            s["v"],
            lr,
            self.beta1,
            self.beta2,
            self.eps,
            1.0 - self.beta1**self.t,
            1.0 - self.beta2**self.t,
            gscale,
            self.weight_decay,
            self.decoupled,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p -= lr * wd * p."""

    name = "adamw"
    decoupled = True


class SGD(Optimizer):
    """Plain SGD (Zaremba et al.), or heavy-ball momentum when ``momentum`` > 0."""

    name = "sgd"
    buffers = MOMENTS["sgd"]

    def __init__(
        self,
        size: int,
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        dtype=np.float32,
    ) -> None:
        super().__init__(size, lr, weight_decay, dtype)
        self.momentum = momentum

    def _update(self, p, g, lr, gscale):
        sgd_step(p, g, self.state["momentum"], lr, self.momentum, gscale, self.weight_decay)


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton) as PyTorch writes it: alpha 0.99, eps outside the root."""

    name = "rmsprop"
    buffers = MOMENTS["rmsprop"]

    def __init__(
        self,
        size: int,
        lr: float,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        dtype=np.float32,
    ) -> None:
        super().__init__(size, lr, weight_decay, dtype)
        self.alpha, self.eps = alpha, eps

    def _update(self, p, g, lr, gscale):
        rmsprop_step(
            p, g, self.state["square_avg"], lr, self.alpha, self.eps, gscale, self.weight_decay
        )


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.): per-parameter rates from the sum of squared gradients."""

    name = "adagrad"
    buffers = MOMENTS["adagrad"]

    def __init__(
        self, size: int, lr: float, eps: float = 1e-10, weight_decay: float = 0.0, dtype=np.float32
    ) -> None:
        super().__init__(size, lr, weight_decay, dtype)
        self.eps = eps

    def _update(self, p, g, lr, gscale):
        adagrad_step(p, g, self.state["sum"], lr, self.eps, gscale, self.weight_decay)


def make_optimizer(
    name: str,
    size: int,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    dtype=np.float32,
) -> Optimizer:
    """The optimizer called ``name`` (one of OPTIMIZERS) over ``size`` parameters."""
    if name in ("adam", "adamw"):
        cls = Adam if name == "adam" else AdamW
        return cls(size, lr, beta1, beta2, eps, weight_decay, dtype)
    if name == "sgd":
        return SGD(size, lr, momentum, weight_decay, dtype)
    if name == "rmsprop":
        return RMSprop(size, lr, eps=eps, weight_decay=weight_decay, dtype=dtype)
    if name == "adagrad":
        return Adagrad(size, lr, weight_decay=weight_decay, dtype=dtype)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def warm_optimizer(name: str) -> None:
    """Compile (or load from the cache) the update kernel of optimizer ``name``, on a tiny
    buffer."""
    params = np.zeros(8, np.float32)
    make_optimizer(name, params.size, 1e-3).step(params, np.ones_like(params), 1.0)
