"""GRU and Elman RNN kernels against finite differences (float64), the NumPy reference and PyTorch.

Kinds: ``gru`` (``gru_forward`` / ``gru_backward``), ``tanh`` and ``relu`` (``rnn_forward`` /
``rnn_backward``). The backward is checked through the scalar objective

    J = sum(Rh * h_1..h_T) + sum(rh * h_T)

whose gradients are exactly what the kernels return for dhs = Rh and incoming dh = rh:
dJ/dxp = dGx (GRU) or dG (RNN), dJ/dW_hh = hs[:T]^T dGh (or dG), dJ/db_hh = sum dGh, and the
outgoing dh = dJ/dh0. Float32 runs the packed micro-kernel of ``rnngen.kernels.gemm``; its shapes
cover partial 64-column panels (H = 70, 3H = 210) and 1 to 7 rows per batch range.
"""

from dataclasses import dataclass

import numpy as np
import pytest
import reference as ref
import reference_cells as refc
from cellkernels import gru_backward, gru_forward, rnn_backward, rnn_forward

KINDS = ["gru", "tanh", "relu"]
WRT = {
    "gru": ["xp", "W_hh", "b_hh", "h0"],
    "tanh": ["xp", "W_hh", "h0"],
    "relu": ["xp", "W_hh", "h0"],
}
SHAPES = [(1, 1, 1), (1, 3, 5), (4, 1, 3), (7, 5, 6), (5, 4, 9)]  # (T, B, H)
PARTS = [1, 2]  # with B = 1, parts = 2 > B (the kernels cap it)
FD_LIMIT = 120  # finite-difference every entry of tensors up to this size, else a random sample
RTOL, ATOL = 1e-5, 1e-7  # finite differences in float64, eps = 1e-6


# ---------------------------------------------------------------------------------------------
# helpers: one case, the kernels run on it, the reference run on it


@dataclass
class Case:
    kind: str
    xp: np.ndarray  # (T, B, G), G = 3H for the GRU, H for the RNN
    W_hh: np.ndarray  # (H, G)
    b_hh: np.ndarray | None  # (G,) GRU only
    h0: np.ndarray  # (B, H)
    Rh: np.ndarray  # (T, B, H) dJ/dh_t from above
    rh: np.ndarray  # (B, H) extra dJ/dh_T

    @property
    def relu(self) -> bool:
        return self.kind == "relu"

    def astype(self, dtype) -> "Case":
        arrays = {
            k: None if v is None else np.ascontiguousarray(v, dtype)
            for k, v in vars(self).items()
            if k != "kind"
        }
        return Case(self.kind, **arrays)


def make_case(kind: str, T: int, B: int, H: int, rng: np.random.Generator) -> Case:
    """Pre-activations of order one, so every gate is in its curved range, not saturated.

    ReLU pre-activations lean positive, so that small cases keep live units at every step.
    """
    G = 3 * H if kind == "gru" else H
    return Case(
        kind=kind,
        xp=rng.normal(0.5 if kind == "relu" else 0.0, 1.0, (T, B, G)),
        W_hh=rng.normal(0.0, 1.0 / np.sqrt(H), (H, G)),
        b_hh=rng.normal(0.0, 0.5, G) if kind == "gru" else None,
        h0=rng.uniform(-0.9, 0.9, (B, H)),
        Rh=rng.normal(0.0, 1.0, (T, B, H)),
        rh=rng.normal(0.0, 1.0, (B, H)),
    )


def run_forward(c: Case, parts: int, xin=None, xrow=None, b_in=None) -> dict[str, np.ndarray]:
    """The kernel's forward on c.xp: by default rows t*B + b of xp with a zero input bias (the
    bias and indexed rows: ``test_bias_and_rows_by_index``)."""
    T, B, G = c.xp.shape
    H, dt = c.h0.shape[1], c.xp.dtype
    if xin is None:
        xin, xrow = c.xp.reshape(T * B, G), np.arange(T * B).reshape(T, B)
        b_in = np.zeros(G, dt)
    hs = np.full((T + 1, B, H), np.nan, dt)
    if c.kind != "gru":
        rnn_forward(xin, xrow, b_in, c.W_hh, c.h0, hs, c.relu, parts)
        return {"hs": hs}
    acts = np.full((T, B, G), np.nan, dt)
    hns = np.full((T, B, H), np.nan, dt)
    gru_forward(xin, xrow, b_in, c.W_hh, c.b_hh, c.h0, hs, acts, hns, parts)
    return {"hs": hs, "acts": acts, "hns": hns}


