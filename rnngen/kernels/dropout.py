"""Dropout with counter-based masks: each mask entry is a hash of (seed, stream, index).

No generator state to carry: the same (seed, step, site) always gives the same mask, so a resumed
run draws exactly the masks the uninterrupted run would have, and the two parts of a split batch
never share a generator.
"""

import numpy as np
from numba import njit

from rnngen.kernels import JIT

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(inline="always", **JIT)
def _mix(z):
    """splitmix64's finaliser: a bijection of uint64 whose outputs pass BigCrush in sequence."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(**JIT)
def dropout_forward(x, out, mask, p, seed, stream):
    """out (N,) = x (N,) with each entry zeroed with probability p, the others scaled by 1/(1-p);
    ``out`` may be ``x`` itself. mask (N,) out: 0 or 1/(1-p) per entry, for the backward.
    0 <= p < 1.
    """
    keep_scale = x.dtype.type(1.0 / (1.0 - p))
    zero = x.dtype.type(0.0)
    cut = np.uint64(int(p * 16777216.0))  # keep when the top 24 bits of the hash are >= p * 2^24
    key = _mix(np.uint64(seed) * _GOLDEN + _mix(np.uint64(stream) + _GOLDEN))
    for i in range(x.shape[0]):
        u = _mix(key + np.uint64(i) * _GOLDEN) >> np.uint64(40)
        m = keep_scale if u >= cut else zero
        mask[i] = m
        out[i] = x[i] * m


@njit(**JIT)
def dropout_backward(dx, mask):
    """dx (N,) in place: the gradient through the mask written by ``dropout_forward``."""
    for i in range(dx.shape[0]):
        dx[i] *= mask[i]
