"""``rnngen sample``: generate text from a trained model, streamed to stdout as it comes."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import compiling_status, info, warn, write
from rnngen.cli.params import Shared, settings_options
from rnngen.errors import ConfigError
from rnngen.generate.config import SampleConfig


@settings_options(SampleConfig, Shared.only("threads", "quiet"))
def sample(
    model: Annotated[
        Path | None,
        typer.Argument(help="Checkpoint file or run directory (default: the newest under ./runs)."),
    ] = None,
    num: Annotated[int, typer.Option(help="Number of samples, separated by a blank line.")] = 1,
    *,
    settings: SampleConfig,
    shared: Shared,
) -> None:
    """Generate text from a trained model; it streams to stdout as it is generated."""
    import dataclasses

    from rnngen.generate.sample import Sampler
    from rnngen.train import checkpoint
    from rnngen.warmup import warm_sampling_kernels

    quiet = shared.quiet
    with user_errors():
        settings.validate()
        shared.validate()
        if num < 1:
            raise ConfigError("num", f"must be at least 1 (got {num})")
        path = checkpoint.resolve(model)
        ckpt = checkpoint.load(path)
        ckpt.require("lm", "rnngen sample")
        sampler = Sampler(ckpt, threads=shared.threads)
        _, unknown = sampler.encode_prime(settings.prime)
        if model is None or Path(model).is_dir():
            info(f"sampling from {path}", quiet)
        if unknown:
            warn("prime words not in the vocabulary, read as <unk>: "
                 + ", ".join(repr(w) for w in unknown[:10]))  # fmt: skip
        # no BLAS inside the sampling kernel: its threads are Numba's, set by the Sampler
        with compiling_status(quiet):
            warm_sampling_kernels(ckpt.model_cfg.cell)
        for i in range(num):
            if i:
                write("\n\n")
            seed = None if settings.seed is None else settings.seed + i
            last = "\n"
            for piece in sampler.generate(dataclasses.replace(settings, seed=seed)):
                write(piece)
                last = piece[-1:] or last
            if not last.endswith("\n") and sys.stdout.isatty():
                write("\n")
    if Path(sys.argv[0]).name == "rnngen":
        # The text is out and flushed. Skip the interpreter's teardown: with Numba's kernel
        # loaded it takes ~0.25 s, a quarter of this command's warm start-up. Only when this
        # process is the rnngen command itself, never when the CLI is called from Python.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
