"""The PyTorch reference of rnngen's sequence-to-sequence model, for ``bench_seq2seq.py``.

The model (issue 12's default, "the same model"):

  source embedding (Vs, E), target embedding (Vt, E)
  encoder: nn.LSTM(E, H/2, L, bidirectional=True) over the true lengths (pack_padded_sequence,
           enforce_sorted=False); outputs (B, S, H) = [forward; backward]
  decoder: nn.LSTM(E, H, L) started from the encoder: layer k's (h, c) = [forward final; backward
           final] of encoder layer k (no bridge); teacher-forced over <s> y1 .. yn, targets
           y1 .. yn </s>, padded
  attention, for all decoder steps at once after the recurrence (Luong):
           general   scores = h . (W_a enc)            W_a Linear(H, H, bias=False)
           dot       scores = h . enc
           additive  scores = v . tanh(W_q h + W_k enc) (Bahdanau's score, A = H)
           none      no attention: the logits come from h (Sutskever's fixed vector)
           masked at source padding, softmax over S, context = attn @ enc,
           a = tanh(W_c [context; h])                  W_c Linear(2H, H, bias=False)
  output:  Linear(H, Vt)(a); loss = mean cross-entropy over the real target tokens

``input_feed=True`` is Luong's input feeding: the previous step's attentional vector ``a``
concatenated to the decoder's input, which puts attention inside the recurrence and forces a
step-by-step decoder loop (as OpenNMT-py runs it). Greedy and beam search are the per-step loops an
OpenNMT-style implementation runs; ``greedy_batch`` is a batched greedy decoder for quality
evaluation only.

Target ids: 0 padding, 1 <s>, 2 </s>; source id 0 padding.
"""

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD, BOS, EOS = 0, 1, 2
ATTENTIONS = ("general", "dot", "additive", "none")


