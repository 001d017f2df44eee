"""What a training run and an evaluation return: plain records, below every layer that makes or
reads them (the trainer, the model classes, the command line)."""

import math
from dataclasses import dataclass, field
from typing import Any


def bits_per_char(loss: float, chars_per_token: float) -> float:
    """Bits per character of a mean loss per token (nats) over a text of ``chars_per_token``."""
    return loss / chars_per_token / math.log(2)


@dataclass
class EvalResult:
    loss: float  # mean nats per token
    tokens: int
    chars: int | None = None  # characters of the text the tokens spell, when known

    @property
    def bits_per_token(self) -> float:
        return self.loss / math.log(2)

    @property
    def bits_per_char(self) -> float | None:
        """The loss summed over the tokens, over the text's characters, in bits."""
        if not self.chars or not self.tokens:
            return None
        return bits_per_char(self.loss, self.chars / self.tokens)

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700.0))


@dataclass
class TrainResult:
    steps: int
    train_loss: float
    val_loss: float | None
    best_val_loss: float | None
    tokens_per_sec: float
    seconds: float
    checkpoint: str
    run_dir: str
    epochs: float
    interrupted: bool = False
    val_loss_whole: float | None = None  # the whole validation split, scored at the end
    val_bits_per_char: float | None = None  # val_loss (and val_loss_whole) in bits per character
    val_bits_per_char_whole: float | None = None
    val_tokens: int = 0  # tokens of the part scored periodically (val_loss, best_val_loss)
    best: dict = field(default_factory=dict)  # the best evaluation's other measures (val_error)
    history: list = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        """``best_val_error`` and the like: the best evaluation's measures, None when the run did
        not record them."""
        if name.startswith("best_val_") and name != "best_val_loss":
            return self.__dict__.get("best", {}).get(name[len("best_") :])
        raise AttributeError(name)

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("history", "best")}
        return {**d, **{f"best_{k}": v for k, v in self.best.items()}}
