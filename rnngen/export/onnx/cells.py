"""Each cell as ONNX: the standard operator where its semantics are ours exactly, and the same
step written from MatMuls and elementwise operators (what ``--int8`` quantizes for the cells
whose operator onnxruntime's quantizer does not know).

    cell      standard operator                       gate blocks: ours -> ONNX
    lstm      LSTM (no peepholes, one bias: Wb)       [i f g o] -> [i o f c]
    gru       GRU, linear_before_reset=1 (r * (h W_hn + b_hn), as ours): Wb = b_ih, Rb = b_hh
                                                      [r z n]  -> [z r h]
    rnn-tanh  RNN, activations [Tanh]                 one block
    rnn-relu  RNN, activations [Relu]                 one block

Weights are ours transposed: W_ih (D, G) -> W (dirs, G, D), W_hh (H, G) -> R (dirs, G, H);
B (dirs, 2G) = [Wb, Rb]. A registry keyed by cell name, like ``rnngen.nn.cells``: a cell that is
not here cannot be exported (``cell_for`` says so).
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnngen.errors import UsageError
from rnngen.export.onnx.graph import Graph


@dataclass(frozen=True)
class OnnxCell:
    name: str
    op: str  # the standard operator
    order: tuple[int, ...]  # ONNX's gate block i is our block order[i]
    state: tuple[str, ...]  # h first; the LSTM's c
    biases: tuple[str, ...]  # our bias vectors: (b,) or (b_ih, b_hh)
    attrs: dict[str, Any] = field(default_factory=dict)
    quantizable_op: bool = False  # onnxruntime's quantize_dynamic knows the standard operator

    @property
    def gates(self) -> int:
        return len(self.order)


CELLS = {
    "lstm": OnnxCell("lstm", "LSTM", (0, 3, 1, 2), ("h", "c"), ("b",), quantizable_op=True),
    "gru": OnnxCell("gru", "GRU", (1, 0, 2), ("h",), ("b_ih", "b_hh"), {"linear_before_reset": 1}),
    "rnn-tanh": OnnxCell("rnn-tanh", "RNN", (0,), ("h",), ("b",), {"activations": ["Tanh"]}),
    "rnn-relu": OnnxCell("rnn-relu", "RNN", (0,), ("h",), ("b",), {"activations": ["Relu"]}),
}


def cell_for(name: str) -> OnnxCell:
    if name not in CELLS:
        raise UsageError(f"cannot export a {name} cell to ONNX (it exports {', '.join(CELLS)})")
    return CELLS[name]


def _reorder(a: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """a (..., G) in our gate order -> ONNX's, along the last axis."""
    blocks = np.split(np.asarray(a, np.float32), len(order), axis=-1)
    return np.concatenate([blocks[i] for i in order], axis=-1)


class Layer:
    """One recurrent layer's weights (``prefix`` as the checkpoint names them: ``lstm0.``,
    ``enc.rev.gru1.``), H units."""

    def __init__(self, cell: OnnxCell, params: dict[str, np.ndarray], prefix: str) -> None:
        self.cell, self.prefix = cell, prefix
        self.W_ih = np.asarray(params[prefix + "W_ih"], np.float32)  # (D, G)
        self.W_hh = np.asarray(params[prefix + "W_hh"], np.float32)  # (H, G)
        self.H = self.W_hh.shape[0]
        G = self.W_hh.shape[1]
        b = [np.asarray(params[prefix + n], np.float32) for n in cell.biases]
        self.b_in = b[0]  # (G,) the bias on the input side
        self.b_rec = b[1] if len(b) > 1 else np.zeros(G, np.float32)  # the GRU's b_hh

    def standard_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(W (G, D), R (G, H), B (2G,)) in ONNX's gate order."""
        o = self.cell.order
        W = _reorder(self.W_ih, o).T
        R = _reorder(self.W_hh, o).T
        B = np.concatenate([_reorder(self.b_in, o), _reorder(self.b_rec, o)])
        return W, R, B


