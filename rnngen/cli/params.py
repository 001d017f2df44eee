"""Command-line options built from the settings declared once (``rnngen.config.settings``).

A command lists the settings classes it takes; ``@settings_options`` adds one option per field (its
flag, type, default and help from the declaration) after the command's own parameters, and hands
the command one instance per class, built from the options as given (checked by the library, in the
words the declarations give). The options several commands share (``--quiet``, ``--json``,
``--threads``, ``--encoding``, ``--errors``) are the fields of ``Shared``, declared here once.

    @settings_options(ModelConfig, TrainConfig, Shared.only("quiet", "threads"))
    def train(ctx: typer.Context, paths: ..., *, model: ModelConfig, train: TrainConfig,
              shared: Shared) -> None: ...
"""

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.markup import escape

from rnngen.cli.manual import panel
from rnngen.config.settings import Settings, Spec, setting, value_type
from rnngen.data.text import check_encoding
from rnngen.errors import flag_name

MODEL_HELP = "Checkpoint file or run directory."  # the MODEL argument of the commands that load one


@dataclass
class Shared(Settings):
    """The options several commands take; each command picks its own (``Shared.only``)."""

    threads: int | None = setting(
        None, "CPU threads.", min=1, shown_default="all cores", panel="parallel"
    )
    encoding: str = setting(
        "utf-8", "Text encoding of the inputs (utf-8, latin-1, cp1252, ...).", panel="data"
    )
    errors: str = setting(
        "strict",
        "Undecodable bytes: 'strict' (refuse) or 'replace' (U+FFFD).",
        panel="data",
    )
    json_out: bool = setting(
        False, "Write JSON to stdout instead of text.", flag="--json", panel="output"
    )
    quiet: bool = setting(False, "Nothing on stderr but errors.", short="-q", panel="output")

    @classmethod
    def only(cls, *names: str, **shown_defaults: str) -> "Subset":
        """These fields; ``shown_defaults`` states a field's default as this command has it
        (``threads="1 or 2"``)."""
        return Subset(cls, frozenset(names), tuple(shown_defaults.items()))

    def check(self) -> None:
        check_encoding(self.encoding, self.errors)


@dataclass(frozen=True)
class Subset:
    """Some fields of a settings class (the others keep their defaults)."""

    cls: type[Settings]
    names: frozenset[str]
    shown_defaults: tuple[tuple[str, str], ...] = ()


def flag(f: dataclasses.Field) -> str:
    spec = f.metadata["spec"]
    return spec.flag or flag_name(f.name)


def _metavar(base: type, spec: Spec) -> str | None:
    """The value as --help shows it: a few short choices as they are (``char|word``), longer
    lists by NAME (the help text lists them); otherwise the type's (``rnngen.cli.manual``)."""
    choices = spec.choice_list()
    if base is not str or not choices:
        return None
    listed = "|".join(choices)
    return listed if len(listed) <= 14 else "NAME"


def _options(
    cls: type[Settings], names: frozenset[str] | None, shown_defaults: dict[str, str]
) -> list[inspect.Parameter]:
    out = []
    for f, spec in cls.specs():
        if not spec.cli or (names is not None and f.name not in names):
            continue
        base, optional = value_type(f)
        decls = [flag(f)] + ([spec.short] if spec.short else [])
        help_text = escape(spec.help)  # Typer reads help as rich markup: "[0.1]" is not a tag
        default_text = _with_task_defaults(cls, f, shown_defaults.get(f.name, spec.shown_default))
        option = typer.Option(
            *decls,
            help=help_text,
            show_default=escape(default_text) if default_text else not spec.derived,
            metavar=_metavar(base, spec),
            rich_help_panel=panel(spec.panel) if spec.panel else None,
        )
        default = None if f.default is dataclasses.MISSING else f.default
        kind = base | None if optional else base
        out.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[kind, option],
            )
        )
    return out


def _with_task_defaults(cls: type[Settings], f: dataclasses.Field, text: str | None) -> str | None:
    """A shared setting's default as --help states it, with each task's own where it differs
    (``Task.defaults``: "256; seq2seq 384")."""
    from rnngen.config.training import TrainConfig
    from rnngen.nn.config import ModelConfig
    from rnngen.tasks import TASKS, task

    if cls not in (ModelConfig, TrainConfig):
        return text
    own = [(n, task(n).defaults[f.name]) for n in TASKS if f.name in task(n).defaults]
    if not own:
        return text

    def plain(v: Any) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    return "; ".join([text or plain(f.default), *(f"{n} {plain(v)}" for n, v in own)])


def settings_options(*sources: type[Settings] | Subset) -> Callable:
    """Decorator: add the options of ``sources`` to a Typer command (see the module docstring).
    The command receives each class's instance in its keyword-only parameter annotated with
    that class."""

    def decorate(func: Callable) -> Callable:
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not p.KEYWORD_ONLY]
        groups = []  # (class, the command's parameter name, its option names)
        extra: list[inspect.Parameter] = []
        for src in sources:
            cls, names, shown = (
                (src.cls, src.names, dict(src.shown_defaults))
                if isinstance(src, Subset)
                else (src, None, {})
            )
            target = next(
                p.name
                for p in sig.parameters.values()
                if p.kind is p.KEYWORD_ONLY and p.annotation is cls
            )
            opts = _options(cls, names, shown)
            groups.append((cls, target, [p.name for p in opts]))
            extra += opts

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            for cls, target, names in groups:
                kwargs[target] = cls(**{n: kwargs.pop(n) for n in names})
            return func(*args, **kwargs)

        params = own + extra
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # Typer must read the signature above, not func's
        return command

    return decorate


def given(ctx: typer.Context) -> dict[str, Any]:
    """The options the user gave (on the command line or through the environment), by name."""
    out = {}
    for name, value in ctx.params.items():
        source = ctx.get_parameter_source(name)  # an enum of typer's vendored click: by name
        if getattr(source, "name", None) in ("COMMANDLINE", "ENVIRONMENT"):
            out[name] = value
    return out


def flag_of(ctx: typer.Context) -> Callable[[str], str]:
    """How the user writes option ``name`` of this command (``json_out`` -> ``--json``)."""
    decls = {p.name: max(p.opts, key=len) for p in ctx.command.params if p.opts}

    def name_flag(name: str) -> str:
        return decls.get(name) or flag_name(name)

    return name_flag
