"""Environment defaults for the libraries rnngen computes with, set before any of them loads.

They are read once, when NumPy's, SciPy's and Numba's native libraries load, so ``rnngen/__init__``
applies them before anything of ours imports NumPy. A value the user set in the environment wins.

- ``OMP_WAIT_POLICY=PASSIVE``, ``OPENBLAS_THREAD_TIMEOUT=4``: an idle thread pool sleeps instead of
  spinning. By default libgomp (Numba's ``omp`` layer) spins for a while after a parallel region
  and OpenBLAS's workers spin for 2**28 cycles (about 0.1 s) after every GEMM; a training step
  alternates between the two pools dozens of times, and on 2 cores the spinning pool stole half a
  core from the one with work: steps ran 2-4x slower (``rnngen.kernels.threads``).
"""

import os

ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}


def apply() -> None:
    """Set the defaults the user has not set (effective for libraries not yet loaded)."""
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
