"""A slow, obvious NumPy reference of the LSTM language model, for the tests only.

embedding -> L stacked LSTM layers -> linear -> softmax cross-entropy, forward and backward, written
plainly: a Python loop over time steps, ``np.tanh`` and the exact logistic function, float64
throughout. Gate blocks are ordered [i | f | g | o] and each layer has one bias, as in
``rnngen.nn.lm``; parameters are a dict keyed by the names of ``rnngen.nn.lm.param_shapes``.

Also here: ``numerical_grad``, the central finite difference every backward is checked against.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------------------------
# one LSTM layer


def lstm_forward(
    xp: np.ndarray, W_hh: np.ndarray, h0: np.ndarray, c0: np.ndarray
) -> dict[str, np.ndarray]:
    """xp (T, B, 4H) input projections, W_hh (H, 4H), h0 and c0 (B, H).

    Returns hs, cs (T+1, B, H) with hs[0] = h0, acts (T, B, 4H) activated gates, tcs (T, B, H).
    """
    xp, W_hh = np.asarray(xp, np.float64), np.asarray(W_hh, np.float64)
    T, B, H4 = xp.shape
    H = H4 // 4
    hs = np.zeros((T + 1, B, H))
    cs = np.zeros((T + 1, B, H))
    acts = np.zeros((T, B, 4 * H))
    tcs = np.zeros((T, B, H))
    hs[0], cs[0] = h0, c0
    for t in range(T):
        a = xp[t] + hs[t] @ W_hh  # (B, 4H) gate pre-activations
        i = sigmoid(a[:, 0 * H : 1 * H])
        f = sigmoid(a[:, 1 * H : 2 * H])
        g = np.tanh(a[:, 2 * H : 3 * H])
        o = sigmoid(a[:, 3 * H : 4 * H])
        cs[t + 1] = f * cs[t] + i * g
        tcs[t] = np.tanh(cs[t + 1])
        hs[t + 1] = o * tcs[t]
        acts[t] = np.concatenate([i, f, g, o], axis=1)
    return {"hs": hs, "cs": cs, "acts": acts, "tcs": tcs}


def lstm_backward(
    dhs: np.ndarray,
    W_hh: np.ndarray,
    cache: dict[str, np.ndarray],
    dh_T: np.ndarray | None = None,
    dc_T: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Gradients given dhs (T, B, H) = dJ/dh_1..h_T from above and dh_T, dc_T at the last step.

    Returns dxp (T, B, 4H), dW_hh (H, 4H), dh0 and dc0 (B, H).
    """
    hs, cs, acts, tcs = cache["hs"], cache["cs"], cache["acts"], cache["tcs"]
    T, B, H = tcs.shape
    dh = np.zeros((B, H)) if dh_T is None else np.array(dh_T, np.float64)
    dc = np.zeros((B, H)) if dc_T is None else np.array(dc_T, np.float64)
    dxp = np.zeros((T, B, 4 * H))
    dW_hh = np.zeros((H, 4 * H))
    for t in reversed(range(T)):
        i, f, g, o = (acts[t][:, k * H : (k + 1) * H] for k in range(4))
        dh = dh + dhs[t]  # total gradient at h_{t+1}
        do = dh * tcs[t]
        dc = dc + dh * o * (1.0 - tcs[t] ** 2)  # total gradient at c_{t+1}
        di = dc * g
        df = dc * cs[t]
        dg = dc * i
        da = np.concatenate(
            [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)], axis=1
        )
        dxp[t] = da
        dW_hh += hs[t].T @ da
        dh = da @ W_hh.T  # gradient at h_t
        dc = dc * f  # gradient at c_t
    return {"dxp": dxp, "dW_hh": dW_hh, "dh0": dh, "dc0": dc}


# ---------------------------------------------------------------------------------------------
# loss and embedding