def run_backward(c: Case, fwd: dict[str, np.ndarray], parts: int) -> dict[str, np.ndarray]:
    """Gradients; "db_rows" (B, G) are the kernel's per-row sums of dxp (the input bias gradient
    of each batch row) and, for the GRU, "db_hh" built from them and the per-row n-block sums."""
    T, B, G = c.xp.shape
    H = c.h0.shape[1]
    dh = c.rh.copy()
    hs = fwd["hs"]
    dGx = np.full((T, B, G), np.nan, c.xp.dtype)
    db_in = np.full((B, G), np.nan, c.xp.dtype)
    if c.kind != "gru":
        rnn_backward(dGx, c.Rh, c.W_hh, hs, dh, db_in, c.relu, parts)
        dGh = dGx
    else:
        dGh = np.full((T, B, G), np.nan, c.xp.dtype)
        dbn = np.full((B, H), np.nan, c.xp.dtype)
        gru_backward(dGx, dGh, c.Rh, c.W_hh, fwd["acts"], fwd["hns"], hs, dh, db_in, dbn, parts)
    flat = dGh.reshape(T * B, G)
    out = {"dxp": dGx, "dW_hh": hs[:T].reshape(T * B, H).T @ flat, "dh0": dh, "db_rows": db_in}
    if c.kind == "gru":
        # r and z blocks: the input side's sums; n block: the kernel's own sums of dGh
        out["dgh"], out["db_hh"] = (
            dGh,
            np.concatenate([db_in.sum(axis=0)[: 2 * H], dbn.sum(axis=0)]),
        )
    return out


def ref_forward(c: Case) -> dict[str, np.ndarray]:
    if c.kind == "gru":
        return refc.gru_forward(c.xp, c.W_hh, c.b_hh, c.h0)
    return {"hs": refc.rnn_forward(c.xp, c.W_hh, c.h0, c.relu)}


def ref_backward(c: Case, fwd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if c.kind == "gru":
        want = refc.gru_backward(c.Rh, c.W_hh, fwd, c.rh)
    else:
        want = refc.rnn_backward(c.Rh, c.W_hh, fwd["hs"], c.relu, c.rh)
    want["db_rows"] = want["dxp"].sum(axis=0)  # the bias enters every step's pre-activations
    return want


def objective(c: Case, parts: int) -> float:
    """J = sum(Rh * h_1..h_T) + sum(rh * h_T), computed by the kernel's forward."""
    hs = run_forward(c, parts)["hs"]
    return float(np.sum(c.Rh * hs[1:]) + np.sum(c.rh * hs[-1]))


PARAMS = [
    pytest.param(kind, T, B, H, parts, id=f"{kind}-T{T}-B{B}-H{H}-parts{parts}")
    for kind in KINDS
    for T, B, H in SHAPES
    for parts in PARTS
]


# ---------------------------------------------------------------------------------------------
# float64: kernel vs reference (tight) and vs finite differences


@pytest.mark.parametrize(("kind", "T", "B", "H", "parts"), PARAMS)
def test_forward_matches_reference(kind, T, B, H, parts, numerics_rng) -> None:
    c = make_case(kind, T, B, H, numerics_rng)
    got, want = run_forward(c, parts), ref_forward(c)
    assert got.keys() == want.keys()
    for name in got:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize(("kind", "T", "B", "H", "parts"), PARAMS)
def test_backward_matches_reference(kind, T, B, H, parts, numerics_rng) -> None:
    c = make_case(kind, T, B, H, numerics_rng)
    got = run_backward(c, run_forward(c, parts), parts)
    want = ref_backward(c, ref_forward(c))
    assert got.keys() == want.keys()
    for name in got:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)


