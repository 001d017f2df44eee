"""One recurrent layer of any cell: an input sequence and an initial state in; outputs, the final
state and what its backward needs out; and its backward.

The forward does the input projection of all T steps as one GEMM (or, for a ``TokenInput``, makes
the (V, G) table embed @ W_ih that the time loop reads by token), then runs the cell's time loop
(``rnngen.kernels.timeloop``). The backward runs the loop in reverse, then computes the weight
gradients as GEMMs over all T*B rows:

    dW_hh = hs[:T]^T grads[0]      dW_ih = x^T grads[-1]      dx = grads[-1] W_ih^T

Which arrays a cell keeps, and how its bias gradients and its initial state's gradient come out of
the loop, is the cell's business (``rnngen.nn.cells``).
"""

from dataclasses import dataclass

import numpy as np

from rnngen.kernels.loss import embedding_backward
from rnngen.kernels.matmul import matmul
from rnngen.nn.cells.base import Cell
from rnngen.nn.embedding import TokenInput

Input = np.ndarray | TokenInput  # (T, B, D) vectors, or token ids read through a table
CellState = tuple[np.ndarray, ...]  # the cell's state vectors, each (B, H)


@dataclass
class Tape:
    """What a layer's forward keeps for its backward, for one (T, B); reused from step to step."""

    xp: np.ndarray  # (T, B, G) input projections (untouched under a TokenInput)
    rows: np.ndarray  # (T, B) int64: the row of xp that step t of batch row b reads
    states: tuple[np.ndarray, ...]  # each (T+1, B, H): [0] the initial state, [t+1] after step t
    caches: tuple[np.ndarray, ...]  # the cell's, per step
    full: np.ndarray  # (B,) int64: every row runs all T steps
    lengths: np.ndarray | None = None  # (B,) the steps each row ran in the last forward
    x: Input | None = None  # the input of the last forward
    table: np.ndarray | None = None  # (V, G) embed @ W_ih of a TokenInput

    @property
    def outputs(self) -> np.ndarray:
        """(T, B, H): h_1..h_T."""
        return self.states[0][1:]


class Scratch:
    """The backward's working arrays for one (T, B), shared by the layers of a model (they run
    one after the other)."""

    def __init__(self, cell: Cell, T: int, B: int, H: int, dtype) -> None:
        G = cell.gates * H
        self.grads = tuple(np.empty((T, B, G), dtype) for _ in range(cell.grads))
        self.sums = tuple(np.empty((B, w * H), dtype) for w in cell.sums)
        self.carry = tuple(np.empty((B, H), dtype) for _ in range(cell.carry))
        self.dh = np.empty((B, H), dtype)


