"""A model's loss on a text: every token after the first scored, the state carried across windows
(how training validates, and what ``rnngen eval`` reports)."""

import math
from dataclasses import dataclass

import numpy as np

from rnngen.data.batches import eval_batches
from rnngen.nn.lm import LanguageModel, State


@dataclass
class EvalResult:
    loss: float  # mean nats per token
    tokens: int

    @property
    def bits_per_token(self) -> float:
        return self.loss / math.log(2)

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700.0))


def evaluate(model: LanguageModel, tokens: np.ndarray, batch_size: int = 32,
             seq_len: int = 64) -> EvalResult:  # fmt: skip
    """Mean cross-entropy of every token of ``tokens`` after the first, with carried state."""
    if len(tokens) < 2:
        raise ValueError("need at least two tokens to evaluate")
    total, count = 0.0, 0
    state: State | None = None
    for x, y, carry in eval_batches(tokens, batch_size, seq_len):
        if state is None:
            state = model.new_state(x.shape[1])
        if carry is not None and state.h.shape[1] != 1:
            state = state.row(carry)  # the tail continues the last row alone
        total += model.loss_sum(x, y, state)
        count += y.size
    return EvalResult(total / count, count)
