"""The model's variants end to end: GRU and Elman cells, dropout, tied weights, --init-scale.

Every variant's gradients against central finite differences of its own float64 loss (dropout
included: its masks are a function of the key, so the loss is a deterministic function of the
weights); float32 against float64; batch-1 sampling steps against the training forward.
"""

import numpy as np
import pytest
import reference as ref

from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import LMNetwork, State, param_shapes

CELLS = ["lstm", "gru", "rnn-tanh", "rnn-relu"]


def cfg_of(cell="lstm", V=7, E=4, H=5, L=2, dropout=0.0, tie=False) -> ModelConfig:
    return ModelConfig(
        vocab_size=V, embed=E, hidden=H, layers=L, cell=cell, dropout=dropout, tie=tie
    )


def make(cfg: ModelConfig, dtype, rng, parts: int = 1) -> LMNetwork:
    m = LMNetwork(cfg, dtype, parts=parts)
    m.init_weights(rng)
    for name, view in m.params.views.items():  # biases away from their init values
        if ".b" in name:
            view += rng.uniform(-0.5, 0.5, view.shape)
    return m


def batch(cfg: ModelConfig, T: int, B: int, rng):
    tokens = rng.integers(0, cfg.vocab_size, (T + 1, B))
    state = State.zeros(cfg, B, np.float64)
    state.h[...] = rng.uniform(-0.8, 0.8, state.h.shape)
    if "c" in state.names:
        state["c"][...] = rng.normal(0, 1, state.h.shape)
    return tokens[:-1].copy(), tokens[1:].copy(), state


def check_fd(model: LMNetwork, inputs, targets, state, key, rng, per_tensor=60) -> None:
    def loss() -> float:
        return model.forward_backward(inputs, targets, state.copy(), key=key)

    loss()
    analytic = {name: g.copy() for name, g in model.grads.views.items()}
    assert set(analytic) == set(param_shapes(model.cfg))
    for name, x in model.params.views.items():
        idx = ref.sample_indices(x.size, rng, per_tensor)
        numeric = ref.numerical_grad(loss, x, idx)
        got = analytic[name].reshape(-1)[idx]
        assert np.abs(got).max() > 1e-6, name  # not vacuous
        np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("L", "T", "B", "parts"), [(1, 3, 2, 1), (2, 4, 3, 2), (2, 1, 1, 2)])
def test_cell_gradients_match_finite_differences(cell, L, T, B, parts, numerics_rng) -> None:
    cfg = cfg_of(cell, L=L)
    model = make(cfg, np.float64, numerics_rng, parts)
    inputs, targets, state = batch(cfg, T, B, numerics_rng)
    check_fd(model, inputs, targets, state, None, numerics_rng)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dropout_and_tied_gradients_match_finite_differences(cell, numerics_rng) -> None:
    cfg = cfg_of(cell, E=5, H=5, L=2, dropout=0.3, tie=True)
    model = make(cfg, np.float64, numerics_rng, parts=2)
    inputs, targets, state = batch(cfg, 4, 3, numerics_rng)
    check_fd(model, inputs, targets, state, 17, numerics_rng)


def test_dropout_untied_one_layer_gradients(numerics_rng) -> None:
    cfg = cfg_of("rnn-tanh", L=1, dropout=0.5)
    model = make(cfg, np.float64, numerics_rng)
    inputs, targets, state = batch(cfg, 3, 4, numerics_rng)
    check_fd(model, inputs, targets, state, 3, numerics_rng)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_agrees_with_float64(cell, numerics_rng) -> None:
    cfg = cfg_of(cell, V=23, E=9, H=37, L=2)
    m64 = make(cfg, np.float64, numerics_rng, parts=2)
    m32 = LMNetwork(cfg, np.float32, parts=2)
    m32.params.flat[...] = m64.params.flat
    m64.params.flat[...] = m32.params.flat
    inputs, targets, s64 = batch(cfg, 9, 7, numerics_rng)
    s32 = s64.astype(np.float32)
    l64 = m64.forward_backward(inputs, targets, s64)
    l32 = m32.forward_backward(inputs, targets, s32)
    np.testing.assert_allclose(l32, l64, rtol=1e-5)
    np.testing.assert_allclose(s32.h, s64.h, rtol=1e-4, atol=1e-5)
    for name, g64 in m64.grads.views.items():
        rel = np.linalg.norm(m32.grads[name] - g64) / np.linalg.norm(g64)
        assert rel < 1e-4, f"{name}: relative error {rel:.2e}"


# ---------------------------------------------------------------------------------------------
# dropout


