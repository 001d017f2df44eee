"""The encoder's final states -> the decoder's initial states, per layer and state vector: the
states themselves when the encoder's outputs are as wide as the decoder (He = H), else a learned
linear map s_dec = s_enc @ W + b (He -> H)."""

import numpy as np

from rnngen.kernels.matmul import matmul

State = list[tuple[np.ndarray, ...]]  # per layer, the cell's state vectors (B, width)


class Bridge:
    def __init__(self, L: int, names: tuple[str, ...], He: int, H: int) -> None:
        self.L, self.names, self.He, self.H = L, names, He, H
        self.learned = He != H

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        if not self.learned:
            return {}
        shapes: dict[str, tuple[int, ...]] = {}
        for k in range(self.L):
            for v in self.names:
                shapes[f"bridge{k}.{v}.W"] = (self.He, self.H)
                shapes[f"bridge{k}.{v}.b"] = (self.H,)
        return shapes

    def bind(self, params, grads) -> None:
        self.p = {n: params[n] for n in self.param_shapes()}
        self.g = {n: grads[n] for n in self.param_shapes()} if grads is not None else {}

    def forward(self, finals: State) -> State:
        if not self.learned:
            return [tuple(a.copy() for a in layer) for layer in finals]
        return [
            tuple(
                matmul(a, self.p[f"bridge{k}.{v}.W"]) + self.p[f"bridge{k}.{v}.b"]
                for v, a in zip(self.names, layer, strict=True)
            )
            for k, layer in enumerate(finals)
        ]

    def backward(self, finals: State, dinit: State) -> State:
        """dinit: the gradient w.r.t. the decoder's initial states; writes the parameters'
        gradients, returns it w.r.t. the encoder's final states."""
        if not self.learned:
            return dinit
        out = []
        for k, (layer, dlayer) in enumerate(zip(finals, dinit, strict=True)):
            row = []
            for v, a, d in zip(self.names, layer, dlayer, strict=True):
                matmul(a.T, d, out=self.g[f"bridge{k}.{v}.W"])
                np.sum(d, axis=0, out=self.g[f"bridge{k}.{v}.b"])
                row.append(matmul(d, self.p[f"bridge{k}.{v}.W"].T))
            out.append(tuple(row))
        return out
