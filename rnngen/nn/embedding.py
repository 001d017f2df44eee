"""The embedding layer: token ids -> vectors, and its gradient scattered back by token.

When the vocabulary is small next to the batch (character level), the first recurrent layer can
skip the (T, B, E) embedded input altogether: it reads rows of its (V, G) table embed @ W_ih by
token (``TokenInput``, see ``rnngen.nn.recurrent``), and adds its share of the embedding's gradient
itself.
"""

import numpy as np

from rnngen.kernels.loss import embedding_backward, embedding_forward


class TokenInput:
    """Token ids (T, B) standing in for their embedded vectors, with the embedding's weights
    (V, E) (read) and gradient (V, E) (accumulated into)."""

    def __init__(self, tokens: np.ndarray, weight: np.ndarray, grad: np.ndarray) -> None:
        self.shape = tokens.shape  # (T, B)
        self.tokens = np.ascontiguousarray(tokens, np.int64).reshape(-1)  # (T*B,)
        self.weight, self.grad = weight, grad


class Embedding:
    """Lookup table (V, E) named ``name``."""

    def __init__(self, V: int, E: int, parts: int, name: str = "embed") -> None:
        self.V, self.E, self.parts, self.name = V, E, parts, name
        self.out_width = E

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {self.name: (self.V, self.E)}

    def bind(self, params, grads) -> None:
        """Hold views of the model's parameter and gradient buffers."""
        self.W, self.dW = params[self.name], grads[self.name]  # (V, E)

    def forward(self, tokens: np.ndarray, out: np.ndarray) -> None:
        """out (T*B, E) = the rows of tokens (T, B)."""
        embedding_forward(out, self.W, tokens.reshape(-1))

    def backward(self, tokens: np.ndarray, dout: np.ndarray) -> None:
        """dW (V, E) += dout (T*B, E) scattered by token; the sums keep their order whatever the
        number of parts."""
        embedding_backward(self.dW, dout, tokens.reshape(-1), self.parts)

    def as_input(self, tokens: np.ndarray) -> TokenInput:
        return TokenInput(tokens, self.W, self.dW)