class RecurrentLayer:
    """Layer ``index`` of cell ``cell``, H units over inputs of width D. ``parts``: batch ranges
    whose time loops run in parallel. Its parameters are named ``{where}{cell.prefix}{index}.*``
    (``where``: e.g. ``enc.`` in an encoder)."""

    def __init__(self, cell: Cell, index: int, D: int, H: int, parts: int, where: str = "") -> None:
        self.cell, self.D, self.H, self.parts = cell, D, H, parts
        self.G = cell.gates * H
        self.out_width = H
        self.prefix = f"{where}{cell.prefix}{index}."

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return self.cell.param_shapes(self.prefix, self.D, self.H)

    def bind(self, params, grads) -> None:
        """Hold views of the model's parameter and gradient buffers (``FlatParams``)."""
        p, bias_names = self.prefix, tuple(self.prefix + b for b in self.cell.biases)
        self.W_ih, self.W_hh = params[p + "W_ih"], params[p + "W_hh"]  # (D, G), (H, G)
        self.bias = params.rows(bias_names)  # (nb, G)
        self.dW_ih, self.dW_hh = grads[p + "W_ih"], grads[p + "W_hh"]
        self.dbias = grads.rows(bias_names)

    def init_biases(self) -> None:
        self.cell.init_biases(self.bias, self.H)

    def tape(self, T: int, B: int, dtype) -> Tape:
        c, H = self.cell, self.H
        return Tape(
            xp=np.empty((T, B, self.G), dtype),
            rows=np.arange(T * B, dtype=np.int64).reshape(T, B),
            states=tuple(np.empty((T + 1, B, H), dtype) for _ in c.state),
            caches=tuple(np.empty((T, B, w * H), dtype) for w in c.caches),
            full=np.full(B, T, np.int64),
        )

    def scratch(self, T: int, B: int, dtype) -> Scratch:
        return Scratch(self.cell, T, B, self.H, dtype)

    # ---- forward and backward ----------------------------------------------------------------

    def forward(
        self, x: Input, state: CellState, tape: Tape, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """Run T steps from ``state``, which becomes the final state; returns the outputs
        (T, B, H), a view into ``tape``. ``lengths`` (B,) int64: row b runs its first lengths[b]
        steps and then holds its state (the padding of shorter sequences), so the final state is
        the one after its last true step (None: all T)."""
        T = tape.rows.shape[0]
        tape.x = x
        tape.lengths = tape.full if lengths is None else lengths
        if isinstance(x, TokenInput):
            tape.table = matmul(x.weight, self.W_ih)  # (V, G)
            xin, xrow = tape.table, x.tokens.reshape(x.shape)
        else:
            xin = tape.xp.reshape(-1, self.G)  # (T*B, G)
            matmul(x.reshape(xin.shape[0], x.shape[2]), self.W_ih, out=xin)
            xrow = tape.rows
        for s, s0 in zip(tape.states, state, strict=True):
            s[0] = s0
        from rnngen.kernels import timeloop  # here: sampling never loads the training kernels

        timeloop.forward(
            self.cell.kernels,
            xin,
            xrow,
            self.bias,
            self.W_hh,
            tape.states,
            tape.caches,
            tape.lengths,
            self.parts,
        )
        for s, s0 in zip(tape.states, state, strict=True):
            s0[...] = s[T]
        return tape.outputs

    def backward(
        self,
        tape: Tape,
        dy: np.ndarray,
        dx: np.ndarray | None,
        scratch: Scratch,
        dstate: CellState | None = None,
    ) -> CellState:
        """dy (T, B, H): the loss's gradient w.r.t. the outputs; ``dstate``: w.r.t. the final
        state (None: zero, as under truncated BPTT); dy is not read at a row's held steps.
        Writes this layer's parameter gradients and, if given, dx (T*B, D) (a ``TokenInput``
        adds to the embedding's gradient instead).
        Returns the gradient w.r.t. the initial state; it lives in ``scratch``."""
        sc, c = scratch, self.cell
        T, B = dy.shape[0], dy.shape[1]
        sc.dh[...] = 0.0 if dstate is None else dstate[0]
        for i, a in enumerate(sc.carry):  # the state's other vectors (the LSTM's c), else zero
            a[...] = dstate[i + 1] if dstate is not None and i + 1 < len(dstate) else 0.0
        from rnngen.kernels import timeloop

        timeloop.backward(
            c.kernels,
            sc.grads,
            dy,
            self.W_hh,
            tape.states,
            tape.caches,
            sc.sums,
            sc.carry,
            sc.dh,
            tape.lengths,
            self.parts,
        )
        c.bias_grads(sc.sums, self.dbias)
        hs = tape.states[0][:T].reshape(T * B, self.H)
        matmul(hs.T, sc.grads[0].reshape(T * B, self.G), out=self.dW_hh)
        self._input_grads(tape, sc.grads[-1].reshape(T * B, self.G), dx)
        return c.initial_state_grad(sc.dh, sc.carry)

    def _input_grads(self, tape: Tape, dG: np.ndarray, dx: np.ndarray | None) -> None:
        """dW_ih = x^T dG and, if dx is given, dx (T*B, D) = dG W_ih^T.

        For a ``TokenInput``: dtable (V, G) = dG rows summed by token, then dW_ih = embed^T dtable
        and the embedding's gradient += dtable W_ih^T (V x D x G work instead of T*B x D x G)."""
        x = tape.x
        if isinstance(x, TokenInput):
            dtable = np.zeros_like(tape.table)
            embedding_backward(dtable, dG, x.tokens, self.parts)
            matmul(x.weight.T, dtable, out=self.dW_ih)
            matmul(dtable, self.W_ih.T, out=x.grad, add=True)
            return
        N = dG.shape[0]
        matmul(x.reshape(N, x.shape[2]).T, dG, out=self.dW_ih)
        if dx is not None:
            matmul(dG, self.W_ih.T, out=dx)
