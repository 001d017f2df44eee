"""``rnngen.nn.seq2seq``: the encoder-decoder end to end, embedding through loss.

Its loss against the slow reference of ``reference_seq2seq`` (pairs one at a time, no padding);
its gradients against central finite differences of its own loss and of the reference's, in
float64, for every cell, both encoders, every attention, the learned bridge, tied output, length
1, batch 1, ragged lengths; a padded batch against its pairs run one by one.
"""

from dataclasses import dataclass

import numpy as np
import pytest
import reference as ref
import reference_seq2seq as refs

from rnngen.data.pair_batches import rows_of
from rnngen.nn.cells import CELLS
from rnngen.nn.config import ModelConfig
from rnngen.nn.seq2seq.config import Seq2SeqConfig
from rnngen.nn.seq2seq.encoder import reversal
from rnngen.nn.seq2seq.network import Batch, Seq2SeqNetwork, param_shapes


@dataclass(frozen=True)
class Case:
    cell: str = "lstm"
    encoder: str = "bi"
    attention: str = "general"
    L: int = 1
    H: int = 4
    E: int = 3
    enc_hidden: int | None = None
    Vs: int = 5
    Vt: int = 6
    src_lens: tuple[int, ...] = (3, 1, 4)
    tgt_lens: tuple[int, ...] = (2, 3, 1)  # real decoder steps (with </s>)
    tie: bool = False

    def cfgs(self) -> tuple[ModelConfig, Seq2SeqConfig]:
        m = ModelConfig(
            cell=self.cell,
            vocab_size=self.Vt,
            embed=self.H if self.tie else self.E,
            hidden=self.H,
            layers=self.L,
            dropout=0.0,
            dropout_input=0.0,
            tie=self.tie,
        )
        s = Seq2SeqConfig(
            encoder=self.encoder,
            attention=self.attention,
            src_vocab=self.Vs,
            enc_hidden=self.enc_hidden,
        ).resolve_with("char", self.H)
        return m, s


CASES = [
    pytest.param(Case(), id="lstm-bi-general"),
    pytest.param(Case(attention="dot", H=4), id="lstm-bi-dot"),
    pytest.param(Case(attention="additive", H=3, enc_hidden=2), id="lstm-bi-additive-bridge"),
    pytest.param(Case(attention="none", encoder="uni", L=2), id="lstm-uni-none-L2"),
    pytest.param(
        Case(cell="gru", L=2, H=5, enc_hidden=3, src_lens=(2, 5), tgt_lens=(4, 2)),
        id="gru-bi-general-L2-bridge-odd",
    ),
    pytest.param(
        Case(cell="rnn-tanh", encoder="uni", attention="additive", src_lens=(1,), tgt_lens=(1,)),
        id="rnn-uni-additive-len1-B1",
    ),
    pytest.param(Case(tie=True, encoder="uni", attention="dot"), id="lstm-tied-dot"),
]


def make(case: Case, rng: np.random.Generator, dtype=np.float64):
    m, s = case.cfgs()
    model = Seq2SeqNetwork(m, s, dtype)
    model.init_weights(rng)
    for view in model.params.views.values():  # random biases too
        if view.ndim == 1:
            view[...] = rng.uniform(-0.5, 0.5, view.shape)
    B = len(case.src_lens)
    pairs = []
    for b in range(B):
        src = rng.integers(0, case.Vs, case.src_lens[b]).tolist()
        tgt = rng.integers(0, case.Vt, case.tgt_lens[b] + 1).tolist()  # <s> y.. </s> stand-ins
        pairs.append((src, tgt[:-1], tgt[1:]))
    return model, pairs


