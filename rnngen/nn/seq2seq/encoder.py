"""The encoder: L recurrent layers over the embedded source, each reading it in one direction or
in both (bidirectional: one layer forward, one backward over each sequence's true length, their
outputs concatenated).

The backward direction is an ordinary layer over the source reversed within each sequence's
length (``reversal``); padding stays at the end, where the layer holds its state
(``RecurrentLayer``'s ``lengths``), so the final state of either direction is the one after the
sequence's last true token and padding enters no recurrence.

    tokens (S, B) -> embed (S, B, E) -> layer 0 -> (S, B, He) -> [dropout] -> ... -> (S, B, He)
"""

from dataclasses import dataclass

import numpy as np

from rnngen.nn.cells.base import Cell
from rnngen.nn.dropout import Dropout
from rnngen.nn.embedding import TokenInput
from rnngen.nn.recurrent import RecurrentLayer, Scratch, Tape


def reversal(src_len: np.ndarray, S: int) -> np.ndarray:
    """(S*B,) int64: the flat (S, B) row that step t of row b reads when row b is read backward
    over its src_len[b] positions; padding rows map to themselves. Its own inverse."""
    B = src_len.shape[0]
    t = np.arange(S)[:, None]
    pos = np.where(t < src_len[None, :], src_len[None, :] - 1 - t, t)  # (S, B)
    return (pos * B + np.arange(B)[None, :]).reshape(-1).astype(np.int64)


@dataclass
class EncoderTape:
    src_len: np.ndarray  # (B,)
    rev: np.ndarray  # (S*B,) see ``reversal``
    inputs: list[np.ndarray]  # per layer: its input (S, B, D), after dropout
    rev_inputs: list[np.ndarray | None]  # per layer: its input reversed (bidirectional)
    fwd: list[Tape]
    bwd: list[Tape | None]
    outputs: list[np.ndarray]  # per layer (S, B, He), before dropout
    masks: list[np.ndarray | None]  # per layer: the dropout mask on its input