FD_PARAMS = [
    pytest.param(kind, T, B, H, parts, wrt, id=f"{kind}-T{T}-B{B}-H{H}-parts{parts}-{wrt}")
    for kind in KINDS
    for T, B, H in SHAPES
    for parts in PARTS
    for wrt in WRT[kind]
]


@pytest.mark.parametrize(("kind", "T", "B", "H", "parts", "wrt"), FD_PARAMS)
def test_backward_matches_finite_differences(kind, T, B, H, parts, wrt, numerics_rng) -> None:
    c = make_case(kind, T, B, H, numerics_rng)
    analytic = run_backward(c, run_forward(c, parts), parts)["d" + wrt].reshape(-1)
    x = getattr(c, wrt)
    idx = ref.sample_indices(x.size, numerics_rng, FD_LIMIT)
    numeric = ref.numerical_grad(lambda: objective(c, parts), x, idx)
    assert np.abs(analytic[idx]).max() > 100 * ATOL  # the comparison below is not vacuous
    np.testing.assert_allclose(analytic[idx], numeric, rtol=RTOL, atol=ATOL)


def test_relu_and_tanh_differ(numerics_rng) -> None:
    """The runtime flag reaches both loops: ReLU outputs are >= 0 with exact zeros, tanh's not."""
    c = make_case("relu", 4, 3, 8, numerics_rng)
    hs_relu = run_forward(c, 2)["hs"][1:]
    c.kind = "tanh"
    hs_tanh = run_forward(c, 2)["hs"][1:]
    assert hs_relu.min() == 0.0 and (hs_relu == 0.0).sum() > 5 and hs_relu.max() > 1.0
    assert hs_tanh.min() < 0.0 and np.abs(hs_tanh).max() < 1.0


# ---------------------------------------------------------------------------------------------
# float32: the packed micro-kernel


# (T, B, H): 1 to 7 rows per range with parts 1 and 2; H = 70 gives partial panels in both
# directions (3H = 210 forward, 70 backward), H = 64 whole ones (192 and 64)
F32_SHAPES = [
    (1, 1, 1),
    (3, 7, 5),
    (2, 6, 70),
    (4, 13, 20),
    (3, 5, 70),
    (2, 14, 70),
    (5, 4, 9),
    (6, 8, 64),
]
F32_PARAMS = [
    pytest.param(kind, T, B, H, parts, id=f"{kind}-T{T}-B{B}-H{H}-parts{parts}")
    for kind in KINDS
    for T, B, H in F32_SHAPES
    for parts in PARTS
]


@pytest.mark.parametrize(("kind", "T", "B", "H", "parts"), F32_PARAMS)
def test_float32_close_to_reference(kind, T, B, H, parts, numerics_rng) -> None:
    c32 = make_case(kind, T, B, H, numerics_rng).astype(np.float32)
    c64 = c32.astype(np.float64)  # the same numbers: only the kernel's arithmetic differs
    f = run_forward(c32, parts)
    b = run_backward(c32, f, parts)
    want_f = ref_forward(c64)
    want_b = ref_backward(c64, want_f)
    assert f["hs"].dtype == np.float32 and b["dxp"].dtype == np.float32
    for name in want_f:
        scale = max(1.0, np.abs(want_f[name]).max())
        np.testing.assert_allclose(
            f[name], want_f[name], rtol=1e-5, atol=2e-6 * scale, err_msg=name
        )
    for name in want_b:
        scale = np.abs(want_b[name]).max()
        np.testing.assert_allclose(
            b[name], want_b[name], rtol=1e-4, atol=1e-5 * scale, err_msg=name
        )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("T", "B", "H"), [(1, 2, 3), (6, 7, 5), (3, 9, 70)])
