"""One recurrent layer of each cell type: its parameters, its caches and its forward/backward.

A layer's forward does the input projection of all T steps as one GEMM (or reads a character
model's table), then runs the cell's time loop kernel (``rnngen.kernels.lstm`` / ``gru`` / ``rnn``);
its backward runs the kernel's reverse loop, then computes the weight gradients as GEMMs over all
T*B rows. The model stacks layers and never looks inside them. Kernel modules are imported by the
layer that uses them: loading a jitted function from Numba's cache costs time at start-up, and a
GRU run needs no LSTM kernel.

Gate blocks follow PyTorch's order ([i f g o] for the LSTM, [r z n] for the GRU), so weights are
comparable with ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` (transposed: ours are (D, G*H)).
"""

import numpy as np

from rnngen.kernels.loss import embedding_backward

CELLS = ("lstm", "gru", "rnn-tanh", "rnn-relu")
GATES = {"lstm": 4, "gru": 3, "rnn-tanh": 1, "rnn-relu": 1}


def prefix(cell: str) -> str:
    """Parameter-name prefix of a cell's layers: lstm0.W_ih, gru1.b_hh, rnn0.W_hh, ..."""
    return "rnn" if cell.startswith("rnn") else cell


def layer_shapes(cell: str, k: int, D: int, H: int) -> dict[str, tuple[int, ...]]:
    """Name -> shape of layer k's parameters, D its input width."""
    G = GATES[cell] * H
    p = f"{prefix(cell)}{k}."
    shapes = {p + "W_ih": (D, G), p + "W_hh": (H, G)}
    if cell == "gru":  # b_hh sits inside r * (h W_hn + b_hn): it cannot merge with b_ih
        shapes[p + "b_ih"] = (G,)
        shapes[p + "b_hh"] = (G,)
    else:
        shapes[p + "b"] = (G,)  # PyTorch's b_ih + b_hh
    return shapes


class TokenInput:
    """Layer 0's input given as token ids (T*B,) rather than embedded vectors (see Layer)."""

    def __init__(self, tokens: np.ndarray) -> None:
        self.tokens = np.ascontiguousarray(tokens, np.int64).reshape(-1)
        self.table: np.ndarray | None = None


class Layer:
    """Layer k of width H over inputs of width D. ``parts``: batch ranges run in parallel.

    Every cell's kernels add the input bias in their gate math, sum the bias gradients per batch
    row inside their backward loops, and read input rows by index: dense inputs from the (T*B, G)
    projection x @ W_ih, a ``TokenInput`` straight from its (V, G) table embed @ W_ih (a small
    vocabulary's layer 0), so that layer never writes a (T, B, G) input array.
    """

    def __init__(self, cell: str, k: int, D: int, H: int, parts: int) -> None:
        self.cell, self.k, self.D, self.H, self.parts = cell, k, D, H, parts
        self.G = GATES[cell] * H
        self.p = f"{prefix(cell)}{k}."

    def workspace(self, T: int, B: int, dtype) -> dict:
        """The arrays every cell keeps; subclasses add their caches."""
        return {
            "xp": np.empty((T, B, self.G), dtype),  # x @ W_ih (untouched under TokenInput)
            "rows": np.arange(T * B, dtype=np.int64).reshape(T, B),  # xp row of step t, row b
            "hs": np.empty((T + 1, B, self.H), dtype),  # hs[0] = h0, hs[t+1] = h_t
        }

    def _inputs(self, params, ws: dict, x) -> tuple[np.ndarray, np.ndarray]:
        """(xin, xrow): the rows of input projections (without bias) the kernel reads, and the
        row that step t of batch row b reads. One GEMM over all T*B rows, or for a
        ``TokenInput`` the (V, G) table, read by token."""
        T, B = ws["rows"].shape
        W_ih = params[self.p + "W_ih"]
        if isinstance(x, TokenInput):
            x.table = params["embed"] @ W_ih
            return x.table, x.tokens.reshape(T, B)
        xin = ws["xp"].reshape(T * B, self.G)
        np.dot(x.reshape(T * B, x.shape[2]), W_ih, out=xin)
        return xin, ws["rows"]

    def _input_grads(self, params, grads, x, dG, dx) -> None:
        """dW_ih = x^T dG and, if dx is given, dx (T*B, D) = dG W_ih^T.

        For a ``TokenInput``: dtable (V, G) = dG rows summed by token, then dW_ih = embed^T dtable
        and the embedding's gradient += dtable W_ih^T (V x D x G work instead of T*B x D x G)."""
        T, B = dG.shape[:2]
        dG2 = dG.reshape(T * B, self.G)
        W = params[self.p + "W_ih"]
        if isinstance(x, TokenInput):
            dtable = np.zeros_like(x.table)
            embedding_backward(dtable, dG2, x.tokens, self.parts)
            np.dot(params["embed"].T, dtable, out=grads[self.p + "W_ih"])
            d_embed = grads["embed"]
            d_embed += dtable @ W.T
            return
        np.dot(x.reshape(T * B, x.shape[2]).T, dG2, out=grads[self.p + "W_ih"])
        if dx is not None:
            np.dot(dG2, W.T, out=dx)

    def _recurrent_grad(self, grads, ws: dict, dG: np.ndarray) -> None:
        """dW_hh = hs[:T]^T dG, one GEMM over all T*B rows."""
        T, B = dG.shape[:2]
        np.dot(ws["hs"][:T].reshape(T * B, self.H).T, dG.reshape(T * B, self.G),
               out=grads[self.p + "W_hh"])  # fmt: skip

    def _parts(self, B: int) -> int:
        return min(self.parts, B)


