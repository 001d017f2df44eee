"""rnngen: recurrent language models on a laptop CPU."""

import os as _os

# Idle thread pools sleep instead of spinning (see rnngen.threads): on 2 cores a spinning pool
# stole half a core from the one with work and a training step ran 2-4x slower. The libraries read
# these when they load, so they are set before anything of ours imports NumPy; a value the user
# already set wins. Kept in sync with rnngen.threads.ENV_DEFAULTS (a test checks).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__version__ = "0.1.0"
