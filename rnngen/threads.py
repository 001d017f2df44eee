"""One place that decides who uses the cores.

Three thread pools meet here: Numba's (the ``prange`` over batch parts), SciPy's OpenBLAS (what
``np.dot`` calls inside @njit code, now only on the float64 path) and NumPy's OpenBLAS (the big
GEMMs outside the time loops). A training step alternates between Numba's pool and NumPy's BLAS
pool many times, so two rules:

- one active pool per phase: when the time loops split the batch across cores, the BLAS they call
  runs single-threaded;
- an idle pool must sleep, not spin. By default libgomp (Numba's ``omp`` layer) spins for a while
  after a parallel region and OpenBLAS's workers spin (with sched_yield) for 2**28 cycles, about
  0.1 s, after every GEMM; on 2 cores the spinning pool steals half of a core from the pool that
  has work, and a step ran 2-4x slower. ``OMP_WAIT_POLICY=PASSIVE`` and
  ``OPENBLAS_THREAD_TIMEOUT=4`` (2**4 cycles) make them sleep at once; waking them costs some
  microseconds per call, a few dozen calls per step. Both are read when the library loads, so they
  are set below, before this module imports Numba or SciPy; NumPy's OpenBLAS only sees the second
  one if this module (or ``set_env_defaults``) runs before anything imports NumPy, which is why
  ``rnngen/__init__.py`` should call it first. A value the user set in the environment wins.
"""

import os

ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}


def set_env_defaults() -> None:
    """Idle pools sleep instead of spinning (see above); effective for libraries not yet loaded."""
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)


set_env_defaults()

from dataclasses import dataclass  # noqa: E402

import numba  # noqa: E402
import scipy.linalg.cython_blas  # noqa: E402, F401  (loads SciPy's BLAS so threadpoolctl sees it)
from threadpoolctl import ThreadpoolController  # noqa: E402


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
    """One batch range per core, whatever H: the float32 time loops run their own single-thread
    GEMM (``rnngen.kernels.gemm``), so a loop that is not split leaves cores idle. Measured on 2
    cores: parts=2 beat parts=1 at H128, H256 and H512. Each range keeps at least 2 rows.
    """
    n = min(threads or available_cores(), available_cores() if threads is None else threads)
    n = max(1, n)
    parts = max(1, min(n, batch // 2))
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