def test_parts_do_not_change_results(kind, T, B, H, numerics_rng) -> None:
    c = make_case(kind, T, B, H, numerics_rng).astype(np.float32)
    f1 = run_forward(c, 1)
    b1 = run_backward(c, f1, 1)
    for parts in range(2, B + 2):  # up to parts > B
        fp = run_forward(c, parts)
        bp = run_backward(c, fp, parts)
        for name in f1:
            np.testing.assert_allclose(fp[name], f1[name], rtol=1e-6, atol=1e-7, err_msg=name)
        for name in b1:
            np.testing.assert_allclose(bp[name], b1[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("T", "B", "H", "parts"), [(5, 4, 9, 2), (3, 7, 20, 2), (4, 3, 6, 1)])
def test_bias_and_rows_by_index(kind, T, B, H, parts, dtype, numerics_rng) -> None:
    """Input rows read from a (V, G) table by token, plus an input bias, equal the reference on
    xp = table[tokens] + bias, forward and backward; the backward's per-row sums are the bias
    gradient of each batch row."""
    V = 6
    c = make_case(kind, T, B, H, numerics_rng)
    G = c.xp.shape[2]
    table = numerics_rng.normal(0.0, 1.0, (V, G))
    bias = numerics_rng.normal(0.0, 0.5, G)
    tokens = numerics_rng.integers(0, V, (T, B))
    c.xp = table[tokens] + bias
    want_f = ref_forward(c)
    want_b = ref_backward(c, want_f)

    cd = c.astype(dtype)
    got_f = run_forward(cd, parts, table.astype(dtype), tokens, bias.astype(dtype))
    got_b = run_backward(cd, got_f, parts)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for name in want_f:
        np.testing.assert_allclose(got_f[name], want_f[name], err_msg=name, **tol)
    for name in want_b:
        np.testing.assert_allclose(got_b[name], want_b[name], err_msg=name, **tol)
    assert np.abs(want_b["db_rows"]).max() > 0.1  # not vacuous


@pytest.mark.parametrize("kind", KINDS)
def test_bias_gradients_are_the_same_bit_for_bit_whatever_the_parts(kind, numerics_rng) -> None:
    """Threads must not change a trained model: the per-row sums do not depend on the split."""
    c = make_case(kind, 9, 8, 16, numerics_rng).astype(np.float32)
    want = run_backward(c, run_forward(c, 1), 1)
    for parts in (2, 3, 8):
        got = run_backward(c, run_forward(c, parts), parts)
        for name in want:
            if name != "dW_hh":  # a GEMM outside the kernel, not the kernel's own sums
                assert np.array_equal(got[name], want[name]), (parts, name)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_nan_propagates(kind, numerics_rng) -> None:
    H = 4
    c = make_case(kind, 3, 2, H, numerics_rng).astype(np.float32)
    c.xp[1, 0, 2 * H if kind == "gru" else 0] = (
        np.nan
    )  # unit 0 (n block for the GRU), row 0, step 1
    hs = run_forward(c, 2)["hs"]
    assert np.isnan(hs[2, 0, 0]) and np.all(np.isnan(hs[3, 0]))  # then every unit via W_hh
    assert np.all(np.isfinite(hs[:, 1]))  # row 1 never sees it


# ---------------------------------------------------------------------------------------------
# against PyTorch, weights copied (torch stores W_ih as (G, D), W_hh as (G, H): transposed)


TORCH_SHAPES = [(5, 3, 4, 7, 2), (3, 6, 5, 70, 2), (1, 1, 2, 3, 1)]  # (T, B, D, H, parts)


def _torch_run(torch, module, X, h0, Rh, rh, rng, dtype):
    """Random weights into ``module``; its outputs and gradients as float64 NumPy arrays."""
    module = module.to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for p in module.parameters():
            std = 1.0 / np.sqrt(p.shape[-1] if p.ndim == 2 else 4)  # order-one pre-activations
            p.copy_(torch.from_numpy(rng.normal(0.0, std, tuple(p.shape)).astype(dtype)))
    x = torch.tensor(X, requires_grad=True)
    h = torch.tensor(h0[None], requires_grad=True)
    out, hn = module(x, h)
    (torch.sum(torch.from_numpy(Rh) * out) + torch.sum(torch.from_numpy(rh) * hn[0])).backward()
    w = {name: p.detach().numpy().copy() for name, p in module.named_parameters()}
    g = {name: p.grad.numpy().copy() for name, p in module.named_parameters()}
    g["x"], g["h0"] = x.grad.numpy(), h.grad.numpy()[0]
    return w, g, out.detach().numpy(), hn.detach().numpy()[0]


def _inputs(T, B, D, H, rng, dtype):
    X = rng.normal(0.0, 1.0, (T, B, D)).astype(dtype)
    h0 = rng.uniform(-0.9, 0.9, (B, H)).astype(dtype)
    Rh = rng.normal(0.0, 1.0, (T, B, H)).astype(dtype)
    rh = rng.normal(0.0, 1.0, (B, H)).astype(dtype)
    return X, h0, Rh, rh


def _close(got, want, dtype) -> None:
    """Tight in float64; in float32 the kernels' approximate tanh/sigmoid and their own GEMM."""
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-4, 1e-5)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * max(1.0, np.abs(want).max()))


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("T", "B", "D", "H", "parts"), TORCH_SHAPES)
def test_gru_matches_torch(torch, T, B, D, H, parts, dtype, numerics_rng) -> None:
    X, h0, Rh, rh = _inputs(T, B, D, H, numerics_rng, dtype)
    w, g, out, hn = _torch_run(torch, torch.nn.GRU(D, H), X, h0, Rh, rh, numerics_rng, dtype)
    W_ih, W_hh = w["weight_ih_l0"].T.copy(), w["weight_hh_l0"].T.copy()  # (D, 3H), (H, 3H)
    xin = X.reshape(T * B, D) @ W_ih  # the kernel adds b_ih
    c = Case("gru", xin.reshape(T, B, 3 * H), W_hh, w["bias_hh_l0"], h0, Rh, rh)
    fwd = run_forward(c, parts, xin, np.arange(T * B).reshape(T, B), w["bias_ih_l0"])
    back = run_backward(c, fwd, parts)
    _close(fwd["hs"][1:], out, dtype)
    _close(fwd["hs"][-1], hn, dtype)
    dGx = back["dxp"].reshape(T * B, 3 * H)
    _close((X.reshape(T * B, D).T @ dGx).T, g["weight_ih_l0"], dtype)
    _close(back["db_rows"].sum(axis=0), g["bias_ih_l0"], dtype)
    _close(back["dW_hh"].T, g["weight_hh_l0"], dtype)
    _close(back["db_hh"], g["bias_hh_l0"], dtype)
    _close((dGx @ W_ih.T).reshape(T, B, D), g["x"], dtype)
    _close(back["dh0"], g["h0"], dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["tanh", "relu"])
