"""A slow, obvious NumPy reference of the encoder-decoder's loss, for the tests only.

One pair at a time (no batch, no padding), a Python loop over time, float64, the textbook
formulas: embeddings, each encoder layer run forward and (bidirectional) on the reversed source,
outputs concatenated position by position, the bridge, the decoder from those states, attention at
each step, the output softmax. Parameters are the dict ``rnngen.nn.seq2seq.network.param_shapes``
names.
"""

from __future__ import annotations

import numpy as np
import reference as ref
import reference_cells as refc


def run_cell(P: dict, prefix: str, cell: str, x: np.ndarray, init: tuple) -> tuple:
    """x (T, D) -> outputs (T, H) and the final state vectors (each (H,))."""
    T = x.shape[0]
    xp = (x @ P[prefix + "W_ih"])[:, None, :]  # (T, 1, G)
    if cell == "lstm":
        out = ref.lstm_forward(
            xp + P[prefix + "b"], P[prefix + "W_hh"], init[0][None], init[1][None]
        )
        return out["hs"][1:, 0], (out["hs"][T, 0], out["cs"][T, 0])
    if cell == "gru":
        out = refc.gru_forward(
            xp + P[prefix + "b_ih"], P[prefix + "W_hh"], P[prefix + "b_hh"], init[0][None]
        )
        return out["hs"][1:, 0], (out["hs"][T, 0],)
    hs = refc.rnn_forward(
        xp + P[prefix + "b"], P[prefix + "W_hh"], init[0][None], cell == "rnn-relu"
    )
    return hs[1:, 0], (hs[T, 0],)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def pair_loss(
    P: dict,
    cell: str,
    prefix: str,
    L: int,
    bi: bool,
    attention: str,
    tie: bool,
    src: list[int],
    tgt_in: list[int],
    tgt_out: list[int],
    smoothing: float = 0.0,
) -> float:
    """Summed cross-entropy (nats) of one pair; with ``smoothing`` eps, label-smoothed: each
    token's loss is -(1 - eps) log p_target - eps mean_v log p_v."""
    P = {k: np.asarray(v, np.float64) for k, v in P.items()}
    nstate = 2 if cell == "lstm" else 1
    x = P["src.embed"][src]  # (S, E)
    finals = []
    for k in range(L):
        h = P[f"enc.{prefix}{k}.W_hh"].shape[0]
        zero = tuple(np.zeros(h) for _ in range(nstate))
        out_f, fin_f = run_cell(P, f"enc.{prefix}{k}.", cell, x, zero)
        if bi:
            out_r, fin_r = run_cell(P, f"enc.rev.{prefix}{k}.", cell, x[::-1], zero)
            x = np.concatenate([out_f, out_r[::-1]], axis=1)  # position s: forward's, backward's
            finals.append(tuple(np.concatenate([a, b]) for a, b in zip(fin_f, fin_r, strict=True)))
        else:
            x = out_f
            finals.append(fin_f)
    enc = x  # (S, He)
    names = ("h", "c")[:nstate]
    init = []
    for k, fin in enumerate(finals):
        if f"bridge{k}.h.W" in P:
            fin = tuple(
                a @ P[f"bridge{k}.{v}.W"] + P[f"bridge{k}.{v}.b"]
                for v, a in zip(names, fin, strict=True)
            )
        init.append(fin)
    y = P["tgt.embed"][tgt_in]
    for k in range(L):
        y, _ = run_cell(P, f"dec.{prefix}{k}.", cell, y, init[k])
    W_out = P["tgt.embed"].T if tie else P["out.W"]
    loss = 0.0
    for t, target in enumerate(tgt_out):
        h = y[t]
        if attention == "none":
            a = h
        else:
            if attention == "general":
                scores = np.array([h @ (e @ P["att.W_a"]) for e in enc])
            elif attention == "dot":
                scores = np.array([h @ e for e in enc])
            else:
                q = h @ P["att.W_q"]
                scores = np.array([P["att.v"] @ np.tanh(q + e @ P["att.W_k"]) for e in enc])
            p = softmax(scores)
            c = p @ enc
            a = np.tanh(np.concatenate([c, h]) @ P["att.W_c"])
        logits = a @ W_out + P["out.b"]
        logp = np.log(softmax(logits))
        loss -= (1.0 - smoothing) * logp[target] + smoothing * logp.mean()
    return float(loss)
