"""Learning-rate schedules. The trainer asks for the rate before every step.

    constant  lr
    step      lr * decay^max(0, epoch - decay_after), epochs counted from 1: constant for the first
              ``decay_after`` epochs, then multiplied by ``decay`` each epoch (char-rnn, Zaremba)
    plateau   multiplied by ``decay`` after each evaluation that did not improve on the best
              validation loss (PyTorch's word_language_model divides by 4)
    cosine    from lr down to ``min_lr`` along half a cosine over the run (by steps, or by wall time
              when only --minutes bounds it)

Every kind can start with a linear warmup over ``warmup`` steps. ``scale`` multiplies the result;
it is how plateau decays and how a divergence rollback lowers the rate.
"""

import math
from dataclasses import dataclass

from rnngen.config.training import SCHEDULES

DEFAULT_DECAY = {"step": 0.5, "plateau": 0.25}


@dataclass
class Schedule:
    kind: str = "constant"
    lr: float = 2e-3
    decay: float = 0.5
    decay_after: float = 4.0  # epochs at the full rate before the step schedule decays
    warmup: int = 0  # steps of linear warmup
    min_lr: float = 0.0  # where cosine ends
    scale: float = 1.0  # the state: plateau decays and rollbacks multiply it

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            known = ", ".join(SCHEDULES)
            raise ValueError(f"unknown schedule {self.kind!r}; choose one of {known}")

    def rate(self, step: int, epoch: float, progress: float) -> float:
        """The rate for optimizer step ``step`` (0-based), in epoch ``epoch`` (fractional, from
        0), with ``progress`` in [0, 1] of the run done."""
        lr = self.lr
        if self.kind == "step":
            lr *= self.decay ** max(0, math.floor(epoch) + 1 - self.decay_after)
        elif self.kind == "cosine":
            if self.warmup > 0 and step < self.warmup:
                pass  # the warmup ramps to the full rate first
            else:
                p = min(1.0, max(0.0, progress))
                lr = self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * p))
        if self.warmup > 0 and step < self.warmup:
            lr *= (step + 1) / self.warmup
        return lr * self.scale

    def evaluated(self, improved: bool) -> bool:
        """Tell the schedule about an evaluation; True when the rate was lowered."""
        if self.kind == "plateau" and not improved:
            self.scale *= self.decay
            return True
        return False

    def state(self) -> dict:
        return {"scale": self.scale}

    def load_state(self, d: dict) -> None:
        self.scale = float(d.get("scale", 1.0))
