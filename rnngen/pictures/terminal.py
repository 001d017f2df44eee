"""Learning curves drawn in the terminal with plotext (imported here only, by ``rnngen plot``
without ``-o`` on a terminal): loss against steps for every run, validation and training, and the
learning rate below."""

from rnngen.pictures.curves import Curves


def render(runs: list[Curves], width: int, height: int, color: bool) -> str:
    """The plot as text, ``width`` x ``height`` characters."""
    import plotext as plt

    plt.clear_figure()
    plt.plot_size(width, height)
    plt.subplots(2, 1)
    plt.subplot(1, 1)
    plt.plotsize(width, max(8, height * 2 // 3))
    plt.title("loss (nats/token) by step")
    for run in runs:
        if run.train:
            plt.plot([p[0] for p in run.train], [p[2] for p in run.train],
                     label=f"{run.name} train", marker="braille")  # fmt: skip
        if run.val:
            plt.plot([p[0] for p in run.val], [p[2] for p in run.val], label=f"{run.name} val",
                     marker="dot")  # fmt: skip
        if run.best is not None:
            plt.scatter([run.best[0]], [run.best[2]], label=f"{run.name} best {run.best[2]:.4f}",
                        marker="*")  # fmt: skip
    plt.subplot(2, 1)
    plt.plotsize(width, max(5, height // 3))
    plt.title("learning rate")
    for run in runs:
        if run.lr:
            plt.plot([p[0] for p in run.lr], [p[2] for p in run.lr], marker="braille")
    plt.xlabel("step")
    if not color:
        plt.theme("clear")
    return plt.build()
