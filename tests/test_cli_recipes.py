"""Cells and training recipes through the installed command: each cell trains, samples and
evaluates from its checkpoint alone; dropout, tying, optimizers and schedules are recorded in the
checkpoint; --patience stops a run early."""

import json

import pytest
from clitools import err, measured, out, repetitive_text, run

import rnngen.checkpoint as checkpoint

SMALL = ["--hidden", "32", "--embed", "8", "--seq-len", "16", "--batch-size", "8"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("recipes")
    (d / "corpus.txt").write_text(repetitive_text())
    return d


@pytest.mark.parametrize(
    ("cell", "extra"),
    [
        ("gru", ["--dropout", "0.1"]),
        ("rnn-tanh", ["--optimizer", "rmsprop", "--lr", "0.003"]),
        ("rnn-relu", ["--optimizer", "adamw", "--weight-decay", "0.01", "--init-scale", "0.1"]),
        (
            "lstm",
            ["--tie", "--embed", "32", "--schedule", "cosine", "--warmup", "20", "--lr", "0.01"],
        ),
    ],
)
@pytest.mark.learning
def test_each_cell_trains_samples_and_evaluates(corpus, cell, extra):
    run_dir = f"runs/{cell}"
    args = (
        [*SMALL, *extra]
        if "--embed" not in extra
        else ["--hidden", "32", "--seq-len", "16", "--batch-size", "8", *extra]
    )
    p = run(
        "train",
        "corpus.txt",
        "--cell",
        cell,
        *args,
        "--steps",
        "150",
        "--seed",
        "1",
        "--out",
        run_dir,
        "--json",
        "--force",
        cwd=corpus,
    )
    assert p.returncode == 0, err(p)
    metrics = json.loads(out(p))
    # log(V=25) = 3.2: it learned something; measured 0.08 (rnn-tanh) to 1.13 (rnn-relu), the
    # same on both GEMM paths and 1 or 2 threads
    assert measured(f"{cell} best val loss (< 1.5)", metrics["best_val_loss"]) < 1.5, metrics
    ck = checkpoint.load(corpus / run_dir / "best.safetensors")
    assert ck.model_cfg.cell == cell
    if "--tie" in extra:
        assert ck.model_cfg.tie and "out.W" not in ck.params
    if "--dropout" in extra:
        assert ck.model_cfg.dropout == 0.1
    # sample and eval need no flags repeated
    s = run("sample", run_dir, "--length", "200", "--seed", "2", "--temp", "0.5", cwd=corpus)
    assert s.returncode == 0, err(s)
    assert len(out(s)) == 200 and set(out(s)) <= set(repetitive_text())
    e = run("eval", run_dir, "corpus.txt", "--json", cwd=corpus)
    assert e.returncode == 0, err(e)
    assert measured(f"{cell} eval loss (< 1.5)", json.loads(out(e))["loss"]) < 1.5


def test_sgd_step_schedule_is_recorded_and_followed(corpus):
    p = run(
        "train",
        "corpus.txt",
        *SMALL,
        "--optimizer",
        "sgd",
        "--lr",
        "2",
        "--schedule",
        "step",
        "--decay",
        "0.5",
        "--decay-after",
        "1",
        "--epochs",
        "3",
        "--eval-every",
        "20",
        "--out",
        "runs/sgd",
        "--json",
        "--force",
        cwd=corpus,
    )
    assert p.returncode == 0, err(p)
    ck = checkpoint.load(corpus / "runs/sgd/last.safetensors")
    tc = ck.train_cfg
    assert (tc.optimizer, tc.schedule, tc.decay, tc.decay_after) == ("sgd", "step", 0.5, 1.0)
    rates = [h["lr"] for h in ck.info["history"]]
    assert rates[0] == 2.0 and min(rates) == 0.5  # epoch 1 at 2, epoch 3 at 0.5
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_patience_stops_when_validation_stops_improving(corpus):
    # the validation text shares no structure with the training text: it only gets worse
    (corpus / "val.txt").write_text("zyxwv utsrq ponml kjihg fedcb\n" * 40)
    (corpus / "train.txt").write_text(repetitive_text() + "zyxwvutsrqponmlkjihgfedcb\n")
    p = run(
        "train",
        "train.txt",
        "--val-file",
        "val.txt",
        *SMALL,
        "--lr",
        "0.01",
        "--steps",
        "2000",
        "--eval-every",
        "25",
        "--patience",
        "2",
        "--out",
        "runs/pat",
        "--json",
        "--force",
        cwd=corpus,
    )
    assert p.returncode == 0, err(p)
    m = json.loads(out(p))
    assert m["steps"] < 2000
    hist = checkpoint.load(corpus / "runs/pat/last.safetensors").info["history"]
    vals = [h["val_loss"] for h in hist]
    best = vals.index(min(vals))
    assert len(vals) - 1 - best >= 2  # two evaluations without improvement before it stopped


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cell", "transformer"], "--cell must be one of"),
        (["--tie", "--embed", "8", "--hidden", "32"], "--tie needs --embed equal to --hidden"),
        (["--dropout", "1"], "--dropout must be in [0, 1)"),
        (["--optimizer", "lbfgs"], "--optimizer must be one of"),
        (["--schedule", "linear"], "--schedule must be one of"),
        (["--momentum", "0.9"], "--momentum applies to --optimizer sgd only"),
        (["--decay", "0.5"], "--decay applies to --schedule step or plateau"),
        (["--init-scale", "0"], "--init-scale must be positive"),
        (["--patience", "0"], "--patience must be at least 1"),
    ],
)
def test_bad_recipe_options_are_usage_errors(corpus, args, message):
    p = run("train", "corpus.txt", *args, "--steps", "1", "--out", "runs/bad", cwd=corpus)
    assert p.returncode == 2, err(p)
    assert message in err(p) and "Traceback" not in err(p)
    assert len(err(p).strip().splitlines()) == 1
    assert not (corpus / "runs/bad").exists()
