"""Turning source lines into target lines with a sequence-to-sequence model: the encoder runs as in
training over a batch of sources (``Seq2SeqNetwork.encode``), then the decoder searches in one
jitted kernel per batch (``rnngen.kernels.decode``): beam search (``beam`` K, length-normalised),
greedy search (K = 1) or sampling (``temp`` > 0).

``Translator`` holds the decoder's weights in the layout the kernel reads, computed once: layer 0's
table embed @ W_ih (V, G), the other layers' weights stacked, the output layer (the embedding's
transpose when tied). Given more models of the same shape (``ensemble``), it decodes with all of
them together: each step extends a hypothesis by the log of their mean probability."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from rnngen.data.pair_batches import make_batch
from rnngen.data.pairs import PairSet, boundary, decode, encode, tokens, unknown
from rnngen.data.vocab import Vocab
from rnngen.errors import DataError
from rnngen.nn.config import ModelConfig
from rnngen.nn.seq2seq.config import Seq2SeqConfig
from rnngen.nn.seq2seq.network import Batch, Seq2SeqNetwork

KINDS = {"none": 0, "general": 1, "dot": 1, "additive": 2}


@dataclass
class Hypothesis:
    text: str
    tokens: list[int]
    logprob: float  # total, with </s>

    @property
    def score(self) -> float:
        """What beam search ranks by: the log-probability per token, </s> counted (an output
        cut at the length limit has no </s> but is divided as if it had)."""
        return per_token(self.logprob, len(self.tokens))


def per_token(logprob: float, n_tokens: int) -> float:
    """The length-normalised score of an output of ``n_tokens`` tokens (then </s>) of total
    log-probability ``logprob``: the ranking of ``rnngen.kernels.decode.search``."""
    return logprob / (n_tokens + 1)


@dataclass
class Translation:
    source: str
    outputs: list[Hypothesis]  # best first
    error: str | None = None  # why the line was skipped (on_error="skip"); outputs then empty


ON_ERROR = ("stop", "skip")


def _pack(W: np.ndarray) -> np.ndarray:
    """W (K, N) in 64-column panels (``rnngen.kernels.gemm.pack_panels``)."""
    from rnngen.kernels.gemm import pack_panels

    return pack_panels(np.ascontiguousarray(W))


class Weights:
    """The decoder's weights as ``rnngen.kernels.decode`` reads them: layer 0's table, the other
    products packed into 64-column panels (``rnngen.kernels.gemm.pack_panels``), once."""

    def __init__(self, model: Seq2SeqNetwork) -> None:
        dec, dt = model.decoder, model.dtype
        H = dec[0].H
        self.cell = dec[0].cell
        self.scratch = self.cell.scratch * H
        self.f32 = dt == np.float32
        self.table0 = np.ascontiguousarray(model.tgt_embed.W @ dec[0].W_ih)  # (V, G)
        self.P_ih = np.stack([_pack(d.W_ih) for d in dec[1:]] or [_pack(np.zeros((H, 1), dt))])
        self.P_hh = np.stack([_pack(d.W_hh) for d in dec])
        self.bias = np.ascontiguousarray(np.stack([d.bias for d in dec]))
        self.P_out = _pack(model.output.W)
        self.b_out = model.output.b
        att = model.attention
        self.kind = KINDS[att.kind]
        p = att.p if att.kind != "none" else {}
        self.P_c = _pack(p.get("att.W_c", np.zeros((1, 1), dt)))
        self.W_q = p.get("att.W_q", np.zeros((1, 1), dt))
        self.v = p.get("att.v", np.zeros(1, dt))
        self._encoder(model)

    def _encoder(self, model: Seq2SeqNetwork) -> None:
        """The encoder's weights as ``rnngen.kernels.encode`` reads them, and the keys'."""
        enc, dt = model.encoder, model.dtype
        dirs = [enc.fwd] + ([enc.bwd] if enc.bi else [])
        emb = model.src_embed.W
        self.enc_tables = np.stack([np.ascontiguousarray(emb @ d[0].W_ih) for d in dirs])
        none = [np.stack([_pack(np.zeros((enc.width, 1), dt))] * len(dirs))]  # L = 1
        self.enc_P_ih = np.stack(
            [np.stack([_pack(d[k].W_ih) for d in dirs]) for k in range(1, enc.L)] or none
        )
        self.enc_P_hh = np.stack([np.stack([_pack(d[k].W_hh) for d in dirs]) for k in range(enc.L)])
        self.enc_bias = np.stack([np.stack([d[k].bias for d in dirs]) for k in range(enc.L)])
        W_key = {"general": "att.W_a", "additive": "att.W_k"}.get(model.attention.kind)
        self.key_width = 0 if W_key is None else model.attention.p[W_key].shape[1]
        self.P_key = _pack(model.attention.p[W_key] if W_key else np.zeros((1, 1), dt))


# what the search kernel reads of each model, stacked along a first axis over an ensemble's models
_STACKED = ("table0", "P_ih", "P_hh", "bias", "W_q", "v", "P_c", "P_out", "b_out")


def _stack(arrays) -> np.ndarray:
    """The arrays of an ensemble's models along a new first axis: a view of a single one."""
    return arrays[0][None] if len(arrays) == 1 else np.stack(arrays)


