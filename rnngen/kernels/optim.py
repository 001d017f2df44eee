"""Optimizer kernels over the flat parameter buffer: global norm and fused Adam."""

import numpy as np
from numba import njit

from rnngen.kernels import JIT


@njit(**JIT)
def sum_squares(g):
    """sum(g**2) with a float64 accumulator (g (P,))."""
    s = 0.0
    for i in range(g.shape[0]):
        s += np.float64(g[i]) * np.float64(g[i])
    return s


@njit(**JIT)
def adam_step(p, g, m, v, lr, beta1, beta2, eps, bias1, bias2, gscale):
    """One Adam update in place. p, g, m, v (P,); g is multiplied by gscale (clipping) first.

    bias1 = 1 - beta1^t and bias2 = 1 - beta2^t are the bias corrections of step t.
    """
    one = p.dtype.type(1.0)
    b1 = p.dtype.type(beta1)
    b2 = p.dtype.type(beta2)
    step = p.dtype.type(lr / bias1)
    inv_b2 = p.dtype.type(1.0 / bias2)
    e = p.dtype.type(eps)
    s = p.dtype.type(gscale)
    for i in range(p.shape[0]):
        gi = g[i] * s
        m[i] = b1 * m[i] + (one - b1) * gi
        v[i] = b2 * v[i] + (one - b2) * gi * gi
        p[i] -= step * m[i] / (np.sqrt(v[i] * inv_b2) + e)
