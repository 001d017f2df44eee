"""Learning curves as a PNG or SVG, with matplotlib's Agg backend (no display needed): loss
against steps and against minutes (validation solid with dots, training thin), the validation
sequence error of seq2seq runs that keep their best by it below that, the learning rate on its own
axis at the bottom, runs overlaid in colours named in the legend, each best checkpoint
starred. matplotlib is imported here only, by ``rnngen plot -o``."""

from pathlib import Path

from rnngen.errors import UsageError
from rnngen.files import atomic_write
from rnngen.pictures.curves import Curves, read_curves

FORMATS = (".png", ".svg")


def draw(runs: list[Curves], out: Path) -> Path:
    """Write the figure of ``runs`` to ``out`` (atomically); its suffix picks the format."""
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"{out}: the picture must be a .png or .svg file")
    import io

    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text in an SVG: smaller, searchable
    from matplotlib.figure import Figure

    errors = any(run.error for run in runs)  # seq2seq runs that keep their best by it
    fig = Figure(figsize=(9, 7.4 if errors else 5.6), dpi=80, layout="constrained")
    axes = fig.subplots(
        3 if errors else 2, 2, sharex="col", height_ratios=[3, 2, 1] if errors else [3, 1]
    )
    (by_step, by_min), *middle, (lr_step, lr_min) = axes
    colours = matplotlib.colormaps["tab10"].colors
    for k, run in enumerate(runs):
        c = colours[k % len(colours)]
        for ax, x in ((by_step, 0), (by_min, 1)):
            if run.train:
                ax.plot(
                    [p[x] for p in run.train],
                    [p[2] for p in run.train],
                    color=c,
                    alpha=0.45,
                    linewidth=1,
                    label=f"{run.name} train" if x == 0 else None,
                )
            if run.val:
                ax.plot(
                    [p[x] for p in run.val],
                    [p[2] for p in run.val],
                    color=c,
                    marker="o",
                    markersize=3,
                    linewidth=1.8,
                    label=f"{run.name} val" if x == 0 else None,
                )
            if run.best is not None:
                ax.plot(
                    [run.best[x]],
                    [run.best[2]],
                    marker="*",
                    markersize=13,
                    color=c,
                    markeredgecolor="black",
                    linestyle="none",
                    label=f"{run.name} best {run.best[2]:.4f}{_pct(run)}" if x == 0 else None,
                )
        for ax, x in ((lr_step, 0), (lr_min, 1)):
            if run.lr:
                ax.plot([p[x] for p in run.lr], [p[2] for p in run.lr], color=c, linewidth=1.2)
        for ax, x in zip(middle[0] if middle else (), (0, 1), strict=False):
            if run.error:
                ax.plot(
                    [p[x] for p in run.error],
                    [100 * p[2] for p in run.error],
                    color=c,
                    marker="o",
                    markersize=3,
                    linewidth=1.8,
                )
            best = run.best_error
            if best is not None:
                ax.plot(
                    [best[x]],
                    [100 * best[2]],
                    marker="*",
                    markersize=13,
                    color=c,
                    markeredgecolor="black",
                    linestyle="none",
                )
    by_step.set_ylabel("loss (nats/token)")
    by_step.set_title("by step", fontsize=10)
    by_min.set_title("by minute", fontsize=10)
    if middle:
        middle[0][0].set_ylabel("val. sequence error (%)")
    lr_step.set_ylabel("learning rate")
    lr_step.set_xlabel("step")
    lr_min.set_xlabel("minutes")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    by_step.legend(fontsize=8, loc="upper right")
    buf = io.BytesIO()
    fmt = out.suffix.lower().lstrip(".")
    fig.savefig(buf, format=fmt, metadata={"Software": None} if fmt == "png" else {"Date": None})
    try:
        atomic_write(out, buf.getvalue())
    except OSError as e:
        raise UsageError(f"{out}: cannot write the picture ({e.strerror or e})") from None
    return out


def _pct(run: Curves) -> str:
    """The best checkpoint's validation error, for its legend entry (when the run has one)."""
    best = run.best_error
    return "" if best is None else f" ({100 * best[2]:.2f}%)"


def plot_runs(runs: list[str | Path], out: str | Path) -> Path:
    """Draw the learning curves of ``runs`` (run directories or checkpoints) into ``out``, a
    ``.png`` or ``.svg`` file. Returns the path. Raises ``UserError`` naming a file that is not a
    run, or a picture that cannot be written."""
    return draw([read_curves(r) for r in runs], Path(out))