def ensemble_mismatch(
    ma: ModelConfig, sa: Seq2SeqConfig, mb: ModelConfig, sb: Seq2SeqConfig
) -> str | None:
    """Why the model of settings (mb, sb) cannot decode together with the model of (ma, sa)
    (None: it can): what differs of the shape the search kernel needs shared."""
    facts = [
        ("decoder cell", ma.cell, mb.cell),
        ("layers", ma.layers, mb.layers),
        ("hidden units", ma.hidden, mb.hidden),
        ("encoder output width", sa.enc_width, sb.enc_width),
        ("attention", sa.attention, sb.attention),
        ("target vocabulary size", ma.vocab_size, mb.vocab_size),
    ]
    for what, x, y in facts:
        if x != y and (what != "attention" or KINDS[x] != KINDS[y]):
            return f"{what}: {y} against the first model's {x}"
    return None


class Translator:
    """A seq2seq model (or an ensemble of models of one shape and the same vocabularies) ready to
    translate; vocabularies from its checkpoint."""

    def __init__(
        self,
        model: Seq2SeqNetwork,
        src_vocab: Vocab,
        tgt_vocab: Vocab,
        ensemble: Iterable[Seq2SeqNetwork] = (),
    ) -> None:
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.models = [model, *ensemble]
        for other in self.models[1:]:
            problem = ensemble_mismatch(model.cfg, model.s2s, other.cfg, other.s2s)
            if problem is None and other.dtype != model.dtype:
                problem = f"precision: {other.dtype} against the first model's {model.dtype}"
            if problem is not None:
                raise ValueError(f"a model cannot join this ensemble: {problem}")
        self.bos = boundary(tgt_vocab)
        self.ws = [Weights(m) for m in self.models]
        self.w = self.ws[0]
        self.stacked = {k: _stack([getattr(w, k) for w in self.ws]) for k in _STACKED}
        self.max_src = 4 * model.s2s.max_len  # what it reads at most (4x its training limit)

    def encode_source(self, line: str, where: str) -> np.ndarray:
        """Token ids of a source line. Raises DataError for characters the model does not know
        (a word it does not know reads as <unk>; ``unknown_words`` lists them)."""
        if "\t" in line:
            raise DataError(
                f"{where}: the source has a tab; translate reads one source per line, not "
                "source<TAB>target pairs: give it the first column (cut -f1 FILE)"
            )
        toks = tokens(line, self.src_vocab.level)
        if not toks:
            raise DataError(f"{where}: the source is empty")
        if len(toks) > self.max_src * (8 if self.src_vocab.level == "bpe" else 1):
            raise self._too_long(
                where, len(toks), "characters" if self.src_vocab.level == "bpe" else "tokens"
            )
        if self.src_vocab.level == "char":
            missing = unknown(self.src_vocab, toks)
            if missing:
                shown = ", ".join(repr(c) for c in missing[:5])
                raise DataError(f"{where}: characters the model does not know: {shown}")
        ids = encode(self.src_vocab, toks)
        if len(ids) > self.max_src:
            raise self._too_long(where, len(ids), "tokens")
        return ids

    def _too_long(self, where: str, n: int, what: str) -> DataError:
        return DataError(
            f"{where}: the source is {n:,} {what} long; this model reads at most "
            f"{self.max_src:,} tokens (4x its --max-len {self.model.s2s.max_len})"
        )

    def unknown_words(self, line: str) -> list[str]:
        if self.src_vocab.level != "word":
            return []
        return unknown(self.src_vocab, tokens(line, "word"))

    def search(
        self,
        srcs: list[np.ndarray],
        beam: int = 5,
        n_best: int = 1,
        max_len: int = 100,
        temp: float = 0.0,
        seed: int = 0,
    ) -> list[list[Hypothesis]]:
        """The n_best outputs of each encoded source (one batch)."""
        out = []
        for found in self.search_ids(srcs, beam, n_best, max_len, temp, seed):
            out.append(
                [Hypothesis(decode(self.tgt_vocab, ids), ids, score) for ids, score in found]
            )
        return out

    def search_ids(
        self,
        srcs: list[np.ndarray],
        beam: int = 5,
        n_best: int = 1,
        max_len: int = 100,
        temp: float = 0.0,
        seed: int = 0,
    ) -> list[list[tuple[list[int], float]]]:
        """``search`` as (token ids, log-probability) pairs."""
        from rnngen.kernels.decode import search

        K = 1 if temp > 0 else max(beam, n_best)
        pairs = PairSet(list(srcs), [np.zeros(0, np.int32)] * len(srcs), [""] * len(srcs))
        batch = make_batch(pairs, np.arange(len(srcs)), self.bos)
        inputs = [decoder_inputs(m, batch, w) for m, w in zip(self.models, self.ws, strict=True)]
        enc, keys, init = (_stack(a) for a in zip(*inputs, strict=True))
        N = len(srcs)
        toks = np.zeros((N, n_best, max_len), np.int32)
        lens = np.zeros((N, n_best), np.int64)
        scores = np.zeros((N, n_best), np.float64)
        count = np.zeros(N, np.int64)
        w, a = self.w, self.stacked
        search(
            w.cell.kernels,
            w.scratch,
            w.f32,
            K,
            n_best,
            max_len,
            self.bos,
            float(temp),
            int(seed),
            a["table0"],
            a["P_ih"],
            a["P_hh"],
            a["bias"],
            init,
            enc,
            batch.src_len,
            keys,
            w.kind,
            a["W_q"],
            a["v"],
            a["P_c"],
            a["P_out"],
            a["b_out"],
            toks,
            lens,
            scores,
            count,
        )
        return [
            [(toks[n, r, : lens[n, r]].tolist(), float(scores[n, r])) for r in range(count[n])]
            for n in range(N)
        ]

    def translate(
        self,
        lines: Iterable[tuple[str, str]],
        beam: int = 5,
        n_best: int = 1,
        max_len: int = 100,
        temp: float = 0.0,
        seed: int = 0,
        batch_size: int = 32,
        on_error: str = "stop",
    ) -> Iterator[Translation]:
        """Translations of (line, where) pairs, in order, a batch at a time: each batch is
        yielded as soon as it is decoded. A line that cannot be read raises DataError
        (``on_error="stop"``) or gives a Translation with no outputs and its ``error``
        (``"skip"``)."""
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be 'stop' or 'skip' (got {on_error!r})")
        pending: list[tuple[str, np.ndarray | None, str | None]] = []
        for line, where in lines:
            try:
                pending.append((line, self.encode_source(line, where), None))
            except DataError as e:
                if on_error == "stop":
                    raise
                pending.append((line, None, str(e)))
            if len(pending) >= batch_size:
                yield from self._run(pending, beam, n_best, max_len, temp, seed)
                pending = []
        if pending:
            yield from self._run(pending, beam, n_best, max_len, temp, seed)

    def _run(self, pending, beam, n_best, max_len, temp, seed) -> Iterator[Translation]:
        srcs = [s for _, s, _ in pending if s is not None]
        found = iter(self.search(srcs, beam, n_best, max_len, temp, seed) if srcs else [])
        for line, s, problem in pending:
            yield Translation(line, [] if s is None else next(found), problem)