class Encoder:
    """L layers of ``cell`` over E-wide inputs, ``h`` units per direction."""

    def __init__(
        self,
        cell: Cell,
        L: int,
        E: int,
        h: int,
        bidirectional: bool,
        parts: int,
        rates: tuple[float, float],
        sites: tuple[int, int],
    ) -> None:
        """``rates``: dropout on the embedded source, and between layers; ``sites``: the first of
        this encoder's L dropout sites, and the model's count."""
        self.cell, self.L, self.h, self.bi = cell, L, h, bidirectional
        self.width = h * (2 if bidirectional else 1)
        self.fwd, self.bwd = [], []
        D = E
        for k in range(L):
            self.fwd.append(RecurrentLayer(cell, k, D, h, parts, where="enc."))
            self.bwd.append(
                RecurrentLayer(cell, k, D, h, parts, where="enc.rev.") if bidirectional else None
            )
            D = self.width
        first, count = sites
        self.drops = [Dropout(rates[k > 0], first + k, count) for k in range(L)]

    @property
    def layers(self) -> list[RecurrentLayer]:
        return [x for pair in zip(self.fwd, self.bwd, strict=True) for x in pair if x is not None]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in self.layers:
            shapes.update(layer.param_shapes())
        return shapes

    def bind(self, params, grads) -> None:
        for layer in self.layers:
            layer.bind(params, grads)

    def init_biases(self) -> None:
        for layer in self.layers:
            layer.init_biases()

    def zero_state(self, B: int, dtype) -> list[tuple[np.ndarray, ...]]:
        return [tuple(np.zeros((B, self.h), dtype) for _ in self.cell.state) for _ in self.layers]

    # ---- forward and backward --------------------------------------------------------------------

    def forward(
        self,
        x: np.ndarray | TokenInput,
        src_len: np.ndarray,
        drop: tuple[int, int] | None,
    ) -> tuple[EncoderTape, list[tuple[np.ndarray, ...]]]:
        """x (S, B, E) embedded source, or its tokens (a ``TokenInput``: layer 0 reads its
        (V, G) table by token, when no dropout sits on its input), read up to src_len[b];
        ``drop`` (seed, key) switches dropout on (on every layer's input). Returns the tape (its
        outputs[-1] (S, B, He) are the encoder's outputs) and each layer's final states, (B, He)
        per state vector (both directions' concatenated)."""
        S, B = x.shape[0], x.shape[1]
        dt = x.weight.dtype if isinstance(x, TokenInput) else x.dtype
        tape = EncoderTape(src_len, reversal(src_len, S), [], [], [], [], [], [])
        finals = []
        inp = x
        for k in range(self.L):
            mask = None
            if drop is not None and self.drops[k].rate > 0 and not isinstance(inp, TokenInput):
                mask = np.empty_like(inp)
                dropped = np.empty_like(inp)
                self.drops[k].forward(inp, dropped, mask, drop[0], drop[1])
                inp = dropped
            tape.masks.append(mask)
            tape.inputs.append(inp)
            out = np.empty((S, B, self.width), dt)
            f = self.fwd[k]
            ftape = f.tape(S, B, dt)
            fstate = tuple(np.zeros((B, self.h), dt) for _ in self.cell.state)
            out[:, :, : self.h] = f.forward(inp, fstate, ftape, src_len)
            tape.fwd.append(ftape)
            if self.bi:
                r = self.bwd[k]
                if isinstance(inp, TokenInput):  # the reversed tokens, through the same table
                    rin = TokenInput(inp.tokens[tape.rev].reshape(S, B), inp.weight, inp.grad)
                else:
                    rin = inp.reshape(S * B, -1)[tape.rev].reshape(inp.shape)
                rtape = r.tape(S, B, dt)
                rstate = tuple(np.zeros((B, self.h), dt) for _ in self.cell.state)
                rout = r.forward(rin, rstate, rtape, src_len)
                out[:, :, self.h :] = rout.reshape(S * B, -1)[tape.rev].reshape(S, B, self.h)
                tape.rev_inputs.append(rin)
                tape.bwd.append(rtape)
                finals.append(
                    tuple(
                        np.concatenate([a, c], axis=1) for a, c in zip(fstate, rstate, strict=True)
                    )
                )
            else:
                tape.rev_inputs.append(None)
                tape.bwd.append(None)
                finals.append(fstate)
            tape.outputs.append(out)
            inp = out
        return tape, finals

    def backward(
        self, tape: EncoderTape, dout: np.ndarray, dfinals: list[tuple[np.ndarray, ...]] | None
    ) -> np.ndarray | None:
        """dout (S, B, He): the gradient w.r.t. the top layer's outputs (zero at padding);
        dfinals: w.r.t. each layer's final states (None: zero). Writes the layers' parameter
        gradients; returns the gradient w.r.t. the embedded source (S, B, E), or None when layer
        0 read tokens (it added to the embedding's gradient itself). In reverse order of the
        forward."""
        S, B = dout.shape[0], dout.shape[1]
        dt = dout.dtype
        h = self.h
        dy = dout
        for k in range(self.L - 1, -1, -1):
            inp = tape.inputs[k]
            tokens = isinstance(inp, TokenInput)  # the layer adds to the embedding's gradient
            D = 0 if tokens else inp.shape[2]
            dfin = None if dfinals is None else dfinals[k]
            scratch = Scratch(self.cell, S, B, h, dt)
            dx = None if tokens else np.empty((S * B, D), dt)
            dyf = np.ascontiguousarray(dy[:, :, :h])
            f_state = None if dfin is None else tuple(np.ascontiguousarray(a[:, :h]) for a in dfin)
            self.fwd[k].backward(tape.fwd[k], dyf, dx, scratch, f_state)
            if self.bi:
                dyr = dy[:, :, h:].reshape(S * B, h)[tape.rev].reshape(S, B, h)
                r_state = (
                    None if dfin is None else tuple(np.ascontiguousarray(a[:, h:]) for a in dfin)
                )
                dxr = None if tokens else np.empty((S * B, D), dt)
                self.bwd[k].backward(tape.bwd[k], dyr, dxr, scratch, r_state)
                if not tokens:
                    dx += dxr[tape.rev]
            if tokens:
                return None
            dx = dx.reshape(S, B, D)
            if tape.masks[k] is not None:
                self.drops[k].backward(dx, tape.masks[k])
            dy = dx
        return dy
