"""LSTM time loops: forward and backward side by side.

Only the recurrent product ``h @ W_hh`` lives inside the time loop. The caller does the input
projection of all T steps as one GEMM before the forward, and the weight gradients as one GEMM over
all T*B rows after the backward (see ``rnngen.model``). Gate blocks are ordered [i | f | g | o], as
PyTorch orders them, so weights are comparable.

    i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g          h_t = o * tanh(c_t)

The batch rows are independent, so the loops split them into ``parts`` ranges and run each range's
whole time loop on its own core: no thread handoff per step. Gate math uses one view per gate block;
with ``a[H + j]``-style indexing LLVM does not vectorise (3x slower).

The per-step product is tiny (e.g. 16x128 @ 128x512) and BLAS handles it badly: OpenBLAS repacks
W_hh on every call and took as long for 16 rows as for 32 (about 30-60 GFLOP/s). In float32 the
loops therefore use their own GEMM: W is packed once per call into 64-column panels, and a
register-blocked micro-kernel (up to 6 rows x 64 columns = 24 AVX-512 accumulators, written in LLVM
IR because Numba cannot keep an accumulator tile in registers) computes each tile; 110-145
GFLOP/s on one core at these shapes. Float64 keeps ``np.dot`` (it is the gradient-check path).
"""

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from rnngen.kernels import JIT, JIT_PAR
from rnngen.kernels.mathfn import sigmoid, tanh

# ---------------------------------------------------------------------------------------------
# float32 micro-kernel: C[r0:r0+R, 64-column panel] = A[r0:r0+R, :K] @ panel (K, 64)

_PANEL = 64  # columns per packed panel: 4 vectors of 16 float32
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
    other dtypes it compiles to nothing: callers reach it only for float32 (see ``_use_packed``).
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
            prow = builder.add(poff, builder.mul(k, ir.Constant(_I64, _PANEL)))
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
    NP = (N + _PANEL - 1) // _PANEL
    Wp = np.zeros((NP, K, _PANEL), W.dtype)
    for p in range(NP):
        n = min(_PANEL, N - p * _PANEL)
        for k in range(K):
            src = W[k, p * _PANEL : p * _PANEL + n]
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
        poff = p * K * _PANEL
        c = p * _PANEL
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
# gate math of one batch row (shared by both GEMM paths)


@njit(**JIT)
def _gates_forward(a, x, r, c_prev, c, tc, h, H):
    """a (4H) out: activated gates; x, r (4H) input and recurrent pre-activations."""
    ai, af, ag, ao = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H : 4 * H]
    xi, xf, xg, xo = x[:H], x[H : 2 * H], x[2 * H : 3 * H], x[3 * H : 4 * H]
    ri, rf, rg, ro = r[:H], r[H : 2 * H], r[2 * H : 3 * H], r[3 * H : 4 * H]
    for j in range(H):
        i = sigmoid(xi[j] + ri[j])
        f = sigmoid(xf[j] + rf[j])
        g = tanh(xg[j] + rg[j])
        o = sigmoid(xo[j] + ro[j])
        ai[j], af[j], ag[j], ao[j] = i, f, g, o
        cj = f * c_prev[j] + i * g
        c[j] = cj
        tcj = tanh(cj)
        tc[j] = tcj
        h[j] = o * tcj


@njit(**JIT)
def _gates_backward(d, a, dht, dhr, c_prev, tc, dcb, H):
    """d (4H) out: gate pre-activation gradients; dht + dhr = gradient at h_t; dcb in/out."""
    one = d.dtype.type(1.0)
    ai, af, ag, ao = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H : 4 * H]
    di, df, dg, do = d[:H], d[H : 2 * H], d[2 * H : 3 * H], d[3 * H : 4 * H]
    for j in range(H):
        i, f, g, o = ai[j], af[j], ag[j], ao[j]
        dh_j = dht[j] + dhr[j]
        tcj = tc[j]
        dc_j = dcb[j] + dh_j * o * (one - tcj * tcj)
        di[j] = dc_j * g * i * (one - i)
        df[j] = dc_j * c_prev[j] * f * (one - f)
        dg[j] = dc_j * i * (one - g * g)
        do[j] = dh_j * tcj * o * (one - o)
        dcb[j] = dc_j * f


# ---------------------------------------------------------------------------------------------
# time loops over batch rows b0:b1


@njit(**JIT)
def lstm_forward_rows(xp, W_hh, h0, c0, hs, cs, acts, tcs, b0, b1):
    """Forward over T steps for batch rows b0:b1, keeping what the backward needs (BLAS path).

    xp   (T, B, 4H)   input projections x_t @ W_ih + b of all steps (read)
    W_hh (H, 4H)      recurrent weights
    h0   (B, H)       carried hidden state;  c0 (B, H) carried cell state
    hs   (T+1, B, H)  out: hs[0] = h0, hs[t+1] = h_t
    cs   (T+1, B, H)  out: cs[0] = c0, cs[t+1] = c_t
    acts (T, B, 4H)   out: activated gates [i f g o]
    tcs  (T, B, H)    out: tanh(c_t)
    """
    T = xp.shape[0]
    H = W_hh.shape[0]
    hs[0, b0:b1] = h0[b0:b1]
    cs[0, b0:b1] = c0[b0:b1]
    rec = np.empty((b1 - b0, 4 * H), xp.dtype)  # (B_part, 4H)
    for t in range(T):
        np.dot(hs[t, b0:b1], W_hh, rec)
        for b in range(b0, b1):
            _gates_forward(
                acts[t, b], xp[t, b], rec[b - b0], cs[t, b], cs[t + 1, b], tcs[t, b],
                hs[t + 1, b], H,
            )  # fmt: skip


