"""Learning curves as a PNG or SVG, with matplotlib's Agg backend (no display needed): loss
against steps and against minutes (validation solid with dots, training thin), the validation
sequence error of seq2seq runs that keep their best by it below that, the learning rate on its own
axis at the bottom, runs overlaid in colours named in the legend (below the axes, never over the
curves), each best checkpoint starred; optionally the loss on a log scale. matplotlib (the
``plot`` extra) is imported here only, by ``rnngen plot -o``; without it the error says how to
install it."""

from pathlib import Path

from rnngen.errors import UsageError, UserError
from rnngen.files import atomic_write
from rnngen.pictures.curves import Curves, read_curves

FORMATS = (".png", ".svg")
DPI = 80
DPI_RANGE = (20, 1200)
SIZE_RANGE = (2.0, 100.0)  # inches, each side
NEEDS_MATPLOTLIB = 'writing a PNG/SVG needs matplotlib: pip install "rnngen[plot]"'


class MatplotlibMissingError(UserError):
    """A picture file asked for without matplotlib installed."""


def parse_size(size: str | tuple[float, float] | None) -> tuple[float, float] | None:
    """``"WxH"`` in inches (``"12x8"``, ``"6.5x4"``) or a (width, height) pair, checked; None
    stays None (the default size). Raises UsageError saying what is wrong."""
    if size is None:
        return None
    if isinstance(size, str):
        parts = size.lower().replace("\u00d7", "x").split("x")
        try:
            w, h = (float(v) for v in parts)
        except ValueError:
            raise UsageError(
                f"--size {size!r}: give width x height in inches, such as 12x8"
            ) from None
    else:
        w, h = (float(v) for v in size)
    lo, hi = SIZE_RANGE
    if not (lo <= w <= hi and lo <= h <= hi):  # also refuses nan
        raise UsageError(f"--size {w:g}x{h:g}: each side must be {lo:g} to {hi:g} inches")
    return w, h


def check_dpi(dpi: int | None) -> int:
    """The dots per inch of a PNG, checked (the default when None)."""
    if dpi is None:
        return DPI
    lo, hi = DPI_RANGE
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not lo <= dpi <= hi:
        raise UsageError(f"--dpi {dpi}: must be a whole number from {lo} to {hi}")
    return dpi


def draw(
    runs: list[Curves],
    out: Path,
    *,
    log: bool = False,
    dpi: int | None = None,
    size: str | tuple[float, float] | None = None,
    per_char: bool = False,
) -> Path:
    """Write the figure of ``runs`` to ``out`` (atomically); its suffix picks the format."""
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"{out}: the picture must be a .png or .svg file")
    fig = figure(runs, log=log, dpi=dpi, size=size, per_char=per_char)
    import io

    buf = io.BytesIO()
    fmt = out.suffix.lower().lstrip(".")
    fig.savefig(buf, format=fmt, metadata={"Software": None} if fmt == "png" else {"Date": None})
    try:
        atomic_write(out, buf.getvalue())
    except OSError as e:
        raise UsageError(f"{out}: cannot write the picture ({e.strerror or e})") from None
    return out


def figure(
    runs: list[Curves],
    *,
    log: bool = False,
    dpi: int | None = None,
    size: str | tuple[float, float] | None = None,
    per_char: bool = False,
):
    """The matplotlib Figure of ``runs`` (not yet written anywhere); ``per_char``: their
    validation bits per character (``Curves.per_char``) rather than the loss."""
    if per_char:
        runs = [run.per_char() for run in runs]
    dpi, wh = check_dpi(dpi), parse_size(size)
    try:
        import matplotlib
    except ImportError:
        raise MatplotlibMissingError(NEEDS_MATPLOTLIB) from None

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text in an SVG: smaller, searchable
    from matplotlib.figure import Figure

    errors = any(run.error for run in runs)  # seq2seq runs that keep their best by it
    rates = any(run.lr for run in runs)  # (curves built from validation points alone have none)
    ratios = [3, *([2] * errors), *([1] * rates)]
    fig = Figure(figsize=wh or (9, 7.4 if errors else 5.6), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(ratios), 2, sharex="col", height_ratios=ratios, squeeze=False)
    (by_step, by_min), *middle = axes
    lr_step, lr_min = middle.pop() if rates else (None, None)
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
            if run.lr and ax is not None:
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
    if log:  # ticks as plain numbers (2, 0.5), not 2x10^0
        from matplotlib.ticker import FuncFormatter

        def minor(v: float, _) -> str:  # 2, 3 and 5 of each decade: enough, not crowded
            return f"{v:g}" if v > 0 and f"{v:e}"[0] in "235" else ""

        for ax in (by_step, by_min):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(minor))
    measure = "val. bits per character" if per_char else "loss (nats/token)"
    by_step.set_ylabel(measure + (", log scale" if log else ""))
    by_step.set_title("by step", fontsize=10)
    by_min.set_title("by minute", fontsize=10)
    if middle:
        middle[0][0].set_ylabel("val. sequence error (%)")
    if lr_step is not None:
        lr_step.set_ylabel("learning rate")
    axes[-1][0].set_xlabel("step")
    axes[-1][1].set_xlabel("minutes")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    handles, labels = by_step.get_legend_handles_labels()
    per_run = max(1, len(labels) // max(1, len(runs)))  # train, val, best: one run a row
    if per_run * len(runs) == len(labels):  # the legend fills column by column
        order = [k * per_run + j for j in range(per_run) for k in range(len(runs))]
        handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    # below the axes, in the figure's own layout (constrained layout makes room): never over
    # the curves, however many runs
    fig.legend(handles, labels, loc="outside lower center", ncols=per_run, fontsize=8)
    return fig


def _pct(run: Curves) -> str:
    """The best checkpoint's validation error, for its legend entry (when the run has one)."""
    best = run.best_error
    return "" if best is None else f" ({100 * best[2]:.2f}%)"


def plot_runs(
    runs: list[str | Path],
    out: str | Path,
    *,
    log: bool = False,
    dpi: int | None = None,
    size: str | tuple[float, float] | None = None,
    per_char: bool = False,
) -> Path:
    """Draw the learning curves of ``runs`` (run directories or checkpoints) into ``out``, a
    ``.png`` or ``.svg`` file. ``log``: the loss on a logarithmic axis; ``dpi``: dots per inch of a
    PNG (default 80); ``size``: (width, height) in inches or ``"WxH"`` (default 9 x 5.6, taller
    with an error row); ``per_char``: the validation bits per character instead of the loss, to
    compare language models of different levels. Returns the path. Raises ``UserError`` naming a
    file that is not a run (or, with ``per_char``, a run without them), a picture that cannot be
    written, or matplotlib missing (``pip install "rnngen[plot]"``), and ``UsageError`` for a bad
    option."""
    check_dpi(dpi), parse_size(size)
    curves = [read_curves(r) for r in runs]
    return draw(curves, Path(out), log=log, dpi=dpi, size=size, per_char=per_char)
