"""``rnngen plot`` through the installed command: a PNG and an SVG of two runs overlaid, the
terminal plot on a real pseudo-terminal, the points as TSV when stdout is a pipe, and the training
history that feeds them (train loss between evaluations, lr, minutes). The terminal chart needs no
plotting library and a picture without matplotlib is one line naming the extra, both checked with
the libraries made unimportable for real; --log, --dpi, --size, and a legend clear of the axes."""

import os
import pty
import subprocess
import sys

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


def on_terminal(cwd, *args: str, env: dict | None = None) -> tuple[int, str, bytes]:
    """``rnngen ARGS`` with stdout a pseudo-terminal: (exit status, what it drew, stderr)."""
    master, slave = pty.openpty()
    env = cli_env({"COLUMNS": "100", "LINES": "30", **(env or {})})
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
    lines = text.replace("\r", "").splitlines()
    assert max(len(line) for line in lines) <= 100  # the terminal's width
    axis = next(i for i, line in enumerate(lines) if "\u2514" in line)  # the loss chart's x axis
    legend = next(i for i, line in enumerate(lines) if "fast val" in line)
    assert legend > axis  # under the chart, not over the curves
    assert "* fast best" in text and text.count("*") >= 3  # the best checkpoints, marked


def hidden(tmp_path, *modules: str) -> dict:
    """An environment in which ``modules`` fail to import, as when they are not installed: a
    directory first on PYTHONPATH holding a package of each name that raises ImportError."""
    d = tmp_path / "hide"
    for m in modules:
        (d / m).mkdir(parents=True)
        (d / m / "__init__.py").write_text(f'raise ImportError("No module named {m!r}")\n')
    return {"PYTHONPATH": os.pathsep.join([str(d), cli_env()["PYTHONPATH"]])}


def test_without_the_plot_extra_the_terminal_draws_and_a_picture_is_one_line(runs, tmp_path):
    env = hidden(tmp_path, "matplotlib", "plotext")
    check = subprocess.run(
        [sys.executable, "-c", "import matplotlib"], env=cli_env(env), capture_output=True
    )
    assert check.returncode == 1 and b"ImportError: No module named" in check.stderr
    code, text, stderr = on_terminal(runs, "plot", "fast", "slow", "--log", env=env)
    assert code == 0, stderr
    assert "loss (nats/token) by step, log scale" in text and "slow train" in text
    assert sum("\u2800" <= ch <= "\u28ff" for ch in text) > 50
    for suffix in (".png", ".svg"):
        p = run("plot", "fast", "-o", f"nompl{suffix}", cwd=runs, env=env)
        assert p.returncode == 1 and out(p) == "", err(p)
        assert err(p) == 'error: writing a PNG/SVG needs matplotlib: pip install "rnngen[plot]"\n'
        assert not (runs / f"nompl{suffix}").exists()
    p = run("plot", "fast", "slow", cwd=runs, env=env)  # the TSV needs nothing either
    assert p.returncode == 0 and "val_loss" in out(p), err(p)


def test_dpi_size_and_log_shape_the_picture(runs):
    from PIL import Image

    p = run("plot", "fast", "slow", "-o", "small.png", "--dpi", "50", "--size", "8x4.5", cwd=runs)
    assert p.returncode == 0, err(p)
    with Image.open(runs / "small.png") as im:
        assert im.size == (400, 225)
    p = run("plot", "fast", "slow", "--log", "-o", "log.svg", cwd=runs)
    assert p.returncode == 0, err(p)
    assert "log scale" in (runs / "log.svg").read_text()
    for args, message in (
        (["--dpi", "5"], "--dpi 5: must be a whole number from 20 to 1200"),
        (["--dpi", "many"], "'--dpi'"),
        (["--size", "8by4"], "--size '8by4': give width x height in inches, such as 12x8"),
        (["--size", "1x4"], "--size 1x4: each side must be 2 to 100 inches"),
        (["--size", "nanx4"], "--size nanx4: each side must be 2 to 100 inches"),
    ):
        p = run("plot", "fast", "-o", "bad.png", *args, cwd=runs)
        assert p.returncode == 2 and message in err(p) and "Traceback" not in err(p), err(p)
        assert not (runs / "bad.png").exists()
    p = run("plot", "fast", "--dpi", "100", cwd=runs)
    assert p.returncode == 2
    assert err(p) == "error: --dpi and --size are for a picture file: add -o curves.png\n"


@pytest.mark.parametrize("log", [False, True])
def test_the_legend_covers_no_axes(runs, log):
    """The legend sits below the axes in the figure's layout: its box overlaps none of the axes,
    so no curve, however the runs fell."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from rnngen.pictures.curves import read_curves
    from rnngen.pictures.draw import figure

    fig = figure([read_curves(runs / n) for n in ("fast", "slow")], log=log)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)  # the constrained layout places everything
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert [t.get_text() for t in legend.get_texts()][:2] == ["fast train", "slow train"]
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent(renderer)), ax.get_title()
        assert box.y1 < ax.get_window_extent(renderer).y0  # below every axes
    assert fig.axes[0].get_yscale() == ("log" if log else "linear")


def test_plot_runs_takes_the_same_options(runs):
    from PIL import Image

    import rnngen
    from rnngen.errors import UsageError

    path = rnngen.plot_runs([runs / "fast"], runs / "api.png", log=True, dpi=40, size=(5, 3))
    with Image.open(path) as im:
        assert im.size == (200, 120)
    with pytest.raises(UsageError, match="--size"):
        rnngen.plot_runs([runs / "fast"], runs / "api2.png", size="5")


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
    p = run("plot", "s2s", "fast", "--bits-per-char", "-o", "bpc.png", cwd=runs)
    assert p.returncode == 1 and "s2s" in err(p) and "holds no bits per character" in err(p)
    assert not (runs / "bpc.png").exists() and "Traceback" not in err(p)


def test_bits_per_char_put_runs_of_any_level_on_one_scale(runs):
    """The validation bits per character: a series of the TSV (a char model's: its loss in bits)
    and, with --bits-per-char, the curve of the picture and of the terminal chart."""
    import math

    rows = [line.split("\t") for line in out(run("plot", "fast", cwd=runs)).splitlines()]
    loss = [float(r[4]) for r in rows if r[1] == "val_loss"]
    bpc = [float(r[4]) for r in rows if r[1] == "val_bits_per_char"]
    assert len(bpc) == 4 and bpc == pytest.approx([v / math.log(2) for v in loss], rel=1e-5)
    p = run("plot", "fast", "slow", "--bits-per-char", "-o", "bpc.svg", cwd=runs)
    assert p.returncode == 0, err(p)
    svg = (runs / "bpc.svg").read_text()
    assert "val. bits per character" in svg and "fast val" in svg and "fast train" not in svg
    code, text, stderr = on_terminal(runs, "plot", "fast", "--bits-per-char")
    assert code == 0, stderr
    assert "val. bits per character by step" in text and "loss (nats/token)" not in text
