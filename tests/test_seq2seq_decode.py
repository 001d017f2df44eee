"""``rnngen.kernels.decode`` through ``rnngen.generate.translate``: the search's step math against
the model's training forward, greedy search against argmax, beam search's n-best, sampling's
seeding, and scheduled sampling's guided greedy pass."""

import numpy as np
import pytest

from rnngen.data.pair_batches import make_batch
from rnngen.data.pairs import PairSet, boundary
from rnngen.data.vocab import Vocab
from rnngen.generate.translate import Translator, guided_greedy
from rnngen.nn.config import ModelConfig
from rnngen.nn.seq2seq.config import Seq2SeqConfig
from rnngen.nn.seq2seq.network import Seq2SeqNetwork

LETTERS = "abcdefg"


def translator(cell: str, attention: str, L: int = 2, seed: int = 3) -> Translator:
    """A random model, its weights scaled up so that its outputs vary and end."""
    m = ModelConfig(cell=cell, vocab_size=len(LETTERS) + 1, embed=6, hidden=8, layers=L)
    s = Seq2SeqConfig(attention=attention, src_vocab=len(LETTERS), max_len=12)
    model = Seq2SeqNetwork(m, s.resolve_with("char", 8), np.float32)
    model.init_weights(np.random.default_rng(seed))
    model.params.flat *= 2.0
    vocab = Vocab("char", list(LETTERS))
    model.output.b[boundary(vocab)] += 2.0  # so that outputs end, at various lengths
    return Translator(model, vocab, vocab)  # (it reads the weights once, here)


def sources(rng, n: int) -> list[np.ndarray]:
    return [rng.integers(0, len(LETTERS), rng.integers(1, 9)).astype(np.int32) for _ in range(n)]


def logprob(tr: Translator, src: np.ndarray, out: list[int]) -> float:
    """The model's teacher-forced log-probability of ``out`` then </s> (training's forward)."""
    return float(token_logprobs(tr.model, tr.bos, src, out).sum())


def token_logprobs(model: Seq2SeqNetwork, bos: int, src: np.ndarray, out: list[int]) -> np.ndarray:
    """log p(y_t | y_<t, src) of each token of ``out`` then </s>, by training's forward."""
    pairs = PairSet([src], [np.array(out, np.int32)], [""])
    return -model.token_losses(make_batch(pairs, np.arange(1), bos))


CASES = [("lstm", "general"), ("gru", "additive"), ("rnn-tanh", "none"), ("lstm", "dot")]


@pytest.mark.parametrize(("cell", "attention"), CASES)
def test_scores_are_the_training_forward_log_probabilities(cell, attention, numerics_rng) -> None:
    tr = translator(cell, attention)
    srcs = sources(numerics_rng, 6)
    found = tr.search_ids(srcs, beam=4, n_best=4, max_len=12)
    checked = 0
    for src, hyps in zip(srcs, found, strict=True):
        assert 1 <= len(hyps) <= 4
        for ids, score in hyps:
            if len(ids) < 12:  # ended with </s>
                np.testing.assert_allclose(score, logprob(tr, src, ids), rtol=2e-4, atol=2e-4)
                checked += 1
    assert checked >= 6


@pytest.mark.parametrize(("cell", "attention"), CASES)
def test_greedy_is_the_argmax_at_every_step_and_equals_beam_one(
    cell, attention, numerics_rng
) -> None:
    tr = translator(cell, attention)
    srcs = sources(numerics_rng, 8)
    greedy = tr.search_ids(srcs, beam=1, max_len=12)
    for src, [(ids, _)] in zip(srcs, greedy, strict=True):
        # teacher-force the greedy output: every step's argmax must be the token it chose
        pairs = PairSet([src], [np.array(ids, np.int32)], [""])
        batch = make_batch(pairs, np.arange(1), tr.bos)
        model = tr.model
        t = model._forward(batch, None)
        logits = t.top @ model.output.W + model.output.b
        want = [*ids, tr.bos] if len(ids) < 12 else ids
        assert np.argmax(logits, axis=1)[: len(want)].tolist() == want
    assert tr.search_ids(srcs, beam=1, max_len=12) == greedy  # deterministic
    batched = tr.search_ids(srcs, beam=1, max_len=12)
    one_by_one = [tr.search_ids([s], beam=1, max_len=12)[0] for s in srcs]
    assert [h[0][0] for h in batched] == [h[0][0] for h in one_by_one]


