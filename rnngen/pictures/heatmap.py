"""What a model sees in a text, as data for the heatmap page (``rnngen.pictures.page``): every
token's surprisal and the model's top-5 predictions for it, every hidden unit's activation (h, and
the cell state c of an LSTM) after reading it, and the units that best track something visible in
the text, as in Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding Recurrent
Networks": inside quotes, inside brackets, position in the line, inside a word.

The model reads the text one token at a time from the state it starts texts in (after a line
break), the batch-1 forward pass of training (``BatchGenerator.step``).
"""

import base64
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnngen.data.vocab import EOS
from rnngen.errors import DataError
from rnngen.generate.batch import BatchGenerator

TOP = 5  # predictions shown per token
RANKED = 8  # units listed per feature
OPEN, CLOSE = "([{", ")]}"


@dataclass
class Reading:
    """The model's reading of a text of T tokens (L layers, H units, S state vectors)."""

    tokens: list[str]  # (T,) the tokens as they appear in the text
    bits: np.ndarray  # (T,) surprisal of each token, in bits
    top: list[list[tuple[str, float]]]  # (T, 5) the predictions for each token
    states: np.ndarray  # (T, L, S, H) float32: the state after reading each token
    names: tuple[str, ...]  # the S state vectors' names: ("h", "c") for the LSTM
    level: str  # "char", "word" or "bpe"


def read(gen: BatchGenerator, text: str, max_tokens: int, source: str) -> Reading:
    """Run the model over ``text`` (DataError: characters it does not know, or more than
    ``max_tokens`` tokens)."""
    vocab = gen.vocab
    unknown = vocab.unknown(text)
    if unknown and vocab.level == "char":
        shown = ", ".join(repr(ch) for ch in unknown[:10])
        raise DataError(f"{source}: has characters the model does not know: {shown}")
    ids = vocab.encode(text, close_last_line=False).astype(np.int64)
    if len(ids) == 0:
        raise DataError(f"{source}: is empty; give some text to read")
    if len(ids) > max_tokens:
        raise DataError(
            f"{source}: has {len(ids):,} tokens, more than --max-tokens "
            f"{max_tokens:,}; give a shorter text or a larger --max-tokens"
        )  # noqa: E501
    state, logits = gen.primed(np.zeros(0, np.int64), 1)
    T, L, H = len(ids), state.h.shape[0], state.h.shape[2]
    states = np.empty((T, L, len(state.arrays), H), np.float32)
    bits = np.empty(T)
    top = []
    words = text.split() if vocab.level == "word" else None
    for i, tok in enumerate(ids):
        z = logits[0].astype(np.float64)
        z -= z.max()
        logp = z - math.log(np.exp(z).sum())
        bits[i] = -logp[tok] / math.log(2)
        best = np.argsort(-logp, kind="stable")[:TOP]
        top.append([(vocab.shown(j), float(np.exp(logp[j]))) for j in best])
        logits = gen.step(np.array([tok]), state)
        for s, a in enumerate(state.arrays):
            states[i, :, s] = a[:, 0]
    if words is not None:  # as written, not <unk>; <eos> is the line end
        it = iter(words)
        tokens = ["\n" if vocab.itos[t] == EOS else next(it, vocab.itos[t]) for t in ids]
    else:  # characters, or the text each subword spans
        tokens = vocab.spans(ids)
    return Reading(tokens, bits, top, states, tuple(state.names), vocab.level)


def features(tokens: list[str]) -> dict[str, np.ndarray]:
    """Per token, after reading it: inside double quotes, inside brackets, position in the
    line, inside a word."""
    T = len(tokens)
    quote, bracket, column, word = (np.zeros(T) for _ in range(4))
    q, depth, col = False, 0, 0
    for i, t in enumerate(tokens):
        for ch in t:
            if ch == '"':
                q = not q
            elif ch in OPEN:
                depth += 1
            elif ch in CLOSE:
                depth = max(0, depth - 1)
            col = 0 if ch == "\n" else col + 1
        if "\n" in t:
            q = False  # a quote does not run on past its line
        quote[i], bracket[i], column[i] = q, depth > 0, col
        word[i] = t.strip().isalnum()
    return {
        "inside quotes": quote,
        "inside brackets": bracket,
        "position in line": column,
        "inside a word": word,
    }


def ranked_units(
    states: np.ndarray, names: tuple[str, ...], feats: dict[str, np.ndarray]
) -> dict[str, list[dict]]:
    """For each feature, the RANKED units whose activation correlates best with it (Pearson's r
    over the tokens, by its absolute value): layer, state vector, unit, r."""
    T, L, S, H = states.shape
    X = states.reshape(T, -1).astype(np.float64)
    X = X - X.mean(axis=0)
    sx = np.sqrt((X**2).sum(axis=0))
    out: dict[str, list[dict]] = {}
    for name, f in feats.items():
        y = f - f.mean()
        sy = math.sqrt(float((y**2).sum()))
        if sy == 0.0:
            out[name] = []  # the text never changes it: nothing to track
            continue
        r = (X.T @ y) / np.where(sx > 0, sx * sy, np.inf)
        order = np.argsort(-np.abs(r), kind="stable")[:RANKED]
        out[name] = [
            {
                "layer": int(k // (S * H)),
                "state": names[(k // H) % S],
                "unit": int(k % H),
                "r": round(float(r[k]), 3),
            }
            for k in order
        ]
    return out


def page_data(reading: Reading, source: str, model_path: Path | None) -> dict:
    """The JSON the page reads: tokens, surprisal, predictions, activations (int8 per unit, scaled
    by the unit's largest absolute value, base64), and the ranked units."""
    T, L, S, H = reading.states.shape
    scale = np.abs(reading.states).max(axis=0)  # (L, S, H)
    scale[scale == 0] = 1.0
    q = np.round(reading.states / scale * 127).astype(np.int8)  # (T, L, S, H)
    blocks = {
        f"{k}.{name}": base64.b64encode(np.ascontiguousarray(q[:, k, s]).tobytes()).decode()
        for k in range(L)
        for s, name in enumerate(reading.names)
    }
    return {
        "source": source,
        "model": str(model_path) if model_path else "",
        "level": reading.level,
        "layers": L,
        "hidden": H,
        "states": list(reading.names),
        "tokens": reading.tokens,
        "bits": [round(float(b), 3) for b in reading.bits],
        "top": [[[t, round(p, 4)] for t, p in row] for row in reading.top],
        "activations": blocks,
        "ranked": ranked_units(reading.states, reading.names, features(reading.tokens)),
    }


def heatmap_page(
    gen: BatchGenerator, text: str, max_tokens: int, source: str, model_path: Path | None
) -> str:
    """The self-contained HTML page of ``text`` read by the model."""
    from rnngen.pictures.page import render

    return render(page_data(read(gen, text, max_tokens, source), source, model_path))
