"""``rnngen.nn.lm.LMNetwork`` end to end: embedding through the loss.

Gradients against central finite differences of the model's own loss (float64 model) and against
the slow NumPy reference (loss, final state and every named gradient); float32 against float64 on
the same weights; truncated-BPTT state carrying; seeded initialisation.
"""

from dataclasses import dataclass

import numpy as np
import pytest
import reference as ref

from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import LMNetwork, State, param_shapes


@dataclass(frozen=True)
class Case:
    V: int
    E: int
    H: int
    L: int
    T: int
    B: int

    @property
    def cfg(self) -> ModelConfig:
        return ModelConfig(vocab_size=self.V, embed=self.E, hidden=self.H, layers=self.L)


SMALL_CASES = [
    pytest.param(Case(V=5, E=3, H=4, L=1, T=3, B=2), id="L1-V5-E3-H4-T3-B2"),
    pytest.param(Case(V=6, E=3, H=5, L=2, T=4, B=3), id="L2-V6-E3-H5-T4-B3"),
    pytest.param(Case(V=4, E=6, H=2, L=2, T=1, B=1), id="L2-V4-E6-H2-T1-B1"),
]


def make_model(case: Case, dtype, rng: np.random.Generator, parts: int = 1) -> LMNetwork:
    """Seeded weights, with every bias randomised too (init leaves them 0 and 1)."""
    model = LMNetwork(case.cfg, dtype, parts=parts)
    model.init_weights(rng)
    for name, view in model.params.views.items():
        if name.endswith(".b"):
            view += rng.uniform(-0.5, 0.5, view.shape)
    return model


def make_batch(case: Case, rng: np.random.Generator, T: int | None = None):
    T = case.T if T is None else T
    tokens = rng.integers(0, case.V, (T + 1, case.B))
    return tokens[:-1].copy(), tokens[1:].copy()


def make_state(case: Case, dtype, rng: np.random.Generator) -> State:
    """A nonzero carried state, as after some earlier batch."""
    shape = (case.L, case.B, case.H)
    h, c = rng.uniform(-0.8, 0.8, shape).astype(dtype), rng.normal(0, 1, shape).astype(dtype)
    return State(("h", "c"), (h, c))


def copy_weights(src: LMNetwork, dst: LMNetwork) -> None:
    dst.params.flat[...] = src.params.flat


