"""Learning curves drawn in the terminal with braille characters (each cell 2 x 4 dots) and rich
for the colours, no plotting library needed: loss against steps for every run (training thin,
validation with its evaluations marked, each best checkpoint a ``*``), the validation sequence
error of seq2seq runs that keep their best by it, and the learning rate below, as charts one above
the other with axes, ticks and a legend under the loss chart, never over the curves. Without
colour (``NO_COLOR``, not a terminal) the runs are told apart by their evaluation markers."""

import io
import math
from collections.abc import Sequence
from itertools import groupby

from rich.console import Console
from rich.text import Text

from rnngen.pictures.curves import Curves

COLOURS = ("cyan", "magenta", "yellow", "green", "blue", "red", "bright_cyan", "bright_magenta")
MARKERS = "ox+#%@&="  # a run's evaluation points, so that runs differ without colour too
BEST = "*"
# the dot bit of braille cell U+2800 + bits for the dot in row r (0..3), column c (0..1)
DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
GUTTER = 9  # the y tick labels and the axis line

Point = tuple[int, float, float]


def render(
    runs: list[Curves],
    width: int,
    height: int,
    color: bool,
    log: bool = False,
    per_char: bool = False,
) -> str:
    """The charts as text, at most ``width`` columns and about ``height`` lines; ``log``: the loss
    on a logarithmic axis; ``per_char``: the validation bits per character in its place."""
    if per_char:
        runs = [run.per_char() for run in runs]
    width = max(40, width)
    errors = any(run.error for run in runs)
    small = max(4, height // 6)  # plot rows of the learning rate (and the error) chart
    legend = _legend(runs, width)
    overhead = 3 * (3 if errors else 2) + len(legend.split()) + 1
    big = max(6, height - overhead - small * (2 if errors else 1))
    out = Text()
    measure = "val. bits per character" if per_char else "loss (nats/token)"
    loss = Chart(f"{measure} by step" + (", log scale" if log else ""), width, big, log)
    for k, run in enumerate(runs):
        loss.line(run.train, k)
        loss.line(run.val, k, MARKERS[k % len(MARKERS)])
        if run.best is not None:
            loss.mark(run.best, k, BEST)
    out.append_text(loss.text())
    out.append_text(legend)
    if errors:  # seq2seq runs that keep their best by it
        chart = Chart("validation sequence error (%) by step", width, small)
        for k, run in enumerate(runs):
            pct = [(s, m, 100 * e) for s, m, e in run.error]
            chart.line(pct, k, MARKERS[k % len(MARKERS)])
            if run.best_error is not None:
                chart.mark((run.best_error[0], 0.0, 100 * run.best_error[2]), k, BEST)
        out.append_text(chart.text())
    chart = Chart("learning rate by step", width, small)
    for k, run in enumerate(runs):
        chart.line(run.lr, k)
    out.append_text(chart.text())
    out.rstrip()
    buf = io.StringIO()
    Console(
        file=buf,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        highlight=False,
        soft_wrap=True,
    ).print(out)
    return buf.getvalue().rstrip("\n")


def _legend(runs: list[Curves], width: int) -> Text:
    """One entry per series, wrapped to ``width``, under the loss chart."""
    entries = []
    for k, run in enumerate(runs):
        style = COLOURS[k % len(COLOURS)]
        if run.train:
            entries.append(Text(f"\u28c0\u28c0 {run.name} train", style=style))
        if run.val:
            entries.append(Text(f"\u28c0{MARKERS[k % len(MARKERS)]}\u28c0 {run.name} val", style))
        if run.best is not None:
            entries.append(Text(f"{BEST} {run.name} best {run.best[2]:.4f}", style=style))
    out, line = Text(), Text(" " * GUTTER)
    for e in entries:
        if len(line) > GUTTER and len(line) + 3 + len(e) > width:
            out.append_text(line.append("\n"))
            line = Text(" " * GUTTER)
        if len(line) > GUTTER:
            line.append("   ")
        line.append_text(e)
    return out.append_text(line.append("\n")) if len(line) > GUTTER else out


class Chart:
    """One chart: a title line, ``rows`` rows of plot with y ticks on the left, the x axis and its
    tick labels. Series are drawn into a grid of braille dots; markers take whole cells."""

    def __init__(self, title: str, width: int, rows: int, log: bool = False) -> None:
        self.title, self.cols, self.rows, self.log = title, width - GUTTER - 1, rows, log
        self.series: list[tuple[Sequence[Point], int, str | None]] = []
        self.marks: list[tuple[Point, int, str]] = []

    def line(self, points: Sequence[Point], run: int, marker: str | None = None) -> None:
        if points:
            self.series.append((points, run, marker))

    def mark(self, point: Point, run: int, char: str) -> None:
        self.marks.append((point, run, char))

    def _y(self, v: float) -> float:
        return math.log10(v) if self.log else v

    def text(self) -> Text:
        out = Text()
        out.append(" " * GUTTER + self.title + "\n", style="bold")
        pts = [p for s, _, _ in self.series for p in s] + [p for p, _, _ in self.marks]
        if self.log:
            pts = [p for p in pts if p[2] > 0]
        if not pts:
            return out.append(" " * GUTTER + "(no points)\n")
        x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
        y0, y1 = min(p[2] for p in pts), max(p[2] for p in pts)
        if x1 == x0:
            x1 = x0 + 1
        if y1 == y0:
            y0, y1 = (
                (y0 / 2, y0 * 2) if self.log else (y0 - (abs(y0) or 1) / 2, y1 + (abs(y1) or 1) / 2)
            )
        ly0, ly1 = self._y(y0), self._y(y1)
        pad = (ly1 - ly0) * 0.04
        ly0, ly1 = ly0 - pad, ly1 + pad
        W, H = 2 * self.cols, 4 * self.rows
        dots = [[0] * self.cols for _ in range(self.rows)]
        style: list[list[int | None]] = [[None] * self.cols for _ in range(self.rows)]
        chars: dict[tuple[int, int], tuple[str, int]] = {}

        def px(p: Point) -> tuple[float, float]:
            return (
                (p[0] - x0) / (x1 - x0) * (W - 1),
                (ly1 - self._y(p[2])) / (ly1 - ly0) * (H - 1),
            )

        def dot(x: float, y: float, run: int) -> None:
            i, j = round(x), round(y)
            if 0 <= i < W and 0 <= j < H:
                dots[j // 4][i // 2] |= DOTS[j % 4][i % 2]
                style[j // 4][i // 2] = run

        for points, run, marker in self.series:
            ps = [px(p) for p in points if not self.log or p[2] > 0]
            for (ax, ay), (bx, by) in zip(ps, ps[1:], strict=False):
                n = max(1, math.ceil(max(abs(bx - ax), abs(by - ay))))
                for t in range(n + 1):
                    dot(ax + (bx - ax) * t / n, ay + (by - ay) * t / n, run)
            if len(ps) == 1:
                dot(*ps[0], run)
            if marker:
                for x, y in ps:
                    chars[(round(y) // 4, round(x) // 2)] = (marker, run)
        for p, run, char in self.marks:
            if not self.log or p[2] > 0:
                x, y = px(p)
                chars[(round(y) // 4, round(x) // 2)] = (char, run)

        labels = {}
        for v in _ticks(y0, y1, self.log, max(2, self.rows // 3 + 1)):
            r = round((ly1 - self._y(v)) / (ly1 - ly0) * (H - 1)) // 4
            if 0 <= r < self.rows:
                labels.setdefault(r, _fmt(v))
        for r in range(self.rows):
            label = labels.get(r, "")
            out.append(f"{label[: GUTTER - 1]:>{GUTTER - 1}} {'┤' if label else '│'}", style="dim")
            cells = []
            for c in range(self.cols):
                if (r, c) in chars:
                    ch, run = chars[(r, c)]
                    cells.append((ch, f"bold {COLOURS[run % len(COLOURS)]}"))
                elif dots[r][c]:
                    cells.append((chr(0x2800 + dots[r][c]), COLOURS[style[r][c] % len(COLOURS)]))
                else:
                    cells.append((" ", ""))
            for st, group in groupby(cells, key=lambda cell: cell[1]):  # one span per colour run
                out.append("".join(ch for ch, _ in group), style=st)
            out.append("\n")
        axis, under = list("─" * self.cols), [" "] * (self.cols + 2)
        for v in _ticks(x0, x1, False, max(2, self.cols // 12)):
            c = round((v - x0) / (x1 - x0) * (W - 1)) // 2
            label = _fmt(v)
            start = min(max(0, c - len(label) // 2), self.cols - len(label))
            if 0 <= c < self.cols and all(
                ch == " " for ch in under[max(0, start - 1) : start + len(label) + 1]
            ):
                axis[c] = "┬"
                under[start : start + len(label)] = label
        out.append(" " * GUTTER + "└" + "".join(axis) + "\n", style="dim")
        out.append(" " * (GUTTER + 1) + "".join(under).rstrip() + "\n", style="dim")
        return out


def _ticks(lo: float, hi: float, log: bool, n: int) -> list[float]:
    """About ``n`` round values between ``lo`` and ``hi``: 1, 2, 5 times a power of ten; on a log
    axis the powers of ten, with 2 and 5 between them when the range spans less than a decade or
    two."""
    if log and lo > 0:
        decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
        for mults in ((1,), (1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)):
            vs = [m * 10.0**d for d in decades for m in mults if lo <= m * 10.0**d <= hi]
            if len(vs) >= 2:
                return vs[:: max(1, math.ceil(len(vs) / max(n, 2)))]
    span = (hi - lo) or abs(hi) or 1.0
    raw = span / max(1, n)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step)
    return [k * step for k in range(first, math.floor(hi / step) + 1)]


def _fmt(v: float) -> str:
    """A tick label: 3 significant digits, no trailing noise, short exponents."""
    if v == 0:
        return "0"
    s = f"{v:.3g}"
    if "e" in s:
        m, e = s.split("e")
        s = f"{m}e{int(e)}"
    return s
