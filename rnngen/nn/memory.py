"""How much memory a model needs, asked before anything is allocated, so that ``--hidden 200000``
is refused with the size it would need instead of failing deep inside NumPy."""

import os

from rnngen.errors import UsageError
from rnngen.files import human_size
from rnngen.nn.cells import CELLS
from rnngen.nn.config import ModelConfig

FLOAT = 4  # bytes per float32


def parameter_count(cfg: ModelConfig) -> int:
    """Parameters of the language model ``cfg`` describes (as ``LMNetwork`` lays them out)."""
    cell = CELLS[cfg.cell]
    V, E, H, L = cfg.vocab_size, cfg.embed, cfg.hidden, cfg.layers
    G = cell.gates * H
    per_layer = H * G + len(cell.biases) * G  # W_hh and the biases; W_ih below
    return V * E + (E + (L - 1) * H) * G + L * per_layer + (0 if cfg.tie else H * V) + V


def activation_floats(cfg: ModelConfig, T: int, B: int) -> int:
    """Floats of one (T, B) workspace: every layer's tape, the shared backward arrays, the
    embedding, logits and dropout buffers."""
    cell = CELLS[cfg.cell]
    E, H, L, V = cfg.embed, cfg.hidden, cfg.layers, cfg.vocab_size
    G = cell.gates * H
    per_layer = T * B * G + (T + 1) * B * H * len(cell.state) + T * B * H * sum(cell.caches)
    shared = cell.grads * T * B * G + B * H * (sum(cell.sums) + cell.carry + 1)
    return L * per_layer + shared + 2 * T * B * E + T * B * V + T * B * H * (1 + 2 * L)


def training_bytes(cfg: ModelConfig, T: int, B: int, moments: int = 2) -> int:
    """Training's footprint: weights, gradients and ``moments`` optimizer buffers, the two copies
    the divergence guard keeps, and the activations of one batch."""
    return footprint(parameter_count(cfg), activation_floats(cfg, T, B), moments)


def footprint(params: int, activations: int, moments: int = 2) -> int:
    """Bytes of training any model of ``params`` parameters: weights, gradients and ``moments``
    optimizer buffers, the two copies the divergence guard keeps, and ``activations`` floats."""
    P = params
    return FLOAT * (P * (2 + moments) + 2 * P * (1 + moments) + activations)


def available_memory() -> int | None:
    """Bytes this machine can still give (Linux's MemAvailable; None if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(need: int, what: str, remedy: str) -> None:
    """Raise UsageError when ``need`` bytes exceed the memory available."""
    have = available_memory()
    if have is not None and need > have:
        raise UsageError(
            f"{what} needs about {human_size(need)} of memory, and this machine "
            f"has {human_size(have)} available; {remedy}"
        )
