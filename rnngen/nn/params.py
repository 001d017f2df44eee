"""All of a model's parameters in one flat buffer (and all gradients in another), with a named view
per parameter: gradient clipping and the optimizer run over one contiguous array, and each layer
holds views of its own parameters."""

import numpy as np


class FlatParams:
    """One contiguous buffer with a named, shaped, C-contiguous view per parameter, in the order
    the shapes are given (the order of the optimizer's moment buffers in a checkpoint)."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtype: np.dtype) -> None:
        self.shapes = dict(shapes)
        self.offsets: dict[str, int] = {}
        offset = 0
        for name, shape in self.shapes.items():
            self.offsets[name] = offset
            offset += int(np.prod(shape))
        self.size = offset
        self.flat = np.zeros(self.size, dtype=dtype)
        self.views = {n: self._view(n) for n in self.shapes}

    def _view(self, name: str) -> np.ndarray:
        a = self.offsets[name]
        return self.flat[a : a + int(np.prod(self.shapes[name]))].reshape(self.shapes[name])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.views[name]

    def rows(self, names: tuple[str, ...]) -> np.ndarray:
        """Parameters of the same length stored one after the other, as the rows of one
        (len(names), n) view: a cell's bias vectors, read by its kernels as one array."""
        n = int(np.prod(self.shapes[names[0]]))
        a = self.offsets[names[0]]
        for i, name in enumerate(names):
            if self.offsets[name] != a + i * n or int(np.prod(self.shapes[name])) != n:
                raise ValueError(f"{', '.join(names)} are not stored one after the other")
        return self.flat[a : a + n * len(names)].reshape(len(names), n)


def init_params(
    params: FlatParams, rng: np.random.Generator, H: int, scale: float | None, normal: set[str]
) -> None:
    """Every parameter uniform(-scale, scale) when ``scale`` is given (the classic recipes);
    otherwise PyTorch's U(-1/sqrt(H), 1/sqrt(H)), and N(0, 1) for the names in ``normal`` (untied
    embeddings). Bias adjustments of the cells come after, from the layers."""
    k = 1.0 / np.sqrt(H)
    for name, view in params.views.items():
        if scale is not None:
            view[...] = rng.uniform(-scale, scale, view.shape)
        elif name in normal:
            view[...] = rng.normal(0.0, 1.0, view.shape)
        else:
            view[...] = rng.uniform(-k, k, view.shape)


class NamedArrays:
    """Parameters held by name (a checkpoint's), seen as ``FlatParams`` are by the layers that
    bind them: an array by name, and vectors stacked into rows (a copy here)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def rows(self, names: tuple[str, ...]) -> np.ndarray:
        return np.stack([self.arrays[n] for n in names])
