"""The stacked recurrent language model: embedding -> L recurrent layers -> linear -> softmax.

All parameters live in one flat buffer (and all gradients in another) with named views into it, so
gradient clipping and the optimizer run over one contiguous array. ``forward_backward`` runs the
layers forward, then backward in reverse order. Each layer (``rnngen.cells``) does its input
projection and weight gradients as large GEMMs and its time loop in a Numba kernel.

Dropout (``cfg.dropout``, Zaremba et al. 2014) applies in training only, on the non-recurrent
connections: between layers and before the output layer, and on the embedded input at the rate
``cfg.dropout_input`` (the CLI's default: the same rate at word level, none at character level,
where char-rnn and torch-rnn leave the input alone). Its masks are a hash
of (seed, key, site) (``rnngen.kernels.dropout``), so a resumed run draws the same masks. With
``cfg.tie`` the output projection is the embedding transposed (Press & Wolf; Inan et al.).
"""

from dataclasses import dataclass

import numpy as np

from rnngen.cells import TokenInput, layer_shapes, make_layer
from rnngen.config import ModelConfig
from rnngen.kernels.dropout import dropout_backward, dropout_forward
from rnngen.kernels.loss import (
    embedding_backward,
    embedding_forward,
    softmax_xent,
    softmax_xent_loss,
    softmax_xent_rows,
)


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter, in buffer order."""
    V, E, H = cfg.vocab_size, cfg.embed, cfg.hidden
    shapes: dict[str, tuple[int, ...]] = {"embed": (V, E)}
    for k in range(cfg.layers):
        shapes.update(layer_shapes(cfg.cell, k, E if k == 0 else H, H))
    if not cfg.tie:
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
    """Carried recurrent state, each (L, B, H): h of every layer, and c (the LSTM's cell; zeros
    for the other cells)."""

    h: np.ndarray
    c: np.ndarray

    @classmethod
    def zeros(cls, cfg: ModelConfig, B: int, dtype=np.float32) -> "State":
        shape = (cfg.layers, B, cfg.hidden)
        return cls(np.zeros(shape, dtype), np.zeros(shape, dtype))

    def copy(self) -> "State":
        return State(self.h.copy(), self.c.copy())


def input_dropout(cfg: ModelConfig) -> float:
    """The dropout rate on the embedding output: ``cfg.dropout_input``, or, when that is unset (as
    in checkpoints from before it existed), the same rate as between the layers."""
    return cfg.dropout if cfg.dropout_input is None else cfg.dropout_input


class _Workspace:
    """Activations of one (T, B) shape, reused from step to step."""

    def __init__(self, cfg: ModelConfig, layers: list, T: int, B: int, dtype) -> None:
        L, E, H, V = cfg.layers, cfg.embed, cfg.hidden, cfg.vocab_size
        G = layers[0].G
        self.x = np.empty((T, B, E), dtype)  # embedded inputs (after dropout)
        self.token_input = None  # set when layer 0 reads a table by token instead of x
        self.layers = [layer.workspace(T, B, dtype) for layer in layers]
        self.logits = np.empty((T * B, V), dtype)
        self.scratch = {"dG": np.empty((T, B, G), dtype)}  # gate gradients, shared by layers
        if cfg.cell == "gru":
            self.scratch["dGh"] = np.empty((T, B, G), dtype)
        self.dh_above = np.empty((T, B, H), dtype)
        self.dx = np.empty((T * B, E), dtype)  # gradient w.r.t. the embedded inputs
        self.dropped = None  # (T, B, H) per layer: its output after dropout
        self.masks = None  # [embedding mask or None, layer masks...]
        if cfg.dropout > 0 or input_dropout(cfg) > 0:
            self.dropped = [np.empty((T, B, H), dtype) for _ in range(L)]
            self.masks = [np.empty((T, B, E), dtype) if input_dropout(cfg) > 0 else None] + [
                np.empty((T, B, H), dtype) if cfg.dropout > 0 else None for _ in range(L)
            ]


class LanguageModel:
    """Embedding -> L recurrent layers -> linear -> softmax; exact float32/float64 gradients."""

    def __init__(self, cfg: ModelConfig, dtype=np.float32, parts: int = 1) -> None:
        if cfg.tie and cfg.embed != cfg.hidden:
            raise ValueError(f"tied weights need embed == hidden (got {cfg.embed}, {cfg.hidden})")
        self.cfg = cfg
        self.parts = parts  # batch ranges whose time loops run in parallel (see rnngen.threads)
        self.dtype = np.dtype(dtype)
        self.layers = [
            make_layer(cfg.cell, k, cfg.embed if k == 0 else cfg.hidden, cfg.hidden, parts)
            for k in range(cfg.layers)
        ]
        shapes = param_shapes(cfg)
        self.params = FlatParams(shapes, self.dtype)
        self.grads = FlatParams(shapes, self.dtype)
        self._ws: dict[tuple[int, int], _Workspace] = {}
        self.dropout_seed = 0  # with the key passed to forward_backward, picks the masks
        self.token_table: bool | None = None  # layer 0 by table lookup: None decides by size

    def init_weights(self, rng: np.random.Generator, scale: float | None = None) -> None:
        """``scale``: every parameter uniform(-scale, scale), as the classic recipes specify.
        Otherwise PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for the layers and the output, N(0, 1) for
        an untied embedding, and the LSTM's forget-gate bias at 1."""
        cfg = self.cfg
        H = cfg.hidden
        if scale is not None:
            for view in self.params.views.values():
                view[...] = rng.uniform(-scale, scale, view.shape)
            return
        k = 1.0 / np.sqrt(H)
        for name, view in self.params.views.items():
            if name == "embed" and not cfg.tie:
                view[...] = rng.normal(0.0, 1.0, view.shape)
            else:
                view[...] = rng.uniform(-k, k, view.shape)
        if cfg.cell == "lstm":
            for layer in range(cfg.layers):
                b = self.params[f"lstm{layer}.b"]
                b[:] = 0.0
                b[H : 2 * H] = 1.0  # forget gate starts open: gradients flow through c

    def _workspace(self, T: int, B: int) -> _Workspace:
        key = (T, B)
        ws = self._ws.get(key)
        if ws is None:
            if len(self._ws) >= 8:  # training uses 1 shape, an evaluation up to 4
                self._ws.clear()
            ws = self._ws[key] = _Workspace(self.cfg, self.layers, T, B, self.dtype)
        return ws

    @property
    def W_out(self) -> np.ndarray:  # noqa: N802
        """(H, V): the output projection (a transposed view of the embedding when tied)."""
        p = self.params
        return p["embed"].T if self.cfg.tie else p["out.W"]

    def _forward(self, ws: _Workspace, tokens: np.ndarray, state: State, key: int | None):
        """Run the layers; returns the top layer's output (T, B, H), after dropout when ``key``
        is given (training). Updates state."""
        p = self.params
        T, B = tokens.shape
        E = self.cfg.embed
        drop_in, drop = self._dropping(ws, key)
        if self._table_input(T, B, drop_in):
            layer_in = ws.token_input = TokenInput(tokens)
        else:
            ws.token_input = None
            embedding_forward(ws.x.reshape(T * B, E), p["embed"], tokens.reshape(-1))
            if drop_in:
                self._drop(ws.x, ws.x, ws.masks[0], key, 0, input_dropout(self.cfg))
            layer_in = ws.x
        for k, layer in enumerate(self.layers):
            lws = ws.layers[k]
            layer.forward(p, lws, layer_in, state.h[k], state.c[k])
            layer_in = lws["hs"][1:]
            if drop:
                self._drop(layer_in, ws.dropped[k], ws.masks[k + 1], key, k + 1, self.cfg.dropout)
                layer_in = ws.dropped[k]
        return layer_in

    def _dropping(self, ws: _Workspace, key: int | None) -> tuple[bool, bool]:
        """Whether dropout applies now on the embedding output, and on the layers' outputs."""
        if key is None or ws.masks is None:
            return False, False
        return ws.masks[0] is not None, ws.masks[1] is not None

    def _table_input(self, T: int, B: int, drop: bool) -> bool:
        """Layer 0 reads embed @ W_ih rows by token: when the vocabulary is small next to the
        batch (character level) and no dropout sits between the embedding and layer 0."""
        if drop:
            return False
        if self.token_table is not None:
            return self.token_table
        return 2 * self.cfg.vocab_size <= T * B

    def _drop(self, x, out, mask, key: int, site: int, rate: float) -> None:
        """out = dropout(x) at ``rate`` with the mask of (seed, key, site); out may be x."""
        streams = self.cfg.layers + 1
        dropout_forward(x.reshape(-1), out.reshape(-1), mask.reshape(-1), rate,
                        self.dropout_seed, key * streams + site)  # fmt: skip

    def forward_backward(
        self, inputs: np.ndarray, targets: np.ndarray, state: State, key: int | None = None
    ) -> float:
        """Mean cross-entropy (nats/token) of a (T, B) batch; writes self.grads, advances state.

        ``key`` (the step number in training) switches dropout on and picks its masks."""
        p, g = self.params, self.grads
        T, B = inputs.shape
        H = self.cfg.hidden
        N = T * B
        ws = self._workspace(T, B)
        top = self._forward(ws, inputs, state, key).reshape(N, H)  # (T*B, H)

        # output layer and loss; logits become dlogits in place
        self._logits(ws, top)
        loss = softmax_xent(ws.logits, targets.reshape(-1), self.dtype.type(1.0 / N), self.parts)
        dlogits = ws.logits
        if self.cfg.tie:
            np.dot(dlogits.T, top, out=g["embed"])  # the embedding's gradient starts here
        else:
            np.dot(top.T, dlogits, out=g["out.W"])
            g["embed"][...] = 0.0
        np.sum(dlogits, axis=0, out=g["out.b"])
        dh_above = ws.dh_above.reshape(N, H)
        np.dot(dlogits, self.W_out.T, out=dh_above)
        drop_in, drop = self._dropping(ws, key)

        # layers in reverse order of the forward
        for k in range(self.cfg.layers - 1, -1, -1):
            if drop:
                dropout_backward(ws.dh_above.reshape(-1), ws.masks[k + 1].reshape(-1))
            if k > 0:
                x = ws.dropped[k - 1] if drop else ws.layers[k - 1]["hs"][1:]
                dx = dh_above
            elif ws.token_input is not None:
                x, dx = ws.token_input, None  # the layer adds the embedding's gradient itself
            else:
                x, dx = ws.x, ws.dx
            self.layers[k].backward(p, g, ws.layers[k], ws.scratch, x, ws.dh_above, dx)
        if ws.token_input is None:
            if drop_in:
                dropout_backward(ws.dx.reshape(-1), ws.masks[0].reshape(-1))
            embedding_backward(g["embed"], ws.dx, inputs.reshape(-1), self.parts)
        return loss / N

    def loss_sum(self, inputs: np.ndarray, targets: np.ndarray, state: State) -> float:
        """Summed cross-entropy (nats) of a (T, B) batch, forward only, no dropout; advances
        state."""
        T, B = inputs.shape
        H = self.cfg.hidden
        ws = self._workspace(T, B)
        top = self._forward(ws, inputs, state, None).reshape(T * B, H)
        return softmax_xent_loss(self._logits(ws, top), targets.reshape(-1))

    def token_losses(self, inputs: np.ndarray, targets: np.ndarray, state: State) -> np.ndarray:
        """Cross-entropy (nats) of every token of a (T, B) batch, (T, B) float64, forward only;
        advances state. Used to score lines one by one (``rnngen score``)."""
        T, B = inputs.shape
        ws = self._workspace(T, B)
        top = self._forward(ws, inputs, state, None).reshape(T * B, self.cfg.hidden)
        out = np.empty(T * B, np.float64)
        softmax_xent_rows(self._logits(ws, top), targets.reshape(-1), out)
        return out.reshape(T, B)

    def _logits(self, ws: _Workspace, top: np.ndarray) -> np.ndarray:
        """Output layer: ws.logits (T*B, V) = top (T*B, H) @ W_out + b_out."""
        np.dot(top, self.W_out, out=ws.logits)
        ws.logits += self.params["out.b"]
        return ws.logits
