"""One place that decides who uses the cores.

Three thread pools meet here: Numba's (the ``prange`` over batch parts), SciPy's OpenBLAS (what
``np.dot`` calls inside @njit code, now only on the float64 path) and NumPy's OpenBLAS (the big
GEMMs outside the time loops, unless ``rnngen.kernels.matmul`` runs them on Numba's pool: where
OpenBLAS has no AVX-512 kernels on an AVX-512 CPU). A training step alternates between Numba's
pool and NumPy's BLAS pool many times, so two rules:

- one active pool per phase: when the time loops split the batch across cores, the BLAS they call
  runs single-threaded;
- an idle pool must sleep, not spin: the environment defaults of ``rnngen._env``, set when the
  ``rnngen`` package is imported, before NumPy, SciPy and Numba load.
"""

import os
from dataclasses import dataclass

import numba


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


def plan_threads(threads: int | None, batch: int) -> ThreadPlan:
    """``threads`` cores (None: all this process may use), one batch range per core, whatever H:
    the float32 time loops run their own single-thread GEMM (``rnngen.kernels.gemm``), so a loop
    that is not split leaves cores idle. Measured on 2 cores: parts=2 beat parts=1 at H128, H256
    and H512. Each range keeps at least 2 rows.
    """
    n = max(1, available_cores() if threads is None else threads)
    parts = max(1, min(n, batch // 2))
    return ThreadPlan(threads=n, parts=parts)


_controller = None  # threadpoolctl's, made at the first apply()


def apply(plan: ThreadPlan) -> None:
    """Set every pool for ``plan``: Numba threads, in-kernel BLAS and NumPy's BLAS."""
    global _controller
    if _controller is None:
        # SciPy's BLAS loaded first, so that threadpoolctl sees it (90 ms of imports: here, not
        # at start-up, since sampling never calls this)
        import scipy.linalg.cython_blas  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    numba.set_num_threads(max(1, min(plan.threads, numba.config.NUMBA_NUM_THREADS)))
    inner = 1 if plan.parts > 1 else plan.threads
    for lib in _controller.lib_controllers:
        is_scipy = "scipy" in os.path.dirname(lib.filepath) and "numpy" not in lib.filepath
        lib.set_num_threads(inner if is_scipy else plan.threads)