class Seq2Seq(nn.Module):
    def __init__(
        self,
        Vs: int,
        Vt: int,
        E: int = 128,
        H: int = 256,
        L: int = 2,
        attention: str = "general",
        input_feed: bool = False,
        dropout: float = 0.0,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing  # of the training loss (F.cross_entropy's)
        if attention not in ATTENTIONS:
            raise ValueError(f"attention {attention!r}: choose from {ATTENTIONS}")
        if H % 2:
            raise ValueError(f"hidden {H}: must be even (each encoder direction has H/2 units)")
        if input_feed and attention == "none":
            raise ValueError("input feeding needs attention")
        self.H, self.L, self.attention, self.input_feed = H, L, attention, input_feed
        self.src_emb = nn.Embedding(Vs, E, padding_idx=PAD)
        self.tgt_emb = nn.Embedding(Vt, E, padding_idx=PAD)
        self.encoder = nn.LSTM(
            E, H // 2, L, bidirectional=True, batch_first=True, dropout=dropout if L > 1 else 0.0
        )
        self.decoder = nn.LSTM(
            E + (H if input_feed else 0), H, L, batch_first=True, dropout=dropout if L > 1 else 0.0
        )
        self.drop = nn.Dropout(dropout)
        if attention == "general":
            self.W_a = nn.Linear(H, H, bias=False)
        elif attention == "additive":
            self.W_q = nn.Linear(H, H, bias=True)
            self.W_k = nn.Linear(H, H, bias=False)
            self.v = nn.Linear(H, 1, bias=False)
        if attention != "none":
            self.W_c = nn.Linear(2 * H, H, bias=False)
        self.out = nn.Linear(H, Vt)

    # -- encoder --------------------------------------------------------------------------------

    def encode(self, src, src_len):
        """src (B, S) padded, src_len (B,) -> enc (B, S, H), keys (B, S, H), mask (B, S), and the
        decoder's initial (h0, c0), each (L, B, H)."""
        B, S = src.shape
        x = self.drop(self.src_emb(src))
        packed = pack_padded_sequence(x, src_len.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, c) = self.encoder(packed)
        enc, _ = pad_packed_sequence(out, batch_first=True, total_length=S)  # (B, S, H)
        # h (2L, B, H/2), layer k direction d at 2k + d -> (L, B, H) = [forward; backward]
        h0 = h.view(self.L, 2, B, self.H // 2).permute(0, 2, 1, 3).reshape(self.L, B, self.H)
        c0 = c.view(self.L, 2, B, self.H // 2).permute(0, 2, 1, 3).reshape(self.L, B, self.H)
        mask = torch.arange(S)[None, :] < src_len[:, None]  # (B, S) True at real positions
        if self.attention == "general":
            keys = self.W_a(enc)
        elif self.attention == "additive":
            keys = self.W_k(enc)
        else:
            keys = enc
        return enc, keys, mask, (h0.contiguous(), c0.contiguous())

    # -- attention ------------------------------------------------------------------------------

    def attend(self, h, enc, keys, mask):
        """h (B, T, H) decoder top states -> attentional vectors a (B, T, H)."""
        if self.attention == "none":
            return h
        if self.attention == "additive":  # (B, T, S, A) -> (B, T, S)
            scores = self.v(torch.tanh(self.W_q(h)[:, :, None, :] + keys[:, None, :, :]))
            scores = scores.squeeze(-1)
        else:  # general (keys = W_a enc) or dot (keys = enc)
            scores = torch.bmm(h, keys.transpose(1, 2))  # (B, T, S)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        context = torch.bmm(torch.softmax(scores, dim=-1), enc)  # (B, T, H)
        return torch.tanh(self.W_c(torch.cat([context, h], dim=-1)))

    # -- teacher-forced training ----------------------------------------------------------------

    def forward(self, src, src_len, y_in):
        """Teacher-forced logits (B, T, Vt) for the decoder inputs y_in (B, T) = <s> y1 .. yn."""
        enc, keys, mask, state = self.encode(src, src_len)
        x = self.drop(self.tgt_emb(y_in))  # (B, T, E)
        if not self.input_feed:  # the whole recurrence, then attention for all steps at once
            h, _ = self.decoder(x, state)
            a = self.attend(h, enc, keys, mask)
        else:  # Luong input feeding: a_{t-1} is part of step t's input
            B, T, _ = x.shape
            a_prev = x.new_zeros(B, 1, self.H)
            steps = []
            for t in range(T):
                h, state = self.decoder(torch.cat([x[:, t : t + 1], a_prev], dim=-1), state)
                a_prev = self.attend(h, enc, keys, mask)
                steps.append(a_prev)
            a = torch.cat(steps, dim=1)
        return self.out(self.drop(a))

    def loss(self, src, src_len, y_in, y_out):
        logits = self(src, src_len, y_in)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            y_out.reshape(-1),
            ignore_index=PAD,
            label_smoothing=self.label_smoothing,
        )

    # -- decoding -------------------------------------------------------------------------------

    def step(self, tok, state, a_prev, enc, keys, mask):
        """One decoder step for K hypotheses: tok (K,) -> log-probs (K, Vt), state, a (K, 1, H)."""
        x = self.tgt_emb(tok)[:, None, :]  # (K, 1, E)
        if self.input_feed:
            x = torch.cat([x, a_prev], dim=-1)
        h, state = self.decoder(x, state)
        a = self.attend(h, enc, keys, mask)
        return torch.log_softmax(self.out(a[:, 0]), dim=-1), state, a

    def greedy(self, src_ids: list[int], max_len: int = 30) -> list[int]:
        """Greedy decoding of one source, one step at a time (batch 1)."""
        src = torch.tensor([src_ids])
        enc, keys, mask, state = self.encode(src, torch.tensor([len(src_ids)]))
        tok, a, out = torch.tensor([BOS]), enc.new_zeros(1, 1, self.H), []
        for _ in range(max_len):
            logp, state, a = self.step(tok, state, a, enc, keys, mask)
            tok = logp.argmax(dim=-1)
            if tok.item() == EOS:
                break
            out.append(tok.item())
        return out

    def beam(self, src_ids: list[int], K: int = 5, max_len: int = 30) -> list[int]:
        """Beam search of one source (fairseq/OpenNMT style): K live hypotheses decoded as a batch,
        the top 2K of (K x V) extensions per step, those ending in </s> set aside as finished,
        the best K others continue; stops when K have finished or at max_len. The result is the
        finished (or, at max_len, live) hypothesis of highest log-probability per token (</s>
        counted)."""
        src = torch.tensor([src_ids])
        enc, keys, mask, state = self.encode(src, torch.tensor([len(src_ids)]))
        scores = enc.new_zeros(1)  # (k,) summed log-probs of the live hypotheses
        hyps: list[list[int]] = [[]]
        tok, a = torch.tensor([BOS]), enc.new_zeros(1, 1, self.H)
        finished: list[tuple[float, list[int]]] = []
        for t in range(max_len):
            k = len(hyps)
            logp, state, a = self.step(
                tok, state, a, enc.expand(k, -1, -1), keys.expand(k, -1, -1), mask.expand(k, -1)
            )
            V = logp.shape[1]
            cand = (scores[:, None] + logp).view(-1)
            top, idx = cand.topk(min(2 * K, cand.numel()))
            keep_rows, keep_toks, keep_scores = [], [], []
            for s, i in zip(top.tolist(), idx.tolist(), strict=True):
                row, w = divmod(i, V)
                if w == EOS:
                    finished.append((s / (t + 1), hyps[row]))
                else:
                    keep_rows.append(row)
                    keep_toks.append(w)
                    keep_scores.append(s)
                if len(keep_rows) == K:
                    break
            if len(finished) >= K or not keep_rows:
                break
            rows = torch.tensor(keep_rows)
            hyps = [hyps[r] + [w] for r, w in zip(keep_rows, keep_toks, strict=True)]
            scores = torch.tensor(keep_scores)
            tok = torch.tensor(keep_toks)
            state = (state[0][:, rows], state[1][:, rows])
            a = a[rows]
        else:
            finished += [(s / (max_len + 1), h) for s, h in zip(scores.tolist(), hyps, strict=True)]
        return max(finished, key=lambda f: f[0])[1]

    def greedy_batch(self, src, src_len, max_len: int = 30) -> list[list[int]]:
        """Greedy decoding of a padded batch (for quality evaluation; not timed)."""
        enc, keys, mask, state = self.encode(src, src_len)
        B = src.shape[0]
        tok, a = torch.full((B,), BOS), enc.new_zeros(B, 1, self.H)
        outs = torch.zeros(B, max_len, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        for t in range(max_len):
            logp, state, a = self.step(tok, state, a, enc, keys, mask)
            tok = logp.argmax(dim=-1)
            outs[:, t] = torch.where(done, EOS, tok)
            done |= tok == EOS
            if done.all():
                break
        result = []
        for row in outs.tolist():
            result.append(row[: row.index(EOS)] if EOS in row else row)
        return result


def pad(seqs: list[list[int]], value: int = PAD) -> torch.Tensor:
    T = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (T - len(s)) for s in seqs])


def make_batch(pairs: list[tuple[list[int], list[int]]]):
    """[(source ids, target ids)] -> src (B, S), src_len (B,), y_in (B, T), y_out (B, T) and the
    number of target tokens (each target's tokens + 1 for </s>)."""
    src = pad([s for s, _ in pairs])
    src_len = torch.tensor([len(s) for s, _ in pairs])
    y_in = pad([[BOS, *t] for _, t in pairs])
    y_out = pad([[*t, EOS] for _, t in pairs])
    return src, src_len, y_in, y_out, sum(len(t) + 1 for _, t in pairs)
