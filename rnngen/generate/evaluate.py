"""A model's loss on a text: every token after the first scored, the state carried across windows
(how training validates, and what ``rnngen eval`` reports).

Training scores two things: periodically a fixed part of the validation split (``sample_rows``:
the same stretches every time, so that "best" compares like with like, and small enough that
evaluating costs about a tenth of the training time whatever the corpus size), and the whole
split once at the end. Either can be split across processes by batch rows (``rows``) and the
partial sums reduced by the caller (``rnngen.parallel.group``).
"""

import math
from collections.abc import Callable

import numpy as np

from rnngen.data.batches import eval_batches, eval_shape, row_windows
from rnngen.nn.lm import LMNetwork, State
from rnngen.results import EvalResult

Progress = Callable[[int, int], None]  # (tokens scored so far, tokens to score)


def evaluate(
    model: LMNetwork,
    tokens: np.ndarray,
    batch_size: int = 32,
    seq_len: int = 64,
    rows: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Mean cross-entropy of every token of ``tokens`` after the first, with carried state.

    ``rows`` (lo, hi): score only those of the B rows (and the tail, which continues the last
    row, if hi is B); the result then holds this share's tokens (possibly none: loss nan)."""
    if len(tokens) < 2:
        raise ValueError("need at least two tokens to evaluate")
    B, _ = eval_shape(len(tokens), batch_size, seq_len)
    return score_windows(
        model, eval_batches(tokens, batch_size, seq_len), len(tokens) - 1, B, rows, progress
    )


def evaluate_rows(
    model: LMNetwork,
    inputs: np.ndarray,
    targets: np.ndarray,
    seq_len: int = 64,
    rows: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Mean cross-entropy of (B, L) rows of inputs and targets, each row from a zero state."""
    return score_windows(
        model, row_windows(inputs, targets, seq_len), targets.size, inputs.shape[0], rows, progress
    )


def score_windows(
    model: LMNetwork,
    windows,
    total_tokens: int,
    B: int,
    rows: tuple[int, int] | None,
    progress: Progress | None,
) -> EvalResult:
    """Score (inputs, targets, carry) windows of B rows (see ``eval_batches``), of which ``rows``
    only, with the state carried from window to window."""
    lo, hi = rows if rows is not None else (0, B)
    total, count, seen = 0.0, 0, 0
    state: State | None = None
    for x, y, carry in windows:
        seen += y.size
        if carry is None:
            x, y = x[:, lo:hi], y[:, lo:hi]
        elif carry < lo or carry >= hi:
            continue
        if x.shape[1] == 0:
            continue
        x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
        if state is None:
            state = model.new_state(x.shape[1])
        if carry is not None and state.h.shape[1] != 1:
            state = state.row(carry - lo)  # the tail continues the last row alone
        total += model.loss_sum(x, y, state)
        count += y.size
        if progress is not None:
            progress(seen, total_tokens)
    return EvalResult(total / count if count else math.nan, count)
