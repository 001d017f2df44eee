"""A sequence-to-sequence model as two ONNX graphs: the encoder (a padded batch of sources in,
everything the decoder reads out) and one decoder step (attention inside), enough for greedy
search, beam search or sampling by the caller.

    encoder:  src (S, B), src_len (B,) -> Gather(src.embed) (S, B, E) -> L layers, each one
              LSTM/GRU/RNN node, bidirectional over each source's true length (sequence_lens)
              -> enc (B, S, He), keys (B, S, A), and through the bridge the decoder's initial
              state h (L, B, H) (and c)
    decoder:  ids (B,), h, c, enc, keys, src_len -> Gather(tgt.embed) -> L layers (one step)
              -> top h (B, H) -> attention over the real source positions -> a (B, H)
              -> log-softmax(a @ W_out + b_out) -> logprobs (B, V); h_next, c_next

Attention (Luong, no input feeding), as ``rnngen.nn.seq2seq.attention``: scores h . key (general:
key = enc @ W_a, dot: key = enc) or v . tanh(h @ W_q + key) (additive: key = enc @ W_k); softmax
over s < src_len; a = tanh([sum_s p_s enc_s; h] @ W_c); ``none``: a = h.
"""

import numpy as np

from rnngen.export.onnx.cells import Layer, cell_for, standard
from rnngen.export.onnx.graph import Graph
from rnngen.export.onnx.lm import STATE_DOC

_PREFIX = {"lstm": "lstm", "gru": "gru"}


def _prefix(cell: str) -> str:
    return _PREFIX.get(cell, "rnn")


def _state_names(ck) -> tuple[str, ...]:
    return cell_for(ck.model_cfg.cell).state


def encoder_graph(ck) -> Graph:
    m, s2s, p = ck.model_cfg, ck.task_cfg, ck.params
    cell = cell_for(m.cell)
    pre = _prefix(m.cell)
    bi = s2s.encoder == "bi"
    He, H, L = s2s.enc_width, m.hidden, m.layers
    g = Graph("rnngen_seq2seq_encoder")
    src = g.input("src", np.int64, ["S", "B"], "source token ids (source length, batch), padded")
    src_len = g.input("src_len", np.int64, ["B"], "each source's true length (>= 1), (batch,)")
    lens = g.op("Cast", [src_len], name="lens", to=6)  # int32, as sequence_lens wants
    x = g.op("Gather", [g.const("src_embed", p["src.embed"]), src], name="x", axis=0)
    finals: list[list[str]] = [[] for _ in cell.state]
    for k in range(L):
        layers = [Layer(cell, p, f"enc.{pre}{k}.")]
        if bi:
            layers.append(Layer(cell, p, f"enc.rev.{pre}{k}."))
        Y, last = standard(g, layers, x, [], seq_lens=lens)  # Y (S, dirs, B, h)
        Y = g.op("Transpose", [Y], perm=[0, 2, 1, 3])  # (S, B, dirs, h)
        x = g.op("Reshape", [Y, g.ints("sbx", [0, 0, -1])], name=f"enc{k}")  # (S, B, He)
        for s, v in enumerate(last):  # (dirs, B, h) -> (B, dirs * h): [forward | reverse]
            v = g.op("Transpose", [v], perm=[1, 0, 2])
            finals[s].append(g.op("Reshape", [v, g.ints("bx", [0, -1])], name=f"final{k}"))
    enc = g.op("Transpose", [x], name="enc_bm", perm=[1, 0, 2])  # (B, S, He)
    g.output(enc, "enc", np.float32, ["B", "S", He], "the encoder's outputs, (batch, S, He)")
    W_key = {"general": "att.W_a", "additive": "att.W_k"}.get(s2s.attention)
    keys = g.op("MatMul", [enc, g.const("att_W_key", p[W_key])]) if W_key else enc
    A = p[W_key].shape[1] if W_key else He
    g.output(
        keys,
        "keys",
        np.float32,
        ["B", "S", A],
        "what attention scores read of each source position, (batch, S, A): enc @ W_a "
        "(general), enc @ W_k (additive), enc (dot, none)",
    )
    learned = He != H
    for s, per_layer in zip(cell.state, finals, strict=True):
        rows = []
        for k, v in enumerate(per_layer):
            if learned:
                W = g.const(f"bridge{k}_{s}_W", p[f"bridge{k}.{s}.W"])
                b = g.const(f"bridge{k}_{s}_b", p[f"bridge{k}.{s}.b"])
                v = g.op("Add", [g.op("MatMul", [v, W]), b])
            rows.append(g.op("Unsqueeze", [v, g.ints("ax0", [0])]))
        init = rows[0] if len(rows) == 1 else g.op("Concat", rows, axis=0)
        g.output(
            init,
            s,
            np.float32,
            [L, "B", H],
            f"the decoder's initial {s}, every layer's: (layers, batch, hidden)",
        )
    return g


