"""Input rnngen must not trust: checkpoints someone shared and then edited, sizes that cannot fit in
memory, numbers that are not numbers, and a run directory another run is writing. Each is refused
with one line naming the file (or the option) and the field, the documented exit code, no
traceback, and nothing written."""

import json
import math
import signal
import subprocess
import time

import numpy as np
import pytest
from clitools import cli_env, err, out, repetitive_text, rnngen_exe, run, with_meta, with_tensors

import rnngen.checkpoint as checkpoint
from rnngen.errors import CheckpointError

SMALL = ["--hidden", "32", "--embed", "8", "--seq-len", "16", "--batch-size", "8"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A small LSTM char model, a GRU one, and a corpus."""
    d = tmp_path_factory.mktemp("untrusted")
    (d / "corpus.txt").write_text(repetitive_text())
    for name, cell in (("lstm", "lstm"), ("gru", "gru")):
        p = run(
            "train",
            "corpus.txt",
            *SMALL,
            "--cell",
            cell,
            "--steps",
            "20",
            "--eval-every",
            "10",
            "--out",
            f"runs/{name}",
            "-q",
            cwd=d,
        )
        assert p.returncode == 0, err(p)
    return d


def _meta(**changes):
    """An edit of the metadata: ``section__field=value`` sets meta[section][field]; a value of
    DELETE removes it; a callable is applied to the metadata."""

    def edit(meta):
        for key, value in changes.items():
            *path, last = key.split("__")
            d = meta
            for k in path:
                d = d[k]
            if value is DELETE:
                del d[last]
            else:
                d[last] = value

    return edit


DELETE = object()


def _tensor(name, make):
    def edit(tensors):
        tensors[name] = make(tensors[name])

    return edit


def _drop_tensor(name):
    return lambda tensors: tensors.pop(name)


# (case, the file's edit: ("meta", edit) or ("tensors", edit), message fragment)
LIES = [
    (
        "hidden that does not match the tensors",
        ("meta", _meta(model__hidden=64)),
        "parameter lstm0.W_ih has shape (8, 128), but the model's settings (cell lstm, layers 2, "
        "hidden 64",
    ),
    (
        "a missing vocabulary",
        ("meta", _meta(vocab=DELETE)),
        "vocab is missing: a checkpoint holds its vocabulary",
    ),
    (
        "an unknown cell",
        ("meta", _meta(model__cell="transformer")),
        "model.cell must be one of lstm, gru, rnn-tanh, rnn-relu, not 'transformer'",
    ),
    (
        "a negative layer count",
        ("meta", _meta(model__layers=-2)),
        "model.layers must be at least 1 (got -2)",
    ),
    (
        "a billion layers",
        ("meta", _meta(model__layers=10**9)),
        "model.layers is 1000000000, but the file holds 9 parameters",
    ),
    (
        "a step that is a string",
        ("meta", _meta(step="many")),
        "step must be a whole number >= 0 (got 'many')",
    ),
    (
        "a layer count that is a float",
        ("meta", _meta(model__layers=2.0)),
        "model.layers must be a whole number (got 2.0)",
    ),
    (
        "a boolean hidden size",
        ("meta", _meta(model__hidden=True)),
        "model.hidden must be a whole number (got True)",
    ),
    (
        "NaN dropout",
        ("meta", _meta(model__dropout=math.nan)),
        "model.dropout must be a finite number (got nan)",
    ),
    (
        "an infinite learning rate",
        ("meta", _meta(train__lr=math.inf)),
        "train.lr must be a finite number (got inf)",
    ),
    (
        "a negative learning rate",
        ("meta", _meta(train__lr=-0.1)),
        "train.lr must be positive (got -0.1)",
    ),
    (
        "an unknown optimizer",
        ("meta", _meta(train__optimizer="lion")),
        "train.optimizer must be one of adam, adamw, sgd, rmsprop, adagrad, not 'lion'",
    ),
    (
        "a tie that the sizes do not allow",
        ("meta", _meta(model__tie=True)),
        "model.tie needs model.embed equal to model.hidden (got embed 8, hidden 32)",
    ),
    (
        "a vocabulary one token short",
        ("meta", lambda m: m["vocab"]["tokens"].pop()),
        "model.vocab_size is 19, but the vocabulary holds 18 tokens",
    ),
    (
        "a vocabulary with a repeated token",
        ("meta", lambda m: m["vocab"]["tokens"].__setitem__(1, m["vocab"]["tokens"][2])),
        "vocab is not a vocabulary (vocabulary has repeated tokens)",
    ),
    (
        "a word vocabulary without <unk>",
        ("meta", _meta(vocab__level="word", model__level="word")),
        "vocab is not a vocabulary (a word vocabulary holds <eos> and <unk>)",
    ),
    (
        "a vocabulary of another level",
        (
            "meta",
            lambda m: m["vocab"].update(
                level="word", tokens=["<eos>", "<unk>", *m["vocab"]["tokens"][2:]]
            ),
        ),
        "vocab.level is 'word', but model.level is 'char'",
    ),
    (
        "model settings that are a list",
        ("meta", _meta(model=[1, 2])),
        "model is missing or not a mapping",
    ),
    (
        "a format version that is a string",
        ("meta", _meta(format_version="1")),
        "format_version must be a whole number from 1 (got '1')",
    ),
    (
        "a history entry with a string step",
        ("meta", lambda m: m["info"]["history"][0].__setitem__("step", "ten")),
        "info.history[0].step must be a whole number >= 0 (got 'ten')",
    ),
    (
        "a learning curve with a row of text",
        ("meta", _meta(info__curve=[[10, 2.5, "fast", 1.0]])),
        "info.curve must be a list of [step, loss, lr, seconds] (got [[10, 2.5, 'fast', 1.0]])",
    ),
    (
        "a best loss that is text",
        ("meta", _meta(info__best_val_loss="low")),
        "info.best_val_loss must be a number (got 'low')",
    ),
    (
        "a missing parameter",
        ("tensors", _drop_tensor("param/lstm1.W_hh")),
        "parameter lstm1.W_hh is missing",
    ),
    (
        "a parameter of another shape",
        ("tensors", _tensor("param/out.b", lambda a: a[:-1])),
        "parameter out.b has shape (18,), but the model's settings",
    ),
    (
        "a float64 parameter",
        ("tensors", _tensor("param/lstm0.b", lambda a: a.astype(np.float64))),
        "parameter lstm0.b is float64, not float32",
    ),
    (
        "NaN weights",
        ("tensors", _tensor("param/lstm0.W_hh", lambda a: a * np.float32(np.nan))),
        "parameter lstm0.W_hh holds NaN or infinite values",
    ),
    (
        "a parameter the model does not have",
        ("tensors", lambda t: t.__setitem__("param/lstm2.W_hh", np.zeros((32, 128), np.float32))),
        "parameter lstm2.W_hh is not part of the model its settings describe",
    ),
]


def _forge(workdir, case) -> str:
    name, (kind, edit), _ = case
    data = (workdir / "runs/lstm/last.safetensors").read_bytes()
    forged = with_meta(data, edit) if kind == "meta" else with_tensors(data, edit)
    path = workdir / f"forged-{LIES.index(case)}.safetensors"
    path.write_bytes(forged)
    return path.name


@pytest.mark.parametrize("case", LIES, ids=[c[0] for c in LIES])
def test_a_checkpoint_that_lies_is_refused_when_loaded(workdir, case):
    path = workdir / _forge(workdir, case)
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    assert str(e.value) == f"{path}: {case[2]}" or str(e.value).startswith(f"{path}: {case[2]}")


COMMANDS = ["info", "sample", "eval", "resume"]


@pytest.mark.parametrize("case", LIES, ids=[c[0] for c in LIES])
def test_every_command_refuses_it_in_one_line(workdir, case):
    """Each lie through the command line, the commands taking turns (every command reads a
    checkpoint through the same checks; the test above has every lie in process)."""
    name = _forge(workdir, case)
    command = COMMANDS[LIES.index(case) % len(COMMANDS)]
    args = {
        "info": ["info", name],
        "sample": ["sample", name, "--length", "5"],
        "eval": ["eval", name, "corpus.txt"],
        "resume": ["train", "corpus.txt", "--resume", name],
    }[command]
    before = sorted(q.name for q in workdir.iterdir())
    p = run(*args, cwd=workdir)
    e = err(p)
    assert p.returncode == 1, e
    assert e.startswith(f"error: {name}: ") and case[2] in e, e
    assert len(e.strip().splitlines()) == 1 and "Traceback" not in e
    assert out(p) == "" and sorted(q.name for q in workdir.iterdir()) == before


RESUME_LIES = [
    ("a missing optimizer moment", _drop_tensor("adam.v"), "tensor adam.v is missing"),
    (
        "an optimizer moment of another length",
        _tensor("adam.m", lambda a: a[:10]),
        "tensor adam.m is float32 (10,), not float32 (14347,)",
    ),
    (
        "a carried state of another batch",
        _tensor("state.h", lambda a: a[:, :3]),
        "tensor state.h is float32 (2, 3, 32), not float32 (2, 8, 32)",
    ),
    ("a missing cell state", _drop_tensor("state.c"), "tensor state.c is missing"),
]


@pytest.mark.parametrize("case", RESUME_LIES, ids=[c[0] for c in RESUME_LIES])
def test_a_training_state_that_lies_is_refused_by_resume_only(workdir, case):
    _, edit, fragment = case
    name = f"state-{RESUME_LIES.index(case)}.safetensors"
    (workdir / name).write_bytes(
        with_tensors((workdir / "runs/lstm/last.safetensors").read_bytes(), edit)
    )
    p = run("train", "corpus.txt", "--resume", name, cwd=workdir)
    assert p.returncode == 1 and "Traceback" not in err(p), err(p)
    assert f"{name}: cannot resume from this checkpoint: {fragment}" in err(p)
    assert run("info", name, cwd=workdir).returncode == 0  # the model itself is fine
    assert run("sample", name, "--length", "5", cwd=workdir).returncode == 0


def test_a_metadata_bomb_is_refused_without_reading_it(workdir):
    data = bytearray((workdir / "runs/lstm/last.safetensors").read_bytes())
    data[:8] = (10**12).to_bytes(8, "little")  # a header claiming a terabyte
    (workdir / "bomb.safetensors").write_bytes(bytes(data))
    p = run("info", "bomb.safetensors", cwd=workdir)
    assert p.returncode == 1 and "bomb.safetensors: not an rnngen checkpoint, or truncated" in err(
        p
    )


# ---- sizes that cannot fit -------------------------------------------------------------------

TOO_BIG = [
    (
        ["--hidden", "200000"],
        "training 2 layers of 200000 lstm units (vocabulary 19) on batches of 32 x 64 needs about",
    ),
    (["--layers", "100000"], "training 100000 layers of 256 lstm units"),
    (["--embed", "100000000", "--cell", "gru"], "training 2 layers of 256 gru units"),
]


@pytest.mark.parametrize("case", TOO_BIG, ids=[" ".join(c[0]) for c in TOO_BIG])
def test_sizes_that_cannot_fit_are_refused_before_allocating(workdir, case):
    args, fragment = case
    t0 = time.monotonic()
    p = run("train", "corpus.txt", *args, "--out", "runs/big", cwd=workdir)
    e = err(p)
    assert p.returncode == 2, e
    assert "of memory, and this machine has" in e and fragment in e, e
    assert "use a smaller --hidden, --embed, --layers, --batch-size or --seq-len" in e
    assert e.startswith("error: ") and len(e.strip().splitlines()) == 1 and "Traceback" not in e
    assert time.monotonic() - t0 < 60  # refused, not attempted
    assert not (workdir / "runs/big").exists()


# ---- numbers that are not numbers --------------------------------------------------------------

NOT_FINITE = [
    ("train", "--lr", "nan"),
    ("train", "--minutes", "inf"),
    ("train", "--epochs", "inf"),
    ("train", "--dropout", "nan"),
    ("train", "--clip", "inf"),
    ("train", "--decay", "nan"),
    ("train", "--init-scale", "inf"),
    ("train", "--val-frac", "nan"),
    ("train", "--weight-decay", "-inf"),
    ("train", "--min-lr", "nan"),
    ("sample", "--temp", "nan"),
    ("sample", "--top-p", "nan"),
    ("sample", "--temp", "inf"),
]


@pytest.mark.parametrize("case", NOT_FINITE, ids=[" ".join(c) for c in NOT_FINITE])
def test_a_number_that_is_not_finite_is_a_usage_error(workdir, case):
    command, flag, value = case
    args = [command, "corpus.txt" if command == "train" else "runs/lstm", flag, value]
    if command == "train":
        args += ["--steps", "1", "--out", "runs/nf"]
    p = run(*args, cwd=workdir)
    e = err(p)
    assert p.returncode == 2, e
    assert e.strip() == f"error: {flag} must be a finite number (got {value})", e
    assert out(p) == ""


def test_typers_own_usage_errors_are_one_line_too(workdir):
    p = run("train", "corpus.txt", "--hidden", "lots", cwd=workdir)
    e = err(p)
    assert p.returncode == 2 and e.startswith("error: ") and "--hidden" in e, e
    assert len(e.strip().splitlines()) == 1 and "integer" in e and "rnngen train --help" in e


# ---- a run directory another run is writing ------------------------------------------------------


def test_a_live_runs_directory_is_refused_and_a_killed_run_leaves_no_lock(workdir):
    cmd = [
        rnngen_exe(),
        "train",
        "corpus.txt",
        *SMALL,
        "--steps",
        "10000000",
        "--eval-every",
        "20",
        "--out",
        "runs/live",
    ]
    live = subprocess.Popen(
        cmd,
        cwd=workdir,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = workdir / "runs/live/last.safetensors"
    try:
        for line in live.stderr:  # plain log lines: stderr is not a terminal
            if " val " in line:  # the first evaluation: its checkpoint is being written
                break
        t0 = time.monotonic()
        while not last.exists() and time.monotonic() - t0 < 30:
            time.sleep(0.05)
        assert live.poll() is None and last.exists()
        for args in (
            ["train", "corpus.txt", *SMALL, "--out", "runs/live", "--force"],
            ["train", "--resume", "runs/live"],
        ):
            p = run(*args, cwd=workdir)
            e = err(p)
            assert p.returncode == 1, e
            assert (
                f"error: runs/live: another rnngen train (process {live.pid}) is writing this "
                "run directory"
            ) in e and "Traceback" not in e
    finally:
        live.send_signal(signal.SIGKILL)
        live.wait(timeout=30)
    # killed mid-run: the lock went with the process, and the run continues from its checkpoint
    step = checkpoint.load(last).step
    q = run("train", "--resume", "runs/live", "--steps", str(step + 3), "-q", cwd=workdir)
    assert q.returncode == 0, err(q)
    assert checkpoint.load(last).step == step + 3
    info = json.loads(run("info", str(last), "--json", cwd=workdir).stdout)
    assert info["steps"] == step + 3
