"""Running the app on uvicorn: the models loaded and their kernels warmed, the socket bound
(port 0: a free one), one start-up line with the URL on stderr, and a stop that finishes what it
started: SIGTERM or Ctrl-C stops accepting, lets the streams in flight finish (up to ``grace``
seconds), then returns (the command exits 0). A second Ctrl-C stops at once."""

import contextlib
import ipaddress
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from rnngen.server.extra import needs
from rnngen.server.protocol import Limits


class OneLine(logging.Filter):
    """uvicorn's own log records as one line each: an exception's type and message in place of
    its traceback (a user's mistake never reaches here; what does is said in one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            e = record.exc_info[1]
            record.msg = f"{record.getMessage().rstrip()}: {type(e).__name__}: {e}"
            record.args = ()
            record.exc_info = record.exc_text = None
        record.stack_info = None
        return True


LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line": {"()": OneLine}},
    "formatters": {"plain": {"format": "rnngen serve: %(levelname)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
            "filters": ["one_line"],
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "uvicorn.error": {"level": "WARNING"},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


def serve_app(
    models: Any,
    token: str | None = None,
    limits: Limits | None = None,
    log: Any = None,
    warm: bool = True,
) -> Any:
    """The ASGI app serving ``models`` (run directories, checkpoint files, ``NAME=PATH``
    strings, a {name: path} dict, or loaded models), to run under any ASGI server or mount in
    another app. ``log``: called with an access-log line per request (None: none)."""
    needs()
    from rnngen.server.asgi import create_app
    from rnngen.server.models import load_models

    served = load_models(models)
    if warm:
        from rnngen.generate.score import MAX_BATCH

        for s in served:  # the kernels load now, not in the middle of the first requests
            if s.is_lm:
                s.model.warm("batch")
                s.model.warm("score", MAX_BATCH)
            else:
                s.model.warm("translate")
    return create_app(served, limits, token, log)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, token: str | None) -> str | None:
    """The warning for a server others can reach without a token."""
    if token or is_loopback(host):
        return None
    return (
        f"rnngen serve: warning: listening on {host} without --token: anyone who can reach "
        "this machine can use the models (give --token SECRET, or --host 127.0.0.1)"
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        from rnngen.errors import UserError

        raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class Running:
    """A server running in a thread of this process (``rnngen.serve(..., background=True)``):
    ``url``, ``stop()``; also a context manager."""

    def __init__(self, server: Any, thread: threading.Thread, url: str) -> None:
        self.server, self.thread, self.url = server, thread, url

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> "Running":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(
    models: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    *,
    limits: Limits | None = None,
    quiet: bool = False,
    grace: float = 30.0,
    background: bool = False,
) -> Running | None:
    """Serve ``models`` over HTTP (see ``serve_app`` for what they may be) until SIGTERM or
    Ctrl-C, then return; with ``background=True``, in a thread of this process, returning a
    ``Running`` (``.url``, ``.stop()``) once it listens. The start-up line, warnings and (unless
    ``quiet``) an access-log line per request go to stderr. ``port=0`` takes a free port."""
    needs()
    import uvicorn

    warning = exposure_warning(host, token)
    if warning:
        _say(warning)
    log = None if quiet else _say
    app = serve_app(models, token, limits, log)
    sock = bind(host, port)
    url = url_of(sock)
    names = ", ".join(app.service.models)
    config = uvicorn.Config(
        app,
        log_level="warning",
        log_config=LOG_CONFIG,
        access_log=False,
        timeout_graceful_shutdown=grace,
        lifespan="on",
        server_header=False,
    )
    server = Server(config, app.service, grace)
    server.announce = (
        f"rnngen serve: {url}/ serving {names} (OpenAI API at {url}/v1; Ctrl-C to stop)"
    )
    if not background:
        server.run(sockets=[sock])
        return None
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)
    return Running(server, thread, url)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _server_class() -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        """uvicorn's server with rnngen's start-up line and stop: the first SIGTERM or SIGINT
        drains, a second SIGINT stops at once; the signal is not raised again after the stop
        (uvicorn's own does that, and the process would then die by it instead of exiting 0)."""

        def __init__(self, config: Any, service: Any, grace: float) -> None:
            super().__init__(config)
            self.service, self.grace = service, grace
            self.announce = ""

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started and self.announce:
                _say(self.announce)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            sigs = (signal.SIGINT, signal.SIGTERM)
            before = {sig: signal.signal(sig, self._stop_signal) for sig in sigs}
            try:
                yield
            finally:
                for sig, handler in before.items():
                    signal.signal(sig, handler)

        def _stop_signal(self, sig: int, frame: Any) -> None:
            if self.should_exit:
                if sig == signal.SIGINT:
                    self.force_exit = True
                return
            self.should_exit = True
            self.service.draining = True
            active = self.service.slots.active
            running = f"finishing {active} request{'s' * (active != 1)} (up to {self.grace:g} s)"
            _say(f"rnngen serve: stopping; {running if active else 'nothing running'}")

    return _Server


def Server(config: Any, service: Any, grace: float) -> Any:  # noqa: N802 (a class, made late)
    return _server_class()(config, service, grace)
