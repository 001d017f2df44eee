"""One recurrent layer of each cell type: its parameters, its caches and its forward/backward.

A layer's forward does the input projection of all T steps as one GEMM, then runs the cell's time
loop kernel (``rnngen.kernels.lstm`` / ``gru`` / ``rnn``); its backward runs the kernel's reverse
loop, then computes the weight gradients as GEMMs over all T*B rows. The model stacks layers and
never looks inside them. Kernel modules are imported by the layer that uses them: loading a
jitted function from Numba's cache costs time at start-up, and a GRU run needs no LSTM kernel.

Gate blocks follow PyTorch's order ([i f g o] for the LSTM, [r z n] for the GRU), so weights are
comparable with ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` (transposed: ours are (D, G*H)).
"""

import numpy as np

from rnngen.kernels.loss import embedding_backward, embedding_forward

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
    """Layer 0's input given as token ids (N,) rather than embedded vectors (see Layer)."""

    def __init__(self, tokens: np.ndarray, T: int, B: int) -> None:
        self.tokens = np.ascontiguousarray(tokens, np.int64).reshape(T * B)
        self.shape = (T, B)
        self.table: np.ndarray | None = None


class Layer:
    """Layer k of width H over inputs of width D. ``parts``: batch ranges run in parallel."""

    def __init__(self, cell: str, k: int, D: int, H: int, parts: int) -> None:
        self.cell, self.k, self.D, self.H, self.parts = cell, k, D, H, parts
        self.G = GATES[cell] * H
        self.p = f"{prefix(cell)}{k}."
        self.bias_in = "b_ih" if cell == "gru" else "b"

    def _input_projection(self, params, x, xp: np.ndarray) -> None:
        """xp (T, B, G) = x (T, B, D) @ W_ih + b, one GEMM over all T*B rows (GRU and RNN layers;
        the LSTM's kernels add the bias and read a table themselves, see ``LSTMLayer``).

        x may instead be a ``TokenInput``: layer 0 of a small vocabulary, where
        table = embed @ W_ih + b (V, G) is computed once and xp is a row lookup."""
        T, B = xp.shape[:2]
        xp2 = xp.reshape(T * B, self.G)
        if isinstance(x, TokenInput):
            x.table = params["embed"] @ params[self.p + "W_ih"] + params[self.p + self.bias_in]
            embedding_forward(xp2, x.table, x.tokens)
            return
        np.dot(x.reshape(T * B, x.shape[2]), params[self.p + "W_ih"], out=xp2)
        xp2 += params[self.p + self.bias_in]

    def _input_grads(self, params, grads, x, dG, dx) -> None:
        """dW_ih = x^T dG and, if dx is given, dx (T*B, D) = dG W_ih^T.

        For a ``TokenInput``: dtable (V, G) = dG rows summed by token, then dW_ih = embed^T dtable
        and the embedding's gradient += dtable W_ih^T (V x D x G work instead of T*B x D x G)."""
        T, B = dG.shape[:2]
        dG2 = dG.reshape(T * B, self.G)
        W = params[self.p + "W_ih"]
        if isinstance(x, TokenInput):
            dtable = np.zeros_like(x.table)
            embedding_backward(dtable, dG2, x.tokens)
            np.dot(params["embed"].T, dtable, out=grads[self.p + "W_ih"])
            d_embed = grads["embed"]
            d_embed += dtable @ W.T
            return
        np.dot(x.reshape(T * B, x.shape[2]).T, dG2, out=grads[self.p + "W_ih"])
        if dx is not None:
            np.dot(dG2, W.T, out=dx)

    def _parts(self, B: int) -> int:
        return min(self.parts, B)


class LSTMLayer(Layer):
    """The LSTM kernels add the bias and sum its gradient inside their time loops, and read their
    input rows by index: a ``TokenInput`` is read straight from its (V, 4H) table, which holds
    embed @ W_ih without the bias."""

    def workspace(self, T: int, B: int, dtype) -> dict:
        H, G = self.H, self.G
        return {
            "xp": np.empty((T, B, G), dtype),  # input projections (untouched under TokenInput)
            "hs": np.empty((T + 1, B, H), dtype),  # hs[0] = h0, hs[t+1] = h_t
            "cs": np.empty((T + 1, B, H), dtype),
            "acts": np.empty((T, B, G), dtype),  # activated gates
            "tcs": np.empty((T, B, H), dtype),  # tanh(c_t)
            "rows": np.arange(T * B, dtype=np.int64).reshape(T, B),  # xp row of step t, row b
        }

    def forward(self, params, ws: dict, x, h0: np.ndarray, c0: np.ndarray) -> None:
        """x (T, B, D) or a TokenInput -> ws["hs"]; h0, c0 (B, H) become h_T, c_T."""
        from rnngen.kernels.lstm import lstm_forward

        T, B = ws["acts"].shape[:2]
        W_ih = params[self.p + "W_ih"]
        if isinstance(x, TokenInput):
            x.table = params["embed"] @ W_ih  # (V, 4H), read by token
            xin, xrow = x.table, x.tokens.reshape(T, B)
        else:
            xin = ws["xp"].reshape(T * B, self.G)
            np.dot(x.reshape(T * B, x.shape[2]), W_ih, out=xin)
            xrow = ws["rows"]
        lstm_forward(xin, xrow, params[self.p + "b"], params[self.p + "W_hh"], h0, c0, ws["hs"],
                     ws["cs"], ws["acts"], ws["tcs"], self._parts(B))  # fmt: skip
        h0[...] = ws["hs"][T]
        c0[...] = ws["cs"][T]

    def backward(self, params, grads, ws: dict, scratch: dict, x, dhs, dx) -> None:
        """dhs (T, B, H): dLoss/dh_t from above; writes this layer's grads and dx (T*B, D)."""
        from rnngen.kernels.lstm import lstm_backward

        T, B = dhs.shape[:2]
        H = self.H
        dG = scratch["dG"]
        dh, dc = np.zeros((B, H), dG.dtype), np.zeros((B, H), dG.dtype)  # truncated BPTT
        db = np.empty((B, self.G), dG.dtype)  # per batch row: the same sums whatever the parts
        lstm_backward(dG, dhs, params[self.p + "W_hh"], ws["acts"], ws["cs"], ws["tcs"], dh, dc,
                      db, self._parts(B))  # fmt: skip
        np.sum(db, axis=0, out=grads[self.p + "b"])
        np.dot(ws["hs"][:T].reshape(T * B, H).T, dG.reshape(T * B, self.G),
               out=grads[self.p + "W_hh"])  # fmt: skip
        self._input_grads(params, grads, x, dG, dx)


