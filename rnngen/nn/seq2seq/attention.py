"""Attention over the encoder's outputs, for all decoder steps at once (Luong et al. 2015, without
input feeding, so the decoder stays a plain recurrent stack and this runs as batched GEMMs):

    scores (B, T, S)   general:  h_t . (W_a^T e_s)        dot:  h_t . e_s
                       additive: v . tanh(W_q^T h_t + W_k^T e_s)   (Bahdanau et al. 2015)
    p      (B, T, S)   softmax over the real source positions s < src_len[b]
    c      (B, T, He)  sum_s p e_s
    a      (B, T, H)   tanh(W_c^T [c; h_t])                the attentional vector
    none:  a = h_t     (Sutskever et al. 2014: the decoder sees the source through its initial
                        state only)

Arrays here are batch-major (B, T, .) so each row's products are one GEMM; the forward keeps what
the backward needs in an ``AttentionTape``.
"""

from dataclasses import dataclass

import numpy as np

from rnngen.kernels.attention import (
    additive_scores,
    additive_scores_backward,
    bmm_nn,
    bmm_nt,
    bmm_tn,
    masked_softmax,
    masked_softmax_backward,
)
from rnngen.kernels.matmul import matmul


def linear(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """x (..., D) @ W (D, N) as one 2-D GEMM."""
    return matmul(x.reshape(-1, x.shape[-1]), W).reshape(*x.shape[:-1], W.shape[1])


@dataclass
class AttentionTape:
    h: np.ndarray  # (B, T, H) decoder states
    enc: np.ndarray  # (B, S, He) encoder outputs
    src_len: np.ndarray  # (B,)
    keys: np.ndarray | None  # (B, S, H) general: enc @ W_a; (B, S, A) additive: enc @ W_k
    query: np.ndarray | None  # (B, T, A) additive: h @ W_q
    tanh_u: np.ndarray | None  # (B, T, S, A) additive: the tanh of each score
    probs: np.ndarray | None  # (B, T, S)
    ch: np.ndarray | None  # (B, T, He + H): [c; h]
    out: np.ndarray  # (B, T, H) the attentional vectors


class Attention:
    """Attention of kind ``kind`` (``ATTENTIONS``) from H-wide decoder states over He-wide encoder
    outputs; its parameters are named ``att.*``."""

    def __init__(self, kind: str, He: int, H: int) -> None:
        self.kind, self.He, self.H = kind, He, H

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        He, H = self.He, self.H
        shapes: dict[str, tuple[int, ...]] = {}
        if self.kind == "general":
            shapes["att.W_a"] = (He, H)
        elif self.kind == "additive":
            shapes.update({"att.W_q": (H, H), "att.W_k": (He, H), "att.v": (H,)})
        if self.kind != "none":
            shapes["att.W_c"] = (He + H, H)
        return shapes

    def bind(self, params, grads) -> None:
        self.p = {n: params[n] for n in self.param_shapes()}
        self.g = {n: grads[n] for n in self.param_shapes()} if grads is not None else {}

    def keys(self, enc: np.ndarray) -> np.ndarray | None:
        """What the scores read of the encoder outputs enc (B, S, He): general (B, S, H) =
        enc @ W_a, additive (B, S, A) = enc @ W_k, dot the outputs themselves."""
        if self.kind == "general":
            return linear(enc, self.p["att.W_a"])
        if self.kind == "additive":
            return linear(enc, self.p["att.W_k"])
        return enc if self.kind == "dot" else None

    # ---- forward and backward --------------------------------------------------------------------

    def forward(self, h: np.ndarray, enc: np.ndarray, src_len: np.ndarray) -> AttentionTape:
        """h (B, T, H) decoder states, enc (B, S, He) encoder outputs -> the tape, whose ``out``
        (B, T, H) holds the attentional vectors."""
        if self.kind == "none":
            return AttentionTape(h, enc, src_len, None, None, None, None, None, h)
        B, T, H = h.shape
        S, He = enc.shape[1], self.He
        keys, query, tanh_u = self.keys(enc), None, None
        scores = np.empty((B, T, S), h.dtype)
        if self.kind == "additive":
            query = linear(h, self.p["att.W_q"])  # (B, T, A)
            tanh_u = np.empty((B, T, S, H), h.dtype)
            additive_scores(query, keys, self.p["att.v"], src_len, tanh_u, scores)
        else:
            bmm_nt(h, keys, scores)
        probs = np.empty_like(scores)
        masked_softmax(scores, src_len, probs)
        ch = np.empty((B, T, He + H), h.dtype)
        ctx = np.empty((B, T, He), h.dtype)
        bmm_nn(probs, enc, ctx, False)
        ch[:, :, :He] = ctx
        ch[:, :, He:] = h
        out = np.tanh(linear(ch, self.p["att.W_c"]))
        return AttentionTape(h, enc, src_len, keys, query, tanh_u, probs, ch, out)

    def backward(self, tape: AttentionTape, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dout (B, T, H): the gradient w.r.t. the attentional vectors. Writes the parameters'
        gradients; returns dh (B, T, H) and denc (B, S, He)."""
        if self.kind == "none":
            return dout, np.zeros_like(tape.enc)
        h, enc, He, g = tape.h, tape.enc, self.He, self.g
        B, T, H = h.shape
        dz = dout * (1.0 - tape.out * tape.out)  # through the tanh
        matmul(tape.ch.reshape(B * T, -1).T, dz.reshape(B * T, H), out=g["att.W_c"])
        dch = linear(dz, self.p["att.W_c"].T)  # (B, T, He + H)
        dctx, dh = np.ascontiguousarray(dch[:, :, :He]), np.ascontiguousarray(dch[:, :, He:])
        S = enc.shape[1]
        dprobs = np.empty((B, T, S), h.dtype)
        bmm_nt(dctx, enc, dprobs)
        denc = np.empty((B, S, He), h.dtype)
        bmm_tn(tape.probs, dctx, denc, False)
        masked_softmax_backward(dprobs, tape.probs, tape.src_len)
        dscores = dprobs
        if self.kind == "dot":
            bmm_nn(dscores, enc, dh, True)
            bmm_tn(dscores, h, denc, True)
        elif self.kind == "general":
            bmm_nn(dscores, tape.keys, dh, True)
            dkeys = np.empty((B, S, H), h.dtype)
            bmm_tn(dscores, h, dkeys, False)
            matmul(enc.reshape(B * S, He).T, dkeys.reshape(B * S, H), out=g["att.W_a"])
            denc += linear(dkeys, self.p["att.W_a"].T)
        else:  # additive
            dq, dk = np.empty_like(tape.query), np.empty_like(tape.keys)
            dv_rows = np.empty((B, H), h.dtype)
            additive_scores_backward(
                dscores, tape.tanh_u, self.p["att.v"], tape.src_len, dq, dk, dv_rows
            )
            np.sum(dv_rows, axis=0, out=g["att.v"])
            matmul(h.reshape(B * T, H).T, dq.reshape(B * T, H), out=g["att.W_q"])
            dh += linear(dq, self.p["att.W_q"].T)
            matmul(enc.reshape(B * S, He).T, dk.reshape(B * S, H), out=g["att.W_k"])
            denc += linear(dk, self.p["att.W_k"].T)
        return dh, denc