def test_dropout_is_training_only_and_keyed(numerics_rng) -> None:
    cfg = cfg_of("lstm", V=11, E=16, H=32, L=2, dropout=0.4)
    model = make(cfg, np.float64, numerics_rng)
    plain = LMNetwork(cfg_of("lstm", V=11, E=16, H=32, L=2), np.float64)
    plain.params.flat[...] = model.params.flat
    inputs, targets, state = batch(cfg, 6, 5, numerics_rng)
    # evaluation and key=None: no dropout at all, identical to the model without it
    same = model.forward_backward(inputs, targets, state.copy(), key=None)
    np.testing.assert_array_equal(same, plain.forward_backward(inputs, targets, state.copy()))
    np.testing.assert_array_equal(
        model.loss_sum(inputs, targets, state.copy()), plain.loss_sum(inputs, targets, state.copy())
    )
    # training: the key picks the masks; the same key gives the same loss and gradients
    a = model.forward_backward(inputs, targets, state.copy(), key=5)
    ga = model.grads.flat.copy()
    b = model.forward_backward(inputs, targets, state.copy(), key=5)
    np.testing.assert_array_equal(model.grads.flat, ga)
    assert a == b and a != same
    c = model.forward_backward(inputs, targets, state.copy(), key=6)
    assert c != a
    # the masks drop about p of the units and scale the rest by 1/(1-p)
    mask = model._ws[(6, 5)].masks[1]
    kept = mask[mask != 0]
    assert abs((mask == 0).mean() - 0.4) < 0.06
    np.testing.assert_allclose(kept, 1 / 0.6)


def test_dropout_masks_differ_between_sites() -> None:
    from rnngen.kernels.dropout import dropout_forward

    n = 4096
    masks = []
    for stream in range(3):
        x, m = np.ones(n, np.float32), np.empty(n, np.float32)
        dropout_forward(x, x, m, 0.5, 7, stream)
        masks.append(m)
    assert abs((masks[0] == 0).mean() - 0.5) < 0.04
    assert 0.4 < (masks[0] == masks[1]).mean() < 0.6  # independent, not shifted copies
    assert 0.4 < (masks[1] == masks[2]).mean() < 0.6
    x, m = np.ones(n, np.float32), np.empty(n, np.float32)
    dropout_forward(x, x, m, 0.0, 7, 0)
    np.testing.assert_array_equal(x, 1.0)  # p = 0 keeps everything unscaled


# ---------------------------------------------------------------------------------------------
# tying and initialisation


def test_tied_model_has_no_output_matrix_and_uses_the_embedding(numerics_rng) -> None:
    cfg = cfg_of("gru", V=9, E=6, H=6, tie=True)
    model = make(cfg, np.float64, numerics_rng)
    assert "out.W" not in model.params.views
    untied = LMNetwork(cfg_of("gru", V=9, E=6, H=6), np.float64)
    assert model.params.size == untied.params.size - 6 * 9
    for name, view in model.params.views.items():
        untied.params[name][...] = view
    untied.params["out.W"][...] = model.params["embed"].T
    inputs, targets, state = batch(cfg, 3, 2, numerics_rng)
    np.testing.assert_allclose(
        model.loss_sum(inputs, targets, state.copy()),
        untied.loss_sum(inputs, targets, state.copy()),
        rtol=1e-13,
    )
    with pytest.raises(ValueError, match="embed == hidden"):
        LMNetwork(cfg_of(E=4, H=5, tie=True))


@pytest.mark.parametrize("cell", CELLS)
def test_init_scale_is_uniform_everywhere(cell) -> None:
    cfg = cfg_of(cell, V=50, E=20, H=24)
    m = LMNetwork(cfg, np.float32)
    m.init_weights(np.random.default_rng(1), scale=0.1)
    for name, view in m.params.views.items():
        assert np.abs(view).max() <= 0.1 and view.std() > 0.04, name
    # the default (no scale): 1/sqrt(H) bounds for the layers (the LSTM's biases are 0 and 1)
    m.init_weights(np.random.default_rng(1))
    k = 1 / np.sqrt(24)
    for name, view in m.params.views.items():
        if name != "embed" and not (cell == "lstm" and name.endswith(".b")):
            assert np.abs(view).max() <= k + 1e-7 and view.std() > k / 4, name


@pytest.mark.parametrize("cell", CELLS)
def test_param_names_and_shapes(cell) -> None:
    cfg = cfg_of(cell, V=10, E=4, H=3, L=2)
    shapes = param_shapes(cfg)
    G = {"lstm": 4, "gru": 3}.get(cell, 1) * 3
    pre = "rnn" if cell.startswith("rnn") else cell
    assert shapes[f"{pre}0.W_ih"] == (4, G) and shapes[f"{pre}1.W_ih"] == (3, G)
    assert shapes[f"{pre}1.W_hh"] == (3, G)
    if cell == "gru":
        assert shapes["gru0.b_ih"] == shapes["gru0.b_hh"] == (G,)
    else:
        assert shapes[f"{pre}0.b"] == (G,)


