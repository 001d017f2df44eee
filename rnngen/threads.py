"""One place that decides who uses the cores.

Three thread pools meet here: Numba's (the ``prange`` over batch parts), SciPy's OpenBLAS (what
``np.dot`` calls inside @njit code) and NumPy's OpenBLAS (the big GEMMs outside the time loops).
Oversubscribing 2 cores made a training step 4x slower, so the rule is one active pool per phase:
when the time loops split the batch across cores, the BLAS they call runs single-threaded.
"""

import os
from dataclasses import dataclass

import numba
import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's BLAS so threadpoolctl can see it)
from threadpoolctl import ThreadpoolController


def available_cores() -> int:
    """Cores this process may run on (respects affinity masks and cgroup-pinned CPU sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ThreadPlan:
    threads: int  # cores in use
    parts: int  # batch ranges whose time loops run in parallel


def plan_threads(threads: int | None, batch: int, hidden: int) -> ThreadPlan:
    """Split the batch across cores at small H; at large H one loop with multi-threaded BLAS wins."""
    n = min(threads or available_cores(), available_cores() if threads is None else threads)
    n = max(1, n)
    parts = n if (hidden <= 384 and batch >= 2 * n) else 1
    return ThreadPlan(threads=n, parts=parts)


_controller: ThreadpoolController | None = None


def apply(plan: ThreadPlan) -> None:
    """Set every pool for ``plan``: Numba threads, in-kernel BLAS and NumPy's BLAS."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    numba.set_num_threads(max(1, min(plan.threads, numba.config.NUMBA_NUM_THREADS)))
    inner = 1 if plan.parts > 1 else plan.threads
    for lib in _controller.lib_controllers:
        is_scipy = "scipy" in os.path.dirname(lib.filepath) and "numpy" not in lib.filepath
        lib.set_num_threads(inner if is_scipy else plan.threads)
