"""Vectorisable activations.

``np.tanh``/``np.exp`` inside njit call scalar libm (30-45 ns per element, slower than the GEMMs),
so float32 kernels use a rational approximation that LLVM can vectorise. Float64 keeps the exact
libm function: gradient checks run in float64 and compare against the exact derivative.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

# Rational minimax approximation of tanh on [-7.9053, 7.9053] (the coefficients Eigen uses for
# float): tanh(x) ~= x * P(x^2) / Q(x^2), max error a few float32 ulp; beyond the clamp tanh is +-1
# to float32 precision.
_CLAMP = np.float32(7.90531110763549805)
_A1 = np.float32(4.89352455891786e-03)
_A3 = np.float32(6.37261928875436e-04)
_A5 = np.float32(1.48572235717979e-05)
_A7 = np.float32(5.12229709037114e-08)
_A9 = np.float32(-8.60467152213735e-11)
_A11 = np.float32(2.00018790482477e-13)
_A13 = np.float32(-2.76076847742355e-16)
_B0 = np.float32(4.89352518554385e-03)
_B2 = np.float32(2.26843463243900e-03)
_B4 = np.float32(1.18534705686654e-04)
_B6 = np.float32(1.19825839466702e-06)
_HALF = np.float32(0.5)


def tanh(x):
    """Scalar tanh: exact for float64, vectorisable approximation for float32 (njit only)."""
    return np.tanh(x)


def sigmoid(x):
    """Scalar logistic function: exact for float64, vectorisable for float32 (njit only)."""
    return 1.0 / (1.0 + np.exp(-x))


@njit(inline="always", cache=True)
def _tanh_f32(x0):
    x = min(max(x0, -_CLAMP), _CLAMP)
    x2 = x * x
    p = x2 * _A13 + _A11
    p = x2 * p + _A9
    p = x2 * p + _A7
    p = x2 * p + _A5
    p = x2 * p + _A3
    p = x2 * p + _A1
    q = x2 * _B6 + _B4
    q = x2 * q + _B2
    q = x2 * q + _B0
    y = x * p / q
    # at the clamp the rational is 1 - 2.4e-7 once multiply-adds are fused: saturate exactly
    if abs(x0) >= _CLAMP:  # False for NaN, which propagates through y
        return _ONE if x0 > 0 else -_ONE
    return y


@overload(tanh, inline="always")
def _ov_tanh(x):
    if x == types.float32:
        return lambda x: _tanh_f32(x)
    return lambda x: np.tanh(x)


@overload(sigmoid, inline="always")
def _ov_sigmoid(x):
    if x == types.float32:

        def impl(x):
            # sigmoid(x) = (1 + tanh(x/2)) / 2: one vectorisable rational, no exp.
            return _HALF + _HALF * _tanh_f32(_HALF * x)

        return impl
    return lambda x: 1.0 / (1.0 + np.exp(-x))


def exp(x):
    """Scalar exp: exact for float64, vectorisable approximation for float32 (njit only)."""
    return np.exp(x)


# exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2] (Cody-Waite split
# of ln 2), exp(r) by its degree-8 Taylor polynomial (relative error < 1e-7), 2^n built from bits.
_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_EXP_LO = np.float32(-87.3)
_EXP_HI = np.float32(89.0)  # above log(FLT_MAX) = 88.72: overflows to inf, as exp does
_C2 = np.float32(1.0 / 2)
_C3 = np.float32(1.0 / 6)
_C4 = np.float32(1.0 / 24)
_C5 = np.float32(1.0 / 120)
_C6 = np.float32(1.0 / 720)
_C7 = np.float32(1.0 / 5040)
_C8 = np.float32(1.0 / 40320)
_ONE = np.float32(1.0)
_I23, _I127 = np.int32(23), np.int32(127)  # int32 literals keep it vectorised


@intrinsic
def _bits_to_f32(typingctx, bits):
    """Reinterpret the low 32 bits of an integer as a float32 (an LLVM bitcast: vectorises)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], ir.IntType(32)) if bits.bitwidth > 32 else args[0]
        return builder.bitcast(low, ir.FloatType())

    return types.float32(bits), codegen


@njit(inline="always", cache=True)
def _exp_f32(x):
    x = min(max(x, _EXP_LO), _EXP_HI)
    # n <= 127 (2^128 is not a float32), so near the top r reaches ln 2: the degree-8 polynomial
    # keeps that accurate, and above log(FLT_MAX) the product overflows to inf, as exp does
    n = min(np.floor(x * _LOG2E + _HALF), np.float32(127.0))
    r = x - n * _LN2_HI
    r = r - n * _LN2_LO
    p = r * _C8 + _C7
    p = r * p + _C6
    p = r * p + _C5
    p = r * p + _C4
    p = r * p + _C3
    p = r * p + _C2
    p = r * p + _ONE
    p = r * p + _ONE
    return p * _bits_to_f32((np.int32(n) + _I127) << _I23)


@overload(exp, inline="always")
def _ov_exp(x):
    if x == types.float32:
        return lambda x: _exp_f32(x)
    return lambda x: np.exp(x)
