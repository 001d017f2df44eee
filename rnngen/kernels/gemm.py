"""Float32 GEMM for the recurrent product inside the time loops: packed panels + a micro-kernel.

The per-step product of an LSTM/GRU/RNN time loop is tiny (e.g. 16x128 @ 128x512) and BLAS handles
it badly: OpenBLAS repacks W_hh on every call and took as long for 16 rows as for 32 (about 30-60
GFLOP/s). The float32 loops therefore use this GEMM instead: W is packed once per call into
64-column panels (``pack_panels``), and a register-blocked micro-kernel (up to 6 rows x 64 columns
= 24 AVX-512 accumulators, written in LLVM IR because Numba cannot keep an accumulator tile in
registers) computes each tile (``gemm_panels``); 110-145 GFLOP/s on one core at these shapes.
Float64 loops keep ``np.dot``: they are the gradient-check path.

``use_packed`` picks the path before a time loop is called (``rnngen.kernels.timeloop``): the packed
kernels run (and are compiled) only for float32 arrays with unit stride along the last axis.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from rnngen.kernels import JIT

# ---------------------------------------------------------------------------------------------
# float32 micro-kernel: C[r0:r0+R, 64-column panel] = A[r0:r0+R, :K] @ panel (K, 64)

PANEL = 64  # columns per packed panel: 4 vectors of 16 float32
_ROWS = 6  # max rows per tile: 6 x 4 accumulators + 4 panel vectors + 1 broadcast <= 32 zmm
_F32 = ir.FloatType()
_V16 = ir.VectorType(_F32, 16)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def _make_tile(R: int):
    """Intrinsic ``tile(A, aoff, lda, P, poff, C, coff, ldc, K)`` for an R-row tile.

    A, P, C are float32 arrays used through their data pointers with element offsets:
    A rows at aoff + r*lda (K values each), the panel P at poff as K rows of 64 contiguous
    values, C rows at coff + r*ldc (64 values written, nothing read). K >= 1. For arrays of
    other dtypes it compiles to nothing: callers reach it only for float32 (see ``use_packed``).
    """

    @intrinsic
    def tile(typingctx, A, aoff, lda, P, poff, C, coff, ldc, K):
        if not all(isinstance(arr, types.Array) for arr in (A, P, C)):
            return None
        f32 = all(arr.dtype == types.float32 for arr in (A, P, C))
        sig = types.void(A, aoff, lda, P, poff, C, coff, ldc, K)

        def codegen(context, builder, signature, args):
            if not f32:  # compiled for other dtypes only in branches that never run
                return context.get_dummy_value()
            a, aoff, lda, p, poff, c, coff, ldc, K = (
                builder.sext(v, _I64) if isinstance(v.type, ir.IntType) and v.type.width < 64 else v
                for v in args
            )
            sa, sp, sc = signature.args[0], signature.args[3], signature.args[5]
            pa = context.make_array(sa)(context, builder, a).data
            pp = context.make_array(sp)(context, builder, p).data
            pc = context.make_array(sc)(context, builder, c).data
            mod = builder.module
            fma = mod.globals.get("llvm.fma.v16f32")
            if fma is None:
                fma = ir.Function(mod, ir.FunctionType(_V16, [_V16] * 3), name="llvm.fma.v16f32")
            undef = ir.Constant(_V16, ir.Undefined)
            splat_mask = ir.Constant(ir.VectorType(_I32, 16), [0] * 16)
            vptr = _V16.as_pointer()

            pre = builder.block
            loop = builder.append_basic_block("tile.loop")
            done = builder.append_basic_block("tile.done")
            builder.branch(loop)
            builder.position_at_end(loop)
            k = builder.phi(_I64)
            k.add_incoming(ir.Constant(_I64, 0), pre)
            accs = []
            for _ in range(4 * R):
                acc = builder.phi(_V16)
                acc.add_incoming(ir.Constant(_V16, None), pre)
                accs.append(acc)
            prow = builder.add(poff, builder.mul(k, ir.Constant(_I64, PANEL)))
            ws = []
            for v in range(4):
                ptr = builder.gep(pp, [builder.add(prow, ir.Constant(_I64, 16 * v))])
                ws.append(builder.load(builder.bitcast(ptr, vptr), align=4))
            new = []
            for r in range(R):
                idx = builder.add(builder.add(aoff, builder.mul(ir.Constant(_I64, r), lda)), k)
                s = builder.load(builder.gep(pa, [idx]), align=4)
                s = builder.insert_element(undef, s, ir.Constant(_I32, 0))
                s = builder.shuffle_vector(s, undef, splat_mask)
                for v in range(4):
                    new.append(builder.call(fma, [s, ws[v], accs[4 * r + v]]))
            k1 = builder.add(k, ir.Constant(_I64, 1))
            for acc, val in zip(accs, new, strict=True):
                acc.add_incoming(val, loop)
            k.add_incoming(k1, loop)
            builder.cbranch(builder.icmp_signed("<", k1, K), loop, done)
            builder.position_at_end(done)
            for r in range(R):
                crow = builder.add(coff, builder.mul(ir.Constant(_I64, r), ldc))
                for v in range(4):
                    ptr = builder.gep(pc, [builder.add(crow, ir.Constant(_I64, 16 * v))])
                    builder.store(new[4 * r + v], builder.bitcast(ptr, vptr), align=4)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile1, _tile2, _tile3, _tile4, _tile5, _tile6 = (_make_tile(r) for r in range(1, _ROWS + 1))


@njit(**JIT)
def pack_panels(W):
    """W (K, N) -> (ceil(N/64), K, 64): 64-column panels, contiguous along K, zero-padded."""
    K, N = W.shape
    NP = (N + PANEL - 1) // PANEL
    Wp = np.zeros((NP, K, PANEL), W.dtype)
    for p in range(NP):
        n = min(PANEL, N - p * PANEL)
        for k in range(K):
            src = W[k, p * PANEL : p * PANEL + n]
            dst = Wp[p, k]
            for j in range(n):
                dst[j] = src[j]
    return Wp


@njit(**JIT)
def gemm_panels(A, aoff, lda, M, Wp, C, ldc):
    """C[:M, :64*NP] = A[:M, :K] @ W, W packed by ``pack_panels``; A rows at aoff + m*lda.

    C is a (M, >= 64*NP) float32 scratch with row stride ldc (padding columns get zeros). Rows go
    in tiles of at most 6, sized evenly so no tile is much thinner than the rest.
    """
    NP, K = Wp.shape[0], Wp.shape[1]
    ntiles = (M + _ROWS - 1) // _ROWS
    for p in range(NP):
        poff = p * K * PANEL
        c = p * PANEL
        r = 0
        for i in range(ntiles):
            R = (M - r) // (ntiles - i)
            ao = aoff + r * lda
            co = r * ldc + c
            if R == 6:
                _tile6(A, ao, lda, Wp, poff, C, co, ldc, K)
            elif R == 5:
                _tile5(A, ao, lda, Wp, poff, C, co, ldc, K)
            elif R == 4:
                _tile4(A, ao, lda, Wp, poff, C, co, ldc, K)
            elif R == 3:
                _tile3(A, ao, lda, Wp, poff, C, co, ldc, K)
            elif R == 2:
                _tile2(A, ao, lda, Wp, poff, C, co, ldc, K)
            else:
                _tile1(A, ao, lda, Wp, poff, C, co, ldc, K)
            r += R


# ---------------------------------------------------------------------------------------------
# a few rows at a time, in any dtype (inference: the hypotheses of a beam, one source's steps)


@njit(**JIT)
def padded(n):
    """Columns of a product with n columns through packed panels."""
    return (n + PANEL - 1) // PANEL * PANEL


@njit(**JIT)
def matmul_packed(f32, A, aoff, lda, R, Wp, C):
    """C[:R, :64*NP] = the R rows of A (flat element offsets aoff + r*lda, K values each) @ the
    packed Wp (NP, K, 64); C (>= R, >= 64*NP) C-contiguous. ``f32``: the arrays are float32 and
    the micro-kernel runs (``gemm_panels``); else plain loops (float64: the checking path)."""
    if f32:
        gemm_panels(A, aoff, lda, R, Wp, C, C.shape[1])
        return
    NP, K = Wp.shape[0], Wp.shape[1]
    a = A.reshape(-1)
    for r in range(R):
        c = C[r]
        c[: NP * PANEL] = 0.0
        for p in range(NP):
            for k in range(K):
                x = a[aoff + r * lda + k]
                row = Wp[p, k]
                for j in range(PANEL):
                    c[p * PANEL + j] += x * row[j]


# ---------------------------------------------------------------------------------------------
# which path a time loop takes


def use_packed(*arrays: np.ndarray) -> bool:
    """The micro-kernel path: every array float32 with unit stride along its last axis."""
    return all(a.dtype == np.float32 and a.strides[-1] == 4 for a in arrays)
