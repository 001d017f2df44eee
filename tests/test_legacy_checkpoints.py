"""Checkpoints written by rnngen before the architecture change (format 1, commit f81c9d0) still
load in ``info``, ``eval``, ``score``, ``sample`` and ``--resume``, with the results that rnngen
gave (``tests/fixtures/legacy``: three models, and what the old code answered, ``make_legacy.py``).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from clitools import err, out, repetitive_text, run
from safetensors.numpy import load_file

import rnngen.checkpoint as checkpoint

HERE = Path(__file__).resolve().parent / "fixtures" / "legacy"
EXPECTED = json.loads((HERE / "expected.json").read_text())
MODELS = sorted(EXPECTED["models"])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("legacy")
    (d / "corpus.txt").write_text(repetitive_text())
    return d


@pytest.mark.parametrize("name", MODELS)
def test_the_files_are_format_1(name):
    assert checkpoint.read_header(HERE / f"{name}.safetensors")["format_version"] == 1


@pytest.mark.parametrize("name", MODELS)
def test_info_describes_them_as_before(name, work):
    p = run("info", str(HERE / f"{name}.safetensors"), "--json", cwd=work)
    assert p.returncode == 0, err(p)
    got, want = json.loads(out(p)), dict(EXPECTED["models"][name]["info"])
    for d in (got, want):
        d.pop("path")
    assert got.pop("task") == "lm"  # new since: the kind of model
    # the training settings as today's rnngen has them: an unused field is gone
    want["train"] = {k: v for k, v in want["train"].items() if k != "extra"}
    assert got == want


@pytest.mark.parametrize("name", MODELS)
def test_eval_gives_the_same_loss(name, work):
    p = run("eval", str(HERE / f"{name}.safetensors"), "corpus.txt", "--json", cwd=work)
    assert p.returncode == 0, err(p)
    got, want = json.loads(out(p)), EXPECTED["models"][name]["eval"]
    assert got["tokens"] == want["tokens"] and got["level"] == want["level"]
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_score_gives_the_same_bits(name, work):
    lines = "\n".join(EXPECTED["lines"]) + "\n"
    p = run("score", str(HERE / f"{name}.safetensors"), "--json", cwd=work, stdin=lines.encode())
    assert p.returncode == 0, err(p)
    got = [json.loads(line) for line in out(p).splitlines()]
    want = EXPECTED["models"][name]["score"]
    assert [g["tokens"] for g in got] == [w["tokens"] for w in want]
    assert [g["text"] for g in got] == [w["text"] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g["bits"] == pytest.approx(w["bits"], rel=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_sample_writes_the_same_text(name, work):
    p = run(
        "sample",
        str(HERE / f"{name}.safetensors"),
        "--seed",
        "7",
        "--length",
        "120",
        "--temp",
        "0.5",
        cwd=work,
    )
    assert p.returncode == 0, err(p)
    assert out(p) == EXPECTED["models"][name]["sample"]


@pytest.mark.parametrize("name", MODELS)
def test_resume_continues_the_same_run(name, work):
    """20 more steps from the old checkpoint reach the weights the old code reached (to rounding:
    the machines' BLAS may differ), and the new checkpoint is format 2."""
    run_dir = work / f"resume-{name}"
    run_dir.mkdir()
    shutil.copy(HERE / f"{name}.safetensors", run_dir / "last.safetensors")
    steps = EXPECTED["steps"] + EXPECTED["more"]
    p = run("train", "corpus.txt", "--resume", str(run_dir), "--steps", str(steps), "-q", cwd=work)
    assert p.returncode == 0, err(p)
    ck = checkpoint.load(run_dir / "last.safetensors")
    assert ck.step == steps
    assert checkpoint.read_header(run_dir / "last.safetensors")["format_version"] == 2
    want = load_file(str(HERE / f"{name}-resumed.safetensors"))
    assert sorted(want) == sorted(f"param/{k}" for k in ck.params)
    before = checkpoint.load(HERE / f"{name}.safetensors")
    for k, v in ck.params.items():
        w = want[f"param/{k}"]
        np.testing.assert_allclose(v, w, rtol=1e-4, atol=1e-5, err_msg=k)
        # and the 20 steps did move the weights: the comparison is not of the starting point
        assert not np.array_equal(v, before.params[k]) or np.array_equal(w, before.params[k]), k
