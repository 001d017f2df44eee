"""The settings only sequence-to-sequence models have; the rest (cell, layers, hidden, embed,
dropout) are the language models' (``rnngen.nn.config.ModelConfig``), shared by encoder and
decoder."""

from dataclasses import dataclass, replace
from typing import Self

from rnngen.config.settings import Settings, setting
from rnngen.errors import ConfigError
from rnngen.nn.config import LEVELS

ATTENTIONS = ("general", "dot", "additive", "none")
ENCODERS = ("bi", "uni")
TASKS = ("lm", "seq2seq")
SELECTIONS = ("loss", "error")

# The sequence-to-sequence recipe's values of the settings language models share, where they
# differ (with label_smoothing 0.1 and best_by "error" below): chosen on CMUdict, dates and
# misspellings (bench/README.md, "The seq2seq defaults").
RECIPE = {"hidden": 384, "embed": 128, "batch_size": 64, "dropout": 0.4, "schedule": "cosine"}
# Every batch in 2 shards, each a replica in a thread of its own, however many cores there are:
# 1.3x the speed of one replica of 2 threads on 2 cores, and the same model on any machine
# (each shard's kernels give the same bits on any thread count).
REPLICAS = 2


@dataclass
class Seq2SeqConfig(Settings):
    src_level: str | None = setting(
        None,
        "Source tokens: 'char' or 'word'.",
        choices=LEVELS,
        derived=True,
        shown_default="--level",
        panel="seq2seq",
    )
    tgt_level: str | None = setting(
        None,
        "Target tokens: 'char' or 'word' (space-separated, e.g. phonemes).",
        choices=LEVELS,
        derived=True,
        shown_default="--level",
        panel="seq2seq",
    )
    encoder: str = setting(
        "bi",
        "Encoder: 'bi' (both directions, concatenated) or 'uni'.",
        choices=ENCODERS,
        panel="seq2seq",
    )
    enc_hidden: int | None = setting(
        None,
        "Encoder units per direction (its outputs are H wide by default).",
        min=1,
        derived=True,
        shown_default="H/2 for bi, H for uni",
        panel="seq2seq",
    )
    attention: str = setting(
        "general",
        "Attention: 'general' (Luong), 'dot', 'additive' "
        "(Bahdanau) or 'none' (the encoder's final state only).",
        choices=ATTENTIONS,
        panel="seq2seq",
    )
    teacher_forcing: float = setting(
        1.0,
        "Probability that a decoder input is the true previous "
        "token; below 1, else the model's own previous guess "
        "(scheduled sampling).",
        min=0,
        max=1,
        panel="seq2seq",
    )
    label_smoothing: float = setting(
        0.1,
        "Label smoothing eps: train towards 1 - eps on the true "
        "token and eps spread over the vocabulary (validation "
        "loss stays plain cross-entropy).",
        min=0,
        below=1,
        panel="seq2seq",
    )
    best_by: str = setting(
        "error",
        "Keep as best (and count --patience and plateau by) the "
        "validation 'loss', or the 'error': the share of validation sources "
        "greedy decoding gets wrong.",
        choices=SELECTIONS,
        panel="seq2seq",
    )
    max_len: int = setting(
        100,
        "Longest source or target in tokens; longer training pairs are skipped with a warning.",
        min=1,
        panel="seq2seq",
    )
    src_vocab: int = setting(0, "Source vocabulary size, from the pairs.", min=0, cli=False)

    def resolve_with(self, level: str, hidden: int) -> Self:
        """Levels from --level; the encoder's width so that its outputs are H wide."""
        enc = self.enc_hidden
        if enc is None:
            enc = max(1, hidden // 2) if self.encoder == "bi" else hidden
        return replace(
            self,
            src_level=self.src_level or level,
            tgt_level=self.tgt_level or level,
            enc_hidden=enc,
        )

    @property
    def enc_width(self) -> int:
        """The encoder's output width: both directions' units, or one's."""
        assert self.enc_hidden is not None
        return self.enc_hidden * (2 if self.encoder == "bi" else 1)

    def check_with(self, hidden: int) -> None:
        if self.attention == "dot" and self.enc_hidden is not None and self.enc_width != hidden:
            raise ConfigError(
                "attention",
                f"'dot' needs the encoder's outputs as wide as the "
                f"decoder (got {self.enc_width} against {{hidden}} {hidden}); use "
                "'general'",
            )