@pytest.mark.parametrize(("T", "B", "D", "H", "parts"), TORCH_SHAPES)
def test_rnn_matches_torch(torch, T, B, D, H, parts, kind, dtype, numerics_rng) -> None:
    X, h0, Rh, rh = _inputs(T, B, D, H, numerics_rng, dtype)
    module = torch.nn.RNN(D, H, nonlinearity=kind)
    w, g, out, hn = _torch_run(torch, module, X, h0, Rh, rh, numerics_rng, dtype)
    W_ih, W_hh = w["weight_ih_l0"].T.copy(), w["weight_hh_l0"].T.copy()  # (D, H), (H, H)
    b = w["bias_ih_l0"] + w["bias_hh_l0"]  # the kernel's single bias
    xin = X.reshape(T * B, D) @ W_ih  # the kernel adds b
    c = Case(kind, xin.reshape(T, B, H), W_hh, None, h0, Rh, rh)
    fwd = run_forward(c, parts, xin, np.arange(T * B).reshape(T, B), b)
    back = run_backward(c, fwd, parts)
    if kind == "relu" and out.size > 20:
        assert (out == 0.0).any() and (out > 0.0).any()  # both sides of the kink are exercised
    _close(fwd["hs"][1:], out, dtype)
    _close(fwd["hs"][-1], hn, dtype)
    dG = back["dxp"].reshape(T * B, H)
    _close((X.reshape(T * B, D).T @ dG).T, g["weight_ih_l0"], dtype)
    db = back["db_rows"].sum(axis=0)
    _close(db, g["bias_ih_l0"], dtype)
    _close(db, g["bias_hh_l0"], dtype)
    _close(back["dW_hh"].T, g["weight_hh_l0"], dtype)
    _close((dG @ W_ih.T).reshape(T, B, D), g["x"], dtype)
    _close(back["dh0"], g["h0"], dtype)