def test_beam_finds_no_worse_than_greedy_and_ranks_by_length_normalised_score(numerics_rng):
    tr = translator("lstm", "general")
    srcs = sources(numerics_rng, 10)
    greedy = tr.search_ids(srcs, beam=1, max_len=12)
    beam = tr.search_ids(srcs, beam=5, n_best=5, max_len=12)
    for g, b in zip(greedy, beam, strict=True):
        norms = [s / (len(ids) + 1) for ids, s in b]
        assert norms == sorted(norms, reverse=True)
        assert len({tuple(ids) for ids, _ in b}) == len(b)  # distinct hypotheses
        g_norm = g[0][1] / (len(g[0][0]) + 1)
        assert norms[0] >= g_norm - 1e-5


def test_sampling_is_seeded(numerics_rng) -> None:
    tr = translator("gru", "general")
    srcs = sources(numerics_rng, 5)
    a = tr.search_ids(srcs, temp=1.0, seed=1, max_len=12)
    assert a == tr.search_ids(srcs, temp=1.0, seed=1, max_len=12)
    assert a != tr.search_ids(srcs, temp=1.0, seed=2, max_len=12)


def test_guided_greedy_keeps_or_guesses(numerics_rng) -> None:
    tr = translator("lstm", "general")
    srcs = sources(numerics_rng, 4)
    tgts = [numerics_rng.integers(0, len(LETTERS), 6).astype(np.int32) for _ in srcs]
    batch = make_batch(PairSet(srcs, tgts, [""] * 4), np.arange(4), tr.bos)
    T, B = batch.tgt_in.shape
    kept = guided_greedy(tr.model, batch, np.ones((T, B), np.bool_))
    np.testing.assert_array_equal(kept, batch.tgt_in)
    only_first = np.zeros((T, B), np.bool_)
    only_first[0] = True
    guessed = guided_greedy(tr.model, batch, only_first)
    greedy = tr.search_ids(srcs, beam=1, max_len=T)
    for b in range(B):  # row 0 is <s>; all after it guessed: the greedy decode, until </s>
        ids = greedy[b][0][0]
        n = min(len(ids), T - 1)
        assert guessed[1 : n + 1, b].tolist() == ids[:n]


def test_float64_search_matches_float32(numerics_rng) -> None:
    """The plain-loop path (float64) and the micro-kernel path (float32) find the same outputs
    with the same scores, and beam hypotheses (several rows per product) as well as greedy."""
    tr32 = translator("lstm", "general")
    m = tr32.model
    m64 = Seq2SeqNetwork(m.cfg, m.s2s, np.float64)
    m64.params.flat[...] = m.params.flat
    tr64 = Translator(m64, tr32.src_vocab, tr32.tgt_vocab)
    srcs = sources(numerics_rng, 6)
    for beam in (1, 4):
        a = tr32.search_ids(srcs, beam=beam, n_best=beam, max_len=12)
        b = tr64.search_ids(srcs, beam=beam, n_best=beam, max_len=12)
        assert [[ids for ids, _ in h] for h in a] == [[ids for ids, _ in h] for h in b]
        np.testing.assert_allclose(
            [s for h in a for _, s in h], [s for h in b for _, s in h], rtol=1e-4, atol=1e-4
        )


