"""The environment rnngen sets for its native libraries before they load (``rnngen._env``): idle
thread pools sleep instead of spinning. A value the user set wins."""

import json
import os
import subprocess
import sys

from rnngen import _env

PROBE = """
import json, os
import rnngen
import numpy  # after rnngen: the variables must be set before NumPy's OpenBLAS loads
print(json.dumps({k: os.environ.get(k) for k in %r}))
"""


def _probe(env: dict) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in _env.ENV_DEFAULTS}
    code = PROBE % list(_env.ENV_DEFAULTS)
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_importing_rnngen_sets_the_defaults():
    assert _probe({}) == {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}


def test_a_value_the_user_set_wins():
    got = _probe({"OMP_WAIT_POLICY": "ACTIVE"})
    assert got == {"OMP_WAIT_POLICY": "ACTIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}