class LSTMLayer(Layer):
    def workspace(self, T: int, B: int, dtype) -> dict:
        return super().workspace(T, B, dtype) | {
            "cs": np.empty((T + 1, B, self.H), dtype),
            "acts": np.empty((T, B, self.G), dtype),  # activated gates
            "tcs": np.empty((T, B, self.H), dtype),  # tanh(c_t)
        }

    def forward(self, params, ws: dict, x, h0: np.ndarray, c0: np.ndarray) -> None:
        """x (T, B, D) or a TokenInput -> ws["hs"]; h0, c0 (B, H) become h_T, c_T."""
        from rnngen.kernels.lstm import lstm_forward

        T, B = ws["rows"].shape
        xin, xrow = self._inputs(params, ws, x)
        lstm_forward(xin, xrow, params[self.p + "b"], params[self.p + "W_hh"], h0, c0, ws["hs"],
                     ws["cs"], ws["acts"], ws["tcs"], self._parts(B))  # fmt: skip
        h0[...] = ws["hs"][T]
        c0[...] = ws["cs"][T]

    def backward(self, params, grads, ws: dict, scratch: dict, x, dhs, dx) -> None:
        """dhs (T, B, H): dLoss/dh_t from above; writes this layer's grads and dx (T*B, D)."""
        from rnngen.kernels.lstm import lstm_backward

        B, H = dhs.shape[1], self.H
        dG = scratch["dG"]
        dh, dc = np.zeros((B, H), dG.dtype), np.zeros((B, H), dG.dtype)  # truncated BPTT
        db = np.empty((B, self.G), dG.dtype)  # per batch row: the same sums whatever the parts
        lstm_backward(dG, dhs, params[self.p + "W_hh"], ws["acts"], ws["cs"], ws["tcs"], dh, dc,
                      db, self._parts(B))  # fmt: skip
        np.sum(db, axis=0, out=grads[self.p + "b"])
        self._recurrent_grad(grads, ws, dG)
        self._input_grads(params, grads, x, dG, dx)


class GRULayer(Layer):
    def workspace(self, T: int, B: int, dtype) -> dict:
        return super().workspace(T, B, dtype) | {
            "acts": np.empty((T, B, self.G), dtype),  # r, z, n
            "hns": np.empty((T, B, self.H), dtype),  # h_{t-1} W_hn + b_hn
        }

    def forward(self, params, ws: dict, x, h0: np.ndarray, c0: np.ndarray) -> None:
        from rnngen.kernels.gru import gru_forward

        T, B = ws["rows"].shape
        p, q = params, self.p
        xin, xrow = self._inputs(p, ws, x)
        gru_forward(xin, xrow, p[q + "b_ih"], p[q + "W_hh"], p[q + "b_hh"], h0, ws["hs"],
                    ws["acts"], ws["hns"], self._parts(B))  # fmt: skip
        h0[...] = ws["hs"][T]

    def backward(self, params, grads, ws: dict, scratch: dict, x, dhs, dx) -> None:
        from rnngen.kernels.gru import gru_backward

        B, H = dhs.shape[1], self.H
        dGx, dGh = scratch["dG"], scratch["dGh"]
        dh = np.zeros((B, H), dGx.dtype)
        dbx, dbn = np.empty((B, self.G), dGx.dtype), np.empty((B, H), dGx.dtype)
        gru_backward(dGx, dGh, dhs, params[self.p + "W_hh"], ws["acts"], ws["hns"], ws["hs"], dh,
                     dbx, dbn, self._parts(B))  # fmt: skip
        db_ih, db_hh = grads[self.p + "b_ih"], grads[self.p + "b_hh"]
        np.sum(dbx, axis=0, out=db_ih)
        db_hh[: 2 * H] = db_ih[: 2 * H]  # r and z: both biases enter the same pre-activation
        np.sum(dbn, axis=0, out=db_hh[2 * H :])
        self._recurrent_grad(grads, ws, dGh)
        self._input_grads(params, grads, x, dGx, dx)


class RNNLayer(Layer):
    @property
    def relu(self) -> bool:
        return self.cell == "rnn-relu"

    def forward(self, params, ws: dict, x, h0: np.ndarray, c0: np.ndarray) -> None:
        from rnngen.kernels.rnn import rnn_forward

        T, B = ws["rows"].shape
        xin, xrow = self._inputs(params, ws, x)
        rnn_forward(xin, xrow, params[self.p + "b"], params[self.p + "W_hh"], h0, ws["hs"],
                    self.relu, self._parts(B))  # fmt: skip
        h0[...] = ws["hs"][T]

    def backward(self, params, grads, ws: dict, scratch: dict, x, dhs, dx) -> None:
        from rnngen.kernels.rnn import rnn_backward

        B, H = dhs.shape[1], self.H
        dG = scratch["dG"]
        dh = np.zeros((B, H), dG.dtype)
        db = np.empty((B, H), dG.dtype)
        rnn_backward(dG, dhs, params[self.p + "W_hh"], ws["hs"], dh, db, self.relu,
                     self._parts(B))  # fmt: skip
        np.sum(db, axis=0, out=grads[self.p + "b"])
        self._recurrent_grad(grads, ws, dG)
        self._input_grads(params, grads, x, dG, dx)


def make_layer(cell: str, k: int, D: int, H: int, parts: int) -> Layer:
    if cell == "lstm":
        return LSTMLayer(cell, k, D, H, parts)
    if cell == "gru":
        return GRULayer(cell, k, D, H, parts)
    if cell in ("rnn-tanh", "rnn-relu"):
        return RNNLayer(cell, k, D, H, parts)
    raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
