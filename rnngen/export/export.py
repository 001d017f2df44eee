"""Checking an export request and writing it: every mistake is refused before anything is
written, in one line (a ``UsageError``, exit 2, for a request that cannot work as given; a
``UserError``, exit 1, for a missing package, a missing model or a file in the way), and the
files are written to temporary names first and renamed into place (``rnngen.export.files``)."""

from importlib import import_module
from pathlib import Path
from typing import Any

from rnngen.errors import UsageError, UserError
from rnngen.export import FORMATS, Format

INSTALL = 'pip install "rnngen[export]"'


def format_named(name: str) -> Format:
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r}; the formats are {', '.join(FORMATS)}")
    return FORMATS[name]


def check_packages(name: str, fmt: Format, int8: bool) -> None:
    """The format's packages import, or a UserError naming the extra to install."""
    for package in fmt.needs + (fmt.int8_needs if int8 else ()):
        try:
            import_module(package)
        except ImportError:
            what = f"--format {name}" + (" --int8" if package in fmt.int8_needs else "")
            raise UserError(f"{what} needs the {package} package: {INSTALL}") from None


def check_dest(fmt: Format, dest: Path) -> None:
    """-o names what the format writes: a directory, or a file (never an existing directory)."""
    if fmt.directory:
        if dest.exists() and not dest.is_dir():
            raise UsageError(f"{dest}: is a file; -o names a directory for this format")
    elif dest.is_dir():
        raise UsageError(f"{dest}: is a directory; -o names the file to write")
    if not dest.parent.is_dir():
        raise UserError(f"{dest.parent}: no such directory")


def targets(fmt: Format, task: str, dest: Path) -> list[Path]:
    """The paths an export will write (for a directory format, the directory)."""
    if not fmt.targets:
        return [dest]
    module, _, function = fmt.targets.partition(":")
    return getattr(import_module(module), function)(task, dest)


def check_free(fmt: Format, paths: list[Path], force: bool) -> None:
    """Nothing is in the way, unless ``force``: no file to be written exists already (a
    directory format: its directory exists only empty)."""
    for p in paths:
        if not fmt.directory and p.is_dir():  # a derived name (NAME.score.onnx) may be one
            raise UsageError(f"{p}: is a directory; -o names the file to write")
        in_way = p.is_dir() and any(p.iterdir()) if fmt.directory else p.exists()
        if in_way and not force:
            raise UserError(f"{p}: exists; give --force to overwrite it")


def export(
    model: Any, name: str, dest: Path, int8: bool = False, force: bool = False
) -> list[Path]:
    """Write ``model`` (a loaded ``rnngen.TrainedModel``) in format ``name`` to ``dest``; the
    files written. Raises ``UsageError`` or ``UserError`` before writing anything."""
    fmt = format_named(name)
    check_packages(name, fmt, int8)
    dest = Path(dest)
    check_dest(fmt, dest)
    task = model.checkpoint.task
    if task not in fmt.tasks:
        fits = ", ".join(f"--format {n}" for n, f in FORMATS.items() if task in f.tasks)
        raise UsageError(
            f"{model.path}: is {model.task.what}, which --format {name} does not export "
            f"(use {fits or 'another tool'})"
        )
    if int8 and task not in fmt.int8_tasks:
        raise UsageError(
            f"--int8 is not supported for {model.task.what} in --format {name}; drop --int8 "
            "for float32 weights"
        )
    paths = targets(fmt, task, dest)
    check_free(fmt, paths, force)
    return writer(name, fmt)(model, dest, int8)


def writer(name: str, fmt: Format) -> Any:
    """The format's write function (a UserError when its module is not part of this rnngen)."""
    module, _, function = fmt.writer.partition(":")
    try:
        return getattr(import_module(module), function)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        raise UserError(f"--format {name} is not part of this rnngen installation") from None
