"""The checkpoint file: round trip, atomic write, and refusal of files it must not trust."""

import numpy as np
import pytest
from clitools import with_format_version

import rnngen.checkpoint as checkpoint
from rnngen.checkpoint import Checkpoint
from rnngen.config.training import TrainConfig
from rnngen.data.vocab import Vocab
from rnngen.errors import CheckpointError
from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import LMNetwork


def _ckpt() -> Checkpoint:
    cfg = ModelConfig(vocab_size=5, embed=3, hidden=4, layers=2)
    m = LMNetwork(cfg)
    m.init_weights(np.random.default_rng(3))
    return Checkpoint(
        model_cfg=cfg,
        train_cfg=TrainConfig(seq_len=7, lr=0.01),
        vocab=Vocab("char", list("abcde")),
        params=dict(m.params.views),
        step=42,
        arrays={"adam.m": np.ones(m.params.size, np.float32)},
        info={"history": [{"step": 42, "val_loss": 1.5}]},
    )


def test_round_trip_keeps_everything(tmp_path):
    ck = _ckpt()
    path = checkpoint.save(ck, tmp_path / "m.safetensors")
    back = checkpoint.load(path)
    assert back.model_cfg == ck.model_cfg and back.train_cfg == ck.train_cfg
    assert back.vocab.itos == ck.vocab.itos and back.step == 42
    assert back.info["history"][0]["val_loss"] == 1.5
    for k, v in ck.params.items():
        assert np.array_equal(back.params[k], v)
    assert np.array_equal(back.arrays["adam.m"], ck.arrays["adam.m"])
    model = back.build_model()
    for k, v in ck.params.items():
        assert np.array_equal(model.params[k], v)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left


def test_failed_write_keeps_previous_checkpoint(tmp_path):
    path = checkpoint.save(_ckpt(), tmp_path / "m.safetensors")
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="previous one is intact"):
        checkpoint.save(_ckpt(), tmp_path / "missing-dir" / "m.safetensors")
    assert path.read_bytes() == before


def test_truncated_file_is_refused(tmp_path):
    path = checkpoint.save(_ckpt(), tmp_path / "m.safetensors")
    data = path.read_bytes()
    for cut in (0, 5, 100, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated|not an rnngen checkpoint"):
            checkpoint.load(bad)


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a model\n" * 10)
    with pytest.raises(CheckpointError, match="not an rnngen checkpoint"):
        checkpoint.load(text)
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(other))
    with pytest.raises(CheckpointError, match="not an rnngen checkpoint"):
        checkpoint.load(other)


def test_newer_format_version_is_refused(tmp_path):
    path = checkpoint.save(_ckpt(), tmp_path / "m.safetensors")
    newer = tmp_path / "newer.safetensors"
    newer.write_bytes(with_format_version(path.read_bytes(), checkpoint.FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match="newer rnngen"):
        checkpoint.load(newer)


def test_resolve_prefers_best_in_a_run_directory_and_finds_the_newest_run(tmp_path):
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    checkpoint.save(_ckpt(), run / "last.safetensors")
    checkpoint.save(_ckpt(), run / "best.safetensors")
    assert checkpoint.resolve(run) == run / "best.safetensors"
    assert checkpoint.resolve(None, cwd=tmp_path) == run / "best.safetensors"
    # a run directory directly under the current one counts too (a run trained with --out a)
    assert checkpoint.resolve(None, cwd=tmp_path / "runs") == run / "best.safetensors"
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="none found"):
        checkpoint.resolve(None, cwd=tmp_path / "empty")
