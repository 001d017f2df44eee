"""The training loop, in process: learning is real, the same seed gives the same model."""

import math

import numpy as np
import pytest
from clitools import measured, repetitive_text

import rnngen.checkpoint as checkpoint
from rnngen.config.training import TrainConfig
from rnngen.data.corpus import Corpus
from rnngen.errors import TrainingError
from rnngen.generate.evaluate import evaluate
from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import State
from rnngen.tasks.lm.training import lm_trainer


def _train(tmp_path, name, steps, seed=0, **model):
    corpus = Corpus.from_text(repetitive_text(), "rep.txt", "char", val_frac=0.1)
    mcfg = ModelConfig(vocab_size=len(corpus.vocab), **{"embed": 8, "hidden": 32, **model})
    tcfg = TrainConfig(seq_len=16, batch_size=8, lr=1e-2, steps=steps, seed=seed, eval_every=50)
    trainer = lm_trainer(mcfg, tcfg, corpus, tmp_path / name)
    return trainer, trainer.run(), corpus


@pytest.mark.learning
def test_loss_falls_far_below_the_uniform_baseline(tmp_path):
    trainer, result, corpus = _train(tmp_path, "learn", steps=300)
    uniform = math.log(len(corpus.vocab))
    assert result.steps == 300
    assert result.val_loss is not None
    # measured 0.014 (OpenBLAS) and 0.016 (rnngen's GEMM), with 1 or 2 threads
    assert measured("trainer val loss / uniform (< 0.25)", result.val_loss / uniform) < 0.25
    assert result.best_val_loss <= result.val_loss + 1e-12
    assert [h["step"] for h in result.history] == [50, 100, 150, 200, 250, 300]
    # the saved best checkpoint scores what the trainer reported
    ck = checkpoint.load(result.checkpoint)
    again = evaluate(ck.build_model(), corpus.val, 8, 16).loss
    assert again == pytest.approx(result.best_val_loss, rel=1e-6)


def test_same_seed_same_model_different_seed_different_model(tmp_path):
    a, _, _ = _train(tmp_path, "a", steps=20, seed=1)
    b, _, _ = _train(tmp_path, "b", steps=20, seed=1)
    c, _, _ = _train(tmp_path, "c", steps=20, seed=2)
    assert np.array_equal(a.model.params.flat, b.model.params.flat)
    assert not np.array_equal(a.model.params.flat, c.model.params.flat)
    # the checkpoints agree in every tensor (weights, optimizer moments, state) bit for bit, and
    # in all metadata but the wall-clock seconds of the history
    ka, kb = (checkpoint.load(tmp_path / d / "last.safetensors") for d in "ab")
    assert ka.params.keys() == kb.params.keys() and ka.arrays.keys() == kb.arrays.keys()
    for name in ka.params:
        assert ka.params[name].tobytes() == kb.params[name].tobytes(), name
    for name in ka.arrays:
        assert ka.arrays[name].tobytes() == kb.arrays[name].tobytes(), name
    for h in ka.info["history"] + kb.info["history"]:
        assert h.pop("seconds") >= 0
    for row in ka.info["curve"] + kb.info["curve"]:  # [step, loss, lr, seconds]
        assert row.pop() >= 0
    assert ka.info == kb.info and ka.step == kb.step


def test_corpus_shorter_than_one_batch_is_refused(tmp_path):
    corpus = Corpus.from_text("tiny text\n" * 3, "tiny.txt", "char", val_frac=0.1)
    mcfg = ModelConfig(vocab_size=len(corpus.vocab), embed=4, hidden=8)
    with pytest.raises(TrainingError, match=r"tiny.txt: 27 training tokens, but one batch needs"):
        lm_trainer(mcfg, TrainConfig(seq_len=16, batch_size=8), corpus, tmp_path / "x")


def test_evaluate_equals_one_long_sequence(tmp_path):
    trainer, _, corpus = _train(tmp_path, "ev", steps=5)
    model = trainer.model
    toks = corpus.val[:203]
    # B = 1, one window over everything: the plain definition of the average loss
    st = State.zeros(model.cfg, 1)
    ref = model.loss_sum(toks[:-1].reshape(-1, 1), toks[1:].reshape(-1, 1), st) / 202
    assert evaluate(model, toks, 1, 1000).loss == pytest.approx(ref, rel=1e-5)
    assert evaluate(model, toks, 1, 7).loss == pytest.approx(ref, rel=1e-5)
    # several rows lose a little context at row starts but score the same tokens
    res = evaluate(model, toks, 4, 16)
    assert res.tokens == 202 and abs(res.loss - ref) < 0.05 * ref


@pytest.mark.parametrize("cuts", [(0, 2, 4), (0, 1, 3, 4), (0, 0, 4), (0, 3, 3, 4)])
def test_evaluation_split_by_rows_adds_up_to_the_whole(tmp_path, cuts):
    """What the processes of a data-parallel run score (their rows; the last also the tail that
    continues the last row), summed, is what one process scores."""
    trainer, _, corpus = _train(tmp_path, "split", steps=3)
    toks = corpus.val[:203]  # 4 rows of 50 and a tail of 2
    whole = evaluate(trainer.model, toks, 4, 16)
    parts = [
        evaluate(trainer.model, toks, 4, 16, rows=(lo, hi))
        for lo, hi in zip(cuts, cuts[1:], strict=False)
    ]
    assert sum(p.tokens for p in parts) == whole.tokens == 202
    total = sum(p.loss * p.tokens for p in parts if p.tokens)
    assert total / whole.tokens == pytest.approx(whole.loss, rel=1e-6)
    assert all(math.isnan(p.loss) for p in parts if not p.tokens)


def test_the_fixed_validation_part_split_by_rows_adds_up(tmp_path):
    from rnngen.data.batches import sample_rows
    from rnngen.generate.evaluate import evaluate_rows

    trainer, _, corpus = _train(tmp_path, "part", steps=3)
    x, y = sample_rows(corpus.val, 4, 40)
    whole = evaluate_rows(trainer.model, x, y, 16)
    parts = [evaluate_rows(trainer.model, x, y, 16, rows=r) for r in ((0, 1), (1, 4))]
    assert [p.tokens for p in parts] == [40, 120] and whole.tokens == 160
    total = sum(p.loss * p.tokens for p in parts)
    assert total / 160 == pytest.approx(whole.loss, rel=1e-6)