# ---------------------------------------------------------------------------------------------
# sampling kernels


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("tie", [False, True])
def test_sampling_steps_equal_the_training_forward(cell, tie, tmp_path) -> None:
    import rnngen.checkpoint as checkpoint
    from rnngen.config.training import TrainConfig
    from rnngen.data.vocab import Vocab
    from rnngen.generate.sample import Sampler
    from rnngen.kernels import sample as ks

    text = "abcdefg\n"
    vocab = Vocab.build(text, "char")
    cfg = cfg_of(cell, V=len(vocab), E=6, H=6, L=2, tie=tie)
    m = make(cfg, np.float32, np.random.default_rng(3))
    ck = checkpoint.Checkpoint(cfg, TrainConfig(), vocab, dict(m.params.views))
    s = Sampler(ck)
    seq = np.array([0, 3, 1, 6, 2, 2, 5], np.int64)
    sampled = s.new_state()  # (L, S, H): the cell's state vectors, h first
    logits = np.zeros(cfg.vocab_size, np.float32)
    ws = m._workspace(len(seq), 1)
    state = State.zeros(cfg, 1)
    top = m._forward(ws, seq.astype(np.int32).reshape(-1, 1), state, None)
    want = m.output.logits(top.reshape(len(seq), 6), ws.logits)
    for t, tok in enumerate(seq):
        ks.advance(
            s.cell.kernels,
            seq[t : t + 1],
            np.empty(0, np.int64),
            sampled,
            *s._weights(),
            logits,
            1.0,
            0,
            1.0,
            -1,
        )
        np.testing.assert_allclose(logits, want[t], rtol=1e-5, atol=1e-6, err_msg=str(tok))
    for i, name in enumerate(state.names):  # h, and the LSTM's c
        np.testing.assert_allclose(sampled[:, i], state[name][:, 0], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# layer 0 by token table (small vocabularies)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("tie", [False, True])
def test_token_table_path_equals_the_embedding_path(cell, tie, numerics_rng) -> None:
    cfg = cfg_of(cell, V=6, E=5, H=5, L=2, tie=tie)
    a = make(cfg, np.float64, numerics_rng)
    b = LMNetwork(cfg, np.float64)
    b.params.flat[...] = a.params.flat
    a.token_table, b.token_table = True, False
    inputs, targets, state = batch(cfg, 5, 3, numerics_rng)
    sa, sb = state.copy(), state.copy()
    np.testing.assert_allclose(
        a.forward_backward(inputs, targets, sa),
        b.forward_backward(inputs, targets, sb),
        rtol=1e-13,
    )
    assert a._ws[(5, 3)].token_input is not None and b._ws[(5, 3)].token_input is None
    np.testing.assert_allclose(sa.h, sb.h, rtol=1e-12, atol=1e-14)
    for name, want in b.grads.views.items():
        np.testing.assert_allclose(a.grads[name], want, rtol=1e-11, atol=1e-13, err_msg=name)
    check_fd(a, inputs, targets, state, None, numerics_rng, per_tensor=30)


def test_token_table_is_chosen_for_small_vocabularies_only() -> None:
    char = LMNetwork(cfg_of(V=65, E=8, H=8), np.float32)
    assert char._table_input(64, 32, drop=False) and not char._table_input(64, 32, drop=True)
    word = LMNetwork(cfg_of(V=10000, E=8, H=8), np.float32)
    assert not word._table_input(20, 20, drop=False)


def test_dropout_without_input_dropout_uses_the_token_table(numerics_rng) -> None:
    """Character level: layers dropped, the input characters not (char-rnn); layer 0 then still
    reads the token table, and the gradients stay exact."""
    cfg = ModelConfig(vocab_size=6, embed=4, hidden=5, layers=2, dropout=0.4, dropout_input=0.0)
    model = make(cfg, np.float64, numerics_rng)
    inputs, targets, state = batch(cfg, 5, 3, numerics_rng)
    check_fd(model, inputs, targets, state, 9, numerics_rng, per_tensor=30)
    ws = model._ws[(5, 3)]
    assert ws.token_input is not None and ws.masks[0] is None and ws.masks[1] is not None
    with_input = LMNetwork(ModelConfig(**{**cfg.to_dict(), "dropout_input": 0.4}), np.float64)
    with_input.params.flat[...] = model.params.flat
    a = model.forward_backward(inputs, targets, state.copy(), key=9)
    b = with_input.forward_backward(inputs, targets, state.copy(), key=9)
    assert a != b  # the input mask really is off in one and on in the other