def decoder_inputs(m: Seq2SeqNetwork, batch: Batch, w: Weights | None = None):
    """(enc (N, S, He), keys, init (N, L, ns, H)): what the search kernels read of a batch of
    sources, from the encoder at inference (``rnngen.kernels.encode``) and the bridge. ``w``:
    the model's ``Weights`` (made here if not given)."""
    from rnngen.kernels.encode import encode

    w = Weights(m) if w is None else w
    S, N = batch.src.shape
    L, ns, He = m.encoder.L, len(m.encoder.cell.state), m.encoder.width
    enc = np.empty((N, S, He), m.dtype)
    finals = np.empty((N, L, ns, He), m.dtype)
    keys = np.empty((N, S, w.P_key.shape[0] * w.P_key.shape[2] if w.key_width else 1), m.dtype)
    encode(
        w.cell.kernels,
        m.encoder.cell.scratch * m.encoder.h,
        w.f32,
        batch.src,
        batch.src_len,
        w.enc_tables,
        w.enc_P_ih,
        w.enc_P_hh,
        w.enc_bias,
        w.key_width > 0,
        w.P_key,
        enc,
        finals,
        keys,
    )
    init = m.bridge.forward([tuple(finals[:, k, v] for v in range(ns)) for k in range(L)])
    init_arr = np.ascontiguousarray(np.stack([np.stack(layer, axis=1) for layer in init], axis=1))
    keys = np.ascontiguousarray(keys[:, :, : w.key_width]) if w.key_width else enc
    return enc, keys, init_arr


def guided_greedy(model: Seq2SeqNetwork, batch: Batch, keep: np.ndarray) -> np.ndarray:
    """Scheduled sampling's decoder inputs (T, B): the batch's where ``keep``, else the model's
    greedy guess at that step given the inputs chosen before it."""
    from rnngen.kernels.decode import guided

    w = Weights(model)
    enc, keys, init = decoder_inputs(model, batch, w)
    out = np.empty_like(batch.tgt_in)
    guided(
        w.cell.kernels,
        w.scratch,
        w.f32,
        batch.tgt_in,
        keep,
        w.table0,
        w.P_ih,
        w.P_hh,
        w.bias,
        init,
        enc,
        batch.src_len,
        keys,
        w.kind,
        w.W_q,
        w.v,
        w.P_c,
        w.P_out,
        w.b_out,
        out,
    )
    return out
