"""Batch-1 inference: one recurrent step per token, and sampling from the next-token distribution.

A step at batch 1 is a chain of mat-vecs, and a mat-vec reads every weight once for 2 flops: at
L2 H512 that is ~12.6 MB of float32 per token, far beyond the L2 cache (1.25 MB per core here),
so sampling is bound by how fast the weights stream in from L3/DRAM, not by arithmetic. Hence:

- weights are packed once (``rnngen.generate.sample.Sampler``) into 128-column panels, each panel K
  rows of 128 contiguous floats, and multiplied by a register-blocked mat-vec (8 AVX-512
  accumulators, software prefetch): every weight is read once, front to back, and nothing else goes
  to memory;
- layer 0's input product is a row lookup: ``table0 = embed @ W_ih0`` (V, G) is computed once;
- the hidden units can be split into ``P`` parts, one per core: part p owns units u0:u1 and the
  gate columns of those units (gate blocks [i f g o] / [r z n] kept, each n = u1 - u0 wide), so a
  core computes its units' gates and updates their state without waiting for the other, and each
  core streams only its share of the weights. The cores meet once per layer (and once for the
  output layer when it is large);
- nothing is allocated per token; ``draw`` works in float32 with the vectorised exp;
- the state update is the cell's own step (``rnngen.kernels.cellcall.cell_step``), the math its
  training runs, on the part's units.

Column layout ("part layout") of every gate-indexed array: (..., P, Gp) where part p's local column
q < gates * n holds global column (q // n) * H + u0 + q % n, zero-padded to Gp (a multiple of 128).
"""

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from rnngen.kernels import JIT
from rnngen.kernels.cellcall import cell_step
from rnngen.kernels.mathfn import exp

# prange only: no array expression in ``advance`` may turn into a parallel region of its own
JIT_SAMPLE = dict(
    JIT,
    parallel={
        "prange": True,
        "comprehension": False,
        "reduction": False,
        "inplace_binop": False,
        "setitem": False,
        "numpy": False,
        "stencil": False,
        "fusion": False,
    },
)

# a layer (or the output layer) is split across the parts only when its weights are at least this
# many floats (1 MB, ~15 us to stream on one core): below that, waking the other core (a futex
# wake-up, 5-10 us here, per layer) costs about as much as it saves
SPLIT_MIN = 1 << 18


# ---------------------------------------------------------------------------------------------
# the mat-vec: y (128,) = x (K,) @ one packed panel (K, 128), in LLVM IR because Numba cannot keep
# an accumulator tile in registers (as in rnngen.kernels.gemm, which has 64-column panels for GEMM)

PANEL = 128  # columns per packed panel: 8 AVX-512 vectors of 16 float32
_NV = PANEL // 16
_AHEAD = 8  # rows prefetched ahead: 4 KB; measured 10-20% faster from L2 than the prefetcher alone
_F32, _I8, _I32, _I64 = ir.FloatType(), ir.IntType(8), ir.IntType(32), ir.IntType(64)
_V16 = ir.VectorType(_F32, 16)


def _declare(mod, name, fnty):
    return mod.globals.get(name) or ir.Function(mod, fnty, name=name)


