"""A language model as plain arrays, for writers of other languages (the C file, the web page):
what a program needs to run the model with no rnngen, and nothing of rnngen's own layout.

Every matrix multiplies from the left, as rnngen's layers do: a layer's gate pre-activations are

    a (G,) = x (D,) @ W_ih (D, G)  +  h (H,) @ W_hh (H, G)  +  the cell's biases

with G = gates * H and the gate blocks in the cell's order, the order rnngen and PyTorch use:

    lstm      [i | f | g | o]   one bias b          (PyTorch's b_ih + b_hh)
    gru       [r | z | n]       biases b_ih, b_hh   (b_hh's n block sits inside r * (...))
    rnn-tanh  [h]               one bias b
    rnn-relu  [h]               one bias b

and the cells' step (s: sigmoid; xr, hr: the r blocks of x @ W_ih and h @ W_hh):

    lstm      i, f, o = s(a_i), s(a_f), s(a_o);  g = tanh(a_g);  c = f c + i g;  h = o tanh(c)
    gru       r = s((xr + b_ih_r) + (hr + b_hh_r));  z likewise;
              n = tanh((xn + b_ih_n) + r (hn + b_hh_n));  h = n + z (h - n)
    rnn-*     h = tanh or relu((x @ W_ih + b) + h @ W_hh)

Layer 0's input product is a row of ``table0`` (V, G) = embed @ W_ih of layer 0, the table
rnngen's sampler reads by token; the layers above read the layer below's new h. The logits are
h_top (H,) @ W_out (H, V) + b_out.

How a text starts, as ``rnngen sample`` starts it: from ``start`` (L, S, H) (the state the model
learned texts start from; zeros for old checkpoints), the model first reads ``start_token`` (the
line break at character level, ``<eos>`` at word level; None when the vocabulary lacks it), then
the prime's tokens, and the logits after the last of them predict the first generated token. With
nothing read at all (no start token, no prime), the first logits are ``b_out``.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnngen._version import __version__
from rnngen.errors import UsageError

GATES = {"lstm": "ifgo", "gru": "rzn", "rnn-tanh": "h", "rnn-relu": "h"}


@dataclass
class PlainLayer:
    """One recurrent layer: D its input width (E at layer 0, H above), G = gates * H."""

    W_ih: np.ndarray  # (D, G) float32
    W_hh: np.ndarray  # (H, G) float32
    biases: np.ndarray  # (nb, G) float32: the cell's bias vectors, in ``bias_names`` order


@dataclass
class PlainModel:
    """A trained language model as float32 arrays, and how text maps to tokens."""

    version: str  # rnngen's, that exported it
    level: str  # "char" (tokens are Unicode code points) or "word"
    cell: str  # "lstm", "gru", "rnn-tanh", "rnn-relu"
    gates: str  # the gate blocks, in order: "ifgo", "rzn", "h"
    bias_names: tuple[str, ...]  # ("b",) or ("b_ih", "b_hh")
    state_names: tuple[str, ...]  # ("h", "c") or ("h",)
    tokens: list[str]  # id -> token (word level: "<eos>" is a line break, "<unk>" unknown)
    embed: np.ndarray  # (V, E)
    table0: np.ndarray  # (V, G) embed @ W_ih of layer 0, as rnngen's sampler computes it
    layers: list[PlainLayer]
    W_out: np.ndarray  # (H, V)
    b_out: np.ndarray  # (V,)
    start: np.ndarray  # (L, S, H) the state every text starts from
    start_token: int | None  # read first: "\n" (char) or "<eos>" (word), if in the vocabulary
    source: str  # the checkpoint it came from
    name: str = ""  # a short name for people: the corpus's, or the run directory's

    @property
    def L(self) -> int:  # noqa: N802
        return len(self.layers)

    @property
    def H(self) -> int:  # noqa: N802
        return self.start.shape[2]

    @property
    def E(self) -> int:  # noqa: N802
        return self.embed.shape[1]

    @property
    def V(self) -> int:  # noqa: N802
        return len(self.tokens)

    @property
    def G(self) -> int:  # noqa: N802
        return len(self.gates) * self.H

    def describe(self) -> str:
        """One line: ``char lstm, 2 layers of 256 units, 65 tokens``."""
        return (
            f"{self.level} {self.cell}, {self.L} layer{'s' * (self.L > 1)} of {self.H} units, "
            f"{self.V:,} tokens"
        )

    def n_params(self) -> int:
        """The numbers the exported files hold: layer 0's input as ``table0``, or as embed and
        W_ih, whichever ``table_is_smaller`` picks; every other weight and bias once."""
        first = self.layers[0]
        n = self.table0.size if self.table_is_smaller() else self.embed.size + first.W_ih.size
        for k, layer in enumerate(self.layers):
            n += layer.W_hh.size + layer.biases.size + (layer.W_ih.size if k else 0)
        return int(n + self.W_out.size + self.b_out.size)

    def table_is_smaller(self) -> bool:
        """Whether layer 0 is better read by token from ``table0`` (V, G) than computed from embed
        (V, E) and W_ih (E, G): true at character level, false for large word vocabularies."""
        return self.V * self.G <= self.V * self.E + self.E * self.G

    # ---- a reference step, in NumPy: what the C and JavaScript steps compute ------------------

    def new_state(self) -> np.ndarray:
        """(L, S, H) float32: the start state, a copy."""
        return self.start.copy()

    def step(self, state: np.ndarray, token: int) -> np.ndarray:
        """Read ``token``: advance ``state`` (L, S, H) in place; the next-token logits (V,)."""
        x = None
        for k, layer in enumerate(self.layers):
            xp = self.table0[token] if k == 0 else x @ layer.W_ih  # (G,)
            rec = state[k, 0] @ layer.W_hh  # (G,)
            _cell_step(self.cell, xp, rec, layer.biases, state[k])
            x = state[k, 0]
        return x @ self.W_out + self.b_out

    def logits_after(self, ids: list[int] | np.ndarray) -> np.ndarray:
        """The logits (V,) after reading the start token and ``ids`` from the start state."""
        feed = ([] if self.start_token is None else [self.start_token]) + [int(i) for i in ids]
        state, logits = self.new_state(), self.b_out.copy()
        for t in feed:
            logits = self.step(state, t)
        return logits


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def _cell_step(cell: str, x: np.ndarray, r: np.ndarray, b: np.ndarray, s: np.ndarray) -> None:
    """One cell's step on one layer's state s (S, H), in place; x, r (G,) the input and recurrent
    products, b (nb, G) the biases."""
    H = s.shape[1]
    if cell == "lstm":
        a = (x + r) + b[0]
        i, f, g, o = (a[q * H : (q + 1) * H] for q in range(4))
        s[1] = _sigmoid(f) * s[1] + _sigmoid(i) * np.tanh(g)
        s[0] = _sigmoid(o) * np.tanh(s[1])
    elif cell == "gru":
        xb, rb = x + b[0], r + b[1]
        rg = _sigmoid(xb[:H] + rb[:H])
        z = _sigmoid(xb[H : 2 * H] + rb[H : 2 * H])
        n = np.tanh(xb[2 * H :] + rg * rb[2 * H :])
        s[0] = n + z * (s[0] - n)
    elif cell == "rnn-tanh":
        s[0] = np.tanh((x + b[0]) + r)
    elif cell == "rnn-relu":
        s[0] = np.maximum((x + b[0]) + r, 0.0)
    else:
        raise ValueError(f"no plain step for cell {cell!r}")


# ---- from a trained model -----------------------------------------------------------------------


def plain_model(model: Any) -> PlainModel:
    """The language model ``model`` (a ``rnngen.LanguageModel``, as ``rnngen.load`` gives it, or
    its ``Checkpoint``) as plain arrays. Raises ``UsageError`` for another task's model, a cell
    this export does not know or a subword vocabulary."""
    from rnngen.nn.cells import CELLS
    from rnngen.nn.lm import layers_of
    from rnngen.nn.params import NamedArrays

    ck = getattr(model, "checkpoint", model)
    if ck.task != "lm":
        raise UsageError(
            f"{ck.path}: is not a language model (task {ck.task!r}); the C and web exports "
            "take language models"
        )
    cfg = ck.model_cfg
    if ck.vocab.level == "bpe":
        raise UsageError(
            f"{ck.path}: is a subword (bpe) model; the C and web exports take char and word "
            "models (--format onnx exports it, with its tokenizer in the metadata)"
        )
    if cfg.cell not in GATES:
        raise UsageError(f"{ck.path}: cell {cfg.cell!r} has no C or web export")
    cell = CELLS[cfg.cell]
    # the layers bound to the checkpoint's arrays, as rnngen's sampler binds them
    embedding, layers, output = layers_of(cfg)
    weights = NamedArrays(ck.params)
    for part in (embedding, *layers, output):
        part.bind(weights, weights)
    f32 = np.float32
    L, H = cfg.layers, cfg.hidden
    start = np.zeros((L, len(cell.state), H), f32)
    start_state = ck.start_state()
    if start_state is not None:
        for s, a in enumerate(start_state.arrays):
            start[:, s, :] = a[:, 0, :]
    vocab = ck.vocab
    first = vocab.line_end
    return PlainModel(
        version=__version__,
        level=vocab.level,
        cell=cfg.cell,
        gates=GATES[cfg.cell],
        bias_names=tuple(cell.biases),
        state_names=tuple(cell.state),
        tokens=list(vocab.itos),
        embed=np.ascontiguousarray(embedding.W, f32),
        # float32 @ float32 through NumPy, exactly as rnngen.generate.sample.Sampler makes it
        table0=np.ascontiguousarray(embedding.W @ layers[0].W_ih, f32),
        layers=[
            PlainLayer(
                np.ascontiguousarray(layer.W_ih, f32),
                np.ascontiguousarray(layer.W_hh, f32),
                np.ascontiguousarray(layer.bias, f32),
            )
            for layer in layers
        ],
        W_out=np.ascontiguousarray(output.W, f32),
        b_out=np.ascontiguousarray(output.b, f32),
        start=start,
        start_token=vocab.stoi.get(first),
        source=str(ck.path),
        name=_name(ck),
    )


def _name(ck: Any) -> str:
    """The corpus's file name without its suffix, else the run directory's name."""
    corpus = ck.info.get("corpus")
    if isinstance(corpus, str) and corpus and corpus != "-":
        return Path(corpus).stem
    return Path(ck.path).parent.name if ck.path else ""


# ---- int8 ---------------------------------------------------------------------------------------


def quantize(W: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per slice along ``axis`` (the axis that is kept): for a
    matrix used as x @ W (K, N), ``axis=1`` gives each output column its own scale; for a table
    read by row, ``axis=0`` each row. Returns (q int8 like W, scale float32): W ~ q * scale."""
    W = np.asarray(W, np.float32)
    other = 1 - axis
    peak = np.abs(W).max(axis=other)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    shaped = scale[None, :] if axis == 1 else scale[:, None]
    q = np.clip(np.rint(W / shaped), -127, 127).astype(np.int8)
    return q, scale
