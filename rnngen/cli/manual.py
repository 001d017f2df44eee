"""How ``--help`` reads: like a manual page.

Typer's help lists every option in one panel, a flag with a value (``--force <bool>``), types as
Python writes them (``<list[Path]>``). The command classes here (``Command``, ``Group``; the app
registers every command with them) change the presentation only, never the parsing:

- options in panels, in the order of ``PANELS`` (a setting names its panel where it is declared,
  ``setting(..., panel="model")``; a command's own option with ``rich_help_panel=panel("data")``),
  ``--help`` in the last of them;
- a flag has no value; a value is shown as INTEGER, FLOAT, TEXT, PATH, or a ``metavar`` given;
  a repeatable one with ``...``;
- one style of default, ``[default: 256]``, also for a default that is not a plain value
  (``show_default="64 for char, H for word"``); none for a flag that is off;
- a command's help text reflowed into paragraphs, and its examples (``examples(...)``) last.
"""

import re
from pathlib import Path
from typing import Any, get_args, get_origin

from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

PANELS = {
    "model": "Model",
    "data": "Data",
    "schedule": "Training schedule",
    "checkpoints": "Checkpoints and runs",
    "seq2seq": "Sequence to sequence (--task seq2seq)",
    "parallel": "Parallel",
    "output": "Output",
}
_ORDER = {title: i for i, title in enumerate(PANELS.values())}
_TYPES = {int: "INTEGER", float: "FLOAT", str: "TEXT", Path: "PATH"}


def panel(key: str) -> str:
    """The title of the panel ``key`` (one of ``PANELS``)."""
    return PANELS[key]


def examples(*lines: str) -> str:
    """A command's epilog: its examples, one command line each. (It starts with a line break:
    Typer dedents the epilog as a docstring, whose first line does not count.)"""
    return "\n[b]Examples[/b]\n" + "\n".join(f"  {escape(line)}" for line in lines)


def _type_name(annotation: Any) -> str | None:
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        name = _type_name(item)
        return f"{name}..." if name else None
    return _TYPES.get(annotation)


class _Option(TyperOption):
    """An option as the manual shows it (parsing is TyperOption's)."""

    def display_type_rich(self, ctx: Any) -> str | None:  # noqa: ARG002
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return self.metavar
        return _type_name(self.type_descriptor.annotation) or "VALUE"

    def _get_number_range_help_str(self) -> str | None:
        return None  # ranges are the help text's to state, as for the settings

    def _get_default_string(self, **kwargs: Any) -> str:
        if isinstance(self.show_default, str):
            return self.show_default  # without Typer's parentheses
        return super()._get_default_string(**kwargs)


class _Argument(TyperArgument):
    """An argument as the manual shows it: its name and help, no type column."""

    def display_type_rich(self, ctx: Any) -> str | None:  # noqa: ARG002
        return None

    def _get_number_range_help_str(self) -> str | None:
        return None

    def _get_default_string(self, **kwargs: Any) -> str:
        if isinstance(self.show_default, str):
            return self.show_default
        return super()._get_default_string(**kwargs)


def _present(param: Any) -> None:
    if type(param) is TyperOption:
        param.__class__ = _Option
    elif type(param) is TyperArgument:
        param.__class__ = _Argument


def _reflow(text: str | None) -> str | None:
    """Paragraphs on one line each (rich would keep the docstring's line breaks); a paragraph
    that starts with ``\\b`` keeps them."""
    if not text:
        return text
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


def _rank(param: Any) -> int:
    return _ORDER.get(getattr(param, "rich_help_panel", None) or "", -1)


class _Manual:
    """What ``Command`` and ``Group`` share."""

    params: list
    help: str | None
    rich_help_panel: str | None

    def _arrange(self) -> None:
        self.help = _reflow(self.help)
        for p in self.params:
            _present(p)
        self.params.sort(key=_rank)  # stable: the arguments keep their order

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            _present(option)
            panels = [p.rich_help_panel for p in self.params if _rank(p) >= 0]
            if panels:
                option.rich_help_panel = panels[-1]
        return option


class Command(_Manual, TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arrange()


class Group(_Manual, TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arrange()
