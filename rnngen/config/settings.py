"""Settings declared once: each field of a configuration dataclass carries its help, its range and
its choices, and this module checks any value against that declaration.

The command line builds its options from these fields (``rnngen.cli.params``), and a checkpoint's
metadata is read through the same checks (``rnngen.checkpoint``), so a hidden size of -3 is
refused in the same words whether it was typed or found in a file someone shared:

    @dataclass
    class ModelConfig(Settings):
        hidden: int = setting(256, "Hidden units per layer (H).", min=1)

Types come from the annotations (``int``, ``float``, ``str``, ``bool``, each optionally ``| None``):
a bool is not an int, an int is a float, and no float is NaN or infinite. ``Settings.check`` adds
the rules that tie fields together; ``Settings.resolve`` fills the fields whose None means
"derived from the others".
"""

import dataclasses
import difflib
import math
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self, Union, get_args, get_origin

from rnngen.errors import ConfigError, UsageError


@dataclass(frozen=True)
class Spec:
    """What a setting may hold, and how the command line shows it."""

    help: str
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
    min: float | None = None  # inclusive bounds
    max: float | None = None
    above: float | None = None  # exclusive bounds
    below: float | None = None
    cli: bool = True  # an option of the command line (else: set by rnngen, or by the library)
    flag: str | None = None  # the option's name, if not --field-name
    short: str | None = None  # a one-letter alias, e.g. "-q"
    derived: bool = False  # None means "derived from other settings" (see Settings.resolve)
    shown_default: str | None = None  # how --help states a default that is not a plain value
    panel: str | None = None  # the group of options --help lists it in (rnngen.cli.params.PANELS)

    def choice_list(self) -> tuple[str, ...] | None:
        return self.choices() if callable(self.choices) else self.choices


def setting(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field declared with its ``Spec`` (``default`` may be a zero-argument factory
    for mutable defaults, given as ``factory=``)."""
    factory = spec.pop("factory", None)
    meta = {"spec": Spec(help, **spec)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def spec_of(f: dataclasses.Field) -> Spec | None:
    return f.metadata.get("spec")


def value_type(f: dataclasses.Field) -> tuple[type, bool]:
    """(the base type, whether None is allowed) of a field's annotation."""
    t = f.type
    if get_origin(t) in (Union, types.UnionType):
        args = [a for a in get_args(t) if a is not type(None)]
        return args[0], len(args) < len(get_args(t))
    return t, False


def shown(value: Any) -> str:
    """A value as messages show it (braces escaped for ConfigError's template)."""
    if isinstance(value, float):
        text = f"{value:g}"
    else:
        text = repr(value) if isinstance(value, str) else str(value)
    return text.replace("{", "{{").replace("}", "}}")


def _literal(value: Any) -> str:
    """A value of the wrong type, as written (2.0, not 2)."""
    return repr(value).replace("{", "{{").replace("}", "}}")


def _num(x: float) -> str:
    return f"{x:g}"


def check_value(f: dataclasses.Field, value: Any) -> None:
    """Raise ConfigError unless ``value`` fits the declaration of field ``f``."""
    base, optional = value_type(f)
    spec = spec_of(f)
    if value is None:
        if optional:
            return
        raise ConfigError(f.name, "must be given (got None)")
    if base is bool:
        if not isinstance(value, bool):
            raise ConfigError(f.name, f"must be true or false (got {_literal(value)})")
        return
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f.name, f"must be a whole number (got {_literal(value)})")
    elif base is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f.name, f"must be a number (got {_literal(value)})")
        if not math.isfinite(value):
            raise ConfigError(f.name, f"must be a finite number (got {value})")
    elif base is str:
        if not isinstance(value, str):
            raise ConfigError(f.name, f"must be a string (got {_literal(value)})")
    elif base is dict:
        if not isinstance(value, dict):
            raise ConfigError(f.name, f"must be a mapping (got {_literal(value)})")
        return
    if spec is None:
        return
    choices = spec.choice_list()
    if choices is not None and value not in choices:
        if len(choices) == 2:
            allowed = f"{shown(choices[0])} or {shown(choices[1])}"
        else:
            allowed = "one of " + ", ".join(choices)
        raise ConfigError(f.name, f"must be {allowed}, not {shown(value)}")
    if base in (int, float):
        problem = _range_problem(spec, value)
        if problem:
            raise ConfigError(f.name, f"{problem} (got {shown(value)})")


def _range_problem(spec: Spec, v: float) -> str | None:
    lo, lo_open = (spec.above, True) if spec.above is not None else (spec.min, False)
    hi, hi_open = (spec.below, True) if spec.below is not None else (spec.max, False)
    ok = (lo is None or (v > lo if lo_open else v >= lo)) and (
        hi is None or (v < hi if hi_open else v <= hi)
    )
    if ok:
        return None
    if lo is not None and hi is not None:
        if lo_open and hi_open:
            return f"must be between {_num(lo)} and {_num(hi)}, exclusive"
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        return f"must be in {left}{_num(lo)}, {_num(hi)}{right}"
    if lo is not None:
        if lo_open:
            return "must be positive" if lo == 0 else f"must be above {_num(lo)}"
        return f"must be at least {_num(lo)}" if lo >= 1 else f"must be >= {_num(lo)}"
    return f"must be below {_num(hi)}" if hi_open else f"must be at most {_num(hi)}"


class Settings:
    """Mixin of the configuration dataclasses: checked construction, round trips through dicts."""

    @classmethod
    def specs(cls) -> Iterator[tuple[dataclasses.Field, Spec]]:
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            spec = spec_of(f)
            if spec is not None:
                yield f, spec

    def validate(self, resolved: bool = True) -> Self:
        """Check every field against its declaration, then the rules between fields. With
        ``resolved``, derived fields must hold values (a stored configuration); returns self."""
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            spec = spec_of(f)
            if value is None and resolved and spec is not None and spec.derived:
                raise ConfigError(f.name, "must be given (got None)")
            check_value(f, value)
        self.check()
        return self

    def check(self) -> None:
        """The rules that tie fields together; raise ConfigError naming the first field."""

    def resolve(self) -> Self:
        """A copy with the derived fields (None: "from the other settings") filled in."""
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def check_names(cls, given: Iterable[str], what: str, also: Iterable[str] = ()) -> None:
        """Raise UsageError for the first name of ``given`` that is neither one of these settings
        nor in ``also``, naming the valid ones (and the closest, for a typo)."""
        names = {f.name for f in dataclasses.fields(cls)} | set(also)  # type: ignore[arg-type]
        for name in given:
            if name not in names:
                close = difflib.get_close_matches(name, names, 1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UsageError(
                    f"{what}: unknown setting {name!r}{hint}; the settings are: "
                    f"{', '.join(sorted(names))}"
                )

    @classmethod
    def from_dict(cls, d: dict) -> Self:
        """The settings in the mapping ``d`` (missing ones take their defaults, unknown keys are
        ignored), unchecked: call ``validate``."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})
