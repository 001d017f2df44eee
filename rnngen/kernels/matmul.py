"""Float32 GEMM for the products outside the time loops (input projections over all T·B rows, the
weight gradients, attention's projections, the output layer), on the packed-panel micro-kernel the
time loops use (``rnngen.kernels.gemm``) instead of NumPy's BLAS.

Why: at these shapes (hundreds to thousands of rows, K and N of 64 to 1,536) the micro-kernel runs
at 200-260 GFLOP/s on one Zen 5 core with packing included, where OpenBLAS ran 120-175 with its
AVX-512 kernels and 70-125 with the AVX2 ones some environments force (``OPENBLAS_CORETYPE=
Haswell``). A one-thread replica (``--replicas``) calls every product on one core, so this is its
speed; with more threads the row blocks are shared out by Numba (``prange``).

The result does not depend on the thread count, nor on the BLAS: every element of C is the FMA
chain of one tile over k = 0..K-1 in order, whichever rows share its tile and whichever thread runs
it. Other dtypes (float64: the gradient-check path) go to ``np.dot``.

Which products take it (``own_gemm``): on a CPU with AVX-512 whose OpenBLAS runs kernels without it,
all float32 ones; where OpenBLAS runs its AVX-512 kernels, or the CPU has none, NumPy's BLAS keeps
them. ``RNNGEN_GEMM=own`` or ``blas`` overrides the choice (benchmarks compare the two).
"""

import functools
import os

import numba
import numpy as np
from numba import njit, prange

from rnngen.kernels import JIT_PAR
from rnngen.kernels.gemm import PANEL, gemm_panels, pack_panels

ROW_BLOCK = 192  # rows per block: A's block stays in L2 while every panel streams past it


@njit(**JIT_PAR)
def _blocks(A, Bp, C, nb):
    """C[:, :64*NP] = A (M, K) @ the packed Bp, M in ``nb`` even blocks of rows run in parallel.
    A and C C-contiguous; K >= 1."""
    M, K = A.shape
    ldc = C.shape[1]
    for i in prange(nb):
        lo = M * i // nb
        hi = M * (i + 1) // nb
        gemm_panels(A, lo * K, K, hi - lo, Bp, C[lo:hi], ldc)


def row_blocks(M: int, threads: int) -> int:
    """Blocks of at most about ROW_BLOCK rows, as many as a multiple of the threads (so that none
    waits for another's last block), of at least 6 rows (a whole tile) each."""
    nb = -(-M // ROW_BLOCK)
    nb = -(-nb // threads) * threads
    return max(1, min(nb, M // 6))


# OpenBLAS's kernel sets (its "architecture", OPENBLAS_CORETYPE) that use AVX-512
AVX512_BLAS = {"skylakex", "cooperlake", "sapphirerapids"}


@functools.cache
def own_gemm() -> bool:
    """Whether float32 products take the micro-kernel (see the module's notes). Decided once."""
    choice = os.environ.get("RNNGEN_GEMM", "auto").strip().lower()
    if choice in ("own", "blas"):
        return choice == "own"
    import llvmlite.binding as llvm
    from threadpoolctl import threadpool_info

    if not llvm.get_host_cpu_features().get("avx512f", False):
        return False
    kernels = {
        str(i.get("architecture", "")).lower()
        for i in threadpool_info()
        if i.get("internal_api") == "openblas" and "numpy" in i.get("filepath", "")
    }
    return bool(kernels) and not (kernels & AVX512_BLAS)


def matmul(
    a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, add: bool = False
) -> np.ndarray:
    """out (M, N) = a (M, K) @ b (K, N), or ``+=`` with ``add``; a and b may be transposed or
    strided views. Returns out (a new array when None). float32 products take the micro-kernel
    where ``own_gemm()`` says so, the rest ``np.dot``."""
    if a.dtype == np.float32 and b.dtype == np.float32 and own_gemm():
        return packed_matmul(a, b, out, add)
    if add:
        out += np.dot(a, b)
        return out
    return np.dot(a, b, out=out) if out is not None else np.dot(a, b)


def packed_matmul(
    a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, add: bool = False
) -> np.ndarray:
    """``matmul`` on the micro-kernel, whatever ``own_gemm()`` says; a and b float32."""
    M, K = a.shape
    N = b.shape[1]
    if out is None:
        out = np.empty((M, N), np.float32)
    if M == 0 or N == 0:
        return out
    if K == 0:
        if not add:
            out[...] = 0.0
        return out
    A = np.ascontiguousarray(a)
    direct = not add and N % PANEL == 0 and out.flags.c_contiguous
    C = out if direct else np.empty((M, (N + PANEL - 1) // PANEL * PANEL), np.float32)
    _blocks(A, pack_panels(b), C, row_blocks(M, numba.get_num_threads()))  # b: any strides
    if direct:
        return out
    if add:
        out += C[:, :N]
    else:
        out[...] = C[:, :N]
    return out