# ---------------------------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("case", SMALL_CASES)
@pytest.mark.parametrize("parts", [1, 2])
def test_gradients_match_finite_differences(case: Case, parts: int, numerics_rng) -> None:
    model = make_model(case, np.float64, numerics_rng, parts)
    inputs, targets = make_batch(case, numerics_rng)
    state0 = make_state(case, np.float64, numerics_rng)

    def loss() -> float:
        return model.forward_backward(inputs, targets, state0.copy())

    loss()
    analytic = {name: g.copy() for name, g in model.grads.views.items()}
    assert set(analytic) == set(param_shapes(case.cfg))
    for name, x in model.params.views.items():
        idx = ref.sample_indices(x.size, numerics_rng, 150)
        numeric = ref.numerical_grad(loss, x, idx)
        got = analytic[name].reshape(-1)[idx]
        assert np.abs(got).max() > 1e-5, name  # not vacuous: some gradient is far above atol
        np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize(
    "case",
    [
        *SMALL_CASES,
        pytest.param(Case(V=11, E=7, H=9, L=2, T=6, B=5), id="L2-V11-E7-H9-T6-B5"),
        pytest.param(Case(V=9, E=8, H=5, L=3, T=5, B=4), id="L3-V9-E8-H5-T5-B4"),
    ],
)
@pytest.mark.parametrize("parts", [1, 2, 8])  # 8 > B: the model clamps parts to B
def test_forward_backward_matches_reference(case: Case, parts: int, numerics_rng) -> None:
    model = make_model(case, np.float64, numerics_rng, parts)
    inputs, targets = make_batch(case, numerics_rng)
    state = make_state(case, np.float64, numerics_rng)
    want_loss, want_grads, want_h, want_c = ref.lm_forward_backward(
        model.params.views, case.L, inputs, targets, state.h, state["c"]
    )
    loss = model.forward_backward(inputs, targets, state)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(state.h, want_h, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(state["c"], want_c, rtol=1e-10, atol=1e-13)
    assert set(want_grads) == set(model.grads.views)
    for name, want in want_grads.items():
        np.testing.assert_allclose(model.grads[name], want, rtol=1e-9, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("case", SMALL_CASES)
def test_loss_sum_matches_forward_backward(case: Case, numerics_rng) -> None:
    model = make_model(case, np.float64, numerics_rng)
    inputs, targets = make_batch(case, numerics_rng)
    s1 = make_state(case, np.float64, numerics_rng)
    s2 = s1.copy()
    total = model.loss_sum(inputs, targets, s1)
    mean = model.forward_backward(inputs, targets, s2)
    np.testing.assert_allclose(total, mean * case.T * case.B, rtol=1e-13)
    np.testing.assert_array_equal(s1.h, s2.h)
    np.testing.assert_array_equal(s1["c"], s2["c"])


def test_grads_are_overwritten_not_accumulated(numerics_rng) -> None:
    case = Case(V=6, E=3, H=5, L=2, T=4, B=3)
    model = make_model(case, np.float64, numerics_rng)
    inputs, targets = make_batch(case, numerics_rng)
    state = make_state(case, np.float64, numerics_rng)
    model.grads.flat[...] = 123.0  # stale values from "a previous step"
    model.forward_backward(inputs, targets, state.copy())
    first = model.grads.flat.copy()
    model.forward_backward(inputs, targets, state.copy())
    np.testing.assert_array_equal(model.grads.flat, first)
    assert not np.any(first == 123.0)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(Case(V=40, E=24, H=64, L=2, T=16, B=8), id="L2-V40-E24-H64-T16-B8"),
        pytest.param(Case(V=17, E=9, H=20, L=2, T=7, B=13), id="L2-V17-E9-H20-T7-B13"),
    ],
)
def test_float32_agrees_with_float64_on_same_weights(case: Case, numerics_rng) -> None:
    m64 = make_model(case, np.float64, numerics_rng, parts=2)
    m32 = LMNetwork(case.cfg, np.float32, parts=2)
    copy_weights(m64, m32)
    m64.params.flat[...] = m32.params.flat  # exactly the float32-representable weights
    inputs, targets = make_batch(case, numerics_rng)
    s64 = make_state(case, np.float64, numerics_rng)
    s32 = s64.astype(np.float32)
    s64 = s32.astype(np.float64)

    loss64 = m64.forward_backward(inputs, targets, s64)
    loss32 = m32.forward_backward(inputs, targets, s32)
    assert m32.grads.flat.dtype == np.float32
    np.testing.assert_allclose(loss32, loss64, rtol=1e-5)
    np.testing.assert_allclose(s32.h, s64.h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s32["c"], s64["c"], rtol=1e-4, atol=1e-5)
    for name, g64 in m64.grads.views.items():
        g32 = m32.grads[name]
        scale = np.abs(g64).max()
        assert scale > 0, name
        np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-3 * scale, err_msg=name)
        rel = np.linalg.norm(g32 - g64) / np.linalg.norm(g64)
        assert rel < 1e-4, f"{name}: relative error {rel:.2e}"


