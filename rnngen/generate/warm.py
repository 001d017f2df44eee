"""Compile (or load from Numba's cache) the kernels a command will use, on a tiny model of the
right types, so the compile happens behind the "compiling kernels" notice and not mid-run."""

import subprocess
import threading

import numpy as np


def warm_lm_kernels(
    parts: int,
    cell: str = "lstm",
    dropout: bool = False,
    scoring: bool = False,
    backward: bool = False,
) -> None:
    """Touch the kernels a language model's evaluation uses: the cell's forward and the loss;
    with ``scoring`` the per-token losses of ``rnngen score``; with ``backward`` (training) the
    backward and dropout (the optimizer's: ``rnngen.training.optim.warm_optimizer``)."""
    from rnngen.nn.config import ModelConfig
    from rnngen.nn.lm import LMNetwork

    cfg = ModelConfig(
        vocab_size=5,
        embed=3,
        hidden=4,
        layers=2,
        cell=cell,
        dropout=0.5 if dropout else 0.0,
        dropout_input=0.0,
    )
    model = LMNetwork(cfg, np.float32, parts=max(1, parts))
    model.init_weights(np.random.default_rng(0))
    x = np.zeros((2, 2), np.int32)
    model.loss_sum(x, x, model.new_state(2))
    if scoring:
        model.token_losses(x, x, model.new_state(2))
    if backward:
        model.forward_backward(x, x, model.new_state(2), key=0)


def warm_sampling_kernels(cell: str = "lstm") -> None:
    """Touch the one kernel sampling uses (``rnngen.kernels.sample.advance``) for ``cell``, with
    the argument types ``rnngen.generate.sample.Sampler`` passes, on a 2-layer, 4-unit, 5-token
    model of zeros."""
    from rnngen.kernels import sample as ks
    from rnngen.nn.cells import CELLS

    c = CELLS[cell]
    L, H, V, P, NP = 2, 4, 5, 1, 1
    f = np.zeros
    Gp = NP * ks.PANEL
    state, logits = f((L, len(c.state), H), np.float32), f(V, np.float32)
    w = (
        f((V, P, Gp), np.float32),
        f((L - 1, P, NP, H, ks.PANEL), np.float32),
        f((L, P, NP, H, ks.PANEL), np.float32),
        f((L, P, len(c.biases), Gp), np.float32),
        f((1, H, ks.PANEL), np.float32),
        f(V, np.float32),
        f((2, P, Gp), np.float32),
        f(H, np.float32),
        f((P, max(1, c.scratch * H)), np.float32),
        f(ks.PANEL, np.float32),
        f(V, np.float32),
        np.ones(1, np.int64),
    )
    ks.advance(
        c.kernels, np.zeros(1, np.int64), np.zeros(1, np.int64), state, *w, logits, 1.0, 0, 1.0, 0
    )


def sampling_cached(cell: str) -> bool:
    """Whether Numba's cache holds the sampling kernel for ``cell`` (its index lists the compiled
    signatures; the cell's kernels type is named ``Cell(<name>@...)`` in them)."""
    from rnngen.kernels import sample as ks

    try:
        index = ks.advance._cache._cache_file._load_index()
    except (OSError, AttributeError, EOFError, ValueError):
        return False
    return any(f"Cell({cell}@" in str(key) for key in index)


def prepare_sampling(cell: str = "lstm") -> "subprocess.Popen | None":
    """Compile the sampling kernel for ``cell`` into Numba's cache in a child process at the
    lowest CPU priority, so that the first ``rnngen sample`` after a training run starts warm
    without slowing the training down: the child runs on what training leaves idle, and on
    after the training ends if it must (a new session, so Ctrl-C in the terminal does not reach
    it). None when the kernel is cached already."""
    import os
    import sys

    if sampling_cached(cell):
        return None
    code = (
        f"from rnngen.generate.warm import warm_sampling_kernels; warm_sampling_kernels({cell!r})"
    )
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this rnngen
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: os.nice(19),
        )
    except OSError:  # no process to spare: the first sample compiles it instead
        return None
    threading.Thread(target=child.wait, daemon=True).start()  # reaped when done: no zombie
    return child


def warm_seq2seq_kernels(
    parts: int, cell: str = "lstm", attention: str = "general", training: bool = False
) -> None:
    """Touch the kernels a sequence-to-sequence model uses for ``cell`` and ``attention``: the
    encoder's and decoder's time loops, attention, the search (and with ``training`` the
    backward, dropout and scheduled sampling's greedy pass), on a tiny model."""
    from rnngen.data.vocab import Vocab
    from rnngen.generate.translate import Translator, guided_greedy
    from rnngen.nn.config import ModelConfig
    from rnngen.nn.seq2seq.config import Seq2SeqConfig
    from rnngen.nn.seq2seq.network import Batch, Seq2SeqNetwork

    m = ModelConfig(
        cell=cell, vocab_size=5, embed=3, hidden=4, layers=2, dropout=0.5, dropout_input=0.0
    )
    s = Seq2SeqConfig(attention=attention, src_vocab=4).resolve_with("char", 4)
    model = Seq2SeqNetwork(m, s, np.float32, parts=max(1, parts))
    model.init_weights(np.random.default_rng(0))
    z = np.zeros((2, 2), np.int64)
    batch = Batch(z, np.array([2, 1]), z, z, np.array([2, 1]))
    model.loss_sum(batch)
    if training:
        model.forward_backward(batch, key=0)
        guided_greedy(model, batch, np.ones((2, 2), np.bool_))
    letters = Vocab("char", list("abcd"))  # the boundary is id 4: V = 5
    Translator(model, letters, letters).search_ids([np.zeros(2, np.int32)], 2, 1, 3)
