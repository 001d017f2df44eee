"""The float32 GEMM outside the time loops (``rnngen.kernels.matmul``): against float64 NumPy at
odd shapes and every operand layout the layers pass, the same bits whatever the thread count, the
choice between it and NumPy's BLAS, and a training run that takes it against one that does not."""

import json
import subprocess
import sys

import numba
import numpy as np
import pytest
from clitools import checkpoint_arrays, cli_env, err, out, reversals, run

from rnngen.kernels.matmul import ROW_BLOCK, packed_matmul

SHAPES = [
    (1, 1, 1),
    (7, 3, 5),
    (6, 64, 64),
    (13, 1, 130),
    (64, 129, 71),
    (ROW_BLOCK + 5, 40, 192),
    (577, 200, 1000),
]


def operands(M: int, K: int, N: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((M, K), dtype=np.float32),
        rng.standard_normal((K, N), dtype=np.float32),
    )


def exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) @ b.astype(np.float64)


def close(got: np.ndarray, want: np.ndarray, K: int) -> None:
    """float32 sums of K products: within K * eps of the float64 result, scaled."""
    tol = 4 * np.finfo(np.float32).eps * np.sqrt(K) * max(1.0, np.abs(want).max())
    assert np.abs(got - want).max() <= tol


@pytest.mark.parametrize("shape", SHAPES)
def test_products_in_every_layout_the_layers_pass(shape):
    M, K, N = shape
    a, b = operands(M, K, N)
    want = exact(a, b)
    close(packed_matmul(a, b), want, K)
    # x^T dG (a transposed view) and dG W^T (b a transposed view)
    at = np.ascontiguousarray(a.T).T
    bt = np.ascontiguousarray(b.T).T
    assert min(M, K) == 1 or not at.flags.c_contiguous  # (a vector is both ways contiguous)
    assert min(K, N) == 1 or not bt.flags.c_contiguous
    assert np.array_equal(packed_matmul(at, bt), packed_matmul(a, b))
    # into a strided out, and added to what it holds
    big = np.full((M, N + 3), 2.0, np.float32)
    packed_matmul(a, b, out=big[:, 1 : N + 1])
    close(big[:, 1 : N + 1], want, K)
    assert (big[:, 0] == 2.0).all() and (big[:, N + 1 :] == 2.0).all()
    acc = np.full((M, N), 0.5, np.float32)
    packed_matmul(a, b, out=acc, add=True)
    close(acc, want + 0.5, K)


def test_empty_products():
    a, b = operands(0, 5, 7)
    assert packed_matmul(a, b).shape == (0, 7)
    a, b = operands(4, 0, 7)
    out = np.ones((4, 7), np.float32)
    assert (packed_matmul(a, b, out=out) == 0).all()
    out[...] = 1.0
    assert (packed_matmul(a, b, out=out, add=True) == 1).all()


def test_the_same_bits_whatever_the_thread_count():
    a, b = operands(3 * ROW_BLOCK + 17, 96, 300, seed=1)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = packed_matmul(a, b)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = packed_matmul(a, b)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one, two)


def choice(env: dict) -> bool:
    code = "from rnngen.kernels.matmul import own_gemm; print(own_gemm())"
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(env)
    )
    assert p.returncode == 0, p.stderr
    return p.stdout.strip() == "True"


def test_the_choice_between_the_micro_kernel_and_numpys_blas():
    assert choice({"RNNGEN_GEMM": "own"}) is True
    assert choice({"RNNGEN_GEMM": "blas"}) is False
    import llvmlite.binding as llvm

    if not llvm.get_host_cpu_features().get("avx512f", False):
        assert choice({"RNNGEN_GEMM": None}) is False  # no AVX-512: BLAS keeps every product
        return
    # on an AVX-512 CPU: OpenBLAS forced to its AVX2 kernels gives the products to the kernel
    assert choice({"RNNGEN_GEMM": None, "OPENBLAS_CORETYPE": "Haswell"}) is True
    assert choice({"RNNGEN_GEMM": None, "OPENBLAS_CORETYPE": "SkylakeX"}) is False


def test_training_on_the_micro_kernel_against_numpys_blas(tmp_path):
    """The same run with every product outside the time loops on each: the same model up to float
    rounding; and on the micro-kernel, the same bits with 1 and 2 threads, whatever OpenBLAS's
    kernels."""
    (tmp_path / "pairs.tsv").write_text(reversals(200, 3, 9, spaced=True))
    common = [
        "train",
        "pairs.tsv",
        "--task",
        "seq2seq",
        "--tgt-level",
        "word",
        "--hidden",
        "32",
        "--embed",
        "16",
        "--batch-size",
        "16",
        "--steps",
        "10",
        "--eval-every",
        "10",
        "--seed",
        "3",
        "--json",
    ]
    runs = {"own1": ("own", "1"), "own2": ("own", "2"), "blas": ("blas", "1")}
    for name, (gemm, threads) in runs.items():
        p = run(
            *common, "--out", name, "--threads", threads, cwd=tmp_path, env={"RNNGEN_GEMM": gemm}
        )
        assert p.returncode == 0, err(p)
        assert json.loads(out(p))["steps"] == 10
    w = {name: checkpoint_arrays(tmp_path / name / "last.safetensors") for name in runs}
    assert all(np.array_equal(w["own1"][k], w["own2"][k]) for k in w["own1"])
    for k in w["own1"]:
        x, y = w["own1"][k].astype(np.float64), w["blas"][k].astype(np.float64)
        assert np.linalg.norm(x - y) <= 1e-4 * np.linalg.norm(x), k
