"""A language model as two ONNX graphs: the step (one token per batch row in, its next-token
logits and the new state out) and the scoring graph (a (T, B) window of ids in, the
log-probability of each of ids[1:] out).

    step:   ids (B,) -> Gather(embed) (B, E) -> L layers, each state (L, B, H) in and out
            -> top h (B, H) @ W_out + b_out -> logits (B, V)
    score:  ids (T, B) -> ids[:-1] through the layers as one sequence (T-1, B, H) -> log-softmax
            (T-1, B, V) -> the entry of ids[1:] -> logprobs (T-1, B)

With the standard operators (the default) each layer is one LSTM/GRU/RNN node over the whole
window. With ``basic`` (what ``--int8`` uses for the cells whose operator onnxruntime's quantizer
cannot quantize) each layer is MatMuls and elementwise operators, and the scoring graph runs the
step's body in a ``Scan`` over time.
"""

from dataclasses import dataclass

import numpy as np

from rnngen.export.onnx.cells import Layer, OnnxCell, basic_step, cell_for, standard
from rnngen.export.onnx.graph import Graph

STATE_DOC = {
    "h": "every layer's hidden state h, (layers, batch, hidden)",
    "c": "every layer's LSTM cell state c, (layers, batch, hidden)",
}


@dataclass
class LMWeights:
    """What the graphs read of a language model's checkpoint."""

    cell: OnnxCell
    embed: np.ndarray  # (V, E)
    layers: list[Layer]
    W_out: np.ndarray  # (H, V): the embedding transposed when tied
    b_out: np.ndarray  # (V,)
    tied: bool  # one (E, V) initializer for the embedding and the output layer

    @classmethod
    def of(cls, ck, share_tied: bool = True) -> "LMWeights":
        """``share_tied``: a tied model's embedding and output layer as one initializer (not
        for the quantizer, which would quantize it for the MatMul's columns only)."""
        m, p = ck.model_cfg, ck.params
        cell = cell_for(m.cell)
        prefix = {"lstm": "lstm", "gru": "gru"}.get(m.cell, "rnn")
        layers = [Layer(cell, p, f"{prefix}{k}.") for k in range(m.layers)]
        embed = np.asarray(p["embed"], np.float32)
        W_out = embed.T if m.tie else np.asarray(p["out.W"], np.float32)
        W_out = np.ascontiguousarray(W_out)
        return cls(cell, embed, layers, W_out, np.asarray(p["out.b"]), m.tie and share_tied)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def hidden(self) -> int:
        return self.layers[0].H

    @property
    def vocab_size(self) -> int:
        return self.embed.shape[0]

    def by_table(self) -> bool:
        """Layer 0 reads rows of embed @ W_ih (V, G) by token (basic operators): when that table
        is no bigger than the embedding and W_ih together (character level)."""
        V, E = self.embed.shape
        G = self.layers[0].W_ih.shape[1]
        return V * G <= (V + G) * E


def _state_inputs(g: Graph, w: LMWeights, B: str = "B") -> list[str]:
    return [g.input(s, np.float32, [w.n_layers, B, w.hidden], STATE_DOC[s]) for s in w.cell.state]


def _state_outputs(g: Graph, w: LMWeights, finals: list[list[str]], what: str) -> None:
    """finals: per state vector, each layer's (1, B, H) -> outputs ``h_next`` (L, B, H), ..."""
    for s, per_layer in zip(w.cell.state, finals, strict=True):
        stacked = per_layer[0] if len(per_layer) == 1 else g.op("Concat", per_layer, axis=0)
        g.output(stacked, f"{s}_next", np.float32, [w.n_layers, "B", w.hidden], f"{s} {what}")


