"""Many samples at once, and the generation controls: the training model's forward pass run one
step at a time over a batch of B rows (``LMNetwork.logits``), a draw per row from its own
random generator, the repetition controls per row.

``rnngen sample --num N`` generates its N samples as one batch: one (1, N) forward pass per token,
whose GEMMs read every weight once for all N rows, instead of N batch-1 passes that each read every
weight. Sample i draws from a generator seeded with ``seed + i``, so each is reproducible from the
seed (the batch-1 kernel of ``rnngen.generate.sample`` draws from Numba's generator instead: its
texts are not these).
"""

import copy
from collections.abc import Iterator

import numpy as np

from rnngen.checkpoint import Checkpoint
from rnngen.generate.config import SampleConfig
from rnngen.generate.controls import Controls, RepetitionGuard
from rnngen.generate.text import cut_at, decoder_after, resolve_seed, start_ids, stream_text
from rnngen.nn.lm import LMNetwork, State


def draw_rows(
    logits: np.ndarray, temp: float, top_k: int, top_p: float, rngs: list[np.random.Generator]
) -> np.ndarray:
    """One token id per row of ``logits`` (B, V): softmax(logits / temp) within the top-k and
    the top-p nucleus, one uniform draw from ``rngs[b]`` per row; temp 0 takes the argmax."""
    B, V = logits.shape
    if temp <= 0.0:
        return np.argmax(logits, axis=1)
    z = logits.astype(np.float64) / temp
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    if 0 < top_k < V:
        kth = np.partition(p, V - top_k, axis=1)[:, V - top_k]
        p[p < kth[:, None]] = 0.0
    if top_p < 1.0:
        order = np.argsort(-p, axis=1, kind="stable")
        ranked = np.take_along_axis(p, order, axis=1)
        cum = np.cumsum(ranked, axis=1)
        keep = (cum < top_p * cum[:, -1:]).sum(axis=1) + 1  # the smallest set reaching top_p
        ranked[np.arange(V)[None, :] >= keep[:, None]] = 0.0
        p = np.empty_like(p)
        np.put_along_axis(p, order, ranked, axis=1)
    cum = np.cumsum(p, axis=1)
    u = np.array([r.random() for r in rngs]) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), V - 1)


class Stepper:
    """One step of the model over B rows, with everything that does not change from step to step
    made once: layer 0's input product as a (V, G) table read by token (as the batch-1 sampler
    does), each W_hh packed into the time loop's panels, the layers' tapes. Per step: one time-loop
    call per layer (T = 1), the input products of the layers above and the output layer as GEMMs;
    the same math as ``LMNetwork.logits``."""

    def __init__(self, model: LMNetwork, B: int) -> None:
        from rnngen.kernels.gemm import pack_panels

        f32 = np.float32
        self.model, self.B = model, B
        layers = model.layers
        self.table0 = np.ascontiguousarray(model.embedding.W @ layers[0].W_ih, f32)  # (V, G)
        self.packed = [pack_panels(np.ascontiguousarray(layer.W_hh)) for layer in layers]
        self.tapes = [layer.tape(1, B, f32) for layer in layers]
        self.kernels = [layer.cell.kernels for layer in layers]  # made once: typing one costs
        self.rows = np.arange(B, dtype=np.int64).reshape(1, B)
        self.W_out = np.ascontiguousarray(model.output.W, f32)  # (H, V)
        self.logits = np.empty((B, self.W_out.shape[1]), f32)

    def resized(self, B: int) -> "Stepper":
        """The same step over B rows, sharing this one's tables and packed weights (only the
        tapes and the logits depend on B): a server whose batch grows and shrinks from step to
        step makes one per size it meets without packing the weights again."""
        other = copy.copy(self)
        other.B = B
        other.tapes = [layer.tape(1, B, np.float32) for layer in self.model.layers]
        other.rows = np.arange(B, dtype=np.int64).reshape(1, B)
        other.logits = np.empty((B, self.W_out.shape[1]), np.float32)
        return other

    def __call__(self, tokens: np.ndarray, state: State) -> np.ndarray:
        """Logits (B, V) after each row reads its token (B,); advances state."""
        from rnngen.kernels import timeloop

        m = self.model
        below = None
        for k, layer in enumerate(m.layers):
            tape = self.tapes[k]
            for s, s0 in zip(tape.states, state.layer(k), strict=True):
                s[0] = s0
            if k == 0:
                xin, xrow = self.table0, tokens.astype(np.int64).reshape(1, -1)
            else:
                xin, xrow = tape.xp.reshape(self.B, -1), self.rows
                np.dot(below, layer.W_ih, out=xin)
            timeloop.forward_packed(
                self.kernels[k], xin, xrow, layer.bias, self.packed[k], tape.states, tape.caches, 1
            )
            for s, s0 in zip(tape.states, state.layer(k), strict=True):
                s0[...] = s[1]
            below = tape.states[0][1]  # (B, H)
        np.dot(below, self.W_out, out=self.logits)
        self.logits += m.output.b
        return self.logits.copy()


