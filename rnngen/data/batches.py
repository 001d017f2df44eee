"""Token arrays -> the stateful (T, B) batch stream of truncated BPTT, and evaluation windows.

Each of the B batch rows reads its own contiguous stretch of the corpus (char-rnn style), so the
hidden state carried from one batch to the next belongs to the same stream of text.
"""

from dataclasses import dataclass

import numpy as np


def split_tail(tokens: np.ndarray, frac: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation): the last ``frac`` of the tokens is held out."""
    n_val = int(round(len(tokens) * frac))
    return tokens[: len(tokens) - n_val], tokens[len(tokens) - n_val :]


@dataclass
class Position:
    """Where the batch stream is: pass over the data and step within the pass."""

    epoch: int = 0
    step_in_epoch: int = 0


class BatchStream:
    """Stateful truncated-BPTT batches of a token array.

    The tokens are cut into B rows of ``(N - 1) // B`` tokens; batch k holds columns
    ``k*T .. k*T + T`` of every row as inputs and the next token of each as targets.
    """

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int) -> None:
        self.T, self.B = seq_len, batch_size
        row_len = (len(tokens) - 1) // batch_size
        self.steps_per_epoch = row_len // seq_len
        if self.steps_per_epoch < 1:
            raise ValueError("too few tokens for one batch")
        n = row_len * batch_size
        # (B, row_len) views of inputs and targets (of a token file's map: no copy); batches are
        # sliced then transposed to (T, B) int32
        self.inputs = tokens[:n].reshape(batch_size, row_len)
        self.targets = tokens[1 : n + 1].reshape(batch_size, row_len)
        self.pos = Position()

    def next(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """(inputs (T, B), targets (T, B), new_epoch): new_epoch means 'reset the hidden state'."""
        if self.pos.step_in_epoch >= self.steps_per_epoch:
            self.pos = Position(self.pos.epoch + 1, 0)
        new_epoch = self.pos.step_in_epoch == 0
        a = self.pos.step_in_epoch * self.T
        x = np.ascontiguousarray(self.inputs[:, a : a + self.T].T, dtype=np.int32)
        y = np.ascontiguousarray(self.targets[:, a : a + self.T].T, dtype=np.int32)
        self.pos.step_in_epoch += 1
        return x, y, new_epoch


def eval_shape(n_tokens: int, batch_size: int, seq_len: int) -> tuple[int, int]:
    """The largest (B, T) of the windows ``eval_batches`` yields for ``n_tokens`` tokens."""
    n_pred = n_tokens - 1
    B = max(1, min(batch_size, n_pred))
    return B, max(1, min(seq_len, n_pred // B))


def eval_batches(tokens: np.ndarray, batch_size: int, seq_len: int):
    """Yield (inputs (T, B), targets (T, B), carry) chunks that score every token after the first.

    B rows of (N - 1) // B tokens are scored in windows of ``seq_len``; the leftover tail continues
    the last row with B = 1 (carry is then the index of the row whose state to keep).
    """
    n_pred = len(tokens) - 1
    B, _ = eval_shape(len(tokens), batch_size, seq_len)
    row_len = n_pred // B
    n = row_len * B
    yield from row_windows(
        tokens[:n].reshape(B, row_len), tokens[1 : n + 1].reshape(B, row_len), seq_len
    )
    if n < n_pred:
        rest_x = tokens[n:n_pred]
        rest_y = tokens[n + 1 : n_pred + 1]
        for a in range(0, len(rest_x), seq_len):
            x = np.ascontiguousarray(rest_x[a : a + seq_len].reshape(-1, 1), dtype=np.int32)
            y = np.ascontiguousarray(rest_y[a : a + seq_len].reshape(-1, 1), dtype=np.int32)
            yield x, y, B - 1


def row_windows(inputs: np.ndarray, targets: np.ndarray, seq_len: int):
    """Yield (inputs (T, B), targets (T, B), None): (B, L) rows of inputs and targets in windows
    of ``seq_len`` columns, as int32."""
    for a in range(0, inputs.shape[1], seq_len):
        x = np.ascontiguousarray(inputs[:, a : a + seq_len].T, dtype=np.int32)
        y = np.ascontiguousarray(targets[:, a : a + seq_len].T, dtype=np.int32)
        yield x, y, None


def sample_rows(tokens: np.ndarray, rows: int, row_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (rows, row_len), targets (rows, row_len)): ``rows`` stretches of the tokens spread
    evenly from the first token to the last, always the same ones for the same arguments (the
    fixed part of the validation split that periodic evaluation scores)."""
    span = len(tokens) - 1 - row_len  # the last start that leaves room for the targets
    starts = [round(i * span / max(1, rows - 1)) for i in range(rows)]
    x = np.stack([tokens[s : s + row_len] for s in starts])
    y = np.stack([tokens[s + 1 : s + row_len + 1] for s in starts])
    return x, y
