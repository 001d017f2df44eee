"""The settings of generation, declared once
(``rnngen.config.settings``): ``rnngen sample``'s options and
the library's. Nothing here loads Numba."""

from dataclasses import dataclass

from rnngen.config.settings import Settings, setting
from rnngen.errors import ConfigError


@dataclass
class SampleConfig(Settings):
    length: int = setting(1000, "Tokens to generate after the prime.", min=0)
    temp: float = setting(1.0, "Temperature; 0 takes the most likely token.", min=0)
    top_k: int = setting(0, "Sample among the K most likely (0 = all).", min=0)
    top_p: float = setting(
        1.0, "Nucleus: the smallest set with this probability mass.", above=0, max=1
    )
    prime: str = setting("", "Text to start from (printed first).")
    seed: int | None = setting(None, "Random seed (same seed, same text).", shown_default="random")
    stop: str | None = setting(None, "End a sample where this string appears (not printed).")
    num: int = setting(
        1,
        "Number of samples, generated as one batch, separated by a blank line.",
        min=1,
        max=10_000,
    )
    repetition_penalty: float = setting(
        1.0,
        "Divide the logits of words already in the text by R (CTRL); 1 = off. At char level "
        "it applies where a word already written would end; at bpe level, to subwords.",
        min=1,
    )
    no_repeat_ngram: int = setting(
        0,
        "Never repeat a run of N words (char level: whitespace-separated words; bpe level: "
        "N subwords); 0 = off.",
        min=0,
    )
    beam: int = setting(
        0,
        "Beam search with K beams: the most likely continuation (ignores "
        "--temp, --top-k, --top-p, --seed); 0 = sample.",
        min=0,
        max=1000,
    )

    def check(self) -> None:
        if self.stop == "":
            raise ConfigError("stop", "must not be empty")
        if self.beam and self.num > self.beam:
            raise ConfigError("num", "must not exceed {beam}: beam search gives K continuations")

    @property
    def batched(self) -> bool:
        """Whether this needs the batched generator rather than the batch-1 sampling kernel."""
        return (
            self.num > 1
            or self.beam > 0
            or self.repetition_penalty != 1.0
            or (self.no_repeat_ngram > 0)
        )


@dataclass
class TranslateConfig(Settings):
    beam: int = setting(5, "Beam width (length-normalised); 1 is greedy search.", min=1)
    n_best: int = setting(
        1,
        "Outputs per input, best first: output<TAB>score, the log-probability per token "
        "(</s> counted) that beam search ranks by (--json adds the totals).",
        min=1,
    )
    temp: float = setting(
        0.0, "Sample at this temperature instead of searching (0: search).", min=0
    )
    max_len: int | None = setting(
        None, "Longest output in tokens.", min=1, shown_default="the model's --max-len"
    )
    batch_size: int = setting(
        32, "Inputs decoded together (outputs stream a batch at a time).", min=1
    )
    seed: int = setting(0, "Random seed of --temp sampling.", min=0)
    on_error: str = setting(
        "stop",
        "A line the model cannot read: 'stop' there (exit 1), or 'skip' it (an empty line "
        "out and a warning; exit 0, the count of skipped lines on stderr).",
        choices=("stop", "skip"),
    )

    def check(self) -> None:
        if self.n_best > self.beam and self.temp == 0:
            raise ConfigError("n_best", "must be at most {beam}")
        if self.temp > 0 and self.n_best > 1:
            raise ConfigError("n_best", "needs search, not {temp} sampling")