@njit(**JIT)
def lstm_backward_rows(dG, dhs, W_hhT, acts, cs, tcs, dh, dc, b0, b1):
    """Backward over T steps for batch rows b0:b1, in reverse order of the forward (BLAS path).

    dG    (T, B, 4H)  out: gradient of the loss w.r.t. the gate pre-activations
    dhs   (T, B, H)   gradient w.r.t. h_1..h_T arriving from above (read)
    W_hhT (4H, H)     W_hh transposed, contiguous
    acts, cs, tcs     caches written by ``lstm_forward_rows``
    dh, dc (B, H)     in: gradient arriving at h_T, c_T (zero under truncated BPTT);
                      out: gradient w.r.t. h0, c0
    """
    T = dG.shape[0]
    H = W_hhT.shape[1]
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            _gates_backward(dG[t, b], acts[t, b], dhs[t, b], dh[b], cs[t, b], tcs[t, b], dc[b], H)
        np.dot(dG[t, b0:b1], W_hhT, dh[b0:b1])


@njit(**JIT)
def _forward_rows_packed(xp, Wp, h0, c0, hs, cs, acts, tcs, b0, b1):
    """``lstm_forward_rows`` with the float32 micro-kernel; Wp = pack_panels(W_hh)."""
    T, B, G = xp.shape
    H = G // 4
    M = b1 - b0
    hs[0, b0:b1] = h0[b0:b1]
    cs[0, b0:b1] = c0[b0:b1]
    ldc = Wp.shape[0] * _PANEL
    rec = np.empty((M, ldc), xp.dtype)  # (B_part, 4H padded to whole panels)
    lda = hs.strides[1] // 4
    for t in range(T):
        aoff = (t * hs.strides[0] + b0 * hs.strides[1]) // 4
        gemm_panels(hs, aoff, lda, M, Wp, rec, ldc)
        for b in range(b0, b1):
            _gates_forward(
                acts[t, b], xp[t, b], rec[b - b0], cs[t, b], cs[t + 1, b], tcs[t, b],
                hs[t + 1, b], H,
            )  # fmt: skip


@njit(**JIT)
def _backward_rows_packed(dG, dhs, WTp, acts, cs, tcs, dh, dc, b0, b1):
    """``lstm_backward_rows`` with the float32 micro-kernel; WTp = pack_panels(W_hhT)."""
    T, B, G = dG.shape
    H = G // 4
    M = b1 - b0
    ldc = WTp.shape[0] * _PANEL
    dhr = np.empty((M, ldc), dG.dtype)  # gradient reaching h_t through the recurrence
    dhr[:, :H] = dh[b0:b1]
    lda = dG.strides[1] // 4
    for t in range(T - 1, -1, -1):
        for b in range(b0, b1):
            _gates_backward(
                dG[t, b], acts[t, b], dhs[t, b], dhr[b - b0], cs[t, b], tcs[t, b], dc[b], H
            )
        aoff = (t * dG.strides[0] + b0 * dG.strides[1]) // 4
        gemm_panels(dG, aoff, lda, M, WTp, dhr, ldc)
    dh[b0:b1] = dhr[:, :H]


# ---------------------------------------------------------------------------------------------
# public kernels: the batch split into ``parts`` ranges run in parallel


def _is_f32(a):
    """True (a typing-time constant) when ``a`` is a float32 array."""


@overload(_is_f32, inline="always")
def _ov_is_f32(a):
    if isinstance(a, types.Array) and a.dtype == types.float32:
        return lambda a: True
    return lambda a: False


@njit(inline="always", **JIT)
def _use_packed(xp, W, hs, acts):
    """The micro-kernel path: float32, unit stride along the last axis."""
    return (
        _is_f32(xp) and _is_f32(W) and _is_f32(hs) and _is_f32(acts)
        and xp.strides[2] == 4 and W.strides[1] == 4 and hs.strides[2] == 4
    )  # fmt: skip


@njit(**JIT_PAR)
def lstm_forward(xp, W_hh, h0, c0, hs, cs, acts, tcs, parts):
    """Forward over all B rows, split into ``parts`` ranges run in parallel.

    Shapes as in ``lstm_forward_rows``; ``parts`` >= 1 (capped at B).
    """
    B = xp.shape[1]
    parts = max(1, min(parts, B))
    if _use_packed(xp, W_hh, hs, acts):
        Wp = pack_panels(W_hh)
        for p in prange(parts):
            b0, b1 = p * B // parts, (p + 1) * B // parts
            _forward_rows_packed(xp, Wp, h0, c0, hs, cs, acts, tcs, b0, b1)
    else:
        for p in prange(parts):
            b0, b1 = p * B // parts, (p + 1) * B // parts
            lstm_forward_rows(xp, W_hh, h0, c0, hs, cs, acts, tcs, b0, b1)


@njit(**JIT_PAR)
def lstm_backward(dG, dhs, W_hhT, acts, cs, tcs, dh, dc, parts):
    """Backward over all B rows, split into ``parts`` ranges run in parallel.

    Shapes as in ``lstm_backward_rows``; ``parts`` >= 1 (capped at B).
    """
    B = dG.shape[1]
    parts = max(1, min(parts, B))
    if _use_packed(dG, W_hhT, dhs, acts):
        WTp = pack_panels(W_hhT)
        for p in prange(parts):
            b0, b1 = p * B // parts, (p + 1) * B // parts
            _backward_rows_packed(dG, dhs, WTp, acts, cs, tcs, dh, dc, b0, b1)
    else:
        for p in prange(parts):
            b0, b1 = p * B // parts, (p + 1) * B // parts
            lstm_backward_rows(dG, dhs, W_hhT, acts, cs, tcs, dh, dc, b0, b1)
