"""The jitted machinery of rnngen, so the hot path is easy to find: the time loops written once for
every cell (``timeloop``, calling each cell's math through ``cellcall``), the float32 GEMM inside
them (``gemm``), loss and embedding, dropout, the optimizers, the activations (``mathfn``) and
batch-1 sampling (``sample``). A cell's own step math is jitted in its module of
``rnngen.nn.cells``, which is the only other place with @njit: a cell is written once, in one
module.

Numba options are set once here, and the cells use them too: ``JIT`` for serial kernels, ``JIT_PAR``
for the few that split the batch across cores. ``fastmath`` is limited to flags that let LLVM
vectorise and contract multiply-adds; we never enable ``nnan``/``ninf``, so NaN and inf propagate
and a diverging loss stays visible.
"""

_FAST = {"contract", "reassoc", "nsz", "arcp"}
JIT = dict(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
JIT_PAR = dict(JIT, parallel=True)

# Numba warns that variables of the inlined activation overloads are "not in scope" inside parfors
# on the first compile; the code is correct (checked by the gradient tests) and a newcomer's first
# run should not open with six warnings.
import warnings as _warnings  # noqa: E402

from numba.core.errors import NumbaIRAssumptionWarning as _IRWarning  # noqa: E402

_warnings.filterwarnings("ignore", category=_IRWarning)
