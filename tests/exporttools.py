"""Small trained language models of every cell at character and word level, trained by the real
``rnngen train`` command, and what ``rnngen sample`` writes from them: what the C and web
exports' tests compare against."""

import functools
import random
from pathlib import Path

import numpy as np
from clitools import err, out, run, trained_once

# (cell, level): every cell at character level, and every kind of recurrence at word level
MODELS = [
    ("lstm", "char"),
    ("gru", "char"),
    ("rnn-tanh", "char"),
    ("rnn-relu", "char"),
    ("lstm", "word"),
    ("gru", "word"),
    ("rnn-tanh", "word"),
]
SMALL = ["--hidden", "32", "--embed", "16", "--seq-len", "32", "--batch-size", "16"]
PRIMES = {"char": "the dog s", "word": "a bird sat"}


def corpus(n_lines: int = 600, seed: int = 7) -> str:
    """A learnable text with some choice in it, so that argmax decoding does not settle at once
    into one line, and the models see a line break (char) and more than one word per line."""
    r = random.Random(seed)
    who = ["the cat", "the dog", "a bird", "my friend", "the old man", "a child"]
    did = ["sat on", "looked at", "ran to", "sang in", "slept by", "walked past"]
    what = ["the mat.", "the log.", "the tree.", "the house!", "a red door.", "the river?"]
    return "".join(f"{r.choice(who)} {r.choice(did)} {r.choice(what)}\n" for _ in range(n_lines))


def train_models(where: Path, models: list[tuple[str, str]] = MODELS) -> dict:
    """(cell, level) -> the run directory of a small model trained on ``corpus()``."""
    (where / "corpus.txt").write_text(corpus())
    runs = {}
    for cell, level in models:
        name = f"{cell}-{level}"
        p = run(
            "train", "corpus.txt", *SMALL, "--cell", cell, "--level", level,
            "--steps", "120", "--lr", "0.01", "--seed", "1", "--out", name, "--quiet",
            cwd=where,
        )  # fmt: skip
        assert p.returncode == 0, err(p)
        runs[(cell, level)] = where / name
    return runs


def shared_models(tmp_path_factory) -> dict:
    """``train_models`` once per test session: the C and the web tests (each in its own worker
    under pytest-xdist) share the models, trained by whichever asks first while the other waits."""
    root = trained_once(tmp_path_factory, "export-models", train_models)
    return {(cell, level): root / f"{cell}-{level}" for cell, level in MODELS}


@functools.cache
def sample(model: Path, prime: str, length: int = 200, *more: str) -> str:
    """What ``rnngen sample --temp 0`` writes (the prime, then the continuation); remembered, as
    several tests compare with the same."""
    p = run("sample", str(model), "--temp", "0", "--length", str(length), "--prime", prime, *more)
    assert p.returncode == 0, err(p)
    return out(p)


def reference_int8_argmax(model: Path, prime: str, length: int) -> str:
    """The argmax continuation of the int8 model the exports write, run in NumPy by the plain
    model's reference step with every matrix dequantized (q * scale) as the exports store it."""
    import rnngen
    from rnngen.export.plain import plain_model, quantize

    m = plain_model(rnngen.load(model))
    dq = lambda W, axis: (lambda q, s: q * (s[None, :] if axis else s[:, None]))(  # noqa: E731
        *quantize(W, axis)
    )
    if m.table_is_smaller():
        m.table0 = dq(m.table0, 0).astype(np.float32)
    else:
        m.embed = dq(m.embed, 0).astype(np.float32)
        m.layers[0].W_ih = dq(m.layers[0].W_ih, 1).astype(np.float32)
        m.table0 = (m.embed @ m.layers[0].W_ih).astype(np.float32)
    for k, layer in enumerate(m.layers):
        if k:
            layer.W_ih = dq(layer.W_ih, 1).astype(np.float32)
        layer.W_hh = dq(layer.W_hh, 1).astype(np.float32)
    m.W_out = dq(m.W_out, 1).astype(np.float32)
    vocab = rnngen.load(model).checkpoint.vocab
    ids = list(vocab.encode(prime, close_last_line=False))
    feed = ([] if m.start_token is None else [m.start_token]) + ids
    state, logits = m.new_state(), m.b_out.copy()
    for t in feed:
        logits = m.step(state, t)
    decode = vocab.decoder()
    decode.at_line_start = prime == "" or prime.endswith("\n")
    text = []
    for i in range(length):
        tok = int(np.argmax(logits))
        text.append(decode([tok]))
        if i + 1 < length:
            logits = m.step(state, tok)
    return prime + "".join(text)


def distinct(text: str) -> int:
    """How many different characters ``text`` holds: a continuation worth comparing has several."""
    return len(set(text))
