"""Rendering of training events with rich: a live progress bar on a terminal or in a notebook,
log lines otherwise. ``rnngen train`` and ``rnngen.train`` show the same display.

Everything here writes to the console it is given (stderr): stdout stays data.
"""

import time
from collections import deque
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def fmt_rate(r: float) -> str:
    return f"{r / 1000:.1f}k tok/s" if r >= 1000 else f"{r:.0f} tok/s"


class TrainProgress:
    """Renders training events (the ``rnngen.training.trainer.Reporter`` methods): a live bar on a
    terminal, plain log lines otherwise."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.err = console
        self.quiet = quiet
        self.live = (self.err.is_terminal or self.err.is_jupyter) and not quiet
        self.bar: Progress | None = None
        self.val = "–"
        self.max_steps: int | None = None
        self.seconds: float | None = None
        self.last_log = 0.0
        self.last = (0, 0.0, 0.0)
        self.recent: deque[float] = deque(maxlen=100)  # as the trainer's train loss: a mean

    def start(self, meta: dict) -> None:
        self.max_steps, self.seconds = meta["max_steps"], meta["seconds"]
        limit = []
        if self.max_steps is not None:
            limit.append(f"{self.max_steps:,} steps")
        if self.seconds is not None:
            limit.append(f"{self.seconds / 60:g} min")
        self._info(
            f"{meta['params']:,} parameters · vocabulary {meta['vocab']:,} · "
            f"{meta['train_tokens']:,} train / {meta['val_tokens']:,} val tokens · "
            f"{meta['steps_per_epoch']:,} steps/epoch · until {' or '.join(limit)} · "
            f"{meta['threads']} threads"
            + (
                f" x {meta['processes']} {meta.get('members', 'processes')}"
                if meta.get("processes", 1) > 1
                else ""
            )
            + (
                f" · periodic validation on a fixed {meta['val_part_tokens']:,} tokens"
                if meta.get("val_part_tokens")
                else ""
            ),
            self.quiet,
        )
        if self.live:
            self.bar = Progress(
                TextColumn("[bold]step {task.fields[step]}"),
                BarColumn(),
                TextColumn("loss [cyan]{task.fields[loss]}[/] val [green]{task.fields[val]}[/]"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.err,
                transient=False,
            )
            self.task = self.bar.add_task("train", total=1000, step=0, loss="–", val="–", rate="")
            self.bar.start()

    def _fraction(self, step: int, elapsed: float) -> float:
        parts = []
        if self.max_steps:
            parts.append(step / self.max_steps)
        if self.seconds:
            parts.append(elapsed / self.seconds)
        return min(1.0, max(parts)) if parts else 0.0

    def step(self, step: int, loss: float, rate: float, elapsed: float) -> None:
        self.last = (step, loss, rate)
        self.recent.append(loss)
        if self.bar is not None:
            total = f"/{self.max_steps:,}" if self.max_steps else ""
            self.bar.update(
                self.task,
                completed=1000 * self._fraction(step, elapsed),
                step=f"{step:,}{total}",
                loss=f"{loss:.3f}",
                val=self.val,
                rate=fmt_rate(rate),
            )
        elif not self.quiet and time.monotonic() - self.last_log > 30:
            self.last_log = time.monotonic()
            pct = 100 * self._fraction(step, elapsed)
            self.err.print(f"step {step:,} ({pct:.0f}%)  loss {loss:.4f}  {fmt_rate(rate)}")

    def evaluated(
        self,
        step: int,
        val_loss: float,
        best: bool,
        val_error: float | None = None,
        val_bits_per_char: float | None = None,
    ) -> None:
        self.val = f"{val_loss:.3f}" + ("" if val_error is None else f" {100 * val_error:.1f}%")
        error = "" if val_error is None else f"  error {100 * val_error:.2f}%"
        if val_bits_per_char is not None:
            self.val += f" ({val_bits_per_char:.3f} bpc)"
            error += f" ({val_bits_per_char:.4f} bits/char)"
        if self.bar is not None:
            self.bar.update(self.task, val=self.val)
        if not self.quiet:
            mark = "  [green]best[/]" if best else ""
            self.err.print(
                f"step {step:,}  train {sum(self.recent) / max(1, len(self.recent)):.4f}  "
                f"val {val_loss:.4f}{error}  "
                f"{fmt_rate(self.last[2])}{mark}"
            )

    def evaluating(self, done: int, total: int) -> None:
        """Progress through a validation pass: on the bar, or a log line every 30 s."""
        if self.bar is not None:
            self.bar.update(self.task, val=f"{100 * done / max(1, total):.0f}% scored")
        elif not self.quiet and time.monotonic() - self.last_log > 30:
            self.last_log = time.monotonic()
            self.err.print(f"evaluating: {done:,} of {total:,} validation tokens")

    def evaluated_whole(
        self, step: int, val_loss: float, tokens: int, bits_per_char: float | None = None
    ) -> None:
        if not self.quiet:
            bpc = "" if bits_per_char is None else f" ({bits_per_char:.4f} bits/char)"
            self.err.print(
                f"step {step:,}  val {val_loss:.4f}{bpc} on the whole validation split "
                f"({tokens:,} tokens)"
            )

    def saved(self, path: Path) -> None: ...

    def warning(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(message)}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()

    def _info(self, message: str, quiet: bool) -> None:
        if not quiet:
            self.err.print(escape(message), style="dim")


def stderr_console() -> Console:
    """The library's console: stderr, colour only on a terminal (rich honours NO_COLOR)."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def shows_progress() -> bool:
    """Whether ``rnngen.train`` shows its progress by default: on a terminal or in a notebook."""
    c = stderr_console()
    return c.is_terminal or c.is_jupyter
