"""What a recurrent cell tells the layers built from it: its parameters, its state, its caches and
its math. Each cell's module (``lstm.py``, ``gru.py``, ``rnn.py``) fills this in once; the registry
(``rnngen.nn.cells``) lists them, and nothing else in rnngen knows one cell from another.

Sizes are given in units of H (the layer's hidden units), so a layer can allocate for any H. The
math is the cell's ``CellKernels`` (``rnngen.kernels.cellcall``): three jitted functions that the
time-loop drivers and the sampler run for one batch row at a time.
"""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rnngen.kernels.cellcall import CellKernels


class Cell:
    """One kind of recurrent cell. Subclasses set the attributes and may override the hooks."""

    name: str = ""  # as given to --cell
    about: str = ""  # one line for --help and the README
    prefix: str = ""  # parameter names of layer k: f"{prefix}{k}.W_ih", ...
    gates: int = 1  # G = gates * H columns of W_ih, W_hh and each bias
    biases: tuple[str, ...] = ("b",)  # bias vectors, each (G,), in parameter order
    state: tuple[str, ...] = ("h",)  # carried state vectors, each (B, H); h first
    caches: tuple[int, ...] = ()  # per step and batch row, what the backward needs (widths / H)
    grads: int = 1  # pre-activation gradients (T, B, G): [0] recurrent side, [-1] input side
    sums: tuple[int, ...] = (1,)  # per batch row sums over t the backward keeps (widths / H)
    carry: int = 0  # gradients (B, H) the backward carries from step to step besides h's
    scratch: int = 0  # what one sampling step needs beside its state (width / H)
    kernels: "CellKernels"

    def param_shapes(self, prefix: str, D: int, H: int) -> dict[str, tuple[int, ...]]:
        """Name -> shape of one layer's parameters, in buffer order; D its input width."""
        G = self.gates * H
        shapes = {prefix + "W_ih": (D, G), prefix + "W_hh": (H, G)}
        shapes.update({prefix + b: (G,) for b in self.biases})
        return shapes

    def init_biases(self, biases: np.ndarray, H: int) -> None:
        """Adjust a fresh layer's biases (nb, G) after the default initialisation."""

    def bias_grads(self, sums: tuple[np.ndarray, ...], dbias: np.ndarray) -> None:
        """The biases' gradient (nb, G) from the backward's per-row sums: the rows summed in
        order, so the result does not depend on how the batch was split."""
        np.sum(sums[0], axis=0, out=dbias[0])

    def initial_state_grad(
        self, dh: np.ndarray, carry: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, ...]:
        """The gradient at the initial state, one (B, H) per state vector, from what the backward
        left in dh and carry."""
        return (dh, *carry)

    def __repr__(self) -> str:
        return f"<cell {self.name}>"
