"""Configuration dataclasses. Every checkpoint stores them, and the model is rebuilt from them."""

from dataclasses import asdict, dataclass, field, fields


@dataclass
class ModelConfig:
    level: str = "char"  # "char": Unicode code points; "word": whitespace tokens + <eos>
    cell: str = "lstm"  # "lstm", "gru", "rnn-tanh" or "rnn-relu"
    vocab_size: int = 0  # set from the corpus
    embed: int = 64  # E: embedding width
    hidden: int = 256  # H: hidden units per layer
    layers: int = 2  # L: stacked recurrent layers
    dropout: float = 0.0  # between layers and before the output, in training only (Zaremba et al.)
    dropout_input: float | None = None  # on the embedding output; None: the same as dropout
    tie: bool = False  # the output projection is the embedding transposed (needs E == H)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TrainConfig:
    seq_len: int = 64  # T: truncated-BPTT window
    batch_size: int = 32  # B: parallel streams over the corpus
    optimizer: str = "adam"  # adam, adamw, sgd, rmsprop, adagrad
    lr: float = 2e-3  # base learning rate
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    momentum: float = 0.0  # sgd only
    weight_decay: float = 0.0  # L2 (decoupled for adamw)
    clip: float = 5.0  # global gradient-norm clip; 0 disables
    schedule: str = "constant"  # constant, step, plateau, cosine (see rnngen.schedule)
    decay: float | None = None  # step/plateau factor (default 0.5 / 0.25)
    decay_after: float = 4.0  # step: epochs at the full rate
    warmup: int = 0  # steps of linear warmup
    min_lr: float = 0.0  # cosine: final rate
    patience: int | None = None  # stop after N evaluations without a better validation loss
    init_scale: float | None = None  # uniform(-s, s) for every weight; None: PyTorch's init
    steps: int | None = None  # stop after this many optimizer steps
    minutes: float | None = None  # stop after this much wall time
    epochs: float | None = None  # stop after this many passes (default 10 if nothing else is set)
    val_frac: float = 0.1  # held-out tail of the corpus when no --val-file is given
    eval_every: int | None = None  # steps between evaluations (default: about 5 per epoch)
    seed: int = 0
    max_vocab: int | None = None  # word level: keep the most frequent words
    min_count: int = 1  # word level: rarer words map to <unk>
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
