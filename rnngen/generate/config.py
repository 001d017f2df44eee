"""The settings of generation, declared once (``rnngen.options``): ``rnngen sample``'s options and
the library's. Nothing here loads Numba."""

from dataclasses import dataclass

from rnngen.errors import ConfigError
from rnngen.options import Settings, setting


@dataclass
class SampleConfig(Settings):
    length: int = setting(1000, "Tokens to generate after the prime.", min=0)
    temp: float = setting(1.0, "Temperature; 0 takes the most likely token.", min=0)
    top_k: int = setting(0, "Sample among the K most likely (0 = all).", min=0)
    top_p: float = setting(1.0, "Nucleus: the smallest set with this probability mass.", above=0,
                           max=1)  # fmt: skip
    prime: str = setting("", "Text to start from (printed first).")
    seed: int | None = setting(None, "Random seed (same seed, same text) [random].")
    stop: str | None = setting(None, "End a sample where this string appears (not printed).")

    def check(self) -> None:
        if self.stop == "":
            raise ConfigError("stop", "must not be empty")
