"""The jitted kernels against central finite differences (float64) and the slow NumPy reference.

LSTM: ``lstm_forward`` / ``lstm_backward`` over odd shapes, T = 1 and B = 1, with the batch split in
``parts`` ranges. The backward is checked through the scalar objective

    J = sum(Rh * h_1..h_T) + sum(rh * h_T) + sum(rc * c_T)

whose gradients are exactly what the kernel returns for dhs = Rh and incoming dh = rh, dc = rc:
dG = dJ/dxp, hs[:T]^T dG = dJ/dW_hh, and the outgoing dh, dc = dJ/dh0, dJ/dc0.
"""

from dataclasses import dataclass

import numpy as np
import pytest
import reference as ref
from cellkernels import lstm_backward, lstm_forward

from rnngen.kernels.loss import (
    embedding_backward,
    embedding_forward,
    softmax_xent,
    softmax_xent_loss,
)

LSTM_SHAPES = [(1, 1, 1), (1, 3, 5), (4, 1, 3), (7, 5, 6), (5, 4, 9)]  # (T, B, H)
FD_LIMIT = 120  # finite-difference every entry of tensors up to this size, else a random sample
RTOL, ATOL = 1e-5, 1e-7  # finite differences in float64, eps = 1e-6


# ---------------------------------------------------------------------------------------------
# LSTM helpers


@dataclass
class LSTMCase:
    xp: np.ndarray  # (T, B, 4H)
    W_hh: np.ndarray  # (H, 4H)
    h0: np.ndarray  # (B, H)
    c0: np.ndarray  # (B, H)
    Rh: np.ndarray  # (T, B, H) dJ/dh_t from above
    rh: np.ndarray  # (B, H) extra dJ/dh_T
    rc: np.ndarray  # (B, H) dJ/dc_T

    def astype(self, dtype) -> "LSTMCase":
        return LSTMCase(*(np.ascontiguousarray(a, dtype) for a in vars(self).values()))


def make_case(T: int, B: int, H: int, rng: np.random.Generator) -> LSTMCase:
    """Pre-activations of order one, so every gate is in its curved range, not saturated."""
    return LSTMCase(
        xp=rng.normal(0.0, 1.0, (T, B, 4 * H)),
        W_hh=rng.normal(0.0, 1.0 / np.sqrt(H), (H, 4 * H)),
        h0=rng.uniform(-0.9, 0.9, (B, H)),
        c0=rng.normal(0.0, 1.0, (B, H)),
        Rh=rng.normal(0.0, 1.0, (T, B, H)),
        rh=rng.normal(0.0, 1.0, (B, H)),
        rc=rng.normal(0.0, 1.0, (B, H)),
    )


def run_forward(c: LSTMCase, parts: int) -> dict[str, np.ndarray]:
    T, B, H4 = c.xp.shape
    H, dt = H4 // 4, c.xp.dtype
    out = {
        "hs": np.full((T + 1, B, H), np.nan, dt),
        "cs": np.full((T + 1, B, H), np.nan, dt),
        "acts": np.full((T, B, 4 * H), np.nan, dt),
        "tcs": np.full((T, B, H), np.nan, dt),
    }
    xin, xrow = c.xp.reshape(T * B, H4), np.arange(T * B).reshape(T, B)
    bias = np.zeros(H4, dt)  # the bias and indexed rows: test_lstm_bias_and_rows_by_index
    lstm_forward(
        xin, xrow, bias, c.W_hh, c.h0, c.c0, out["hs"], out["cs"], out["acts"], out["tcs"], parts
    )
    return out


def run_backward(c: LSTMCase, fwd: dict[str, np.ndarray], parts: int) -> dict[str, np.ndarray]:
    T, B, H4 = c.xp.shape
    H = H4 // 4
    dG = np.full((T, B, 4 * H), np.nan, c.xp.dtype)
    dh, dc = c.rh.copy(), c.rc.copy()
    db = np.full((B, 4 * H), np.nan, c.xp.dtype)  # per batch row: sum over t of dG
    lstm_backward(dG, c.Rh, c.W_hh, fwd["acts"], fwd["cs"], fwd["tcs"], dh, dc, db, parts)
    hs = fwd["hs"][:T].reshape(T * B, H)
    dW_hh = hs.T @ dG.reshape(T * B, 4 * H)
    return {"dxp": dG, "dW_hh": dW_hh, "dh0": dh, "dc0": dc, "db": db}