def decoder_graph(ck) -> Graph:
    m, s2s, p = ck.model_cfg, ck.task_cfg, ck.params
    cell = cell_for(m.cell)
    pre = _prefix(m.cell)
    He, H, L, V = s2s.enc_width, m.hidden, m.layers, m.vocab_size
    kind = s2s.attention
    g = Graph("rnngen_seq2seq_decoder")
    ids = g.input(
        "ids",
        np.int64,
        ["B"],
        "the token each row reads: the boundary (rnngen.boundary) first, then the last chosen",
    )
    states = [g.input(s, np.float32, [L, "B", H], STATE_DOC[s]) for s in cell.state]
    W_key = {"general": "att.W_a", "additive": "att.W_k"}.get(kind)
    A = p[W_key].shape[1] if W_key else He
    enc = g.input("enc", np.float32, ["B", "S", He], "the encoder's output enc")
    keys = g.input("keys", np.float32, ["B", "S", A], "the encoder's output keys")
    src_len = g.input("src_len", np.int64, ["B"], "each source's true length, as encoded")
    x = g.op("Gather", [g.const("tgt_embed", p["tgt.embed"]), ids], name="x", axis=0)
    x = g.op("Unsqueeze", [x, g.ints("t0", [0])], name="x1")  # (1, B, E)
    finals: list[list[str]] = [[] for _ in cell.state]
    for k in range(L):
        a, b = g.ints(f"l{k}a", [k]), g.ints(f"l{k}b", [k + 1])
        mine = [g.op("Slice", [s, a, b], name=f"{s}{k}") for s in states]  # (1, B, H)
        _, last = standard(g, [Layer(cell, p, f"dec.{pre}{k}.")], x, mine)
        x = last[0]  # (1, B, H): the next layer's one-step input
        for s, v in enumerate(last):
            finals[s].append(v)
    top = g.op("Squeeze", [x, g.ints("t0s", [0])], name="top")  # (B, H)
    if kind == "none":
        att = top
    else:
        att = _attention(g, p, kind, top, enc, keys, src_len)
    W_out = p["tgt.embed"].T if m.tie else p["out.W"]
    logits = g.op(
        "Add",
        [g.op("MatMul", [att, g.const("out_W", W_out)]), g.const("out_b", p["out.b"])],
        name="logits",
    )
    logprobs = g.op("LogSoftmax", [logits], axis=1)
    g.output(
        logprobs,
        "logprobs",
        np.float32,
        ["B", V],
        "log-probability (natural log) of each next target token, (batch, V)",
    )
    for s, per_layer in zip(cell.state, finals, strict=True):
        new = per_layer[0] if len(per_layer) == 1 else g.op("Concat", per_layer, axis=0)
        g.output(new, f"{s}_next", np.float32, [L, "B", H], f"{s} after reading ids")
    return g


def _attention(g: Graph, p, kind: str, top: str, enc: str, keys: str, src_len: str) -> str:
    """The attentional vector a (B, H) of the decoder's top state ``top`` (B, H)."""
    if kind == "additive":
        q = g.op("MatMul", [top, g.const("att_W_q", p["att.W_q"])], name="query")  # (B, A)
        u = g.op("Tanh", [g.op("Add", [g.op("Unsqueeze", [q, g.ints("ax1", [1])]), keys])])
        scores = g.op("MatMul", [u, g.const("att_v", p["att.v"])], name="scores")  # (B, S)
    else:  # h . key
        kt = g.op("Transpose", [keys], perm=[0, 2, 1])  # (B, A, S)
        row = g.op("Unsqueeze", [top, g.ints("ax1", [1])])  # (B, 1, H)
        scores = g.op("Squeeze", [g.op("MatMul", [row, kt]), g.ints("ax1s", [1])], name="scores")
    S = g.op("Gather", [g.op("Shape", [enc]), g.ints("one", 1)], axis=0)
    pos = g.op("Range", [g.ints("zero", 0), S, g.ints("step", 1)], name="positions")  # (S,)
    real = g.op(
        "Less",
        [
            g.op("Unsqueeze", [pos, g.ints("ax0", [0])]),
            g.op("Unsqueeze", [src_len, g.ints("ax1b", [1])]),
        ],
        name="real",
    )
    masked = g.op("Where", [real, scores, g.const("minus_inf", -np.inf)])
    probs = g.op("Softmax", [masked], name="probs", axis=1)  # (B, S)
    ctx = g.op("MatMul", [g.op("Unsqueeze", [probs, g.ints("ax1c", [1])]), enc])  # (B, 1, He)
    ctx = g.op("Squeeze", [ctx, g.ints("ax1d", [1])], name="context")
    ch = g.op("Concat", [ctx, top], axis=1)  # (B, He + H)
    return g.op("Tanh", [g.op("MatMul", [ch, g.const("att_W_c", p["att.W_c"])])], name="att")
