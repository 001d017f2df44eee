"""Recovery from a diverged loss: roll back to the last good state, halve the learning rate, go on.

The trainer captures its whole training state (weights, optimizer, data position, carried state)
every ``every`` steps and right after each checkpoint. A capture becomes the "good" state only
once the next forward pass on it gave a healthy loss, so a rollback never returns to weights that
were already broken. After ``max_failures`` rollbacks in a row (without getting past the step that
failed in between), the trainer gives up.
"""

import math
from collections.abc import Callable
from typing import Any

SNAPSHOT_EVERY = 50  # steps between in-memory captures
MAX_FAILURES = 5  # rollbacks in a row before training stops


def diverged(loss: float, recent: list[float], baseline: float) -> str | None:
    """Why ``loss`` is not a healthy next loss after ``recent`` ones, or None if it is.

    Not finite, or above ``ref + max(ref, 2)`` nats where ``ref`` is the mean of the last 50
    losses (``baseline``, the uniform model's loss, before there are any): a real loss curve moves
    by fractions of a nat from step to step, a diverging one by multiples.
    """
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    window = recent[-50:]
    ref = sum(window) / len(window) if window else baseline
    if loss > ref + max(ref, 2.0):
        return f"the loss jumped to {loss:.4g} (recent mean {ref:.4g})"
    return None


class DivergenceGuard:
    """Keeps the last good training state in memory; ``rollback`` restores it."""

    def __init__(
        self,
        capture: Callable[[], Any],
        restore: Callable[[Any], None],
        every: int = SNAPSHOT_EVERY,
        max_failures: int = MAX_FAILURES,
    ) -> None:
        self.capture, self.restore = capture, restore
        self.every, self.max_failures = every, max_failures
        self.good = capture()  # the state training starts from counts as good
        self.pending: Any = None
        self.pending_step = 0
        self.wanted = False
        self.failures = 0  # rollbacks in a row
        self.failed_step = -1  # the step that failed last

    def before_step(self, step: int) -> None:
        """Capture the state before this step's forward, when one is due."""
        if self.pending is None and (self.wanted or step % self.every == 0):
            self.pending, self.pending_step = self.capture(), step
            self.wanted = False

    def want_capture(self) -> None:
        """Capture at the next step (called after a checkpoint, so memory is never behind disk)."""
        self.wanted = True

    def healthy(self) -> None:
        """The forward pass on the pending capture's weights gave a healthy loss: it is good."""
        if self.pending is not None:
            self.good, self.pending = self.pending, None
            if self.pending_step > self.failed_step:  # past the trouble: the count starts over
                self.failures = 0

    def rollback(self, step: int) -> bool:
        """Restore the good state after ``step`` failed; False once ``max_failures`` rollbacks
        came in a row."""
        self.failures += 1
        self.failed_step = max(self.failed_step, step)
        self.pending = None
        self.restore(self.good)
        return self.failures < self.max_failures