class GRULayer(Layer):
    def workspace(self, T: int, B: int, dtype) -> dict:
        H, G = self.H, self.G
        return {
            "xp": np.empty((T, B, G), dtype),
            "hs": np.empty((T + 1, B, H), dtype),
            "acts": np.empty((T, B, G), dtype),  # r, z, n
            "hns": np.empty((T, B, H), dtype),  # h_{t-1} W_hn + b_hn
        }

    def forward(self, params, ws: dict, x: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> None:
        from rnngen.kernels.gru import gru_forward

        T, B = x.shape[:2]
        p = params
        self._input_projection(p, x, ws["xp"])
        gru_forward(ws["xp"], p[self.p + "W_hh"], p[self.p + "b_hh"], h0, ws["hs"], ws["acts"],
                    ws["hns"], self._parts(B))  # fmt: skip
        h0[...] = ws["hs"][T]

    def backward(self, params, grads, ws: dict, scratch: dict, x, dhs, dx) -> None:
        from rnngen.kernels.gru import gru_backward

        T, B = x.shape[:2]
        H = self.H
        dGx, dGh = scratch["dG"], scratch["dGh"]
        W_hhT = np.ascontiguousarray(params[self.p + "W_hh"].T)  # (3H, H)
        dh = np.zeros((B, H), dGx.dtype)
        gru_backward(dGx, dGh, dhs, W_hhT, ws["acts"], ws["hns"], ws["hs"], dh, self._parts(B))
        dGh2 = dGh.reshape(T * B, self.G)
        np.dot(ws["hs"][:T].reshape(T * B, H).T, dGh2, out=grads[self.p + "W_hh"])
        np.sum(dGh2, axis=0, out=grads[self.p + "b_hh"])
        np.sum(dGx.reshape(T * B, self.G), axis=0, out=grads[self.p + "b_ih"])
        self._input_grads(params, grads, x, dGx, dx)


class RNNLayer(Layer):
    def workspace(self, T: int, B: int, dtype) -> dict:
        return {
            "xp": np.empty((T, B, self.H), dtype),
            "hs": np.empty((T + 1, B, self.H), dtype),
        }

    @property
    def relu(self) -> bool:
        return self.cell == "rnn-relu"

    def forward(self, params, ws: dict, x: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> None:
        from rnngen.kernels.rnn import rnn_forward

        T, B = x.shape[:2]
        self._input_projection(params, x, ws["xp"])
        rnn_forward(ws["xp"], params[self.p + "W_hh"], h0, ws["hs"], self.relu, self._parts(B))
        h0[...] = ws["hs"][T]

    def backward(self, params, grads, ws: dict, scratch: dict, x, dhs, dx) -> None:
        from rnngen.kernels.rnn import rnn_backward

        T, B = x.shape[:2]
        H = self.H
        dG = scratch["dG"]
        W_hhT = np.ascontiguousarray(params[self.p + "W_hh"].T)  # (H, H)
        dh = np.zeros((B, H), dG.dtype)
        rnn_backward(dG, dhs, W_hhT, ws["hs"], dh, self.relu, self._parts(B))
        dG2 = dG.reshape(T * B, H)
        np.dot(ws["hs"][:T].reshape(T * B, H).T, dG2, out=grads[self.p + "W_hh"])
        np.sum(dG2, axis=0, out=grads[self.p + "b"])
        self._input_grads(params, grads, x, dG, dx)


def make_layer(cell: str, k: int, D: int, H: int, parts: int) -> Layer:
    if cell == "lstm":
        return LSTMLayer(cell, k, D, H, parts)
    if cell == "gru":
        return GRULayer(cell, k, D, H, parts)
    if cell in ("rnn-tanh", "rnn-relu"):
        return RNNLayer(cell, k, D, H, parts)
    raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