def standard(
    g: Graph,
    layers: list[Layer],
    x: str,
    states: list[str],
    seq_lens: str | None = None,
) -> tuple[str, list[str]]:
    """The standard operator over x (T, B, D) from ``states`` (each (dirs, B, H)), for one layer
    (forward) or two (forward and reverse: bidirectional, each sequence reversed within its
    length ``seq_lens`` (B,) int32). Returns Y (T, dirs, B, H) and the final states (each
    (dirs, B, H))."""
    cell = layers[0].cell
    W, R, B = zip(*(layer.standard_weights() for layer in layers), strict=True)
    name = layers[0].prefix.rstrip(".").replace(".", "_")
    inputs = [
        x,
        g.const(name + "_W", np.stack(W)),
        g.const(name + "_R", np.stack(R)),
        g.const(name + "_B", np.stack(B)),
        seq_lens or "",
        *states,
    ]
    attrs = dict(cell.attrs)
    if "activations" in attrs:  # one list per direction
        attrs["activations"] = attrs["activations"] * len(layers)
    outs = g.op(
        cell.op,
        inputs,
        name=name,
        outputs=1 + len(cell.state),
        hidden_size=layers[0].H,
        direction="bidirectional" if len(layers) == 2 else "forward",
        **attrs,
    )
    return outs[0], list(outs[1:])


# ---- the same step from basic operators (batch rows only: one time step) ------------------------


def basic_step(g: Graph, w: Graph, layer: Layer, xg: str, states: list[str]) -> list[str]:
    """One step of ``layer`` from basic operators: xg (B, G) = x @ W_ih (without bias, as the
    caller computed it: a MatMul, or a row of embed @ W_ih by token), states (B, H) each ->
    the new states. Weights go to ``w`` (the outer graph when ``g`` is a subgraph)."""
    cell, H = layer.cell, layer.H
    name = layer.prefix.rstrip(".").replace(".", "_")
    rec = g.op("MatMul", [states[0], w.const(name + "_W_hh", layer.W_hh)], name=name + "_rec")
    parts = w.ints(name + "_split", [H] * cell.gates) if cell.gates > 1 else ""
    if cell.op == "LSTM":  # [i f g o]
        a = g.op("Add", [g.op("Add", [xg, rec]), w.const(name + "_b", layer.b_in)])
        i, f, gg, o = g.op("Split", [a, parts], outputs=4, axis=1, name=name + "_gates")
        c = g.op(
            "Add",
            [
                g.op("Mul", [g.op("Sigmoid", [f]), states[1]]),
                g.op("Mul", [g.op("Sigmoid", [i]), g.op("Tanh", [gg])]),
            ],
            name=name + "_c",
        )
        h = g.op("Mul", [g.op("Sigmoid", [o]), g.op("Tanh", [c])], name=name + "_h")
        return [h, c]
    if cell.op == "GRU":  # [r z n]: n = tanh(xn + r * hn), h = n + z * (h_prev - n)
        xa = g.op("Add", [xg, w.const(name + "_b_ih", layer.b_in)])
        ra = g.op("Add", [rec, w.const(name + "_b_hh", layer.b_rec)])
        xr, xz, xn = g.op("Split", [xa, parts], outputs=3, axis=1, name=name + "_x")
        rr, rz, rn = g.op("Split", [ra, parts], outputs=3, axis=1, name=name + "_r")
        r = g.op("Sigmoid", [g.op("Add", [xr, rr])])
        z = g.op("Sigmoid", [g.op("Add", [xz, rz])])
        n = g.op("Tanh", [g.op("Add", [xn, g.op("Mul", [r, rn])])])
        h = g.op("Add", [n, g.op("Mul", [z, g.op("Sub", [states[0], n])])], name=name + "_h")
        return [h]
    act = cell.attrs["activations"][0]  # RNN: f(x W_ih + b + h W_hh)
    a = g.op("Add", [g.op("Add", [xg, w.const(name + "_b", layer.b_in)]), rec])
    return [g.op(act, [a], name=name + "_h")]
