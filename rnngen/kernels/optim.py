"""Optimizer kernels over the flat parameter buffer: global norm and one fused update per method.

Each update takes ``gscale`` (the clipping factor) and ``wd`` (L2 weight decay, added to the
gradient as PyTorch does; AdamW instead decays the weights directly). p, g and the state buffers
are all (P,) with P the number of parameters.
"""

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
def adam_step(p, g, m, v, lr, beta1, beta2, eps, bias1, bias2, gscale, wd, decoupled):
    """One Adam (``decoupled``: AdamW) update in place.

    bias1 = 1 - beta1^t and bias2 = 1 - beta2^t are the bias corrections of step t.
    """
    one = p.dtype.type(1.0)
    b1 = p.dtype.type(beta1)
    b2 = p.dtype.type(beta2)
    step = p.dtype.type(lr / bias1)
    inv_b2 = p.dtype.type(1.0 / bias2)
    e = p.dtype.type(eps)
    s = p.dtype.type(gscale)
    l2 = p.dtype.type(0.0 if decoupled else wd)
    shrink = p.dtype.type(1.0 - lr * wd if decoupled else 1.0)
    for i in range(p.shape[0]):
        gi = g[i] * s + l2 * p[i]
        m[i] = b1 * m[i] + (one - b1) * gi
        v[i] = b2 * v[i] + (one - b2) * gi * gi
        p[i] = shrink * p[i] - step * m[i] / (np.sqrt(v[i] * inv_b2) + e)


@njit(**JIT)
def sgd_step(p, g, buf, lr, momentum, gscale, wd):
    """SGD in place; with momentum > 0, PyTorch's heavy ball: buf = momentum * buf + g."""
    s = p.dtype.type(gscale)
    l2 = p.dtype.type(wd)
    a = p.dtype.type(lr)
    mu = p.dtype.type(momentum)
    if momentum > 0.0:
        for i in range(p.shape[0]):
            b = mu * buf[i] + g[i] * s + l2 * p[i]
            buf[i] = b
            p[i] -= a * b
    else:
        for i in range(p.shape[0]):
            p[i] -= a * (g[i] * s + l2 * p[i])


@njit(**JIT)
def rmsprop_step(p, g, sq, lr, alpha, eps, gscale, wd):
    """RMSprop in place, as PyTorch: sq = alpha sq + (1 - alpha) g^2; p -= lr g / (sqrt(sq) + e)."""
    one = p.dtype.type(1.0)
    s = p.dtype.type(gscale)
    l2 = p.dtype.type(wd)
    a = p.dtype.type(lr)
    al = p.dtype.type(alpha)
    e = p.dtype.type(eps)
    for i in range(p.shape[0]):
        gi = g[i] * s + l2 * p[i]
        q = al * sq[i] + (one - al) * gi * gi
        sq[i] = q
        p[i] -= a * gi / (np.sqrt(q) + e)


@njit(**JIT)
def adagrad_step(p, g, acc, lr, eps, gscale, wd):
    """Adagrad in place: acc += g^2; p -= lr g / (sqrt(acc) + eps)."""
    s = p.dtype.type(gscale)
    l2 = p.dtype.type(wd)
    a = p.dtype.type(lr)
    e = p.dtype.type(eps)
    for i in range(p.shape[0]):
        gi = g[i] * s + l2 * p[i]
        q = acc[i] + gi * gi
        acc[i] = q
        p[i] -= a * gi / (np.sqrt(q) + e)
