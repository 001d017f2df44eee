"""The language model, composed of layers: embedding -> L recurrent layers -> output, with dropout
between them in training.

    tokens (T, B) -> Embedding -> (T, B, E) -> [Dropout] -> RecurrentLayer 0 -> (T, B, H)
        -> [Dropout] -> ... -> RecurrentLayer L-1 -> [Dropout] -> Output -> loss

``forward_backward`` runs the layers forward, then backward in reverse order. All parameters live in
one flat buffer (and all gradients in another, ``rnngen.nn.params``), with each layer holding views
of its own. A character model's first layer reads its (V, G) table embed @ W_ih by token instead of
an embedded (T, B, E) input (``TokenInput``), when no dropout sits between the two.

Dropout (``cfg.dropout``, Zaremba et al. 2014) applies in training only, on the non-recurrent
connections: between layers and before the output layer, and on the embedded input at the rate
``cfg.dropout_input``. Its masks are a hash of (seed, key, site), so a resumed run draws the same.
"""

from dataclasses import dataclass

import numpy as np

from rnngen.nn.cells import CELLS
from rnngen.nn.config import ModelConfig
from rnngen.nn.dropout import Dropout
from rnngen.nn.embedding import Embedding, TokenInput
from rnngen.nn.networks import NetworkSpec
from rnngen.nn.output import Output
from rnngen.nn.params import FlatParams, init_params
from rnngen.nn.recurrent import CellState, RecurrentLayer, Scratch, Tape


class State:
    """The carried state of a stack of L layers of one cell: each of the cell's state vectors
    (h first; the LSTM's c) for every layer, as (L, B, H) arrays."""

    def __init__(self, names: tuple[str, ...], arrays: tuple[np.ndarray, ...]) -> None:
        self.names, self.arrays = names, arrays

    @classmethod
    def zeros(cls, cfg: ModelConfig, B: int, dtype=np.float32) -> "State":
        names = CELLS[cfg.cell].state
        return cls(names, tuple(np.zeros((cfg.layers, B, cfg.hidden), dtype) for _ in names))

    def layer(self, k: int) -> CellState:
        """Layer k's state vectors, (B, H) views: a layer's forward updates them in place."""
        return tuple(a[k] for a in self.arrays)

    @property
    def h(self) -> np.ndarray:
        """(L, B, H): every layer's h."""
        return self.arrays[0]

    def __getitem__(self, name: str) -> np.ndarray:
        """(L, B, H): the state vector called ``name`` (``"h"``, the LSTM's ``"c"``)."""
        return self.arrays[self.names.index(name)]

    def astype(self, dtype) -> "State":
        return State(self.names, tuple(a.astype(dtype) for a in self.arrays))

    def reset(self) -> None:
        for a in self.arrays:
            a[...] = 0.0

    def copy(self) -> "State":
        return State(self.names, tuple(a.copy() for a in self.arrays))

    def assign(self, other: "State") -> None:
        for a, b in zip(self.arrays, other.arrays, strict=True):
            a[...] = b

    def row(self, b: int) -> "State":
        """Batch row b alone, as a state of batch 1 (a copy)."""
        return State(self.names, tuple(np.ascontiguousarray(a[:, b : b + 1]) for a in self.arrays))

    def tensors(self, prefix: str = "state.") -> dict[str, np.ndarray]:
        """The arrays by name (``state.h``, ``state.c``), as checkpoints store them."""
        return {prefix + n: a for n, a in zip(self.names, self.arrays, strict=True)}


@dataclass
class _Workspace:
    """Activations of one (T, B) shape, reused from step to step."""

    x: np.ndarray  # (T, B, E) embedded inputs (after dropout)
    tapes: list[Tape]  # one per recurrent layer
    scratch: Scratch  # the recurrent layers' backward arrays, shared
    logits: np.ndarray  # (T*B, V), then their gradient
    dh_above: np.ndarray  # (T, B, H) gradient arriving at a layer's outputs
    dx: np.ndarray  # (T*B, E) gradient w.r.t. the embedded inputs
    dropped: list[np.ndarray] | None  # (T, B, H) per layer: its output after dropout
    masks: list[np.ndarray | None] | None  # [embedding output's, each layer's]
    token_input: TokenInput | None = None  # set when layer 0 read a table by token


def input_dropout(cfg: ModelConfig) -> float:
    """The dropout rate on the embedding output (None, as in checkpoints from before it existed:
    the rate between the layers)."""
    return cfg.dropout if cfg.dropout_input is None else cfg.dropout_input


