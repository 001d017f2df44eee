"""The training and evaluation settings, declared once
(``rnngen.config.settings``): the command line's
options, what every checkpoint stores, and what ``--resume`` continues with. Nothing here loads
Numba, so the command line builds its options from them at no cost."""

from dataclasses import dataclass, replace
from typing import Self

from rnngen.config.settings import Settings, setting
from rnngen.errors import ConfigError

# the optimizers of rnngen.training.optim: their default learning rates, and the state buffers each
# keeps (each as long as the parameters; checkpoints store them)
DEFAULT_LR = {"adam": 2e-3, "adamw": 2e-3, "sgd": 1.0, "rmsprop": 2e-3, "adagrad": 1e-2}
MOMENTS = {
    "adam": ("m", "v"),
    "adamw": ("m", "v"),
    "sgd": ("momentum",),
    "rmsprop": ("square_avg",),
    "adagrad": ("sum",),
}
OPTIMIZERS = tuple(DEFAULT_LR)
STOP_LIMITS = ("steps", "minutes", "epochs", "patience")  # what --resume may change

SCHEDULES = ("constant", "step", "plateau", "cosine")  # rnngen.training.schedule


@dataclass
class TrainConfig(Settings):
    seq_len: int = setting(
        64, "Unrolled steps per batch (T): the truncated-BPTT window.", min=1, panel="schedule"
    )
    batch_size: int = setting(32, "Parallel streams per batch (B).", min=1, panel="schedule")
    optimizer: str = setting(
        "adam",
        "adam, adamw, sgd, rmsprop or adagrad (update rules as PyTorch writes them).",
        choices=OPTIMIZERS,
        panel="schedule",
    )
    lr: float | None = setting(
        None,
        "Learning rate.",
        above=0,
        derived=True,
        shown_default="2e-3; sgd 1, adagrad 0.01",
        panel="schedule",
    )
    beta1: float = setting(0.9, "Adam's first-moment decay.", min=0, below=1, cli=False)
    beta2: float = setting(0.999, "Adam's second-moment decay.", min=0, below=1, cli=False)
    eps: float = setting(1e-8, "Adam's epsilon.", above=0, cli=False)
    momentum: float = setting(0.0, "SGD momentum.", min=0, below=1, panel="schedule")
    weight_decay: float = setting(
        0.0, "L2 weight decay (decoupled for adamw).", min=0, panel="schedule"
    )
    clip: float = setting(5.0, "Global gradient-norm clip (0 = off).", min=0, panel="schedule")
    schedule: str = setting(
        "constant",
        "Learning rate: constant, step, plateau or cosine.",
        choices=SCHEDULES,
        panel="schedule",
    )
    decay: float | None = setting(
        None,
        "Factor per decay of the step and plateau schedules.",
        above=0,
        below=1,
        shown_default="step 0.5, plateau 0.25",
        panel="schedule",
    )
    decay_after: float = setting(
        4.0, "step: epochs at the full rate before decaying.", min=0, panel="schedule"
    )
    warmup: int = setting(0, "Steps of linear learning-rate warmup.", min=0, panel="schedule")
    min_lr: float = setting(0.0, "cosine: the final learning rate.", min=0, panel="schedule")
    patience: int | None = setting(
        None, "Stop after N evaluations without improvement.", min=1, panel="schedule"
    )
    init_scale: float | None = setting(
        None,
        "Initialise every weight uniform in [-S, S].",
        above=0,
        shown_default="PyTorch's initialisation",
        panel="model",
    )
    steps: int | None = setting(None, "Stop after N steps.", min=1, panel="schedule")
    minutes: float | None = setting(None, "Stop after M minutes.", above=0, panel="schedule")
    epochs: float | None = setting(
        None,
        "Stop after E passes.",
        above=0,
        shown_default="10 if no other limit",
        panel="schedule",
    )
    val_frac: float | None = setting(
        None,
        "Hold out this tail fraction for validation.",
        above=0,
        below=1,
        shown_default="0.1, at most 1M tokens; none with --val-file",
        panel="data",
    )
    eval_every: int | None = setting(
        None,
        "Steps between evaluations.",
        min=1,
        shown_default="every ~500k tokens",
        panel="schedule",
    )
    seed: int = setting(0, "Random seed (same seed, same model).", min=0, panel="schedule")
    max_vocab: int | None = setting(
        None, "Word level: keep the N most frequent words.", min=3, panel="data"
    )
    min_count: int = setting(1, "Word level: rarer words become <unk>.", min=1, panel="data")

    def resolve(self) -> Self:
        """The learning rate, when not given, by optimizer."""
        return replace(self, lr=self.lr if self.lr is not None else DEFAULT_LR[self.optimizer])

    def check(self) -> None:
        if self.momentum and self.optimizer != "sgd":
            raise ConfigError("momentum", "applies to {optimizer} sgd only")
        if self.decay is not None and self.schedule not in ("step", "plateau"):
            raise ConfigError("decay", "applies to {schedule} step or plateau")


@dataclass
class EvalConfig(Settings):
    batch_size: int = setting(16, "Parallel streams (B).", min=1)
    seq_len: int = setting(64, "Steps per window (T); the state carries across windows.", min=1)
