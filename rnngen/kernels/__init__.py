"""Every @njit function of rnngen lives in this package, so the hot path is easy to find.

Numba options are set once here: ``JIT`` for serial kernels, ``JIT_PAR`` for the few that split
the batch across cores. ``fastmath`` is limited to flags that let LLVM vectorise and contract
multiply-adds; we never enable ``nnan``/``ninf``, so NaN and inf propagate and a diverging loss
stays visible.
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