def _layer_states(g: Graph, w: LMWeights, states: list[str], k: int, keep_axis: bool) -> list[str]:
    """Layer k's slice of each (L, B, H) state: (1, B, H) with ``keep_axis``, else (B, H)."""
    if keep_axis:
        a, b = g.ints(f"l{k}_from", [k]), g.ints(f"l{k}_to", [k + 1])
        return [g.op("Slice", [s, a, b], name=f"{s}{k}") for s in states]
    idx = g.ints(f"l{k}", k)
    return [g.op("Gather", [s, idx], name=f"{s}{k}", axis=0) for s in states]


def _recurrent_standard(g: Graph, w: LMWeights, x: str, states: list[str]):
    """x (T, B, E) through the L layers' standard operators: (top Y (T, B, H), finals per state
    vector, per layer (1, B, H))."""
    finals: list[list[str]] = [[] for _ in w.cell.state]
    squeeze_dir = g.ints("dir_axis", [1])
    for k, layer in enumerate(w.layers):
        Y, last = standard(g, [layer], x, _layer_states(g, w, states, k, True))
        x = g.op("Squeeze", [Y, squeeze_dir], name=f"y{k}")  # (T, 1, B, H) -> (T, B, H)
        for s, v in enumerate(last):
            finals[s].append(v)
    return x, finals


def _step_basic(g: Graph, outer: Graph, w: LMWeights, ids: str, states: list[str]):
    """One step of the L layers from basic operators: ids (B,) -> (top h (B, H), finals per state
    vector, per layer (B, H))."""
    finals: list[list[str]] = [[] for _ in w.cell.state]
    below = None
    for k, layer in enumerate(w.layers):
        if k == 0 and w.by_table():
            table = outer.const("table0", w.embed @ layer.W_ih)  # (V, G)
            xg = g.op("Gather", [table, ids], name="xg0", axis=0)
        else:
            if k == 0:
                below = g.op("Gather", [outer.const("embed", w.embed), ids], name="x", axis=0)
            W_ih = outer.const(f"{layer.prefix}W_ih".replace(".", "_"), layer.W_ih)
            xg = g.op("MatMul", [below, W_ih], name=f"xg{k}")
        new = basic_step(g, outer, layer, xg, _layer_states(g, w, states, k, False))
        for s, v in enumerate(new):
            finals[s].append(v)
        below = new[0]
    return below, finals


def _logits(g: Graph, outer: Graph, w: LMWeights, top: str, W: str | None = None) -> str:
    W = W or outer.const("out_W", w.W_out)
    return g.op("Add", [g.op("MatMul", [top, W]), outer.const("out_b", w.b_out)], name="logits")


def _embedded(g: Graph, w: LMWeights, ids: str, rank: int) -> tuple[str, str]:
    """(the output layer's weights, the embedded ids (..., E)): with tied weights one (E, V)
    initializer serves both, the embedding read down its columns."""
    W_out = g.const("out_W", w.W_out)
    if not w.tied:
        return W_out, g.op("Gather", [g.const("embed", w.embed), ids], name="x", axis=0)
    cols = g.op("Gather", [W_out, ids], name="x_cols", axis=1)  # (E, ...): ids' rank more
    return W_out, g.op("Transpose", [cols], name="x", perm=[*range(1, rank + 1), 0])


def step_graph(ck, basic: bool = False, share_tied: bool = True) -> Graph:
    """The step graph's builder (``Graph.model`` finishes it); ``basic``: from basic operators."""
    w = LMWeights.of(ck, share_tied)
    g = Graph("rnngen_lm_step")
    ids = g.input("ids", np.int64, ["B"], "the token each batch row reads now, (batch,) int64")
    states = _state_inputs(g, w)
    if basic:
        top, finals = _step_basic(g, g, w, ids, states)
        finals = [[g.op("Unsqueeze", [v, g.ints("axis0", [0])]) for v in f] for f in finals]
    else:
        W_out, x = _embedded(g, w, ids, 1)  # (B, E)
        x = g.op("Unsqueeze", [x, g.ints("time_axis", [0])], name="x1")  # (1, B, E)
        top, finals = _recurrent_standard(g, w, x, states)
        top = g.op("Squeeze", [top, g.ints("t_axis", [0])], name="top")  # (B, H)
    logits = _logits(g, g, w, top, None if basic else W_out)
    g.output(logits, "logits", np.float32, ["B", w.vocab_size], "next-token logits, (batch, vocab)")
    _state_outputs(g, w, finals, "after reading ids")
    return g