def layers_of(cfg: ModelConfig, parts: int = 1) -> tuple[Embedding, list[RecurrentLayer], Output]:
    """The layers ``cfg`` describes, without their parameters (``bind`` gives them theirs)."""
    cell = CELLS[cfg.cell]
    embedding = Embedding(cfg.vocab_size, cfg.embed, parts)
    layers: list[RecurrentLayer] = []
    width = embedding.out_width
    for k in range(cfg.layers):
        layers.append(RecurrentLayer(cell, k, width, cfg.hidden, parts))
        width = layers[-1].out_width
    output = Output(width, cfg.vocab_size, parts, tied=embedding if cfg.tie else None)
    return embedding, layers, output


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of the model ``cfg`` describes, in buffer order."""
    return _shapes(*layers_of(cfg))


def _shapes(embedding: Embedding, layers: list[RecurrentLayer], output: Output) -> dict:
    shapes = embedding.param_shapes()
    for layer in layers:
        shapes.update(layer.param_shapes())
    shapes.update(output.param_shapes())
    return shapes


class LMNetwork:
    """Embedding -> L recurrent layers -> output; exact float32/float64 gradients.

    ``parts``: batch ranges whose time loops run in parallel (``rnngen.kernels.threads``)."""

    def __init__(self, cfg: ModelConfig, dtype=np.float32, parts: int = 1) -> None:
        if cfg.tie and cfg.embed != cfg.hidden:
            raise ValueError(f"tied weights need embed == hidden (got {cfg.embed}, {cfg.hidden})")
        self.cfg = cfg
        self.parts = parts
        self.dtype = np.dtype(dtype)
        L = cfg.layers
        self.embedding, self.layers, self.output = layers_of(cfg, parts)
        self.drop_in = Dropout(input_dropout(cfg), 0, L + 1)
        self.drops = [Dropout(cfg.dropout, k + 1, L + 1) for k in range(L)]
        shapes = _shapes(self.embedding, self.layers, self.output)
        self.params = FlatParams(shapes, self.dtype)
        self.grads = FlatParams(shapes, self.dtype)
        for part in (self.embedding, *self.layers, self.output):
            part.bind(self.params, self.grads)
        self._ws: dict[tuple[int, int], _Workspace] = {}
        self.dropout_seed = 0  # with the key passed to forward_backward, picks the masks
        self.token_table: bool | None = None  # layer 0 by table lookup: None decides by size
        self.start: State | None = None  # the state a text starts from (None: zeros)

    def init_weights(self, rng: np.random.Generator, scale: float | None = None) -> None:
        """``scale``: every parameter uniform(-scale, scale), as the classic recipes specify.
        Otherwise PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for the layers and the output, N(0, 1) for
        an untied embedding, then each cell's own bias adjustment (the LSTM's forget gate)."""
        normal = set() if self.cfg.tie else {self.embedding.name}
        init_params(self.params, rng, self.cfg.hidden, scale, normal)
        if scale is not None:
            return
        for layer in self.layers:
            layer.init_biases()

    def new_state(self, B: int) -> State:
        return State.zeros(self.cfg, B, self.dtype)

    def start_state(self, B: int) -> State:
        """B rows of the state a text starts from: ``start`` (a state the model knows, as its
        checkpoint records it), or zeros for a model without one."""
        state = self.new_state(B)
        if self.start is not None:
            for a, s in zip(state.arrays, self.start.arrays, strict=True):
                a[...] = s[:, :1]
        return state

    def _workspace(self, T: int, B: int) -> _Workspace:
        ws = self._ws.get((T, B))
        if ws is None:
            if len(self._ws) >= 8:  # training uses 1 shape, an evaluation up to 4
                self._ws.clear()
            ws = self._ws[(T, B)] = self._new_workspace(T, B)
        return ws

    def _new_workspace(self, T: int, B: int) -> _Workspace:
        cfg, dt = self.cfg, self.dtype
        E, H, V = cfg.embed, cfg.hidden, cfg.vocab_size
        dropped = masks = None
        if cfg.dropout > 0 or self.drop_in.rate > 0:
            dropped = [np.empty((T, B, layer.out_width), dt) for layer in self.layers]
            masks = [np.empty((T, B, E), dt) if self.drop_in.rate > 0 else None] + [
                np.empty((T, B, layer.out_width), dt) if cfg.dropout > 0 else None
                for layer in self.layers
            ]
        return _Workspace(
            x=np.empty((T, B, E), dt),
            tapes=[layer.tape(T, B, dt) for layer in self.layers],
            scratch=self.layers[0].scratch(T, B, dt),
            logits=np.empty((T * B, V), dt),
            dh_above=np.empty((T, B, H), dt),
            dx=np.empty((T * B, E), dt),
            dropped=dropped,
            masks=masks,
        )

    # ---- forward ---------------------------------------------------------------------------------

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

    def _forward(self, ws: _Workspace, tokens: np.ndarray, state: State, key: int | None):
        """Run the embedding and the recurrent layers; returns the top layer's output (T, B, H),
        after dropout when ``key`` is given (training). Advances ``state``."""
        T, B = tokens.shape
        drop_in, drop = self._dropping(ws, key)
        seed = self.dropout_seed
        if self._table_input(T, B, drop_in):
            layer_in = ws.token_input = self.embedding.as_input(tokens)
        else:
            ws.token_input = None
            self.embedding.forward(tokens, ws.x.reshape(T * B, -1))
            if drop_in:
                self.drop_in.forward(ws.x, ws.x, ws.masks[0], seed, key)
            layer_in = ws.x
        for k, layer in enumerate(self.layers):
            layer_in = layer.forward(layer_in, state.layer(k), ws.tapes[k])
            if drop:
                self.drops[k].forward(layer_in, ws.dropped[k], ws.masks[k + 1], seed, key)
                layer_in = ws.dropped[k]
        return layer_in

    def forward_backward(
        self, inputs: np.ndarray, targets: np.ndarray, state: State, key: int | None = None
    ) -> float:
        """Mean cross-entropy (nats/token) of a (T, B) batch; writes self.grads, advances state.

        ``key`` (the step number in training) switches dropout on and picks its masks."""
        T, B = inputs.shape
        N = T * B
        ws = self._workspace(T, B)
        top = self._forward(ws, inputs, state, key).reshape(N, -1)  # (T*B, H)
        self.output.logits(top, ws.logits)
        if not self.cfg.tie:
            self.embedding.dW[...] = 0.0  # the layers below add to it
        dh_above = ws.dh_above.reshape(N, -1)
        loss = self.output.loss_backward(top, ws.logits, targets.reshape(-1), dh_above)
        drop_in, drop = self._dropping(ws, key)

        # the layers in reverse order of the forward
        for k in range(len(self.layers) - 1, -1, -1):
            if drop:
                self.drops[k].backward(ws.dh_above, ws.masks[k + 1])
            if k > 0:
                dx = dh_above  # the layer below's output gradient, written over this one's
            else:
                dx = None if ws.token_input is not None else ws.dx  # a TokenInput adds its own
            self.layers[k].backward(ws.tapes[k], ws.dh_above, dx, ws.scratch)
        if ws.token_input is None:
            if drop_in:
                self.drop_in.backward(ws.dx, ws.masks[0])
            self.embedding.backward(inputs, ws.dx)
        return loss / N

    def loss_sum(self, inputs: np.ndarray, targets: np.ndarray, state: State) -> float:
        """Summed cross-entropy (nats) of a (T, B) batch, forward only, no dropout; advances
        state."""
        T, B = inputs.shape
        ws = self._workspace(T, B)
        top = self._forward(ws, inputs, state, None).reshape(T * B, -1)
        return self.output.loss(self.output.logits(top, ws.logits), targets.reshape(-1))

    def token_losses(self, inputs: np.ndarray, targets: np.ndarray, state: State) -> np.ndarray:
        """Cross-entropy (nats) of every token of a (T, B) batch, (T, B) float64, forward only;
        advances state. Used to score lines one by one (``rnngen score``)."""
        T, B = inputs.shape
        ws = self._workspace(T, B)
        top = self._forward(ws, inputs, state, None).reshape(T * B, -1)
        logits = self.output.logits(top, ws.logits)
        return self.output.token_losses(logits, targets.reshape(-1)).reshape(T, B)

    def logits(self, inputs: np.ndarray, state: State) -> np.ndarray:
        """Next-token logits after every token of a (T, B) batch, (T*B, V), forward only, no
        dropout; advances state. The array is the model's workspace: copy what must outlive the
        next call. Used to generate many samples at once, by beam search and by the heatmap."""
        T, B = inputs.shape
        ws = self._workspace(T, B)
        top = self._forward(ws, inputs, state, None).reshape(T * B, -1)
        return self.output.logits(top, ws.logits)


# ---- as checkpoints see it (rnngen.nn.networks) -------------------------------------------------


def _check(m: ModelConfig, own: None, vocab, more: dict) -> tuple[str, str] | None:
    if vocab.level != m.level:
        return "vocab.level", f"is {vocab.level!r}, but model.level is {m.level!r}"
    if len(vocab) != m.vocab_size:
        return (
            "model.vocab_size",
            f"is {m.vocab_size}, but the vocabulary holds {len(vocab)} tokens",
        )
    return None


SPEC = NetworkSpec(
    task="lm",
    what="a language model",
    settings=None,
    vocabs=(),
    carries_state=True,
    names_task=False,
    param_shapes=lambda m, own: param_shapes(m),
    check=_check,
    build=lambda m, own, dtype, parts: LMNetwork(m, dtype, parts=parts),
)