# ---------------------------------------------------------------------------------------------
# state carrying and parts


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("L", [1, 2])
def test_carried_state_makes_split_batches_exact(dtype, L: int, numerics_rng) -> None:
    case = Case(V=7, E=5, H=6, L=L, T=5, B=3)
    model = make_model(case, dtype, numerics_rng)
    inputs, targets = make_batch(case, numerics_rng, T=2 * case.T)
    start = make_state(case, dtype, numerics_rng)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    T = case.T

    whole = start.copy()
    total = model.loss_sum(inputs, targets, whole)
    halves = start.copy()
    parts = model.loss_sum(inputs[:T], targets[:T], halves)
    parts += model.loss_sum(inputs[T:], targets[T:], halves)
    np.testing.assert_allclose(parts, total, rtol=rtol)
    np.testing.assert_allclose(halves.h, whole.h, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(halves["c"], whole["c"], rtol=rtol, atol=rtol)
    assert not np.allclose(whole.h, start.h)  # the state really moved

    # the training path carries the state the same way
    fb = start.copy()
    mean = model.forward_backward(inputs[:T], targets[:T], fb)
    mean += model.forward_backward(inputs[T:], targets[T:], fb)
    np.testing.assert_allclose(mean / 2, total / (2 * T * case.B), rtol=rtol)
    np.testing.assert_allclose(fb.h, whole.h, rtol=rtol, atol=rtol)

    # and starting from zeros is not the same as starting from the carried state
    cold = model.loss_sum(inputs[T:], targets[T:], State.zeros(case.cfg, case.B, dtype))
    warm = model.loss_sum(inputs[T:], targets[T:], start.copy())
    assert abs(cold - warm) > 1e-6


@pytest.mark.parametrize(("B", "parts"), [(1, 2), (2, 3), (3, 16)])
def test_parts_above_batch_are_clamped(B: int, parts: int, numerics_rng) -> None:
    case = Case(V=5, E=3, H=4, L=2, T=3, B=B)
    one = make_model(case, np.float64, numerics_rng, parts=1)
    many = LMNetwork(case.cfg, np.float64, parts=parts)
    copy_weights(one, many)
    inputs, targets = make_batch(case, numerics_rng)
    state = make_state(case, np.float64, numerics_rng)
    s1, s2 = state.copy(), state.copy()
    np.testing.assert_allclose(
        many.forward_backward(inputs, targets, s2),
        one.forward_backward(inputs, targets, s1),
        rtol=1e-13,
    )
    np.testing.assert_allclose(many.grads.flat, one.grads.flat, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(s2.h, s1.h, rtol=1e-12, atol=1e-15)
    assert np.isfinite(many.loss_sum(inputs, targets, state.copy()))


# ---------------------------------------------------------------------------------------------
# parameters and initialisation


@pytest.mark.parametrize("L", [1, 3])
def test_init_weights_is_seeded_and_biases_are_forget_one(L: int) -> None:
    cfg = ModelConfig(vocab_size=13, embed=6, hidden=8, layers=L)
    H = cfg.hidden
    a, b, c = (LMNetwork(cfg, np.float32) for _ in range(3))
    a.init_weights(np.random.default_rng(7))
    b.init_weights(np.random.default_rng(7))
    c.init_weights(np.random.default_rng(8))
    np.testing.assert_array_equal(a.params.flat, b.params.flat)
    assert not np.array_equal(a.params.flat, c.params.flat)
    for k in range(L):
        bias = a.params[f"lstm{k}.b"]
        np.testing.assert_array_equal(bias[H : 2 * H], 1.0)  # forget gate block
        np.testing.assert_array_equal(bias[:H], 0.0)  # input gate
        np.testing.assert_array_equal(bias[2 * H :], 0.0)  # cell candidate and output gate
    k = 1.0 / np.sqrt(H)
    for name, view in a.params.views.items():
        if name != "embed" and not name.endswith(".b"):
            assert np.abs(view).max() <= k and np.abs(view).std() > k / 4, name
    assert a.params["embed"].std() > 0.5  # N(0, 1)


def test_flat_params_views_cover_the_buffer() -> None:
    cfg = ModelConfig(vocab_size=10, embed=4, hidden=3, layers=2)
    model = LMNetwork(cfg, np.float64)
    shapes = param_shapes(cfg)
    for fp in (model.params, model.grads):
        assert fp.flat.size == sum(int(np.prod(s)) for s in shapes.values())
        fp.flat[...] = np.arange(fp.flat.size)
        seen = np.concatenate([fp[name].reshape(-1) for name in shapes])
        np.testing.assert_array_equal(seen, np.arange(fp.flat.size))  # in order, no gaps
        for name, shape in shapes.items():
            assert fp[name].shape == shape and fp[name].flags.c_contiguous, name
            assert np.shares_memory(fp[name], fp.flat), name
    assert model.params["lstm0.W_ih"].shape == (4, 12)  # E inputs into layer 0
    assert model.params["lstm1.W_ih"].shape == (3, 12)  # H inputs above
