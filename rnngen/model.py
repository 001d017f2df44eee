"""The stacked LSTM language model: embedding -> L LSTM layers -> linear -> softmax cross-entropy.

All parameters live in one flat buffer (and all gradients in another) with named views into it, so
gradient clipping and the optimizer run over one contiguous array. ``forward_backward`` runs the
layers forward, then backward in reverse order; large GEMMs go through NumPy's BLAS, the time loops
through the kernels in ``rnngen.kernels.lstm``.
"""

from dataclasses import dataclass

import numpy as np

from rnngen.config import ModelConfig
from rnngen.kernels.loss import (
    embedding_backward,
    embedding_forward,
    softmax_xent,
    softmax_xent_loss,
    softmax_xent_rows,
)
from rnngen.kernels.lstm import lstm_backward, lstm_forward


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter, in buffer order."""
    V, E, H = cfg.vocab_size, cfg.embed, cfg.hidden
    shapes: dict[str, tuple[int, ...]] = {"embed": (V, E)}
    for k in range(cfg.layers):
        D = E if k == 0 else H
        shapes[f"lstm{k}.W_ih"] = (D, 4 * H)
        shapes[f"lstm{k}.W_hh"] = (H, 4 * H)
        shapes[f"lstm{k}.b"] = (4 * H,)  # one bias: PyTorch's b_ih + b_hh
    shapes["out.W"] = (H, V)
    shapes["out.b"] = (V,)
    return shapes


class FlatParams:
    """One contiguous buffer with a named, shaped, C-contiguous view per parameter."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtype: np.dtype) -> None:
        self.shapes = shapes
        self.size = sum(int(np.prod(s)) for s in shapes.values())
        self.flat = np.zeros(self.size, dtype=dtype)
        self.views: dict[str, np.ndarray] = {}
        offset = 0
        for name, shape in shapes.items():
            n = int(np.prod(shape))
            self.views[name] = self.flat[offset : offset + n].reshape(shape)
            offset += n

    def __getitem__(self, name: str) -> np.ndarray:
        return self.views[name]


@dataclass
class State:
    """Carried recurrent state: h and c of every layer, each (L, B, H)."""

    h: np.ndarray
    c: np.ndarray

    @classmethod
    def zeros(cls, cfg: ModelConfig, B: int, dtype=np.float32) -> "State":
        shape = (cfg.layers, B, cfg.hidden)
        return cls(np.zeros(shape, dtype), np.zeros(shape, dtype))

    def copy(self) -> "State":
        return State(self.h.copy(), self.c.copy())


class _Workspace:
    """Activations of one (T, B) shape, reused from step to step."""

    def __init__(self, cfg: ModelConfig, T: int, B: int, dtype) -> None:
        L, E, H, V = cfg.layers, cfg.embed, cfg.hidden, cfg.vocab_size
        self.x = np.empty((T, B, E), dtype)  # embedded inputs
        self.xp = [np.empty((T, B, 4 * H), dtype) for _ in range(L)]  # input projections
        self.hs = [np.empty((T + 1, B, H), dtype) for _ in range(L)]
        self.cs = [np.empty((T + 1, B, H), dtype) for _ in range(L)]
        self.acts = [np.empty((T, B, 4 * H), dtype) for _ in range(L)]
        self.tcs = [np.empty((T, B, H), dtype) for _ in range(L)]
        self.logits = np.empty((T * B, V), dtype)
        self.dG = np.empty((T, B, 4 * H), dtype)
        self.dh_above = np.empty((T, B, H), dtype)
        self.dx = np.empty((T * B, E), dtype)  # gradient w.r.t. the embedded inputs