def softmax_xent(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Summed -log softmax(logits)[target] over rows of logits (N, V); returns (loss, dlogits)."""
    z = np.asarray(logits, np.float64)
    m = z.max(axis=1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    rows = np.arange(z.shape[0])
    loss = -logp[rows, targets].sum()
    dz = np.exp(logp)
    dz[rows, targets] -= 1.0
    return float(loss), dz


def smoothed_xent(logits: np.ndarray, targets: np.ndarray, eps: float) -> tuple[float, np.ndarray]:
    """Label-smoothed cross-entropy summed over rows of logits (N, V): -sum_v q_v log p_v with
    q = (1 - eps) onehot(target) + eps / V; returns (objective, dlogits = p - q)."""
    z = np.asarray(logits, np.float64)
    N, V = z.shape
    logp = z - z.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    q = np.full((N, V), eps / V)
    q[np.arange(N), targets] += 1.0 - eps
    return float(-(q * logp).sum()), np.exp(logp) - q


def embedding_backward(V: int, dout: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """(V, E) gradient of the table: rows of dout (N, E) summed per token id."""
    dtable = np.zeros((V, dout.shape[1]))
    for n, tok in enumerate(tokens):
        dtable[tok] += dout[n]
    return dtable


# ---------------------------------------------------------------------------------------------
# the whole language model


def lm_forward_backward(
    params: dict[str, np.ndarray],
    layers: int,
    inputs: np.ndarray,
    targets: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
) -> tuple[float, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Mean cross-entropy of a (T, B) batch, its gradient per parameter, and final h, c (L, B, H).

    Truncated BPTT: no gradient flows into h0, c0 (L, B, H).
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    T, B = inputs.shape
    N = T * B
    V = p["embed"].shape[0]
    H = p["lstm0.W_hh"].shape[0]

    x = p["embed"][inputs]  # (T, B, E)
    caches, layer_in = [], x
    hT, cT = np.zeros((layers, B, H)), np.zeros((layers, B, H))
    for k in range(layers):
        xp = layer_in @ p[f"lstm{k}.W_ih"] + p[f"lstm{k}.b"]
        cache = lstm_forward(xp, p[f"lstm{k}.W_hh"], h0[k], c0[k])
        caches.append((layer_in, cache))
        hT[k], cT[k] = cache["hs"][T], cache["cs"][T]
        layer_in = cache["hs"][1:]
    top = layer_in.reshape(N, H)
    logits = top @ p["out.W"] + p["out.b"]
    loss, dlogits = softmax_xent(logits, targets.reshape(-1))
    dlogits /= N

    grads = {"out.W": top.T @ dlogits, "out.b": dlogits.sum(axis=0)}
    dtop = (dlogits @ p["out.W"].T).reshape(T, B, H)
    for k in reversed(range(layers)):
        layer_in, cache = caches[k]
        back = lstm_backward(dtop, p[f"lstm{k}.W_hh"], cache)
        dxp = back["dxp"]
        D = layer_in.shape[2]
        grads[f"lstm{k}.W_ih"] = layer_in.reshape(N, D).T @ dxp.reshape(N, 4 * H)
        grads[f"lstm{k}.W_hh"] = back["dW_hh"]
        grads[f"lstm{k}.b"] = dxp.sum(axis=(0, 1))
        dtop = dxp @ p[f"lstm{k}.W_ih"].T  # gradient at this layer's input
    grads["embed"] = embedding_backward(V, dtop.reshape(N, -1), inputs.reshape(-1))
    return loss / N, grads, hT, cT


# ---------------------------------------------------------------------------------------------
# finite differences


def numerical_grad(
    f: Callable[[], float], x: np.ndarray, idx: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """Central differences (f(x + eps) - f(x - eps)) / 2 eps at flat indices idx of x.

    ``x`` is perturbed in place (and restored), so ``f`` must read it; x must be float64.
    """
    assert x.dtype == np.float64, "finite differences need float64"
    flat = x.reshape(-1)  # a view: raises rather than copies if x is not contiguous
    assert np.shares_memory(flat, x)
    out = np.empty(len(idx))
    for n, j in enumerate(idx):
        old = flat[j]
        flat[j] = old + eps
        fp = f()
        flat[j] = old - eps
        fm = f()
        flat[j] = old
        out[n] = (fp - fm) / (2 * eps)
    return out


def sample_indices(size: int, rng: np.random.Generator, limit: int) -> np.ndarray:
    """Every flat index when size <= limit, else ``limit`` distinct random ones."""
    if size <= limit:
        return np.arange(size)
    return np.sort(rng.choice(size, limit, replace=False))