def batch_of(pairs, rng: np.random.Generator, Vs: int, Vt: int) -> Batch:
    """The pairs padded with random tokens (padding must not matter)."""
    B = len(pairs)
    S = max(len(p[0]) for p in pairs)
    T = max(len(p[1]) for p in pairs)
    src = rng.integers(0, Vs, (S, B))
    tin, tout = rng.integers(0, Vt, (T, B)), rng.integers(0, Vt, (T, B))
    for b, (s, i, o) in enumerate(pairs):
        src[: len(s), b], tin[: len(i), b], tout[: len(o), b] = s, i, o
    lens = np.array([len(p[0]) for p in pairs], np.int64)
    tl = np.array([len(p[1]) for p in pairs], np.int64)
    return Batch(src.astype(np.int64), lens, tin.astype(np.int64), tout.astype(np.int64), tl)


def ref_loss(model: Seq2SeqNetwork, case: Case, pairs, smoothing: float = 0.0) -> float:
    prefix = CELLS[case.cell].prefix
    P = dict(model.params.views)
    total = sum(
        refs.pair_loss(
            P,
            case.cell,
            prefix,
            case.L,
            case.encoder == "bi",
            case.attention,
            case.tie,
            *p,
            smoothing,
        )
        for p in pairs
    )
    return total / sum(len(p[2]) for p in pairs)


