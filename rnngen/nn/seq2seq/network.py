"""The encoder-decoder, composed of layers, and its exact gradients:

    source (S, B) -> embedding -> Encoder (L layers, bi or uni) -> outputs (S, B, He), finals
    finals -> Bridge -> the decoder's initial states
    target inputs <s> y_1 .. y_{n-1} (T, B) -> embedding -> L recurrent layers -> h (T, B, H)
    (h, outputs) -> Attention -> a (B, T, H) -> [dropout] -> Output -> loss against y_1 .. </s>

Teacher forcing: the decoder reads the true previous tokens, so its input projections are one GEMM
and attention runs for all steps at once. Padding: the encoder holds its state past each source's
length and attention gives padded positions probability 0; the loss counts each target's real
tokens only (its logits are computed for them alone). So a padded batch gives the same loss and
gradients as its sequences one by one.

Dropout (training only) sits on the embedded inputs (``dropout_input``), between recurrent layers
and on the attentional vector before the output (``dropout``); its masks are a hash of (seed, step,
site), as in the language model.
"""

from dataclasses import dataclass

import numpy as np

from rnngen.nn.cells import CELLS
from rnngen.nn.config import ModelConfig
from rnngen.nn.dropout import Dropout
from rnngen.nn.embedding import Embedding, TokenInput
from rnngen.nn.lm import input_dropout
from rnngen.nn.output import Output
from rnngen.nn.params import FlatParams, init_params
from rnngen.nn.recurrent import RecurrentLayer, Scratch
from rnngen.nn.seq2seq.attention import Attention, AttentionTape
from rnngen.nn.seq2seq.bridge import Bridge
from rnngen.nn.seq2seq.config import Seq2SeqConfig
from rnngen.nn.seq2seq.encoder import Encoder, EncoderTape


@dataclass
class Batch:
    """Pairs padded to the longest: source tokens (S, B) read up to src_len[b]; decoder inputs
    (T, B) (<s> then the target) and what each step must predict (the target then </s>), real up
    to tgt_len[b]; padding may hold any valid token id."""

    src: np.ndarray  # (S, B) int64
    src_len: np.ndarray  # (B,) int64, >= 1
    tgt_in: np.ndarray  # (T, B) int64
    tgt_out: np.ndarray  # (T, B) int64
    tgt_len: np.ndarray  # (B,) int64, >= 1

    @property
    def tokens(self) -> int:
        """Target tokens predicted (with each </s>)."""
        return int(self.tgt_len.sum())


def layers_of(cfg: ModelConfig, s2s: Seq2SeqConfig, parts: int = 1):
    """The parts ``cfg`` and ``s2s`` (resolved) describe, without parameters."""
    cell = CELLS[cfg.cell]
    L, H, E = cfg.layers, cfg.hidden, cfg.embed
    rates = (input_dropout(cfg), cfg.dropout)
    src_embed = Embedding(s2s.src_vocab, E, parts, name="src.embed")
    encoder = Encoder(cell, L, E, s2s.enc_hidden, s2s.encoder == "bi", parts, rates, (0, 2 * L + 1))
    bridge = Bridge(L, cell.state, encoder.width, H)
    tgt_embed = Embedding(cfg.vocab_size, E, parts, name="tgt.embed")
    decoder = [
        RecurrentLayer(cell, k, E if k == 0 else H, H, parts, where="dec.") for k in range(L)
    ]
    attention = Attention(s2s.attention, encoder.width, H)
    output = Output(H, cfg.vocab_size, parts, tied=tgt_embed if cfg.tie else None)
    return src_embed, encoder, bridge, tgt_embed, decoder, attention, output


