"""Each cell's time loops called with one flat signature per cell, for the kernel tests.

The library runs every cell through the same drivers (``rnngen.kernels.timeloop``), handing them
the cell's kernels and its arrays as tuples (``rnngen.nn.recurrent.RecurrentLayer`` does); these
adapters do the same for arrays a test made itself, and set the initial state row the way a layer
does, so the tests can compare every array with the slow reference.
"""

import numpy as np

from rnngen.kernels import timeloop
from rnngen.nn.cells import CELLS


def _full(a):
    """Every row's length: all T steps."""
    return np.full(a.shape[1], a.shape[0], np.int64)


def lstm_forward(xin, xrow, bias, W_hh, h0, c0, hs, cs, acts, tcs, parts):
    """hs, cs (T+1, B, H) out (row 0 = h0, c0); acts (T, B, 4H), tcs (T, B, H) out."""
    hs[0], cs[0] = h0, c0
    timeloop.forward(
        CELLS["lstm"].kernels,
        xin,
        xrow,
        bias.reshape(1, -1),
        W_hh,
        (hs, cs),
        (acts, tcs),
        _full(xrow),
        parts,
    )


def lstm_backward(dG, dhs, W_hh, acts, cs, tcs, dh, dc, db, parts):
    """dG (T, B, 4H), db (B, 4H) out; dh, dc (B, H) in: at h_T, c_T, out: at h_0, c_0."""
    timeloop.backward(
        CELLS["lstm"].kernels,
        (dG,),
        dhs,
        W_hh,
        (cs, cs),
        (acts, tcs),
        (db,),
        (dc,),
        dh,
        _full(dhs),
        parts,
    )  # (cs, cs): the LSTM's backward reads c, not h


def gru_forward(xin, xrow, b_ih, W_hh, b_hh, h0, hs, acts, hns, parts):
    hs[0] = h0
    timeloop.forward(
        CELLS["gru"].kernels,
        xin,
        xrow,
        np.stack([b_ih, b_hh]),
        W_hh,
        (hs,),
        (acts, hns),
        _full(xrow),
        parts,
    )


def gru_backward(dGx, dGh, dhs, W_hh, acts, hns, hs, dh, dbx, dbn, parts):
    """dh in: at h_T; out: at h_0, through W_hh and directly through z."""
    cell = CELLS["gru"]
    carry = (np.zeros_like(dh),)
    timeloop.backward(
        cell.kernels,
        (dGh, dGx),
        dhs,
        W_hh,
        (hs,),
        (acts, hns),
        (dbx, dbn),
        carry,
        dh,
        _full(dhs),
        parts,
    )
    cell.initial_state_grad(dh, carry)  # dh += the direct part


def rnn_forward(xin, xrow, bias, W_hh, h0, hs, relu, parts):
    hs[0] = h0
    cell = CELLS["rnn-relu" if relu else "rnn-tanh"]
    timeloop.forward(
        cell.kernels, xin, xrow, bias.reshape(1, -1), W_hh, (hs,), (), _full(xrow), parts
    )


def rnn_backward(dG, dhs, W_hh, hs, dh, db, relu, parts):
    cell = CELLS["rnn-relu" if relu else "rnn-tanh"]
    timeloop.backward(cell.kernels, (dG,), dhs, W_hh, (hs,), (), (db,), (), dh, _full(dhs), parts)
