"""How the kernels written once for every cell call the math of one cell.

A cell's module (``rnngen.nn.cells``) writes its step math once, as three jitted functions, and
hands them to a ``CellKernels``. The time-loop drivers (``rnngen.kernels.timeloop``) and the
sampler (``rnngen.kernels.sample``) take that object as their first argument and call
``cell_forward`` / ``cell_backward`` / ``cell_step`` on it. Numba types each ``CellKernels`` as a
type of its own that carries the three functions, so every driver is compiled (and cached) once
per cell, with the cell's math inlined, exactly as if it had been written for that cell alone;
nothing here knows any cell by name.

The three functions, for one batch row ``b`` at step ``t`` (shapes as in the drivers):

    forward(t, b, x, rec, bias, states, caches)
        x (>= G) the input projection of step t without bias, rec (>= G) = h_{t-1} @ W_hh,
        bias (nb, >= G) the cell's bias vectors; reads states[i][t, b], writes
        states[i][t+1, b] (states[0] is h) and the caches the backward needs.
    backward(t, b, dht, dhr, states, caches, grads, sums, carry)
        the gradient at h_t is dht (from above) + dhr (through W_hh); writes grads[i][t, b]
        (grads[0] is the gradient w.r.t. the recurrent pre-activation h_{t-1} @ W_hh, the last
        one w.r.t. the input projection), adds them into the per-row bias sums, and carries the
        gradient of its other paths to step t-1 in carry (per batch row).
    step(x, rec, bias, state, u0, u1, scratch)
        sampling: the same update for units u0:u1 of one row, in place on the layer's state
        (S, H) (rows state[i, u0:u1] are contiguous: the loops vectorise), with scratch for what
        training would cache; x, rec and bias hold those units' gate columns, blocks u1 - u0 wide.

Numba keys its on-disk cache of a driver by the driver's own source file only; the key of a cell's
type also holds its module's modification time and size, so editing a cell recompiles the drivers.
"""

import os

from numba import types
from numba.extending import NativeValue, models, overload, register_model, typeof_impl, unbox


class CellKernels:
    """The jitted step functions of one cell (see the module docstring), and its name."""

    def __init__(self, name: str, forward, backward, step, source: str) -> None:
        self.name = name
        self.forward, self.backward, self.step = forward, backward, step
        st = os.stat(source)
        self.key = f"{name}@{int(st.st_mtime)}.{st.st_size}"  # see the module docstring
        _KNOWN[self.key] = self

    def __repr__(self) -> str:
        return f"CellKernels({self.name})"


_KNOWN: dict[str, CellKernels] = {}


class CellKernelsType(types.Dummy):
    """The Numba type of one ``CellKernels``: equal types for equal keys, across processes."""

    def __init__(self, kernels: CellKernels) -> None:
        self.kernels = kernels
        super().__init__(name=f"Cell({kernels.key})")

    def __reduce__(self):  # pickled into the cache index by key, not with its functions
        return _type_of_key, (self.kernels.key,)


class _Gone:
    """A cell's kernels as an older version of its module had them: the cache index may still
    list them; their type equals no live one, so the entries are never used."""

    def __init__(self, key: str) -> None:
        self.key = self.name = key


def _type_of_key(key: str) -> CellKernelsType:
    return CellKernelsType(_KNOWN.get(key) or _Gone(key))  # type: ignore[arg-type]


_TYPES: dict[int, tuple[CellKernels, CellKernelsType]] = {}


@typeof_impl.register(CellKernels)
def _typeof(val: CellKernels, c) -> CellKernelsType:
    """Made once per kernels object: every jitted call types its arguments, and making the type
    (Numba interns it by name only after building it) cost 15 us per call, which a model stepping
    one token at a time pays per layer and token."""
    known = _TYPES.get(id(val))
    if known is None or known[0] is not val:
        known = _TYPES[id(val)] = (val, CellKernelsType(val))
    return known[1]


register_model(CellKernelsType)(models.OpaqueModel)


@unbox(CellKernelsType)
def _unbox(typ, obj, c):
    return NativeValue(c.context.get_dummy_value())


# ---------------------------------------------------------------------------------------------
# the calls the drivers make; each compiles to a direct call of the cell's function


def cell_forward(cell, t, b, x, rec, bias, states, caches):
    raise NotImplementedError("jitted code only")


def cell_backward(cell, t, b, dht, dhr, states, caches, grads, sums, carry):
    raise NotImplementedError("jitted code only")


def cell_step(cell, x, rec, bias, state, u0, u1, scratch):
    raise NotImplementedError("jitted code only")


@overload(cell_forward, inline="always")
def _cell_forward(cell, t, b, x, rec, bias, states, caches):
    if isinstance(cell, CellKernelsType):
        f = cell.kernels.forward

        def impl(cell, t, b, x, rec, bias, states, caches):
            f(t, b, x, rec, bias, states, caches)

        return impl
    return None


@overload(cell_backward, inline="always")
def _cell_backward(cell, t, b, dht, dhr, states, caches, grads, sums, carry):
    if isinstance(cell, CellKernelsType):
        f = cell.kernels.backward

        def impl(cell, t, b, dht, dhr, states, caches, grads, sums, carry):
            f(t, b, dht, dhr, states, caches, grads, sums, carry)

        return impl
    return None


@overload(cell_step, inline="always")
def _cell_step(cell, x, rec, bias, state, u0, u1, scratch):
    if isinstance(cell, CellKernelsType):
        f = cell.kernels.step

        def impl(cell, x, rec, bias, state, u0, u1, scratch):
            f(x, rec, bias, state, u0, u1, scratch)

        return impl
    return None