def param_shapes(cfg: ModelConfig, s2s: Seq2SeqConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter, in buffer order."""
    shapes: dict[str, tuple[int, ...]] = {}
    for part in _flat(layers_of(cfg, s2s)):
        shapes.update(part.param_shapes())
    return shapes


def _flat(parts) -> list:
    src_embed, encoder, bridge, tgt_embed, decoder, attention, output = parts
    return [src_embed, encoder, bridge, tgt_embed, *decoder, attention, output]


@dataclass
class Tapes:
    """One forward's record for its backward."""

    batch: Batch
    src_x: np.ndarray | TokenInput  # (S, B, E) embedded source, or its tokens
    enc: EncoderTape
    finals: list
    dec_x: np.ndarray | TokenInput  # (T, B, E) embedded decoder inputs (after dropout) or tokens
    dec_mask: np.ndarray | None
    dec_tapes: list
    dec_inputs: list  # per layer its input (after dropout)
    dec_masks: list  # per layer > 0: the dropout mask on its input
    att: AttentionTape
    att_mask: np.ndarray | None
    real: np.ndarray  # (N,) flat (B*T) rows of the real target positions
    top: np.ndarray  # (N, H) the attentional vectors at them, after dropout


class Seq2SeqNetwork:
    """Encoder-decoder with attention; exact float32/float64 gradients."""

    def __init__(
        self, cfg: ModelConfig, s2s: Seq2SeqConfig, dtype=np.float32, parts: int = 1
    ) -> None:
        if cfg.tie and cfg.embed != cfg.hidden:
            raise ValueError(f"tied weights need embed == hidden (got {cfg.embed}, {cfg.hidden})")
        self.cfg, self.s2s, self.parts = cfg, s2s, parts
        self.dtype = np.dtype(dtype)
        L = cfg.layers
        parts_ = layers_of(cfg, s2s, parts)
        (
            self.src_embed,
            self.encoder,
            self.bridge,
            self.tgt_embed,
            self.decoder,
            self.attention,
            self.output,
        ) = parts_
        self.drop_dec_in = Dropout(input_dropout(cfg), L, 2 * L + 1)
        self.drops = [Dropout(cfg.dropout, L + k, 2 * L + 1) for k in range(1, L)]
        self.drop_att = Dropout(cfg.dropout, 2 * L, 2 * L + 1)
        shapes: dict[str, tuple[int, ...]] = {}
        for part in _flat(parts_):
            shapes.update(part.param_shapes())
        self.params = FlatParams(shapes, self.dtype)
        self.grads = FlatParams(shapes, self.dtype)
        for part in _flat(parts_):
            part.bind(self.params, self.grads)
        self.dropout_seed = 0
        self.label_smoothing = 0.0  # training's: forward_backward's objective (see loss_sum)
        self.token_table: bool | None = None  # layer 0 by table lookup: None decides by size

    def init_weights(self, rng: np.random.Generator, scale: float | None = None) -> None:
        """As the language model's: uniform(-scale, scale) when given, else U(-1/sqrt(H),
        1/sqrt(H)), N(0, 1) embeddings (untied), then each cell's bias adjustment."""
        normal = {self.src_embed.name} | (set() if self.cfg.tie else {self.tgt_embed.name})
        init_params(self.params, rng, self.cfg.hidden, scale, normal)
        if scale is not None:
            return
        self.encoder.init_biases()
        for layer in self.decoder:
            layer.init_biases()

    # ---- forward ---------------------------------------------------------------------------------

    def _embed(self, emb: Embedding, tokens: np.ndarray) -> np.ndarray:
        T, B = tokens.shape
        x = np.empty((T * B, emb.E), self.dtype)
        emb.forward(tokens, x)
        return x.reshape(T, B, emb.E)

    def _by_table(self, emb: Embedding, tokens: np.ndarray, rate: float) -> bool:
        """Whether a first layer reads its (V, G) table embed @ W_ih by token instead of the
        embedded inputs: with no dropout on them, and a vocabulary small next to the batch (as
        the language model decides)."""
        if rate > 0:
            return False
        if self.token_table is not None:
            return self.token_table
        return 2 * emb.V <= tokens.size

    def encode(self, src: np.ndarray, src_len: np.ndarray, drop=None):
        """The encoder's tape, its outputs batch-major (B, S, He), and the decoder's initial
        states (per layer, (B, H) per state vector)."""
        if self._by_table(self.src_embed, src, self.encoder.drops[0].rate):
            src_x = self.src_embed.as_input(src)
        else:
            src_x = self._embed(self.src_embed, src)
        enc_tape, finals = self.encoder.forward(src_x, src_len, drop)
        enc = np.ascontiguousarray(enc_tape.outputs[-1].transpose(1, 0, 2))
        return src_x, enc_tape, finals, enc, self.bridge.forward(finals)

    def _forward(self, batch: Batch, key: int | None) -> Tapes:
        drop = None if key is None else (self.dropout_seed, key)
        src_x, enc_tape, finals, enc, init = self.encode(batch.src, batch.src_len, drop)
        T, B = batch.tgt_in.shape
        if self._by_table(self.tgt_embed, batch.tgt_in, self.drop_dec_in.rate):
            dec_x = self.tgt_embed.as_input(batch.tgt_in)
        else:
            dec_x = self._embed(self.tgt_embed, batch.tgt_in)
        dec_mask = None
        if drop is not None and self.drop_dec_in.rate > 0:
            dec_mask = np.empty_like(dec_x)
            self.drop_dec_in.forward(dec_x, dec_x, dec_mask, *drop)
        tapes, inputs, masks = [], [], []
        inp = dec_x
        for k, layer in enumerate(self.decoder):
            if k > 0 and drop is not None and self.drops[k - 1].rate > 0:
                mask, dropped = np.empty_like(inp), np.empty_like(inp)
                self.drops[k - 1].forward(inp, dropped, mask, *drop)
                inp = dropped
                masks.append(mask)
            elif k > 0:
                masks.append(None)
            tape = layer.tape(T, B, self.dtype)
            inputs.append(inp)
            inp = layer.forward(inp, init[k], tape)
            tapes.append(tape)
        h = np.ascontiguousarray(inp.transpose(1, 0, 2))  # (B, T, H)
        att = self.attention.forward(h, enc, batch.src_len)
        real = (np.arange(B)[:, None] * T + np.arange(T)[None, :])[
            np.arange(T)[None, :] < batch.tgt_len[:, None]
        ].astype(np.int64)  # the rows of (B*T) before each target's end, in order
        top = att.out.reshape(B * T, -1)[real]
        att_mask = None
        if drop is not None and self.drop_att.rate > 0:
            att_mask = np.empty_like(top)
            self.drop_att.forward(top, top, att_mask, *drop)
        return Tapes(
            batch,
            src_x,
            enc_tape,
            finals,
            dec_x,
            dec_mask,
            tapes,
            inputs,
            masks,
            att,
            att_mask,
            real,
            top,
        )

    def _targets(self, t: Tapes) -> np.ndarray:
        return t.batch.tgt_out.T.reshape(-1)[t.real]  # batch-major, as ``real``

    def loss_sum(self, batch: Batch, smoothing: float = 0.0) -> float:
        """Summed cross-entropy (nats) of the batch's target tokens, teacher-forced, no dropout;
        label-smoothed by ``smoothing`` (the objective training differentiates) when given."""
        t = self._forward(batch, None)
        logits = np.empty((t.top.shape[0], self.output.V), self.dtype)
        logits = self.output.logits(t.top, logits)
        return self.output.loss(logits, self._targets(t), smoothing)

    def token_losses(self, batch: Batch) -> np.ndarray:
        """Cross-entropy (nats) of every real target token, (N,) float64, batch-major order."""
        return self._scored(batch)[1]

    def _scored(self, batch: Batch) -> tuple[Tapes, np.ndarray]:
        """The teacher-forced forward without dropout and its tokens' losses (``token_losses``)."""
        t = self._forward(batch, None)
        logits = np.empty((t.top.shape[0], self.output.V), self.dtype)
        return t, self.output.token_losses(self.output.logits(t.top, logits), self._targets(t))

    def alignments(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """Teacher-forced, no dropout: the attention weights of every decoder step over the
        source, (B, T, S) (each row sums to 1 over the real source positions; None for
        ``attention none``), and the log-probability of every target token, (B, T) float64 (0
        past each target's end). Fed a decoded output, this is how the decoder read the source
        while it wrote it."""
        t, losses = self._scored(batch)
        T, B = batch.tgt_in.shape
        logp = np.zeros(B * T)
        logp[t.real] = -losses
        return t.att.probs, logp.reshape(B, T)

    # ---- forward and backward --------------------------------------------------------------------

    def forward_backward(
        self, batch: Batch, key: int | None = None, per: int | None = None
    ) -> float:
        """Mean cross-entropy (nats) per real target token; writes self.grads, the gradient of
        the mean objective: the cross-entropy, label-smoothed by ``self.label_smoothing``. ``key``
        (the step in training) switches dropout on and picks its masks. ``per``: the tokens the
        mean is over (default the batch's; data-parallel training gives the global batch's, so
        that the processes' results add up to its mean)."""
        t = self._forward(batch, key)
        T, B = batch.tgt_in.shape
        N, H = t.top.shape
        logits = np.empty((N, self.output.V), self.dtype)
        self.output.logits(t.top, logits)
        self.tgt_embed.dW[...] = 0.0  # the output (when tied) writes it, the layers below add
        self.src_embed.dW[...] = 0.0
        dtop = np.empty((N, H), self.dtype)
        per = N if per is None else per
        loss = self.output.loss_backward(
            t.top, logits, self._targets(t), dtop, self.label_smoothing, per
        )
        if t.att_mask is not None:
            self.drop_att.backward(dtop, t.att_mask)
        datt = np.zeros((B * T, H), self.dtype)
        datt[t.real] = dtop
        dh, denc = self.attention.backward(t.att, datt.reshape(B, T, H))

        # the decoder, in reverse order of the forward
        dy = np.ascontiguousarray(dh.transpose(1, 0, 2))  # (T, B, H)
        scratch = Scratch(self.decoder[0].cell, T, B, H, self.dtype)
        dinit = [None] * len(self.decoder)
        for k in range(len(self.decoder) - 1, -1, -1):
            layer = self.decoder[k]
            by_table = k == 0 and isinstance(t.dec_x, TokenInput)  # it adds to the embedding's
            dx = None if by_table else np.empty((T * B, layer.D), self.dtype)
            d0 = layer.backward(t.dec_tapes[k], dy, dx, scratch)
            dinit[k] = tuple(a.copy() for a in d0)  # scratch is the next layer's
            if by_table:
                break
            dy = dx.reshape(T, B, layer.D)
            if k > 0 and t.dec_masks[k - 1] is not None:
                self.drops[k - 1].backward(dy, t.dec_masks[k - 1])
        if not isinstance(t.dec_x, TokenInput):
            if t.dec_mask is not None:
                self.drop_dec_in.backward(dy, t.dec_mask)
            self.tgt_embed.backward(batch.tgt_in, dy.reshape(T * B, -1))

        dfinals = self.bridge.backward(t.finals, dinit)
        dsrc = self.encoder.backward(t.enc, np.ascontiguousarray(denc.transpose(1, 0, 2)), dfinals)
        if dsrc is not None:  # else layer 0 read tokens and added to the embedding's gradient
            S = batch.src.shape[0]
            self.src_embed.backward(batch.src, dsrc.reshape(S * B, -1))
        return loss / per
