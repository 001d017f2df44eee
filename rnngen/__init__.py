"""rnngen: recurrent networks that learn text and write it, on a laptop CPU.

The public Python API (the command line ``rnngen`` is a thin layer over it)::

    import rnngen
    run = rnngen.train(["corpus.txt"], hidden=256, minutes=2)   # rnngen train's options
    model = rnngen.load(run.run_dir)                              # run directory or checkpoint
    for piece in model.generate(prime="ROMEO:", temp=0.8, length=200, seed=7):
        print(piece, end="")
    model.samples(4, temp=0.8, length=100, seed=1)                # four texts, one batch
    model.score(["a line", "another line"])                       # bits, bits/token, perplexity
    model.evaluate("held-out text")                               # loss, bits/token, perplexity
    rnngen.plot_runs([run.run_dir], "curves.png")                 # learning curves
    rnngen.serve([run.run_dir], port=8000)                        # an HTTP API (rnngen[serve])
    g2p = rnngen.train(["words.tsv"], task="seq2seq", tgt_level="word")  # source<TAB>target
    rnngen.load(g2p.run_dir).translate(["ghoti"], beam=5)         # a Seq2SeqModel

Every error a user can cause is a ``rnngen.UserError`` (``UsageError`` for a bad setting), with the
message the command line prints. Nothing here prints; training reports progress to an optional
callback. Importing rnngen is cheap: NumPy and Numba load with the first call that needs them.
"""

from typing import TYPE_CHECKING, Any

from rnngen import _env

_env.apply()  # before anything imports NumPy: see rnngen._env

from rnngen._version import __version__  # noqa: E402
from rnngen.api import TrainEvent, train  # noqa: E402
from rnngen.errors import UsageError, UserError  # noqa: E402

if TYPE_CHECKING:
    from rnngen.generate.score import LineScore
    from rnngen.pictures.draw import plot_runs
    from rnngen.results import EvalResult
    from rnngen.server.serving import serve, serve_app
    from rnngen.tasks.lm.model import LanguageModel
    from rnngen.tasks.models import Run, TrainedModel, load
    from rnngen.tasks.seq2seq.model import Seq2SeqModel

__all__ = [
    "EvalResult",
    "LanguageModel",
    "LineScore",
    "Model",
    "Run",
    "Seq2Seq",
    "Seq2SeqModel",
    "TrainEvent",
    "TrainedModel",
    "UsageError",
    "UserError",
    "__version__",
    "load",
    "plot_runs",
    "serve",
    "serve_app",
    "train",
]

_LAZY = {
    "LanguageModel": "rnngen.tasks.lm.model:LanguageModel",
    "Seq2SeqModel": "rnngen.tasks.seq2seq.model:Seq2SeqModel",
    "TrainedModel": "rnngen.tasks.models:TrainedModel",
    "Run": "rnngen.tasks.models:Run",
    "load": "rnngen.tasks.models:load",
    "LineScore": "rnngen.generate.score:LineScore",
    "EvalResult": "rnngen.results:EvalResult",
    "plot_runs": "rnngen.pictures.draw:plot_runs",
    "serve": "rnngen.server.serving:serve",
    "serve_app": "rnngen.server.serving:serve_app",
    # the names of rnngen 0.1's first releases
    "Model": "rnngen.tasks.lm.model:LanguageModel",
    "Seq2Seq": "rnngen.tasks.seq2seq.model:Seq2SeqModel",
}


def __getattr__(name: str) -> Any:
    """The names whose modules load NumPy, imported at their first use."""
    if name in _LAZY:
        import importlib

        module, _, attribute = _LAZY[name].partition(":")
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'rnngen' has no attribute {name!r}")