def objective(c: LSTMCase, parts: int) -> float:
    """J = sum(Rh * h_1..h_T) + sum(rh * h_T) + sum(rc * c_T), computed by the kernel's forward."""
    f = run_forward(c, parts)
    hs, cs = f["hs"], f["cs"]
    return float(np.sum(c.Rh * hs[1:]) + np.sum(c.rh * hs[-1]) + np.sum(c.rc * cs[-1]))


def parts_for(B: int) -> list[int]:
    return [p for p in (1, 2) if p <= B]


LSTM_PARAMS = [
    pytest.param(T, B, H, parts, id=f"T{T}-B{B}-H{H}-parts{parts}")
    for T, B, H in LSTM_SHAPES
    for parts in parts_for(B)
]


# ---------------------------------------------------------------------------------------------
# LSTM tests


@pytest.mark.parametrize(("T", "B", "H", "parts"), LSTM_PARAMS)
def test_lstm_forward_matches_reference(T, B, H, parts, numerics_rng) -> None:
    c = make_case(T, B, H, numerics_rng)
    got, want = run_forward(c, parts), ref.lstm_forward(c.xp, c.W_hh, c.h0, c.c0)
    for name in ("hs", "cs", "acts", "tcs"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize(("T", "B", "H", "parts"), LSTM_PARAMS)
def test_lstm_backward_matches_reference(T, B, H, parts, numerics_rng) -> None:
    c = make_case(T, B, H, numerics_rng)
    got = run_backward(c, run_forward(c, parts), parts)
    want = ref.lstm_backward(c.Rh, c.W_hh, ref.lstm_forward(c.xp, c.W_hh, c.h0, c.c0), c.rh, c.rc)
    for name in ("dxp", "dW_hh", "dh0", "dc0"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)
    want_db = want["dxp"].sum(axis=0)  # the bias enters every step's pre-activations
    np.testing.assert_allclose(got["db"], want_db, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("T", "B", "H", "parts"), LSTM_PARAMS)
@pytest.mark.parametrize("wrt", ["xp", "W_hh", "h0", "c0"])
def test_lstm_backward_matches_finite_differences(T, B, H, parts, wrt, numerics_rng) -> None:
    c = make_case(T, B, H, numerics_rng)
    analytic = run_backward(c, run_forward(c, parts), parts)["d" + wrt].reshape(-1)
    x = getattr(c, wrt)
    idx = ref.sample_indices(x.size, numerics_rng, FD_LIMIT)
    numeric = ref.numerical_grad(lambda: objective(c, parts), x, idx)
    assert np.abs(analytic[idx]).max() > 100 * ATOL  # the comparison below is not vacuous
    np.testing.assert_allclose(analytic[idx], numeric, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("T", "B", "H"), [(1, 2, 3), (6, 7, 5), (9, 8, 16)])
def test_lstm_parts_do_not_change_results(T, B, H, numerics_rng) -> None:
    c = make_case(T, B, H, numerics_rng).astype(np.float32)
    f1 = run_forward(c, 1)
    b1 = run_backward(c, f1, 1)
    for parts in range(2, B + 1):
        fp = run_forward(c, parts)
        bp = run_backward(c, fp, parts)
        for name in f1:
            np.testing.assert_allclose(fp[name], f1[name], rtol=1e-6, atol=1e-7, err_msg=name)
        for name in b1:
            np.testing.assert_allclose(bp[name], b1[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("T", "B", "H", "parts"), [(5, 4, 9, 2), (3, 7, 20, 2), (4, 3, 6, 1)])
def test_lstm_bias_and_rows_by_index(T, B, H, parts, dtype, numerics_rng) -> None:
    """Input rows read from a (V, 4H) table by token, plus a bias, equal the reference on
    xp = table[tokens] + bias, forward and backward; the backward's per-row sums are the bias
    gradient of each batch row."""
    V = 6
    c = make_case(T, B, H, numerics_rng)
    table = numerics_rng.normal(0.0, 1.0, (V, 4 * H))
    bias = numerics_rng.normal(0.0, 0.5, 4 * H)
    tokens = numerics_rng.integers(0, V, (T, B))
    c.xp = table[tokens] + bias
    want_f = ref.lstm_forward(c.xp, c.W_hh, c.h0, c.c0)
    want_b = ref.lstm_backward(c.Rh, c.W_hh, want_f, c.rh, c.rc)

    cd = c.astype(dtype)
    hs, cs = np.empty((T + 1, B, H), dtype), np.empty((T + 1, B, H), dtype)
    acts, tcs = np.empty((T, B, 4 * H), dtype), np.empty((T, B, H), dtype)
    h0, c0 = cd.h0.copy(), cd.c0.copy()
    lstm_forward(
        table.astype(dtype), tokens, bias.astype(dtype), cd.W_hh, h0, c0, hs, cs, acts, tcs, parts
    )
    dG, db = np.empty((T, B, 4 * H), dtype), np.empty((B, 4 * H), dtype)
    dh, dc = cd.rh.copy(), cd.rc.copy()
    lstm_backward(dG, cd.Rh, cd.W_hh, acts, cs, tcs, dh, dc, db, parts)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(hs, want_f["hs"], **tol)
    np.testing.assert_allclose(cs, want_f["cs"], **tol)
    np.testing.assert_allclose(dG, want_b["dxp"], **tol)
    np.testing.assert_allclose(db, want_b["dxp"].sum(axis=0), **tol)
    np.testing.assert_allclose(dh, want_b["dh0"], **tol)
    assert np.abs(want_b["dxp"]).max() > 0.1  # not vacuous


def test_lstm_bias_gradient_is_the_same_bit_for_bit_whatever_the_parts(numerics_rng) -> None:
    """Threads must not change a trained model: the per-row sums do not depend on the split."""
    c = make_case(9, 8, 16, numerics_rng).astype(np.float32)
    f = run_forward(c, 1)
    want = run_backward(c, f, 1)
    for parts in (2, 3, 8):
        got = run_backward(c, run_forward(c, parts), parts)
        for name in ("dxp", "db", "dh0", "dc0"):
            assert np.array_equal(got[name], want[name]), (parts, name)


# float32 runs its own packed GEMM (64-column panels, tiles of up to 6 rows): cover partial panels
# (4H not a multiple of 64, H = 65 for two panels in the backward) and partial row tiles.
F32_SHAPES = [(1, 1, 1), (5, 4, 9), (3, 7, 5), (4, 13, 20), (2, 6, 16), (16, 8, 64), (2, 9, 65)]


F32_PARAMS = [
    pytest.param(T, B, H, parts, id=f"T{T}-B{B}-H{H}-parts{parts}")
    for T, B, H in F32_SHAPES
    for parts in parts_for(B)
]


@pytest.mark.parametrize(("T", "B", "H", "parts"), F32_PARAMS)
def test_lstm_float32_close_to_reference(T, B, H, parts, numerics_rng) -> None:
    c = make_case(T, B, H, numerics_rng)
    f = run_forward(c.astype(np.float32), parts)
    b = run_backward(c.astype(np.float32), f, parts)
    want_f = ref.lstm_forward(c.xp, c.W_hh, c.h0, c.c0)
    want_b = ref.lstm_backward(c.Rh, c.W_hh, want_f, c.rh, c.rc)
    assert f["hs"].dtype == np.float32 and b["dxp"].dtype == np.float32
    for name in ("hs", "cs", "acts", "tcs"):
        np.testing.assert_allclose(f[name], want_f[name], rtol=1e-5, atol=2e-6, err_msg=name)
    for name in ("dxp", "dW_hh", "dh0", "dc0"):
        scale = np.abs(want_b[name]).max()
        np.testing.assert_allclose(b[name], want_b[name], rtol=1e-4, atol=1e-5 * scale)


def test_lstm_float32_nan_propagates(numerics_rng) -> None:
    c = make_case(3, 2, 4, numerics_rng).astype(np.float32)
    c.xp[1, 0, 2 * 4] = np.nan  # the g gate of unit 0, row 0, step 1
    f = run_forward(c, 2)
    assert np.isnan(f["hs"][2, 0, 0]) and np.isnan(f["cs"][3, 0, 0])
    assert np.all(np.isfinite(f["hs"][:, 1]))  # row 1 never sees it


# ---------------------------------------------------------------------------------------------
# softmax cross-entropy


XENT_SHAPES = [(1, 1), (1, 2), (3, 5), (7, 11), (16, 40)]  # (N, V)


def make_logits(N: int, V: int, rng: np.random.Generator, std: float = 2.0):
    return rng.normal(0.0, std, (N, V)), rng.integers(0, V, N)


@pytest.mark.parametrize(("N", "V"), XENT_SHAPES)
@pytest.mark.parametrize("scale", [1.0, 0.125])
@pytest.mark.parametrize("parts", [1, 3])
def test_softmax_xent_matches_reference(N, V, scale, parts, numerics_rng) -> None:
    z, y = make_logits(N, V, numerics_rng)
    want_loss, want_grad = ref.softmax_xent(z, y)
    logits = z.copy()
    loss = softmax_xent(logits, y, scale, 0.0, parts)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(logits, scale * want_grad, rtol=1e-12, atol=1e-15)
    # the loss is -log softmax(z)[y], written the obvious way
    obvious = -np.log(np.exp(z[np.arange(N), y]) / np.exp(z).sum(axis=1)).sum()
    np.testing.assert_allclose(loss, obvious, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("N", "V"), XENT_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_xent_loss_is_forward_only(N, V, dtype, numerics_rng) -> None:
    z, y = make_logits(N, V, numerics_rng)
    z = z.astype(dtype)
    before = z.copy()
    loss = softmax_xent_loss(z, y)
    np.testing.assert_array_equal(z, before)
    rtol = 1e-6 if dtype == np.float32 else 1e-12  # float32 sums may be reordered (reassoc)
    plain = softmax_xent(z.copy(), y, dtype(1.0), dtype(0.0), 2)
    np.testing.assert_allclose(loss, plain, rtol=rtol, atol=0)


@pytest.mark.parametrize(("N", "V"), XENT_SHAPES)
def test_softmax_xent_gradient_matches_finite_differences(N, V, numerics_rng) -> None:
    z, y = make_logits(N, V, numerics_rng)
    grad = z.copy()
    softmax_xent(grad, y, 1.0, 0.0, 2)
    idx = ref.sample_indices(z.size, numerics_rng, FD_LIMIT)
    numeric = ref.numerical_grad(lambda: softmax_xent_loss(z, y), z, idx)
    if V > 1:
        assert np.abs(grad).max() > 0.01
    np.testing.assert_allclose(grad.reshape(-1)[idx], numeric, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("N", "V"), XENT_SHAPES)
@pytest.mark.parametrize("eps", [0.1, 0.5])
def test_label_smoothing_matches_reference(N, V, eps, numerics_rng) -> None:
    """The smoothed gradient is scale (softmax - q), q = (1 - eps) onehot + eps / V; the kernel
    still returns the plain cross-entropy; the forward-only loss is the smoothed objective,
    -sum q log p, and the gradient matches its central differences."""
    z, y = make_logits(N, V, numerics_rng)
    want, want_grad = ref.smoothed_xent(z, y, eps)
    plain, _ = ref.softmax_xent(z, y)
    logits = z.copy()
    loss = softmax_xent(logits, y, 0.25, eps, 2)
    np.testing.assert_allclose(loss, plain, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(logits, 0.25 * want_grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(softmax_xent_loss(z, y, eps), want, rtol=1e-12, atol=1e-14)
    if V > 1:  # smoothing changes the objective unless every label is the only one
        assert abs(want - plain) > 1e-3
    grad = z.copy()
    softmax_xent(grad, y, 1.0, eps, 1)
    idx = ref.sample_indices(z.size, numerics_rng, FD_LIMIT)
    numeric = ref.numerical_grad(lambda: softmax_xent_loss(z, y, eps), z, idx)
    np.testing.assert_allclose(grad.reshape(-1)[idx], numeric, rtol=RTOL, atol=ATOL)


def test_label_smoothing_float32_agrees_with_float64(numerics_rng) -> None:
    z64, y = make_logits(32, 50, numerics_rng, 3.0)
    z32 = z64.astype(np.float32)
    g64, g32 = z32.astype(np.float64), z32.copy()
    softmax_xent(g64, y, 1.0 / 32, 0.1, 2)
    softmax_xent(g32, y, np.float32(1.0 / 32), np.float32(0.1), 2)
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-8)
    s64 = softmax_xent_loss(z32.astype(np.float64), y, 0.1)
    np.testing.assert_allclose(softmax_xent_loss(z32, y, 0.1), s64, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_xent_huge_logits_stay_finite(dtype) -> None:
    z = dtype([[1e4, 0.0, -3.0, 1.0], [0.0, 1e4, 2.0, -1e4], [-1e4, 5.0, 1e4, 1e4]])
    y = np.array([0, 0, 1])
    want_loss, want_grad = ref.softmax_xent(z.astype(np.float64), y)
    # row 0 is right with certainty, row 1 wrong by 1e4 nats, row 2 wrong by 1e4 - 5 + log 2
    np.testing.assert_allclose(want_loss, 1e4 + 1e4 - 5.0 + np.log(2.0), rtol=1e-12)
    loss_only = softmax_xent_loss(z, y)
    logits = z.copy()
    loss = softmax_xent(logits, y, dtype(1.0), dtype(0.0), 1)
    assert np.isfinite(loss) and np.isfinite(loss_only) and np.all(np.isfinite(logits))
    np.testing.assert_allclose([loss, loss_only], want_loss, rtol=1e-6)
    np.testing.assert_allclose(logits, want_grad, rtol=1e-6, atol=1e-6)


def test_softmax_xent_nan_logit_gives_nan_loss() -> None:
    for dtype in (np.float32, np.float64):
        z = dtype([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
        assert np.isnan(softmax_xent_loss(z, np.array([0, 2])))
        assert np.isnan(softmax_xent(z.copy(), np.array([0, 2]), dtype(1.0), dtype(0.0), 2))


@pytest.mark.parametrize(("N", "V", "std"), [(64, 50, 3.0), (32, 200, 8.0), (8, 3, 0.5)])
def test_softmax_xent_float32_agrees_with_float64(N, V, std, numerics_rng) -> None:
    z64, y = make_logits(N, V, numerics_rng, std)
    z32 = z64.astype(np.float32)
    z64 = z32.astype(np.float64)  # the same numbers in both precisions
    scale = 1.0 / N
    g64, g32 = z64.copy(), z32.copy()
    loss64 = softmax_xent(g64, y, scale, 0.0, 2)
    loss32 = softmax_xent(g32, y, np.float32(scale), np.float32(0.0), 2)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(loss32, loss64, rtol=1e-5)
    np.testing.assert_allclose(softmax_xent_loss(z32, y), loss64, rtol=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-7 * scale)


# ---------------------------------------------------------------------------------------------
# embedding


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_forward_picks_rows(dtype, numerics_rng) -> None:
    table = numerics_rng.normal(size=(7, 3)).astype(dtype)
    tokens = np.array([6, 0, 3, 3, 0, 1])
    out = np.full((tokens.size, 3), np.nan, dtype)
    embedding_forward(out, table, tokens)
    np.testing.assert_array_equal(out, table[tokens])


@pytest.mark.parametrize("parts", [1, 2, 5])  # 5 > E: capped
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_backward_accumulates_repeated_tokens(dtype, parts, numerics_rng) -> None:
    V, E = 6, 4
    tokens = np.array([2, 0, 2, 5, 2, 0, 1])  # 2 three times, 0 twice, 3 and 4 never
    dout = numerics_rng.normal(size=(tokens.size, E)).astype(dtype)
    start = numerics_rng.normal(size=(V, E)).astype(dtype)
    dtable = start.copy()
    embedding_backward(dtable, dout, tokens, parts)
    want = start + ref.embedding_backward(V, dout.astype(np.float64), tokens)
    np.testing.assert_allclose(dtable, want, rtol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_allclose(dtable[2] - start[2], dout[[0, 2, 4]].sum(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(dtable[[3, 4]], start[[3, 4]])


def test_embedding_backward_matches_finite_differences(numerics_rng) -> None:
    V, E = 5, 3
    tokens = np.array([4, 1, 1, 0, 4, 4])
    table = numerics_rng.normal(size=(V, E))
    R = numerics_rng.normal(size=(tokens.size, E))  # J = sum(R * embedding(table))
    out = np.empty((tokens.size, E))

    def embed_objective() -> float:
        embedding_forward(out, table, tokens)
        return float(np.sum(R * out))

    dtable = np.zeros((V, E))
    embedding_backward(dtable, R, tokens, 2)
    numeric = ref.numerical_grad(embed_objective, table, np.arange(table.size))
    np.testing.assert_allclose(dtable.reshape(-1), numeric, rtol=RTOL, atol=ATOL)


def test_embedding_backward_is_the_same_bit_for_bit_whatever_the_parts(numerics_rng) -> None:
    tokens = numerics_rng.integers(0, 7, 500)
    dout = numerics_rng.normal(size=(tokens.size, 37)).astype(np.float32)
    want = np.zeros((7, 37), np.float32)
    embedding_backward(want, dout, tokens, 1)
    for parts in (2, 3, 8):
        got = np.zeros_like(want)
        embedding_backward(got, dout, tokens, parts)
        assert np.array_equal(got, want), parts