def test_reversal_is_its_own_inverse() -> None:
    lens = np.array([3, 1, 4, 2])
    rev = reversal(lens, 4)
    np.testing.assert_array_equal(rev[rev], np.arange(16))
    grid = rev.reshape(4, 4)  # (S, B): position read at step t
    np.testing.assert_array_equal(grid[:, 0] // 4, [2, 1, 0, 3])  # row 0: 3 real, 1 padding
    np.testing.assert_array_equal(grid[:, 2] // 4, [3, 2, 1, 0])


@pytest.mark.parametrize("table", [False, True], ids=["embedded", "table"])
@pytest.mark.parametrize("case", CASES)
def test_loss_matches_reference(case: Case, table: bool, numerics_rng) -> None:
    model, pairs = make(case, numerics_rng)
    model.token_table = table
    batch = batch_of(pairs, numerics_rng, case.Vs, case.Vt)
    want = ref_loss(model, case, pairs)
    got = model.forward_backward(batch)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(model.loss_sum(batch) / batch.tokens, want, rtol=1e-10)


@pytest.mark.parametrize("table", [False, True], ids=["embedded", "table"])
@pytest.mark.parametrize("case", CASES)
def test_gradients_match_finite_differences(case: Case, table: bool, numerics_rng) -> None:
    """Every parameter's gradient against central differences of the model's own loss and of
    the reference's; layer 0 reading embedded inputs, or its (V, G) table by token."""
    model, pairs = make(case, numerics_rng)
    model.token_table = table
    batch = batch_of(pairs, numerics_rng, case.Vs, case.Vt)
    model.forward_backward(batch)
    analytic = {n: g.copy() for n, g in model.grads.views.items()}
    m, s = case.cfgs()
    assert set(analytic) == set(param_shapes(m, s))
    for name, x in model.params.views.items():
        idx = ref.sample_indices(x.size, numerics_rng, 40)
        own = ref.numerical_grad(lambda: model.forward_backward(batch), x, idx)
        theirs = ref.numerical_grad(lambda: ref_loss(model, case, pairs), x, idx)
        got = analytic[name].reshape(-1)[idx]
        np.testing.assert_allclose(got, own, rtol=1e-5, atol=1e-8, err_msg=name)
        np.testing.assert_allclose(got, theirs, rtol=1e-5, atol=1e-8, err_msg=name)
    assert max(np.abs(g).max() for g in analytic.values()) > 1e-3  # not vacuous


@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[6]])
def test_label_smoothing_gradients_match_finite_differences(case: Case, numerics_rng) -> None:
    """With label smoothing the gradient is the smoothed objective's (central differences of the
    model's ``loss_sum(batch, eps)`` and of the reference's), while the loss forward_backward
    returns stays the plain cross-entropy."""
    eps = 0.2
    model, pairs = make(case, numerics_rng)
    model.label_smoothing = eps
    batch = batch_of(pairs, numerics_rng, case.Vs, case.Vt)
    N = batch.tokens
    np.testing.assert_allclose(
        model.forward_backward(batch), ref_loss(model, case, pairs), rtol=1e-10
    )
    np.testing.assert_allclose(
        model.loss_sum(batch, eps) / N, ref_loss(model, case, pairs, eps), rtol=1e-10
    )
    analytic = {n: g.copy() for n, g in model.grads.views.items()}
    model.label_smoothing = 0.0
    model.forward_backward(batch)
    assert not np.allclose(model.grads.views["out.b"], analytic["out.b"])  # smoothing counts
    for name, x in model.params.views.items():
        idx = ref.sample_indices(x.size, numerics_rng, 20)
        own = ref.numerical_grad(lambda: model.loss_sum(batch, eps) / N, x, idx)
        theirs = ref.numerical_grad(lambda: ref_loss(model, case, pairs, eps), x, idx)
        got = analytic[name].reshape(-1)[idx]
        np.testing.assert_allclose(got, own, rtol=1e-5, atol=1e-8, err_msg=name)
        np.testing.assert_allclose(got, theirs, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("table", [False, True], ids=["embedded", "table"])
@pytest.mark.parametrize("case", [CASES[0], CASES[4]])
def test_padded_batch_equals_pairs_one_by_one(case: Case, table: bool, numerics_rng) -> None:
    """Loss and every gradient of a padded batch = the token-weighted sum of each pair's alone."""
    model, pairs = make(case, numerics_rng)
    model.token_table = table
    batch = batch_of(pairs, numerics_rng, case.Vs, case.Vt)
    loss = model.forward_backward(batch)
    whole = model.grads.flat.copy()
    total, acc = 0.0, np.zeros_like(whole)
    for p in pairs:
        one = batch_of([p], numerics_rng, case.Vs, case.Vt)
        n = len(p[2])
        total += model.forward_backward(one) * n
        acc += model.grads.flat * n
    N = batch.tokens
    np.testing.assert_allclose(loss, total / N, rtol=1e-12)
    np.testing.assert_allclose(whole, acc / N, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("case", [CASES[0], CASES[4]])
def test_row_groups_scaled_by_the_whole_batch_add_up_to_it(case: Case, numerics_rng) -> None:
    """Data-parallel training's split: each process's rows (``rows_of``, padded to their own
    longest) with ``per`` = the whole batch's tokens; their losses and gradients summed are the
    whole batch's."""
    model, pairs = make(case, numerics_rng)
    batch = batch_of(pairs, numerics_rng, case.Vs, case.Vt)
    loss = model.forward_backward(batch)
    whole = model.grads.flat.copy()
    B, N = len(pairs), batch.tokens
    total, acc = 0.0, np.zeros_like(whole)
    for lo, hi in ((0, 1), (1, B)):
        part = rows_of(batch, lo, hi)
        assert part.src.shape[0] == part.src_len.max() and part.tgt_in.shape[1] == hi - lo
        total += model.forward_backward(part, per=N)
        acc += model.grads.flat
    np.testing.assert_allclose(total, loss, rtol=1e-12)
    np.testing.assert_allclose(acc, whole, rtol=1e-9, atol=1e-13)


def test_float32_agrees_with_float64(numerics_rng) -> None:
    case = Case(L=2, H=8, E=5, src_lens=(5, 2, 7, 3), tgt_lens=(3, 6, 1, 4))
    m64, pairs = make(case, numerics_rng)
    m, s = case.cfgs()
    m32 = Seq2SeqNetwork(m, s, np.float32)
    m32.params.flat[...] = m64.params.flat
    batch = batch_of(pairs, numerics_rng, case.Vs, case.Vt)
    l64, l32 = m64.forward_backward(batch), m32.forward_backward(batch)
    np.testing.assert_allclose(l32, l64, rtol=1e-5)
    np.testing.assert_allclose(m32.grads.flat, m64.grads.flat, rtol=1e-3, atol=2e-5)
