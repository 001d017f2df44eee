"""Dropout on the non-recurrent connections, in training only (Zaremba et al. 2014).

Masks are a hash of (seed, key, site) (``rnngen.kernels.dropout``): the key is the training step
and the site is where in the model the dropout sits, so a resumed run draws the masks the
uninterrupted run would have, with no generator state to carry.
"""

import numpy as np

from rnngen.kernels.dropout import dropout_backward, dropout_forward


class Dropout:
    """Dropout at ``rate`` at ``site`` (one of ``sites`` in the model)."""

    def __init__(self, rate: float, site: int, sites: int) -> None:
        self.rate, self.site, self.sites = rate, site, sites

    def forward(
        self, x: np.ndarray, out: np.ndarray, mask: np.ndarray, seed: int, key: int
    ) -> None:
        """out = dropout(x) with the mask of (seed, key, site), kept in mask for the backward
        (all the same shape; out may be x)."""
        dropout_forward(
            x.reshape(-1),
            out.reshape(-1),
            mask.reshape(-1),
            self.rate,
            seed,
            key * self.sites + self.site,
        )

    def backward(self, dx: np.ndarray, mask: np.ndarray) -> None:
        """dx in place: the gradient through the mask of the forward."""
        dropout_backward(dx.reshape(-1), mask.reshape(-1))
