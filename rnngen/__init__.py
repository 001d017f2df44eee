"""rnngen: recurrent networks that learn text and write it, on a laptop CPU.

The command line is ``rnngen`` (``rnngen.cli``); the library's layers are ``rnngen.data``,
``rnngen.nn``, ``rnngen.train`` and ``rnngen.generate``, over the kernels of ``rnngen.kernels``.
"""

from rnngen import _env

_env.apply()  # before anything imports NumPy: see rnngen._env

from rnngen._version import __version__  # noqa: E402

__all__ = ["__version__"]
