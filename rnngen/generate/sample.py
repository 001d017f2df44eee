"""Text generation from a checkpoint: ``Sampler.generate(...)`` yields text pieces as they come."""

import time
from collections.abc import Iterator

import numba
import numpy as np

from rnngen.checkpoint import Checkpoint
from rnngen.data.vocab import Vocab
from rnngen.errors import PrimeError
from rnngen.generate.config import SampleConfig
from rnngen.generate.text import decoder_after, resolve_seed, start_ids, stream_text
from rnngen.kernels import sample as ks
from rnngen.kernels.threads import available_cores
from rnngen.nn.cells import CELLS
from rnngen.nn.config import ModelConfig
from rnngen.nn.lm import layers_of
from rnngen.nn.params import NamedArrays


def part_layout(a: np.ndarray, gates: int, P: int) -> np.ndarray:
    """(..., G) gate-indexed array -> (..., P, Gp) in the part layout of
    ``rnngen.kernels.sample``: part p holds the gate columns of units p*H//P : (p+1)*H//P, gate
    blocks kept, zero-padded to Gp, the widest part rounded up to whole panels."""
    H = a.shape[-1] // gates
    bounds = [p * H // P for p in range(P + 1)]
    widest = gates * max(hi - lo for lo, hi in zip(bounds, bounds[1:], strict=False))
    Gp = (widest + ks.PANEL - 1) // ks.PANEL * ks.PANEL
    blocks = a.reshape(*a.shape[:-1], gates, H)  # (..., gates, H)
    out = np.zeros((*a.shape[:-1], P, Gp), np.float32)
    for p in range(P):
        u0, u1 = bounds[p], bounds[p + 1]
        out[..., p, : gates * (u1 - u0)] = blocks[..., u0:u1].reshape(*a.shape[:-1], -1)
    return out


def default_threads(cfg: ModelConfig, cores: int) -> int:
    """Parts to split a model into for sampling at batch 1: two when some layer's weights reach
    ``ks.SPLIT_MIN`` floats (1 MB: streaming half of them on each core can then save more than
    waking the second core costs), else one. Whether the second core does help is measured while
    sampling (``ThreadChooser``); bench/bench_sample.py shows both."""
    G = CELLS[cfg.cell].gates * cfg.hidden
    biggest = max(cfg.hidden * G * min(2, cfg.layers), cfg.hidden * cfg.vocab_size)
    return 2 if cores >= 2 and biggest >= ks.SPLIT_MIN else 1


class ThreadChooser:
    """Whether the next chunk of tokens runs its P parts on P cores or on one.

    Two cores beat one only while the second core is free: each layer waits for both halves, so a
    second thread that the OS deschedules (another busy process) stalls every token, and on a
    loaded machine 2 threads measured 2x slower than 1. The results are the same either way, so
    the choice is made by timing: the first chunks alternate between the two, then the faster one
    (median time per token of its last ``keep`` chunks, so one lucky chunk does not flip it) runs,
    and now and then a chunk tries the other again, as the machine's load changes: after
    ``probe_every`` chunks, an interval that doubles (up to 4x) while the probes lose, so a clear
    loser costs little."""

    def __init__(self, parts: int, keep: int = 3, probe_every: int = 16) -> None:
        self.parts, self.keep, self.probe_every = parts, keep, probe_every
        self.cost: dict[int, list[float]] = {parts: [], 1: []}  # seconds per token, recent
        self.best = parts
        self.interval = probe_every
        self.until_probe = probe_every

    def pick(self) -> int:
        """Threads for the next chunk: 1 or ``parts``."""
        if self.parts == 1:
            return 1
        fewer = min(self.cost, key=lambda t: len(self.cost[t]))
        if len(self.cost[fewer]) < 2:  # explore: parts, 1, parts, 1
            return fewer
        self.until_probe -= 1
        if self.until_probe <= 0:
            return 1 if self.best == self.parts else self.parts
        return self.best

    def record(self, threads: int, seconds_per_token: float) -> None:
        costs = self.cost[threads]
        costs.append(seconds_per_token)
        del costs[: -self.keep]
        if all(len(c) >= 2 for c in self.cost.values()):
            best = min(self.cost, key=lambda t: float(np.median(self.cost[t])))
            if self.until_probe <= 0:  # that was a probe: back off while probes lose
                lost = best == self.best
                self.interval = min(2 * self.interval, 4 * self.probe_every) if lost else 0
                self.interval = self.interval or self.probe_every
                self.until_probe = self.interval
            self.best = best


class Sampler:
    """Batch-1 inference with the weights of one checkpoint, packed for streaming (see
    ``rnngen.kernels.sample``). ``threads``: the hidden units are split into that many parts, one
    per core. None: ``default_threads`` parts, and each chunk of tokens runs on one core or on all
    of them, whichever ``ThreadChooser`` finds faster."""

    def __init__(self, ckpt: Checkpoint, threads: int | None = None) -> None:
        cfg = ckpt.model_cfg
        embedding, layers, output = layers_of(cfg)  # bound to the checkpoint's arrays: no copy
        weights = NamedArrays(ckpt.params)
        for part in (embedding, *layers, output):
            part.bind(weights, weights)
        L, H = cfg.layers, cfg.hidden
        self.cell = CELLS[cfg.cell]
        gates = self.cell.gates
        f32 = np.float32
        cores = min(available_cores(), numba.config.NUMBA_NUM_THREADS)
        P = max(1, min(int(threads or default_threads(cfg, cores)), H))
        self.vocab: Vocab = ckpt.vocab
        self.start = ckpt.start_state()
        self.L, self.H, self.threads = L, H, P
        self.chooser = ThreadChooser(P) if threads is None else None
        self._timed_calls = 0

        def cols(a: np.ndarray) -> np.ndarray:  # (..., G) -> (..., P, Gp)
            return part_layout(np.asarray(a, f32), gates, P)

        def packed(W: np.ndarray) -> np.ndarray:  # (K, G) -> (P, NP, K, 128): panels of columns
            Wp = cols(W)
            return Wp.reshape(W.shape[0], P, -1, ks.PANEL).transpose(1, 2, 0, 3)

        V = len(self.vocab)
        self.table0 = cols(embedding.W @ layers[0].W_ih)  # (V, P, Gp)
        Gp = self.table0.shape[-1]
        NP = Gp // ks.PANEL
        nb = len(self.cell.biases)
        self.W_in = np.zeros((L - 1, P, NP, H, ks.PANEL), f32)  # layers 1.., packed
        self.W_rec = np.zeros((L, P, NP, H, ks.PANEL), f32)
        self.bias = np.zeros((L, P, nb, Gp), f32)
        for k, layer in enumerate(layers):
            self.W_rec[k] = packed(layer.W_hh)
            if k:
                self.W_in[k - 1] = packed(layer.W_ih)
            self.bias[k] = cols(layer.bias).transpose(1, 0, 2)  # (nb, P, Gp) -> (P, nb, Gp)
        W_out = output.W  # (H, V)
        NPo = -(-V // ks.PANEL)
        Wo = np.zeros((H, NPo * ks.PANEL), f32)
        Wo[:, :V] = W_out
        self.W_out = np.ascontiguousarray(Wo.reshape(H, NPo, ks.PANEL).transpose(1, 0, 2))
        self.b_out = np.ascontiguousarray(output.b, f32)
        # scratch of the kernel: gate accumulators, layer state copy, the cell's own, padded
        # logits, probabilities
        width = -(-H // P)  # the widest part's units
        self._scratch = (
            np.zeros((2, P, Gp), f32),
            np.zeros(H, f32),
            np.zeros((P, max(1, self.cell.scratch * width)), f32),
            np.zeros(NPo * ks.PANEL, f32),
            np.zeros(V, f32),
        )
        self._cores = np.array([P], np.int64)  # cores the parts run on in the next call

    def _weights(self):
        """The arguments of ``ks.advance`` between the state and ``logits``."""
        return (
            self.table0,
            self.W_in,
            self.W_rec,
            self.bias,
            self.W_out,
            self.b_out,
            *self._scratch,
            self._cores,
        )

    def new_state(self) -> np.ndarray:
        """(L, S, H): the cell's S state vectors (h first) of every layer, as a text starts (the
        checkpoint's start state, or zeros)."""
        state = np.zeros((self.L, len(self.cell.state), self.H), np.float32)
        if self.start is not None:
            for s, a in enumerate(self.start.arrays):
                state[:, s, :] = a[:, 0, :]
        return state

    def _advance(self, ids, out, state, logits, cfg: SampleConfig, seed: int) -> None:
        """One ``ks.advance`` call on the chosen number of Numba threads (restored after it, so
        code running between two pieces of text keeps its own setting)."""
        threads = self.chooser.pick() if self.chooser else self.threads
        self._cores[0] = threads
        before = numba.get_num_threads() if threads > 1 else 1  # 1: no thread pool needed
        if threads != before:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        t0 = time.perf_counter()
        try:
            ks.advance(
                self.cell.kernels,
                ids,
                out,
                state,
                *self._weights(),
                logits,
                float(cfg.temp),
                int(cfg.top_k),
                float(cfg.top_p),
                seed,
            )
        finally:
            if threads != before:
                numba.set_num_threads(before)
        if self.chooser and self._timed_calls:  # not the first: kernel load, first touch
            self.chooser.record(threads, (time.perf_counter() - t0) / max(1, len(ids) + len(out)))
        self._timed_calls += 1

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
        state = self.new_state()
        logits = self.b_out.copy()  # the zero state's prediction, if there is no start token
        ids = start_ids(self.vocab, ids)
        seed = resolve_seed(cfg.seed)
        decode = decoder_after(self.vocab, cfg.prime)
        if cfg.prime:
            yield cfg.prime

        def chunks() -> Iterator[np.ndarray]:
            nonlocal ids, seed
            done, chunk = 0, 8
            while done < cfg.length:
                n = min(chunk, cfg.length - done)
                out = np.empty(n, np.int64)
                self._advance(ids, out, state, logits, cfg, seed)
                ids, seed = ids[:0], -1  # the prime is consumed and the generator seeded once
                done += n
                chunk = min(chunk * 2, 256)  # first text appears fast, then fewer calls
                yield out

        yield from stream_text(chunks(), decode, cfg.stop)
