"""The model's settings, declared once
(``rnngen.config.settings``): the command line's options, what every
checkpoint stores, and what the model is rebuilt from."""

from dataclasses import dataclass, replace
from typing import Self

from rnngen.config.settings import Settings, setting
from rnngen.errors import ConfigError
from rnngen.nn.cells import CELLS

LEVELS = ("char", "word", "bpe")


def _cells() -> tuple[str, ...]:
    return tuple(CELLS)


@dataclass
class ModelConfig(Settings):
    level: str = setting(
        "char",
        "Tokens: 'char' (code points), 'word' (whitespace-separated, <eos> at each line end) or "
        "'bpe' (byte-level subwords learned from the training text).",
        choices=LEVELS,
        panel="data",
    )
    cell: str = setting(
        "lstm", "Recurrent cell: " + ", ".join(CELLS) + ".", choices=_cells, panel="model"
    )
    vocab_size: int = setting(
        0,
        "Subwords to learn for --level bpe, the 256 bytes included (V; char and word "
        "vocabularies come from the text).",
        min=0,
        shown_default="2048 for bpe",
        panel="data",
    )
    embed: int | None = setting(
        None,
        "Embedding width (E).",
        min=1,
        derived=True,
        shown_default="64 for char, H for word and bpe",
        panel="model",
    )
    hidden: int = setting(256, "Hidden units per layer (H).", min=1, panel="model")
    layers: int = setting(2, "Stacked recurrent layers (L).", min=1, panel="model")
    dropout: float = setting(
        0.0,
        "Dropout between layers and before the output, in training (Zaremba et al. 2014).",
        min=0,
        below=1,
        panel="model",
    )
    # None: the rate between the layers (what LMNetwork reads, and what checkpoints from before
    # the setting meant); the command line resolves it by level instead
    dropout_input: float | None = setting(
        None,
        "Dropout on the embedding output.",
        min=0,
        below=1,
        shown_default="--dropout for word and bpe, 0 for char",
        panel="model",
    )
    tie: bool = setting(
        False, "Tie the output layer to the embedding (needs E = H).", panel="model"
    )

    def resolve(self) -> Self:
        """Embedding 64 wide for characters and H for words and subwords; input dropout as
        between layers for words and subwords and none for characters (char-rnn and torch-rnn
        never drop input characters)."""
        embed = (
            self.embed if self.embed is not None else (64 if self.level == "char" else self.hidden)
        )
        drop_in = self.dropout_input
        if drop_in is None:
            drop_in = self.dropout if self.level != "char" else 0.0
        return replace(self, embed=embed, dropout_input=drop_in)

    def check(self) -> None:
        if self.tie and self.embed is not None and self.embed != self.hidden:
            raise ConfigError(
                "tie",
                f"needs {{embed}} equal to {{hidden}} (got embed "
                f"{self.embed}, hidden {self.hidden})",
            )
