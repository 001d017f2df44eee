"""``rnngen.kernels.mathfn``: float32 approximations against the exact float64 functions.

The functions only have their fast float32 form inside @njit code, so each is applied through a
small jitted loop, compiled twice: plainly, and with the kernels' own flags (``JIT``, whose
``fastmath`` contracts multiply-adds), since that is how the LSTM and loss kernels see them.
"""

from collections.abc import Callable

import numpy as np
import pytest
from numba import njit

from rnngen.kernels import JIT
from rnngen.kernels.mathfn import exp, sigmoid, tanh

_TANH, _SIGMOID, _EXP = 0, 1, 2


def _apply(x, out, which):
    for n in range(x.shape[0]):
        if which == _TANH:
            out[n] = tanh(x[n])
        elif which == _SIGMOID:
            out[n] = sigmoid(x[n])
        else:
            out[n] = exp(x[n])


# cache=False: Numba's cache key ignores fastmath flags, so two cached dispatchers of one Python
# function would share (and swap) their machine code.
_apply_plain = njit(cache=False)(_apply)
_apply_kernel = njit(**dict(JIT, cache=False))(_apply)
APPLIERS = {"plain": _apply_plain, "kernel-flags": _apply_kernel}


def apply(name: str, x: np.ndarray, flags: str = "kernel-flags") -> np.ndarray:
    """The mathfn function ``name`` applied elementwise in jitted code, in x's dtype."""
    which = {"tanh": _TANH, "sigmoid": _SIGMOID, "exp": _EXP}[name]
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    APPLIERS[flags](x, out, which)
    return out


def exact(name: str) -> Callable[[np.ndarray], np.ndarray]:
    return {
        "tanh": np.tanh,
        "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
        "exp": np.exp,
    }[name]


def f32_grid(lo: float, hi: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """A dense uniform grid of [lo, hi] plus random points, as float32."""
    x = np.concatenate([np.linspace(lo, hi, n), rng.uniform(lo, hi, n)])
    return x.astype(np.float32)


@pytest.mark.parametrize("flags", list(APPLIERS))
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_float32_bounded_functions_absolute_error(
    name: str, flags: str, numerics_rng: np.random.Generator
) -> None:
    x32 = f32_grid(-40.0, 40.0, 400_001, numerics_rng)
    # include the neighbourhood of 0 finely, where tanh ~ x and the rational form matters most
    x32 = np.concatenate([x32, f32_grid(-1e-3, 1e-3, 10_001, numerics_rng)])
    got = apply(name, x32, flags)
    assert got.dtype == np.float32
    want = exact(name)(x32.astype(np.float64))  # exact function at the same float32 inputs
    err = np.abs(got.astype(np.float64) - want)
    assert err.max() <= 5e-7, f"{name} max abs error {err.max():.3g} at x={x32[err.argmax()]}"


@pytest.mark.parametrize("flags", list(APPLIERS))
def test_float32_tanh_is_odd_and_small_x_accurate(flags: str) -> None:
    x32 = np.float32(10.0) ** np.arange(-30, 1, dtype=np.float32)
    pos, neg = apply("tanh", x32, flags), apply("tanh", -x32, flags)
    np.testing.assert_array_equal(neg, -pos)
    small = x32 < 1e-4  # tanh(x) = x to float32 precision
    np.testing.assert_allclose(pos[small], x32[small], rtol=3e-7, atol=0)


@pytest.mark.parametrize("flags", list(APPLIERS))
def test_float32_exp_relative_error(flags: str, numerics_rng: np.random.Generator) -> None:
    x32 = f32_grid(-87.0, 88.0, 1_000_001, numerics_rng)
    x32 = np.concatenate([x32, np.float32([-87.0, 0.0, 88.0])])
    got = apply("exp", x32, flags)
    assert got.dtype == np.float32
    want = np.exp(x32.astype(np.float64))
    rel = np.abs(got.astype(np.float64) - want) / want
    assert rel.max() <= 5e-7, f"exp max rel error {rel.max():.3g} at x={x32[rel.argmax()]}"
    assert got[-2] == 1.0  # exp(0) is exactly one


def test_float32_exp_finite_up_to_float32_max() -> None:
    x32 = np.linspace(88.0, 88.72, 1001).astype(np.float32)
    want = np.exp(x32.astype(np.float64))
    assert np.all(want < np.finfo(np.float32).max)
    got = apply("exp", x32)
    rel = np.abs(got.astype(np.float64) - want) / want
    assert np.all(np.isfinite(got)) and rel.max() <= 5e-7


@pytest.mark.parametrize("flags", list(APPLIERS))
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "exp"])
def test_float64_is_the_exact_function(name: str, flags: str, numerics_rng: np.random.Generator):
    lo, hi = (-700.0, 700.0) if name == "exp" else (-40.0, 40.0)
    x = np.concatenate([np.linspace(lo, hi, 100_001), numerics_rng.normal(0, 3, 10_000)])
    got = apply(name, x, flags)
    assert got.dtype == np.float64
    want = exact(name)(x)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-300 if name == "exp" else 1e-15)


@pytest.mark.parametrize("flags", list(APPLIERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturation_and_limits(dtype, flags: str) -> None:
    big = dtype([100.0, 1e4, np.inf])
    for x in (big, -big):
        sig = apply("sigmoid", x, flags)
        assert np.all(np.abs(apply("tanh", x, flags) - np.sign(x)) <= 5e-7)
        assert np.all(np.abs(sig - (x > 0)) <= 5e-7)
        assert np.all((sig >= 0) & (sig <= 1))
    np.testing.assert_array_equal(apply("exp", dtype([np.inf, 1e4]), flags), [np.inf, np.inf])
    assert np.all(apply("exp", dtype([-1e4, -np.inf]), flags) <= 2e-38)
    assert np.all(apply("exp", dtype([-1e4, -np.inf]), flags) >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_saturates_exactly_plain(dtype) -> None:
    x = dtype([100.0, -100.0, 1e30, -np.inf])
    np.testing.assert_array_equal(apply("tanh", x, "plain"), np.sign(x))
    assert apply("sigmoid", dtype([-1000.0]), "plain")[0] == 0.0


def test_tanh_saturates_exactly_with_kernel_flags() -> None:
    x = np.float32([100.0, -100.0])
    np.testing.assert_array_equal(apply("tanh", x, "kernel-flags"), [1.0, -1.0])
    assert apply("sigmoid", np.float32([-100.0]), "kernel-flags")[0] == 0.0


@pytest.mark.parametrize("flags", list(APPLIERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "exp"])
def test_nan_propagates(name: str, dtype, flags: str) -> None:
    got = apply(name, dtype([np.nan, 0.5, -np.nan]), flags)
    assert np.isnan(got[0]) and np.isnan(got[2])
    assert np.isfinite(got[1])
