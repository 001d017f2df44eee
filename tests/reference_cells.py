"""A slow, obvious NumPy reference of one GRU layer and one Elman RNN layer, for the tests only.

Written plainly, as ``reference.py`` writes the LSTM: a Python loop over time steps, ``np.tanh`` and
the exact logistic function, float64 throughout, and the textbook formulas (not the kernels'
rearrangements). Same conventions as the kernels: xp holds the input projections of all steps, the
GRU's gate blocks are ordered [r | z | n] with the recurrent bias b_hh kept apart, the RNN's single
bias is inside xp.
"""

from __future__ import annotations

import numpy as np
from reference import sigmoid

# ---------------------------------------------------------------------------------------------
# GRU (torch.nn.GRU)


def gru_forward(
    xp: np.ndarray, W_hh: np.ndarray, b_hh: np.ndarray, h0: np.ndarray
) -> dict[str, np.ndarray]:
    """xp (T, B, 3H), W_hh (H, 3H), b_hh (3H,), h0 (B, H).

    Returns hs (T+1, B, H) with hs[0] = h0, acts (T, B, 3H) = [r z n], hns (T, B, H).
    """
    xp, W_hh = np.asarray(xp, np.float64), np.asarray(W_hh, np.float64)
    T, B, H3 = xp.shape
    H = H3 // 3
    hs = np.zeros((T + 1, B, H))
    acts = np.zeros((T, B, 3 * H))
    hns = np.zeros((T, B, H))
    hs[0] = h0
    for t in range(T):
        g = hs[t] @ W_hh + b_hh  # (B, 3H) recurrent pre-activations
        r = sigmoid(xp[t, :, :H] + g[:, :H])
        z = sigmoid(xp[t, :, H : 2 * H] + g[:, H : 2 * H])
        n = np.tanh(xp[t, :, 2 * H :] + r * g[:, 2 * H :])
        hs[t + 1] = (1.0 - z) * n + z * hs[t]
        acts[t] = np.concatenate([r, z, n], axis=1)
        hns[t] = g[:, 2 * H :]
    return {"hs": hs, "acts": acts, "hns": hns}


def gru_backward(
    dhs: np.ndarray,
    W_hh: np.ndarray,
    cache: dict[str, np.ndarray],
    dh_T: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Gradients given dhs (T, B, H) = dJ/dh_1..h_T from above and dh_T at the last step.

    Returns dxp and dgh (T, B, 3H) (w.r.t. xp and h_{t-1} @ W_hh + b_hh), dW_hh (H, 3H),
    db_hh (3H,), dh0 (B, H).
    """
    hs, acts, hns = cache["hs"], cache["acts"], cache["hns"]
    T, B, H = hns.shape
    dh = np.zeros((B, H)) if dh_T is None else np.array(dh_T, np.float64)
    dxp = np.zeros((T, B, 3 * H))
    dgh = np.zeros((T, B, 3 * H))
    dW_hh = np.zeros((H, 3 * H))
    for t in reversed(range(T)):
        r, z, n = (acts[t][:, k * H : (k + 1) * H] for k in range(3))
        dh = dh + dhs[t]  # total gradient at h_{t+1}
        dn = dh * (1.0 - z)
        dz = dh * (hs[t] - n)
        da_n = dn * (1.0 - n**2)
        dr = da_n * hns[t]
        da_r = dr * r * (1.0 - r)
        da_z = dz * z * (1.0 - z)
        dxp[t] = np.concatenate([da_r, da_z, da_n], axis=1)
        dgh[t] = np.concatenate([da_r, da_z, da_n * r], axis=1)
        dW_hh += hs[t].T @ dgh[t]
        dh = dgh[t] @ W_hh.T + dh * z  # gradient at h_t: through W_hh and directly
    return {"dxp": dxp, "dgh": dgh, "dW_hh": dW_hh, "db_hh": dgh.sum(axis=(0, 1)), "dh0": dh}


# ---------------------------------------------------------------------------------------------
# Elman RNN (torch.nn.RNN, nonlinearity tanh or relu)


def rnn_forward(xp: np.ndarray, W_hh: np.ndarray, h0: np.ndarray, relu: bool) -> np.ndarray:
    """xp (T, B, H), W_hh (H, H), h0 (B, H); returns hs (T+1, B, H) with hs[0] = h0."""
    xp, W_hh = np.asarray(xp, np.float64), np.asarray(W_hh, np.float64)
    T, B, H = xp.shape
    hs = np.zeros((T + 1, B, H))
    hs[0] = h0
    for t in range(T):
        a = xp[t] + hs[t] @ W_hh
        hs[t + 1] = np.maximum(a, 0.0) if relu else np.tanh(a)
    return hs


def rnn_backward(
    dhs: np.ndarray, W_hh: np.ndarray, hs: np.ndarray, relu: bool, dh_T: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Gradients given dhs (T, B, H) from above and dh_T; returns dxp (T, B, H), dW_hh, dh0."""
    T, B, H = dhs.shape
    dh = np.zeros((B, H)) if dh_T is None else np.array(dh_T, np.float64)
    dxp = np.zeros((T, B, H))
    dW_hh = np.zeros((H, H))
    for t in reversed(range(T)):
        dh = dh + dhs[t]  # total gradient at h_{t+1}
        fprime = (hs[t + 1] > 0.0).astype(np.float64) if relu else 1.0 - hs[t + 1] ** 2
        dxp[t] = dh * fprime
        dW_hh += hs[t].T @ dxp[t]
        dh = dxp[t] @ W_hh.T
    return {"dxp": dxp, "dW_hh": dW_hh, "dh0": dh}
