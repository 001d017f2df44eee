"""Text generation from a checkpoint: ``Sampler.generate(...)`` yields text pieces as they come."""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rnngen.cells import GATES, prefix
from rnngen.checkpoint import Checkpoint
from rnngen.kernels import sample as ks
from rnngen.vocab import EOS, Vocab

CELL_CODES = {"lstm": ks.LSTM, "gru": ks.GRU, "rnn-tanh": ks.RNN_TANH, "rnn-relu": ks.RNN_RELU}


class PrimeError(ValueError):
    """The prime text has tokens the model cannot read."""


@dataclass
class SampleConfig:
    length: int = 1000  # tokens to generate after the prime
    temp: float = 1.0  # 0 = argmax
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    prime: str = ""
    seed: int | None = None
    stop: str | None = None  # end the sample where this string first appears (not printed)


class Sampler:
    """Batch-1 inference with the weights of one checkpoint."""

    def __init__(self, ckpt: Checkpoint) -> None:
        cfg = ckpt.model_cfg
        p = ckpt.params
        L, H = cfg.layers, cfg.hidden
        G = GATES[cfg.cell] * H
        f32 = np.float32
        pre = prefix(cfg.cell)
        bias_in, bias_rec = ("b_ih", "b_hh") if cfg.cell == "gru" else ("b", None)

        def stack(name: str, k0: int, shape: tuple[int, ...]) -> np.ndarray:
            rows = [p[f"{pre}{k}.{name}"] for k in range(k0, L)] or [np.zeros(shape, f32)]
            return np.ascontiguousarray(np.stack(rows), f32)

        self.vocab: Vocab = ckpt.vocab
        self.L, self.H = L, H
        self.cell = CELL_CODES[cfg.cell]
        self.table0 = np.ascontiguousarray(
            p["embed"] @ p[f"{pre}0.W_ih"] + p[f"{pre}0.{bias_in}"], f32
        )  # (V, G): layer 0's input product is a row lookup
        self.W_ih_up = stack("W_ih", 1, (H, G))
        self.b_up = stack(bias_in, 1, (G,))
        self.W_hh = stack("W_hh", 0, (H, G))
        self.b_hh = stack(bias_rec, 0, (G,)) if bias_rec else np.zeros((L, G), f32)
        W_out = p["embed"].T if cfg.tie else p["out.W"]
        self.W_out = np.ascontiguousarray(W_out, f32)
        self.b_out = np.ascontiguousarray(p["out.b"], f32)

    def _weights(self):
        return (self.table0, self.W_ih_up, self.b_up, self.W_hh, self.b_hh, self.W_out,
                self.b_out)  # fmt: skip

    def encode_prime(self, prime: str) -> tuple[np.ndarray, list[str]]:
        """Token ids of the prime, and the words mapped to <unk> (word level).

        Characters the model does not know raise PrimeError naming them."""
        v = self.vocab
        unknown = v.unknown(prime)
        if unknown and v.level == "char":
            shown = ", ".join(repr(ch) for ch in sorted(unknown))
            raise PrimeError(f"the prime has characters the model does not know: {shown}")
        return v.encode(prime, close_last_line=False).astype(np.int64), unknown

    def generate(self, cfg: SampleConfig) -> Iterator[str]:
        """Yield the prime, then generated text in small pieces, until ``length`` tokens or the
        stop string. Deterministic for a given seed."""
        ids, _ = self.encode_prime(cfg.prime)
        h = np.zeros((self.L, self.H), np.float32)
        c = np.zeros((self.L, self.H), np.float32)
        logits = self.b_out.copy()  # the zero state's prediction, if there is no start token
        w = self._weights()
        start = "\n" if self.vocab.level == "char" else EOS
        if start in self.vocab.stoi:  # begin as after a line break, as the text would
            ids = np.concatenate([[self.vocab.stoi[start]], ids]).astype(np.int64)
        seed = cfg.seed if cfg.seed is not None else np.random.SeedSequence().entropy % 2**32
        seed = int(seed) % 2**32
        at_line_start = cfg.prime == "" or cfg.prime.endswith("\n")
        decode = self.vocab.decoder()
        decode.at_line_start = at_line_start
        if cfg.prime:
            yield cfg.prime
        pending = ""  # held back while it could be the start of the stop string
        done, chunk = 0, 8
        while done < cfg.length:
            n = min(chunk, cfg.length - done)
            out = np.empty(n, np.int64)
            ks.advance(ids, out, h, c, *w, logits, self.cell, float(cfg.temp), int(cfg.top_k),
                       float(cfg.top_p), seed)  # fmt: skip
            ids, seed = ids[:0], -1  # the prime is consumed and the generator seeded once
            done += n
            chunk = min(chunk * 2, 256)  # first text appears fast, then fewer calls
            text = pending + decode(out)
            if cfg.stop:
                cut = text.find(cfg.stop)
                if cut >= 0:
                    if cut:
                        yield text[:cut]
                    return
                keep = min(len(cfg.stop) - 1, len(text))
                pending, text = (text[len(text) - keep :], text[: len(text) - keep])
            if text:
                yield text
        if pending:
            yield pending
