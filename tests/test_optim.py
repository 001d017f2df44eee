"""Optimizers against slow NumPy references of their published update rules (and torch.optim
where PyTorch is installed), clipping, state round trips, and the learning-rate schedules."""

import math

import numpy as np
import pytest

from rnngen.training.optim import OPTIMIZERS, clip_scale, grad_norm, make_optimizer
from rnngen.training.schedule import Schedule


def reference_run(name, p, grads, lr, wd, momentum=0.0):
    """The update rules as PyTorch documents them, float64, one step per gradient."""
    p = p.copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if name != "adamw":
            g = g + wd * p
        if name in ("adam", "adamw"):
            if name == "adamw":
                p = p * (1 - lr * wd)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            p = p - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        elif name == "sgd":
            if momentum:
                m = momentum * m + g if t > 1 else g.copy()
                g = m
            p = p - lr * g
        elif name == "rmsprop":
            v = 0.99 * v + 0.01 * g * g
            p = p - lr * g / (np.sqrt(v) + 1e-8)
        elif name == "adagrad":
            v = v + g * g
            p = p - lr * g / (np.sqrt(v) + 1e-10)
    return p


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_optimizer_matches_reference(name, wd) -> None:
    rng = np.random.default_rng(4)
    p0 = rng.normal(size=50)
    grads = [rng.normal(size=50) for _ in range(5)]
    lr = 0.05
    opt = make_optimizer(name, 50, lr, weight_decay=wd, dtype=np.float64)
    p = p0.copy()
    for g in grads:
        opt.step(p, g.copy())
    np.testing.assert_allclose(p, reference_run(name, p0, grads, lr, wd), rtol=1e-12, atol=1e-14)
    assert not np.allclose(p, p0)


def test_sgd_momentum_matches_reference() -> None:
    rng = np.random.default_rng(5)
    p0 = rng.normal(size=20)
    grads = [rng.normal(size=20) for _ in range(4)]
    opt = make_optimizer("sgd", 20, 0.1, momentum=0.9, dtype=np.float64)
    p = p0.copy()
    for g in grads:
        opt.step(p, g.copy())
    want = reference_run("sgd", p0, grads, 0.1, 0.0, momentum=0.9)
    np.testing.assert_allclose(p, want, rtol=1e-12)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_matches_torch(name) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    p0 = rng.normal(size=30)
    grads = [rng.normal(size=30) for _ in range(4)]
    tp = torch.tensor(p0.copy(), requires_grad=True)
    cls = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "sgd": torch.optim.SGD,
        "rmsprop": torch.optim.RMSprop,
        "adagrad": torch.optim.Adagrad,
    }[name]
    kwargs = {"lr": 0.03, "weight_decay": 0.05}
    if name == "adagrad":
        kwargs["eps"] = 1e-10
    topt = cls([tp], **kwargs)
    opt = make_optimizer(name, 30, 0.03, weight_decay=0.05, dtype=np.float64)
    p = p0.copy()
    for g in grads:
        tp.grad = torch.tensor(g)
        topt.step()
        opt.step(p, g.copy())
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_clipping_scales_to_the_norm_and_reports_it() -> None:
    g = np.array([3.0, 4.0])
    assert grad_norm(g) == 5.0
    assert clip_scale(5.0, 1.0) == 0.2 and clip_scale(5.0, 10.0) == 1.0 and clip_scale(5.0, 0) == 1
    opt = make_optimizer("sgd", 2, 1.0, dtype=np.float64)
    p = np.zeros(2)
    assert opt.step(p, g.copy(), clip=1.0) == 5.0
    np.testing.assert_allclose(p, [-0.6, -0.8])  # the clipped gradient, norm 1
    p = np.zeros(2)
    opt.step(p, g.copy(), clip=1.0, lr=0.5)  # the schedule's rate overrides the base rate
    np.testing.assert_allclose(p, [-0.3, -0.4])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_round_trip_continues_identically(name) -> None:
    rng = np.random.default_rng(8)
    grads = [rng.normal(size=12).astype(np.float32) for _ in range(6)]
    a = make_optimizer(name, 12, 0.01, momentum=0.5 if name == "sgd" else 0.0)
    pa = np.ones(12, np.float32)
    for g in grads[:3]:
        a.step(pa, g.copy())
    b = make_optimizer(name, 12, 0.01, momentum=0.5 if name == "sgd" else 0.0)
    b.load_state({k: v.copy() for k, v in a.state_arrays().items()}, a.state_info())
    pb = pa.copy()
    for g in grads[3:]:
        a.step(pa, g.copy())
        b.step(pb, g.copy())
    np.testing.assert_array_equal(pa, pb)


def test_unknown_optimizer_is_refused() -> None:
    with pytest.raises(ValueError, match="sgd"):
        make_optimizer("lbfgs", 3, 0.1)


# ---------------------------------------------------------------------------------------------
# schedules


def test_step_schedule_is_zaremba() -> None:
    """lr 1 for four epochs, then halved every epoch (Zaremba et al. 2014, small config)."""
    s = Schedule("step", 1.0, decay=0.5, decay_after=4)
    rates = [s.rate(0, e + 0.5, 0.0) for e in range(8)]
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125, 0.0625]
    assert s.rate(0, 3.999, 0.0) == 1.0 and s.rate(0, 4.0, 0.0) == 0.5


def test_plateau_schedule_decays_on_no_improvement_and_keeps_state() -> None:
    s = Schedule("plateau", 20.0, decay=0.25)
    assert not s.evaluated(improved=True) and s.rate(100, 1.0, 0.5) == 20.0
    assert s.evaluated(improved=False) and s.rate(100, 1.0, 0.5) == 5.0
    t = Schedule("plateau", 20.0, decay=0.25)
    t.load_state(s.state())
    assert t.rate(7, 2.0, 0.9) == 5.0


def test_cosine_schedule_with_warmup() -> None:
    s = Schedule("cosine", 1.0, warmup=10, min_lr=0.1)
    assert s.rate(0, 0, 0.0) == pytest.approx(0.1)
    assert s.rate(4, 0, 0.0) == pytest.approx(0.5)
    assert s.rate(10, 0, 0.0) == pytest.approx(1.0)
    assert s.rate(50, 0, 0.5) == pytest.approx(0.1 + 0.45)
    assert s.rate(99, 0, 1.0) == pytest.approx(0.1)
    assert s.rate(99, 0, 2.0) == pytest.approx(0.1)  # past the end: stays at min_lr
    rates = [s.rate(10 + i, 0, i / 100) for i in range(101)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_constant_schedule_and_warmup() -> None:
    s = Schedule("constant", 0.002, warmup=4)
    assert [s.rate(i, 0, 0) for i in range(6)] == pytest.approx(
        [0.0005, 0.001, 0.0015, 0.002, 0.002, 0.002]
    )
    assert not s.evaluated(improved=False)  # only plateau reacts to evaluations
    assert math.isclose(s.rate(100, 9, 0.9), 0.002)
    with pytest.raises(ValueError, match="cosine"):
        Schedule("linear")
