"""``rnngen serve``: models behind an HTTP API (OpenAI's completions, translate, score) and a
page to play in, until SIGTERM or Ctrl-C."""

from typing import Annotated

import typer

from rnngen.cli.errors import user_errors


def serve(
    models: Annotated[
        list[str],
        typer.Argument(
            metavar="MODEL",
            help="Checkpoint files or run directories, each served under its run directory's "
            "name, or NAME=PATH to name it.",
            show_default=False,
        ),
    ],
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on (another than 127.0.0.1 lets other machines in: give "
            "--token with it)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one).", min=0)] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            metavar="SECRET",
            envvar="RNNGEN_SERVE_TOKEN",
            help="Every request then needs 'Authorization: Bearer SECRET' (or set "
            "$RNNGEN_SERVE_TOKEN, which ps does not show).",
            show_default="none",
        ),
    ] = None,
    max_tokens: Annotated[
        int, typer.Option(help="Largest max_tokens a completion may ask for.", min=1)
    ] = 4096,
    max_prompt: Annotated[
        int,
        typer.Option(
            help="Longest prompt, in tokens (and input to translate or score, in characters).",
            min=1,
        ),
    ] = 8192,  # fmt: skip
    max_inputs: Annotated[
        int, typer.Option(help="Most inputs in one translate or score request.", min=1)
    ] = 256,
    max_body: Annotated[
        int, typer.Option(help="Largest request body, in bytes.", min=1)
    ] = 1_000_000,
    max_concurrent: Annotated[
        int, typer.Option(help="Requests running at once; more are answered 429.", min=1)
    ] = 64,
    timeout: Annotated[
        float, typer.Option(help="Seconds a request may run; longer is answered 408.", min=0.001)
    ] = 600.0,
    stream_interval: Annotated[
        float,
        typer.Option(
            help="Seconds between two chunks of a stream, at least (the tokens of the meantime "
            "go together; 0: a chunk per token).",
            min=0,
        ),
    ] = 0.02,
    grace: Annotated[
        float,
        typer.Option(
            help="Seconds the requests in flight get to finish after SIGTERM or Ctrl-C.", min=0
        ),
    ] = 30.0,  # fmt: skip
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="No access log (the start-up line, warnings and errors still go to stderr).",
        ),
    ] = False,  # fmt: skip
) -> None:
    """Serve models over HTTP: OpenAI's completions API (POST /v1/completions, streamed or not;
    GET /v1/models), POST /v1/translate for seq2seq models, POST /v1/score, GET /health, and a
    page to play in at /. Concurrent requests are decoded together in one batch. Access log on
    stderr, one line per request; SIGTERM or Ctrl-C finishes the requests in flight, then
    exits 0."""
    import signal

    from rnngen.server.extra import needs

    # SIGTERM before the server listens (loading the models): stop, as after it, with status 0
    signal.signal(signal.SIGTERM, _stop_now)
    with user_errors():
        needs()
        from rnngen.server.protocol import Limits
        from rnngen.server.serving import serve as run

        limits = Limits(
            max_body=max_body,
            max_tokens=max_tokens,
            max_prompt=max_prompt,
            max_inputs=max_inputs,
            concurrency=max_concurrent,
            timeout=timeout,
            stream_interval=stream_interval,
        )
        run(models, host, port, token, limits=limits, quiet=quiet, grace=grace)


def _stop_now(signum, frame) -> None:  # noqa: ARG001
    raise SystemExit(0)