@pytest.mark.parametrize(
    ("cell", "encoder", "L", "enc_hidden", "attention", "dtype"),
    [
        ("lstm", "bi", 2, None, "general", np.float32),
        ("gru", "uni", 1, 5, "additive", np.float32),
        ("rnn-tanh", "bi", 3, 3, "dot", np.float64),
        ("lstm", "uni", 2, None, "none", np.float64),
    ],
)
def test_inference_encoder_equals_the_training_encoder(
    cell, encoder, L, enc_hidden, attention, dtype, numerics_rng
) -> None:
    """``decoder_inputs`` (one jitted call per batch, no tapes) gives the training forward's
    encoder outputs, attention keys and bridged initial states, on ragged sources."""
    from rnngen.generate.translate import decoder_inputs

    H = 8 if attention != "dot" or encoder == "uni" else 6
    m = ModelConfig(cell=cell, vocab_size=len(LETTERS) + 1, embed=6, hidden=H, layers=L)
    s = Seq2SeqConfig(
        attention=attention,
        encoder=encoder,
        enc_hidden=enc_hidden,
        src_vocab=len(LETTERS),
        max_len=12,
    )
    model = Seq2SeqNetwork(m, s.resolve_with("char", H), dtype)
    model.init_weights(numerics_rng)
    srcs = sources(numerics_rng, 5)
    batch = make_batch(PairSet(srcs, [np.zeros(1, np.int32)] * 5, [""] * 5), np.arange(5), 7)
    _, _, _, enc_ref, init_ref = model.encode(batch.src, batch.src_len)
    enc, keys, init = decoder_inputs(model, batch)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    real = np.arange(batch.src.shape[0])[None, :] < batch.src_len[:, None]  # (N, S)
    np.testing.assert_allclose(enc[real], enc_ref[real], rtol=tol, atol=tol)
    keys_ref = model.attention.keys(enc_ref)
    if keys_ref is not None:
        np.testing.assert_allclose(keys[real], keys_ref[real], rtol=tol, atol=tol)
    for k in range(L):
        for v, a in enumerate(init_ref[k]):
            np.testing.assert_allclose(init[:, k, v], a, rtol=tol, atol=tol)


def test_an_ensemble_of_one_model_twice_is_that_model(numerics_rng) -> None:
    tr = translator("lstm", "general")
    twice = Translator(tr.model, tr.src_vocab, tr.tgt_vocab, [tr.model])
    srcs = sources(numerics_rng, 6)
    for beam in (1, 4):
        alone = tr.search_ids(srcs, beam=beam, n_best=beam, max_len=12)
        assert twice.search_ids(srcs, beam=beam, n_best=beam, max_len=12) == alone


@pytest.mark.parametrize(("cell", "attention"), [("lstm", "general"), ("gru", "additive")])
def test_an_ensemble_scores_its_models_mean_probability(cell, attention, numerics_rng) -> None:
    """Each finished hypothesis scores sum_t log (p_a(y_t) + p_b(y_t)) / 2, from the two models'
    own teacher-forced forwards; the ensemble finds outputs neither model finds alone."""
    a, b = translator(cell, attention, seed=3), translator(cell, attention, seed=4)
    ens = Translator(a.model, a.src_vocab, a.tgt_vocab, [b.model])
    srcs = sources(numerics_rng, 8)
    found = ens.search_ids(srcs, beam=4, n_best=4, max_len=12)
    checked = 0
    for src, hyps in zip(srcs, found, strict=True):
        for ids, score in hyps:
            if len(ids) < 12:  # ended with </s>
                la = token_logprobs(a.model, a.bos, src, ids)
                lb = token_logprobs(b.model, b.bos, src, ids)
                want = float(np.sum(np.logaddexp(la, lb) - np.log(2.0)))
                np.testing.assert_allclose(score, want, rtol=2e-4, atol=2e-4)
                checked += 1
    assert checked >= 8

    def outputs(found):
        return [[ids for ids, _ in h] for h in found]

    for alone in (a, b):
        assert outputs(found) != outputs(alone.search_ids(srcs, beam=4, n_best=4, max_len=12))


def test_models_of_different_shapes_cannot_decode_together() -> None:
    a = translator("lstm", "general")
    for other, what in [
        (translator("gru", "general"), "decoder cell"),
        (translator("lstm", "additive"), "attention"),
        (translator("lstm", "general", L=1), "layers"),
    ]:
        with pytest.raises(ValueError, match=what):
            Translator(a.model, a.src_vocab, a.tgt_vocab, [other.model])
    dot = translator("lstm", "dot")  # general and dot both score h . key: they can
    Translator(a.model, a.src_vocab, a.tgt_vocab, [dot.model])