def score_graph(ck, basic: bool = False, share_tied: bool = True) -> Graph:
    """The scoring graph's builder."""
    w = LMWeights.of(ck, share_tied)
    g = Graph("rnngen_lm_score")
    ids = g.input(
        "ids",
        np.int64,
        ["T", "B"],
        "token ids (time, batch); ids[t+1] is scored after reading ids[:t+1]",
    )
    states = _state_inputs(g, w)
    zero, one, minus1, big = (
        g.ints(n, [v]) for n, v in (("0", 0), ("1", 1), ("-1", -1), ("end", 2**62))
    )
    inputs = g.op("Slice", [ids, zero, minus1], name="inputs")  # (T-1, B)
    targets = g.op("Slice", [ids, one, big], name="targets")  # (T-1, B)
    if basic:
        logprobs, finals = _scan_basic(g, w, inputs, targets, states)
    else:
        W_out, x = _embedded(g, w, inputs, 2)  # (T-1, B, E)
        top, finals = _recurrent_standard(g, w, x, states)
        lp = g.op("LogSoftmax", [_logits(g, g, w, top, W_out)], axis=-1)  # (T-1, B, V)
        picked = g.op(
            "GatherElements", [lp, g.op("Unsqueeze", [targets, g.ints("ax2", [2])])], axis=2
        )
        logprobs = g.op("Squeeze", [picked, g.ints("ax2b", [2])], name="lp")
    g.output(
        logprobs,
        "logprobs",
        np.float32,
        ["T-1", "B"],
        "log-probability (natural log) of ids[t+1] given ids[:t+1], (time - 1, batch)",
    )
    _state_outputs(g, w, finals, "after reading ids[:-1]")
    return g


def _scan_basic(g: Graph, w: LMWeights, inputs: str, targets: str, states: list[str]):
    """The scoring graph's recurrence as a Scan over the basic step: (logprobs (T-1, B),
    finals per state vector as one (L, B, H) each)."""
    body = Graph("rnngen_lm_score_step")
    body._used = g._used  # one namespace: the body reads the outer graph's weights by name
    st = [
        body.input(body.fresh(f"{s}_t"), np.float32, [w.n_layers, "B", w.hidden], STATE_DOC[s])
        for s in w.cell.state
    ]
    x_t = body.input(body.fresh("x_t"), np.int64, ["B"], "the token read")
    y_t = body.input(body.fresh("y_t"), np.int64, ["B"], "the token scored")
    top, finals = _step_basic(body, g, w, x_t, st)
    lp = body.op("LogSoftmax", [_logits(body, g, w, top)], axis=-1)  # (B, V)
    picked = body.op("GatherElements", [lp, body.op("Unsqueeze", [y_t, g.ints("b1", [1])])], axis=1)
    lp_t = body.op("Squeeze", [picked, g.ints("b1s", [1])])
    for s, per_layer in zip(w.cell.state, finals, strict=True):
        rows = [body.op("Unsqueeze", [v, g.ints("b0", [0])]) for v in per_layer]
        new = rows[0] if len(rows) == 1 else body.op("Concat", rows, axis=0)
        body.output(new, body.fresh(f"{s}_t_next"), np.float32, [w.n_layers, "B", w.hidden], s)
    body.output(lp_t, body.fresh("lp_t"), np.float32, ["B"], "log-probability")
    outs = g.op(
        "Scan",
        [*states, inputs, targets],
        name="steps",
        outputs=len(states) + 1,
        body=body.graph(),
        num_scan_inputs=2,
    )
    n = len(states)
    return outs[n], [[o] for o in outs[:n]]