@intrinsic
def _panel_matvec(typingctx, x, W, woff, y, yoff, K):
    """y[yoff : yoff+128] = x[:K] @ W[woff : woff + 128*K] seen as (K, 128). float32, K >= 1."""
    if not all(isinstance(a, types.Array) and a.dtype == types.float32 for a in (x, W, y)):
        return None
    sig = types.void(x, W, woff, y, yoff, K)

    def codegen(context, builder, signature, args):
        x, W, woff, y, yoff, K = (
            builder.sext(v, _I64) if isinstance(v.type, ir.IntType) and v.type.width < 64 else v
            for v in args
        )
        sx, sw, sy = signature.args[0], signature.args[1], signature.args[3]
        px = context.make_array(sx)(context, builder, x).data
        pw = context.make_array(sw)(context, builder, W).data
        py = context.make_array(sy)(context, builder, y).data
        mod = builder.module
        fma = _declare(mod, "llvm.fma.v16f32", ir.FunctionType(_V16, [_V16] * 3))
        pf_ty = ir.FunctionType(ir.VoidType(), [_I8.as_pointer(), _I32, _I32, _I32])
        pf = _declare(mod, "llvm.prefetch.p0i8", pf_ty)  # (address, read, keep in all levels, data)
        undef = ir.Constant(_V16, ir.Undefined)
        splat = ir.Constant(ir.VectorType(_I32, 16), [0] * 16)
        c64 = lambda v: ir.Constant(_I64, v)  # noqa: E731
        c32 = lambda v: ir.Constant(_I32, v)  # noqa: E731

        pre = builder.block
        loop = builder.append_basic_block("mv.loop")
        done = builder.append_basic_block("mv.done")
        builder.branch(loop)
        builder.position_at_end(loop)
        k = builder.phi(_I64)
        k.add_incoming(c64(0), pre)
        accs = []
        for _ in range(_NV):
            acc = builder.phi(_V16)
            acc.add_incoming(ir.Constant(_V16, None), pre)
            accs.append(acc)
        row = builder.add(woff, builder.mul(k, c64(PANEL)))
        for v in range(_NV):  # one prefetch per 64-byte line; past the end it is harmless
            ptr = builder.gep(pw, [builder.add(row, c64(_AHEAD * PANEL + 16 * v))])
            builder.call(pf, [builder.bitcast(ptr, _I8.as_pointer()), c32(0), c32(3), c32(1)])
        s = builder.load(builder.gep(px, [k]), align=4)
        s = builder.shuffle_vector(builder.insert_element(undef, s, c32(0)), undef, splat)
        new = []
        for v in range(_NV):
            ptr = builder.gep(pw, [builder.add(row, c64(16 * v))])
            w = builder.load(builder.bitcast(ptr, _V16.as_pointer()), align=4)
            new.append(builder.call(fma, [s, w, accs[v]]))
        k1 = builder.add(k, c64(1))
        for acc, val in zip(accs, new, strict=True):
            acc.add_incoming(val, loop)
        k.add_incoming(k1, loop)
        builder.cbranch(builder.icmp_signed("<", k1, K), loop, done)
        builder.position_at_end(done)
        for v in range(_NV):
            ptr = builder.gep(py, [builder.add(yoff, c64(16 * v))])
            builder.store(new[v], builder.bitcast(ptr, _V16.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def _matvec(x, W, woff, y, yoff, NP, K):
    """y[yoff : yoff + 128*NP] = x (K,) @ the NP consecutive packed panels of W from element woff
    (each K rows of 128 contiguous floats). x, W, y float32, C-contiguous."""
    for j in range(NP):
        _panel_matvec(x, W, woff + j * K * PANEL, y, yoff + j * PANEL, K)


# ---------------------------------------------------------------------------------------------
# one step


@njit(**JIT)
def _layer_part(cell, k, p, tok, state, hprev, table0, W_in, W_rec, bias, acc, scratch):
    """Layer k, part p: its gate columns of x @ W_ih (a table0 row at layer 0) and
    hprev @ W_hh, then the cell's step on its units of state[k].

    hprev (H,) is layer k's h before this step (a copy: the other part writes state[k] meanwhile).
    acc (2, P, Gp) scratch: [0] input part, [1] recurrent part; scratch (P, ...) the cell's."""
    P, NP, H = W_rec.shape[1], W_rec.shape[2], W_rec.shape[3]
    Gp = NP * PANEL
    u0, u1 = p * H // P, (p + 1) * H // P
    _matvec(hprev, W_rec, ((k * P + p) * NP) * H * PANEL, acc, (P + p) * Gp, NP, H)
    if k == 0:
        x = table0[tok, p]
    else:
        _matvec(state[k - 1, 0], W_in, (((k - 1) * P + p) * NP) * H * PANEL, acc, p * Gp, NP, H)
        x = acc[0, p]
    cell_step(cell, x, acc[1, p], bias[k, p], state[k], u0, u1, scratch[p])


@njit(**JIT)
def _copy(dst, src):
    for j in range(src.shape[0]):
        dst[j] = src[j]


@njit(**JIT)
def _output_part(p, P, hL, W_out, lpad):
    """Panels p*NP//P : (p+1)*NP//P of lpad = hL (H,) @ W_out, W_out packed (NP, H, 128)."""
    NP, H = W_out.shape[0], W_out.shape[1]
    j0, j1 = p * NP // P, (p + 1) * NP // P
    _matvec(hL, W_out, j0 * H * PANEL, lpad, j0 * PANEL, j1 - j0, H)


@njit(**JIT)
def _add_bias(logits, lpad, b_out):
    for v in range(logits.shape[0]):
        logits[v] = lpad[v] + b_out[v]


@njit(**JIT)
def draw(logits, temp, top_k, top_p):
    """Sample a token id from softmax(logits / temp), restricted to the top-k and the top-p
    nucleus; temp == 0 takes the argmax. Allocates its probability buffer (see ``_draw``)."""
    return _draw(logits, np.empty(logits.shape[0], np.float32), temp, top_k, top_p)


@njit(**JIT)
def _draw(logits, p, temp, top_k, top_p):
    """``draw`` with p (V,) float32 scratch: p = exp((logits - max) / temp), unnormalised, then
    one uniform draw against the running sum (float64). Sorting only with top-k / top-p."""
    V = logits.shape[0]
    if temp <= 0.0:
        return np.argmax(logits)
    m = logits[0]
    for v in range(1, V):
        m = max(m, logits[v])
    t = np.float32(temp)
    for v in range(V):
        p[v] = exp((logits[v] - m) / t)
    if (top_k > 0 and top_k < V) or top_p < 1.0:
        order = np.argsort(-p)
        keep = V if top_k <= 0 else min(top_k, V)
        if top_p < 1.0:
            total = 0.0
            for v in range(V):
                total += p[v]
            acc = 0.0
            for r in range(keep):
                acc += p[order[r]]
                if acc >= top_p * total:
                    keep = r + 1
                    break
        for r in range(keep, V):
            p[order[r]] = 0.0
    total = 0.0
    for v in range(V):
        total += p[v]
    u = np.random.random() * total
    acc = 0.0
    for v in range(V):
        acc += p[v]
        if u < acc and p[v] > 0.0:
            return v
    return np.argmax(p)


@njit(**JIT)
def _reseed(seed):
    np.random.seed(seed)


@njit(**JIT_SAMPLE)
def advance(
    cell,
    feed,
    out,
    state,
    table0,
    W_in,
    W_rec,
    bias,
    W_out,
    b_out,
    acc,
    hprev,
    scratch,
    lpad,
    prob,
    cores,
    logits,
    temp,
    top_k,
    top_p,
    seed,
):
    """Consume the tokens ``feed`` (a prime), then fill ``out`` (n,) with sampled tokens, each fed
    back in. The state (L, S, H) (S vectors per layer, h first) and the next-token logits (V,)
    carry over to the next call. ``seed`` >= 0 reseeds Numba's generator (separate from NumPy's)
    first.

    Weights in the part layout (see the module docstring), P parts, NP panels per part:
    cell                          the cell's ``CellKernels``
    table0 (V, P, Gp)             embed @ W_ih of layer 0
    W_in   (L-1, P, NP, H, 128)   input weights of layers 1..L-1, packed
    W_rec  (L, P, NP, H, 128)     recurrent weights, packed
    bias   (L, P, nb, Gp)         the cell's bias vectors
    W_out  (NPo, H, 128)          output weights, packed;  b_out (V,)
    acc (2, P, Gp), hprev (H,), scratch (P, ...), lpad (128*NPo,), prob (V,): scratch
    cores  (1,) int64             cores[0] > 1: run the parts of large layers in parallel

    One entry point on purpose: each jitted entry costs time to load from Numba's cache, and
    ``rnngen sample`` start-up is what users feel. With P > 1 parts and cores[0] > 1 the parts of
    each large layer run in parallel on Numba's threads (``numba.set_num_threads``; the count is an
    argument, not ``numba.get_num_threads()``, which would keep the kernel out of the cache);
    otherwise one core computes them in turn. The results are the same either way: every output
    column is the same dot product in the same order, whichever core computes it.
    """
    L, P = state.shape[0], W_rec.shape[1]
    par = P > 1 and cores[0] > 1  # else one core computes the parts in turn
    split_rec = par and W_rec[0].size >= SPLIT_MIN  # layer 0 reads W_hh only
    split_up = par and 2 * W_rec[0].size >= SPLIT_MIN  # layers above read W_ih and W_hh
    split_out = par and W_out.size >= SPLIT_MIN
    if seed >= 0:
        _reseed(seed)
    nfeed = feed.shape[0]
    for n in range(nfeed + out.shape[0]):
        if n < nfeed:
            tok = feed[n]
        else:
            tok = _draw(logits, prob, temp, top_k, top_p)
            out[n - nfeed] = tok
        for k in range(L):
            _copy(hprev, state[k, 0])
            if split_rec if k == 0 else split_up:
                for p in prange(P):
                    _layer_part(
                        cell, k, p, tok, state, hprev, table0, W_in, W_rec, bias, acc, scratch
                    )
            else:
                for p in range(P):
                    _layer_part(
                        cell, k, p, tok, state, hprev, table0, W_in, W_rec, bias, acc, scratch
                    )
        if split_out:
            for p in prange(P):
                _output_part(p, P, state[L - 1, 0], W_out, lpad)
        else:
            _output_part(0, 1, state[L - 1, 0], W_out, lpad)
        _add_bias(logits, lpad, b_out)