class BatchGenerator:
    """Generation over a batch of rows with the weights of one checkpoint (see the module
    docstring)."""

    def __init__(self, ckpt: Checkpoint) -> None:
        self.vocab = ckpt.vocab
        self.model: LMNetwork = ckpt.build_model(parts=1)
        self._steppers: dict[int, Stepper] = {}

    def primed(self, prime_ids: np.ndarray, B: int) -> tuple[State, np.ndarray]:
        """(state (L, B, H), logits (B, V)) of B rows that have all read the prime."""
        ids = start_ids(self.vocab, prime_ids)
        one = self.model.start_state(1)
        if len(ids):
            last = self.model.logits(ids.astype(np.int32).reshape(-1, 1), one)[-1].copy()
        else:  # no start token, no prime: the zero state's prediction is the output bias
            last = self.model.params["out.b"].copy()
        state = self.model.new_state(B)
        for a, b in zip(state.arrays, one.arrays, strict=True):
            a[...] = b
        return state, np.repeat(last[None, :], B, axis=0)

    def step(self, tokens: np.ndarray, state: State) -> np.ndarray:
        """Logits (B, V) after each row reads its token (B,); advances state."""
        B = len(tokens)
        if B not in self._steppers:
            if len(self._steppers) >= 4:
                self._steppers.clear()
            self._steppers[B] = Stepper(self.model, B)
        return self._steppers[B](tokens, state)

    def guards(self, prime_ids: np.ndarray, B: int, controls: Controls) -> list | None:
        if not controls.active:
            return None
        g = RepetitionGuard(self.vocab, controls)
        for t in prime_ids:
            g.feed(int(t))
        return [g.copy() for _ in range(B)]

    def token_rows(self, prime_ids: np.ndarray, cfg: SampleConfig) -> Iterator[np.ndarray]:
        """The sampled token of every row (num,), step after step, ``cfg.length`` steps."""
        B = cfg.num
        state, logits = self.primed(prime_ids, B)
        seed = resolve_seed(cfg.seed)
        rngs = [np.random.default_rng([seed, i]) for i in range(B)]
        guards = self.guards(prime_ids, B, Controls(cfg.repetition_penalty, cfg.no_repeat_ngram))
        for _ in range(cfg.length):
            if guards is not None:
                adjusted = logits.copy()
                for b, g in enumerate(guards):
                    g.adjust(adjusted[b])
                    if not np.isfinite(adjusted[b]).any():  # everything banned: ban nothing
                        adjusted[b] = logits[b]
                logits = adjusted
            toks = draw_rows(logits, cfg.temp, cfg.top_k, cfg.top_p, rngs)
            if guards is not None:
                for b, g in enumerate(guards):
                    g.feed(int(toks[b]))
            yield toks
            logits = self.step(toks, state)

    def stream(self, prime_ids: np.ndarray, cfg: SampleConfig) -> Iterator[str]:
        """One sample (row 0 of ``cfg.num`` = 1), its prime first, as text pieces."""
        if cfg.prime:
            yield cfg.prime
        rows = (t[:1] for t in self.token_rows(prime_ids, cfg))
        yield from stream_text(rows, decoder_after(self.vocab, cfg.prime), cfg.stop)

    def samples(self, prime_ids: np.ndarray, cfg: SampleConfig) -> list[str]:
        """``cfg.num`` samples, each its prime followed by its text, cut at the stop string."""
        decoders = [decoder_after(self.vocab, cfg.prime) for _ in range(cfg.num)]
        texts = [[] for _ in range(cfg.num)]
        for toks in self.token_rows(prime_ids, cfg):
            for b, t in enumerate(toks):
                texts[b].append(decoders[b]([int(t)]))
        return [cfg.prime + cut_at("".join(t), cfg.stop) for t in texts]
