"""``rnngen plot`` through the installed command: a PNG and an SVG of two runs overlaid, the
terminal plot on a real pseudo-terminal, the points as TSV when stdout is a pipe, and the training
history that feeds them (train loss between evaluations, lr, minutes)."""

import os
import pty
import subprocess

import pytest
from clitools import cli_env, err, out, repetitive_text, reversals, rnngen_exe, run

import rnngen.checkpoint as checkpoint

SMALL = ["--hidden", "32", "--embed", "8", "--seq-len", "16", "--batch-size", "8"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("plot")
    (d / "corpus.txt").write_text(repetitive_text())
    for name, lr in (("fast", "0.01"), ("slow", "0.002")):
        p = run(
            "train",
            "corpus.txt",
            *SMALL,
            "--steps",
            "200",
            "--eval-every",
            "50",
            "--lr",
            lr,
            "--schedule",
            "cosine",
            "--out",
            name,
            cwd=d,
        )
        assert p.returncode == 0, err(p)
    return d


def test_history_records_train_loss_between_evaluations_lr_and_time(runs):
    info = checkpoint.load(runs / "fast" / "last.safetensors").info
    evals = [h["step"] for h in info["history"]]
    assert evals == [50, 100, 150, 200]
    curve = info["curve"]
    steps = [row[0] for row in curve]
    assert steps == list(range(10, 201, 10))  # every tenth of 50 steps, at least 10
    lrs = [row[2] for row in curve]
    assert lrs[0] > lrs[-1] > 0  # the cosine schedule, as followed
    seconds = [row[3] for row in curve]
    assert seconds == sorted(seconds) and seconds[-1] > 0


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_writes_a_picture_of_both_runs(runs, suffix):
    p = run("plot", "fast", "slow", "-o", f"curves{suffix}", cwd=runs)
    assert p.returncode == 0 and out(p) == "", err(p)
    data = (runs / f"curves{suffix}").read_bytes()
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and 10_000 < len(data) < 300_000
    else:
        text = data.decode()
        assert "<svg" in text and "fast val" in text and "slow best" in text


def test_plot_to_a_pipe_is_tsv_data(runs):
    p = run("plot", "fast", "slow", cwd=runs)
    assert p.returncode == 0, err(p)
    rows = [line.split("\t") for line in out(p).splitlines()]
    assert {r[0] for r in rows} == {"fast", "slow"}
    fast = [r for r in rows if r[0] == "fast"]
    count = {s: sum(r[1] == s for r in fast) for s in ("val_loss", "train_loss", "lr")}
    assert count == {"val_loss": 4, "train_loss": 20, "lr": 20}
    assert all(float(r[3]) >= 0 for r in rows)


def on_terminal(cwd, *args: str) -> tuple[int, str, bytes]:
    """``rnngen ARGS`` with stdout a pseudo-terminal: (exit status, what it drew, stderr)."""
    master, slave = pty.openpty()
    env = {**cli_env(), "COLUMNS": "100", "LINES": "30"}
    p = subprocess.Popen(
        [rnngen_exe(), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    _, stderr = p.communicate(timeout=120)
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return p.returncode, data.decode(), stderr


def test_plot_on_a_terminal_draws_in_it(runs):
    code, text, stderr = on_terminal(runs, "plot", "fast", "slow")
    assert code == 0, stderr
    assert "loss (nats/token) by step" in text and "learning rate" in text
    assert "fast val" in text and "slow train" in text
    assert sum("\u2800" <= ch <= "\u28ff" for ch in text) > 50  # braille dots: the lines
    assert "\x1b[" not in text  # NO_COLOR


def test_plot_of_something_that_is_not_a_run_is_one_clear_line(runs):
    (runs / "notes.txt").write_text("hello")
    p = run("plot", "notes.txt", cwd=runs)
    assert (
        p.returncode == 1
        and err(p) == "error: notes.txt: not an rnngen checkpoint (file too short)\n"
    )
    p = run("plot", "fast", "-o", "curves.pdf", cwd=runs)
    assert p.returncode == 2 and "curves.pdf: the picture must be a .png or .svg file" in err(p)


def test_a_seq2seq_run_kept_by_its_error_plots_the_error_and_stars_its_best(runs):
    """--best-by error: the validation error is a series of its own (picture, terminal, TSV),
    and the star marks the checkpoint kept as best, the lowest (error, loss), not the lowest
    loss."""
    from PIL import Image

    from rnngen.pictures.curves import read_curves

    (runs / "rev.tsv").write_text(reversals(400, 1))
    p = run(
        "train",
        "rev.tsv",
        "--task",
        "seq2seq",
        "--hidden",
        "32",
        "--embed",
        "8",
        "--batch-size",
        "16",
        "--steps",
        "60",
        "--eval-every",
        "10",
        "--lr",
        "0.01",
        "--best-by",
        "error",
        "--out",
        "s2s",
        cwd=runs,
    )
    assert p.returncode == 0, err(p)
    best = checkpoint.load(runs / "s2s" / "best.safetensors")
    c = read_curves(runs / "s2s")
    assert [e[0] for e in c.error] == [v[0] for v in c.val] == [10, 20, 30, 40, 50, 60]
    assert c.best[0] == best.step and c.best_error[2] == best.info["best_val_error"]
    assert c.best == min(c.val, key=lambda v: (c.error[c.val.index(v)][2], v[2]))
    rows = out(run("plot", "s2s", cwd=runs)).splitlines()
    assert sum(r.split("\t")[1] == "val_error" for r in rows) == 6
    p = run("plot", "s2s", "fast", "-o", "both.png", cwd=runs)
    assert p.returncode == 0, err(p)
    with Image.open(runs / "both.png") as im:
        assert im.size[1] > 560  # three rows: loss, error, learning rate
    code, text, stderr = on_terminal(runs, "plot", "s2s")
    assert code == 0, stderr
    assert "validation sequence error (%) by step" in text and "learning rate" in text
