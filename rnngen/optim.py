"""Adam over the flat parameter buffer, with global gradient-norm clipping."""

import math

import numpy as np

from rnngen.kernels.optim import adam_step, sum_squares


def grad_norm(grad: np.ndarray) -> float:
    """Global L2 norm of the flat gradient buffer."""
    return math.sqrt(sum_squares(grad))


class Adam:
    """Adam (Kingma & Ba) with bias correction; state: two flat moment buffers and a step count."""

    def __init__(self, size: int, lr: float, beta1=0.9, beta2=0.999, eps=1e-8, dtype=np.float32):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = np.zeros(size, dtype)
        self.v = np.zeros(size, dtype)
        self.t = 0

    def step(self, params: np.ndarray, grads: np.ndarray, clip: float = 0.0) -> float:
        """Clip ``grads`` to global norm ``clip`` (0: no clipping), update ``params``; returns the
        gradient norm before clipping."""
        norm = grad_norm(grads)
        scale = clip / norm if (clip > 0 and norm > clip) else 1.0
        self.t += 1
        adam_step(
            params, grads, self.m, self.v, self.lr, self.beta1, self.beta2, self.eps,
            1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t, scale,
        )  # fmt: skip
        return norm

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {"adam.m": self.m, "adam.v": self.v}

    def load_state(self, arrays: dict[str, np.ndarray], t: int) -> None:
        self.m[:] = arrays["adam.m"]
        self.v[:] = arrays["adam.v"]
        self.t = t
