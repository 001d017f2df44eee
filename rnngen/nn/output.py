"""The output layer: a linear projection to the vocabulary, softmax and cross-entropy.

With ``tie`` the projection is the embedding transposed (Press & Wolf 2017; Inan et al. 2017), so
its gradient is the start of the embedding's. The softmax and the loss are one fused pass
(``rnngen.kernels.loss``) that leaves the logits' gradient in place of the logits.
"""

import numpy as np

from rnngen.kernels.loss import softmax_xent, softmax_xent_loss, softmax_xent_rows
from rnngen.kernels.matmul import matmul
from rnngen.nn.embedding import Embedding


class Output:
    """Logits (N, V) = x (N, H) @ W (H, V) + b; W is ``embedding``'s transposed when tied."""

    def __init__(self, H: int, V: int, parts: int, tied: Embedding | None = None) -> None:
        self.H, self.V, self.parts, self.tied = H, V, parts, tied

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {} if self.tied else {"out.W": (self.H, self.V)}
        shapes["out.b"] = (self.V,)
        return shapes

    def bind(self, params, grads) -> None:
        self.b, self.db = params["out.b"], grads["out.b"]
        if not self.tied:
            self.W_own, self.dW = params["out.W"], grads["out.W"]

    @property
    def W(self) -> np.ndarray:  # noqa: N802
        """(H, V): the projection (a transposed view of the embedding when tied)."""
        return self.tied.W.T if self.tied else self.W_own

    def logits(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out (N, V) = x (N, H) @ W + b."""
        matmul(x, self.W, out=out)
        out += self.b
        return out

    def loss_backward(
        self,
        x: np.ndarray,
        logits: np.ndarray,
        targets: np.ndarray,
        dx: np.ndarray,
        smoothing: float = 0.0,
        per: int | None = None,
    ) -> float:
        """The mean cross-entropy's gradient (label-smoothed by ``smoothing``), for a mean over
        ``per`` tokens (default N = len(targets)): the parameters' (the embedding's written, not
        added to, when tied) and dx (N, H). ``logits`` (N, V) are overwritten by their gradient.
        Returns the summed plain cross-entropy in nats."""
        N = targets.shape[0] if per is None else per
        dt = logits.dtype.type
        loss = softmax_xent(logits, targets, dt(1.0 / N), dt(smoothing), self.parts)
        dlogits = logits
        if self.tied:
            matmul(dlogits.T, x, out=self.tied.dW)
        else:
            matmul(x.T, dlogits, out=self.dW)
        np.sum(dlogits, axis=0, out=self.db)
        matmul(dlogits, self.W.T, out=dx)
        return loss

    @staticmethod
    def loss(logits: np.ndarray, targets: np.ndarray, smoothing: float = 0.0) -> float:
        """Summed cross-entropy (nats) of logits (N, V) against targets (N,), label-smoothed by
        ``smoothing`` (the objective ``loss_backward`` differentiates); logits untouched."""
        return softmax_xent_loss(logits, targets, smoothing)

    @staticmethod
    def token_losses(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Cross-entropy (nats) of each row, (N,) float64."""
        out = np.empty(targets.shape[0], np.float64)
        softmax_xent_rows(logits, targets, out)
        return out
