"""Learning curves drawn in the terminal with plotext (6.x; imported here only, by ``rnngen plot``
without ``-o`` on a terminal): loss against steps for every run, validation and training, each
best checkpoint marked, the validation sequence error of seq2seq runs that keep their best by it,
and the learning rate below, as figures one above the other."""

from rnngen.pictures.curves import Curves


def render(runs: list[Curves], width: int, height: int, color: bool) -> str:
    """The plots as text, ``width`` x ``height`` characters."""
    import plotext

    fig = plotext.figure

    def line(points, label: str | None, marker: str = "braille", connect: bool = True):
        s = fig.signal([p[0] for p in points], [p[2] for p in points], marker=marker)
        if connect and len(points) > 1:
            s.lines()
        if label:
            s.label(label)
        fig.draw(s)

    lr_rows = max(7, height // 4)
    fig.clear()
    fig.plot_size(width, max(10, height - lr_rows))
    for run in runs:
        if run.train:
            line(run.train, f"{run.name} train")
        if run.val:
            line(run.val, f"{run.name} val", marker="dot")
        if run.best is not None:
            line([run.best], f"{run.name} best {run.best[2]:.4f}", marker="*", connect=False)
    ends = [p for run in runs for p in (*run.train, *run.val)]
    if ends:  # the legend in the top right corner, where the curves have come down from
        fig.legend(
            x=max(p[0] for p in ends),
            y=max(p[2] for p in ends),
            ha="right",
            va="top",
            relative=True,
        )
    fig.title("loss (nats/token) by step")
    top = fig.build().string(colorless=not color)
    if any(run.error for run in runs):  # seq2seq runs that keep their best by it
        fig.clear()
        fig.plot_size(width, lr_rows + 3)
        for run in runs:
            if run.error:
                line([(s, m, 100 * e) for s, m, e in run.error], None, marker="dot")
        fig.title("validation sequence error (%) by step")
        top += "\n" + fig.build().string(colorless=not color)
    fig.clear()
    fig.plot_size(width, lr_rows)
    for run in runs:
        if run.lr:
            line(run.lr, None)
    fig.title("learning rate by step")
    return top + "\n" + fig.build().string(colorless=not color)