class LSTMLM:
    """Embedding -> L LSTM layers -> linear -> softmax, with exact float32/float64 gradients."""

    def __init__(self, cfg: ModelConfig, dtype=np.float32, parts: int = 1) -> None:
        if cfg.cell != "lstm":
            raise ValueError(f"unknown cell {cfg.cell!r}; this version has 'lstm'")
        self.cfg = cfg
        self.parts = parts  # batch ranges whose time loops run in parallel (see rnngen.threads)
        self.dtype = np.dtype(dtype)
        shapes = param_shapes(cfg)
        self.params = FlatParams(shapes, self.dtype)
        self.grads = FlatParams(shapes, self.dtype)
        self._ws: dict[tuple[int, int], _Workspace] = {}

    def init_weights(self, rng: np.random.Generator) -> None:
        """PyTorch-style U(-1/sqrt(H), 1/sqrt(H)) for the LSTM and output; forget bias 1."""
        cfg = self.cfg
        H = cfg.hidden
        k = 1.0 / np.sqrt(H)
        for name, view in self.params.views.items():
            if name == "embed":
                view[...] = rng.normal(0.0, 1.0, view.shape)
            else:
                view[...] = rng.uniform(-k, k, view.shape)
        for layer in range(cfg.layers):
            b = self.params[f"lstm{layer}.b"]
            b[:] = 0.0
            b[H : 2 * H] = 1.0  # forget gate starts open: gradients flow through c from step one

    def _workspace(self, T: int, B: int) -> _Workspace:
        key = (T, B)
        ws = self._ws.get(key)
        if ws is None:
            if len(self._ws) >= 8:  # training uses 1 shape, an evaluation up to 4
                self._ws.clear()
            ws = self._ws[key] = _Workspace(self.cfg, T, B, self.dtype)
        return ws

    def _forward(self, ws: _Workspace, tokens: np.ndarray, state: State) -> np.ndarray:
        """Run the layers; returns the top layer's hidden states (T, B, H). Updates state."""
        p = self.params
        T, B = tokens.shape
        flat_tokens = tokens.reshape(-1)
        E, H = self.cfg.embed, self.cfg.hidden
        embedding_forward(ws.x.reshape(T * B, E), p["embed"], flat_tokens)
        layer_in = ws.x
        for k in range(self.cfg.layers):
            D = layer_in.shape[2]
            xp2 = ws.xp[k].reshape(T * B, 4 * H)
            np.dot(layer_in.reshape(T * B, D), p[f"lstm{k}.W_ih"], out=xp2)
            xp2 += p[f"lstm{k}.b"]
            lstm_forward(
                ws.xp[k], p[f"lstm{k}.W_hh"], state.h[k], state.c[k],
                ws.hs[k], ws.cs[k], ws.acts[k], ws.tcs[k], min(self.parts, B),
            )  # fmt: skip
            state.h[k] = ws.hs[k][T]
            state.c[k] = ws.cs[k][T]
            layer_in = ws.hs[k][1:]
        return layer_in

    def forward_backward(self, inputs: np.ndarray, targets: np.ndarray, state: State) -> float:
        """Mean cross-entropy (nats/token) of a (T, B) batch; writes self.grads, advances state."""
        p, g = self.params, self.grads
        T, B = inputs.shape
        H = self.cfg.hidden
        N = T * B
        ws = self._workspace(T, B)
        top = self._forward(ws, inputs, state).reshape(N, H)  # (T*B, H)

        # output layer and loss; logits become dlogits in place
        self._logits(ws, top)
        loss = softmax_xent(ws.logits, targets.reshape(-1), self.dtype.type(1.0 / N))
        dlogits = ws.logits
        np.dot(top.T, dlogits, out=g["out.W"])
        np.sum(dlogits, axis=0, out=g["out.b"])
        dh_above = ws.dh_above.reshape(N, H)
        np.dot(dlogits, p["out.W"].T, out=dh_above)

        # layers in reverse order of the forward
        zeros = np.zeros((B, H), self.dtype)
        for k in range(self.cfg.layers - 1, -1, -1):
            W_hhT = np.ascontiguousarray(p[f"lstm{k}.W_hh"].T)  # (4H, H)
            dh, dc = zeros.copy(), zeros.copy()  # truncated BPTT: nothing flows in from step T+1
            lstm_backward(
                ws.dG, ws.dh_above, W_hhT, ws.acts[k], ws.cs[k], ws.tcs[k], dh, dc,
                min(self.parts, B),
            )  # fmt: skip
            dG2 = ws.dG.reshape(N, 4 * H)
            layer_in = ws.x if k == 0 else ws.hs[k - 1][1:]
            D = layer_in.shape[2]
            np.dot(layer_in.reshape(N, D).T, dG2, out=g[f"lstm{k}.W_ih"])
            np.dot(ws.hs[k][:T].reshape(N, H).T, dG2, out=g[f"lstm{k}.W_hh"])
            np.sum(dG2, axis=0, out=g[f"lstm{k}.b"])
            if k > 0:
                np.dot(dG2, p[f"lstm{k}.W_ih"].T, out=dh_above)
            else:
                np.dot(dG2, p["lstm0.W_ih"].T, out=ws.dx)
                g["embed"][...] = 0.0
                embedding_backward(g["embed"], ws.dx, inputs.reshape(-1))
        return loss / N

    def loss_sum(self, inputs: np.ndarray, targets: np.ndarray, state: State) -> float:
        """Summed cross-entropy (nats) of a (T, B) batch, forward only; advances state."""
        T, B = inputs.shape
        H = self.cfg.hidden
        ws = self._workspace(T, B)
        top = self._forward(ws, inputs, state).reshape(T * B, H)
        return softmax_xent_loss(self._logits(ws, top), targets.reshape(-1))

    def token_losses(self, inputs: np.ndarray, targets: np.ndarray, state: State) -> np.ndarray:
        """Cross-entropy (nats) of every token of a (T, B) batch, (T, B) float64, forward only;
        advances state. Used to score lines one by one (``rnngen score``)."""
        T, B = inputs.shape
        ws = self._workspace(T, B)
        top = self._forward(ws, inputs, state).reshape(T * B, self.cfg.hidden)
        out = np.empty(T * B, np.float64)
        softmax_xent_rows(self._logits(ws, top), targets.reshape(-1), out)
        return out.reshape(T, B)

    def _logits(self, ws: _Workspace, top: np.ndarray) -> np.ndarray:
        """Output layer: ws.logits (T*B, V) = top (T*B, H) @ W_out + b_out."""
        np.dot(top, self.params["out.W"], out=ws.logits)
        ws.logits += self.params["out.b"]
        return ws.logits
