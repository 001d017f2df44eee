"""``rnngen serve``: trained models behind an HTTP API that existing clients speak (OpenAI's
completions, rnngen's translate and score), with a page to play in.

- ``extra``: whether uvicorn and Starlette are installed
- ``protocol``: requests checked into dataclasses, OpenAI's answer and error shapes
- ``models``: the models served and their names
- ``scheduler``: continuous batching on one thread that owns the models
- ``work``: translate and score requests
- ``asgi``: the Starlette app (routes, token, limits, access log)
- ``serving``: uvicorn, the start-up line, signals and the graceful stop

``rnngen.serve(models, ...)`` runs a server; ``rnngen.serve_app(models, ...)`` is the ASGI app
alone, to mount in another server. ``uvicorn rnngen.server:app`` serves the models that
``$RNNGEN_SERVE_MODELS`` names (comma-separated paths or ``NAME=PATH``). Importing this package
needs neither uvicorn nor Starlette: ``needs`` says what to install."""

from typing import Any

from rnngen.errors import UsageError
from rnngen.server.extra import INSTALL, needs

__all__ = ["INSTALL", "needs"]


def __getattr__(name: str) -> Any:
    """``app``: the ASGI app of ``$RNNGEN_SERVE_MODELS``, made at its first use."""
    if name == "app":
        import os

        from rnngen.server.serving import serve_app

        specs = [s for s in os.environ.get("RNNGEN_SERVE_MODELS", "").split(",") if s.strip()]
        if not specs:
            raise UsageError("set RNNGEN_SERVE_MODELS to the models to serve (comma-separated)")
        app = serve_app(specs, token=os.environ.get("RNNGEN_SERVE_TOKEN") or None)
        globals()["app"] = app
        return app
    raise AttributeError(f"module 'rnngen.server' has no attribute {name!r}")
