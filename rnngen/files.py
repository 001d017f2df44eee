"""Writing files so that a crash at any moment leaves either the old file or the new one, whole.

Every write goes to a temporary file beside its target (same file system), named after the
writing process (``.NAME.tmpPID``), is flushed and fsynced, then renamed over the target, and the
directory is fsynced so that the rename itself survives a power cut. A writer killed mid-write
leaves its temporary file; ``remove_stale_temps`` deletes those whose process is gone.
"""

import os
from pathlib import Path


def temp_path(target: Path) -> Path:
    """The temporary file this process writes ``target`` through."""
    return target.with_name(f".{target.name}.tmp{os.getpid()}")


def as_target(exc: OSError, tmp: Path, target: Path) -> OSError:
    """``exc`` as the user should read it: naming ``target`` where it names the temporary file
    ``tmp`` (which the user never asked for), of the same class and errno."""
    if exc.errno is None or exc.filename is None or str(exc.filename) != str(tmp):
        return exc
    return OSError(exc.errno, exc.strerror, str(target))  # OSError makes the errno's subclass


def open_temp(target: Path) -> tuple[int, Path]:
    """Create this process's temporary file beside ``target`` afresh: (fd, path). OSError,
    naming ``target``."""
    tmp = temp_path(target)
    try:
        tmp.unlink(missing_ok=True)  # a leftover of this same process, from an earlier failure
        return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
    except OSError as e:
        raise as_target(e, tmp, target) from None


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically. On OSError (naming ``target``, not the temporary
    file) the target is untouched and the temporary file removed."""
    target = Path(target)
    fd, tmp = open_temp(target)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise as_target(e, tmp, target) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temps(directory: Path) -> None:
    """Delete the temporary files in ``directory`` whose writer process is gone."""
    for tmp in directory.glob(".*.tmp*"):
        pid = tmp.name.rsplit(".tmp", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def human_size(n: float) -> str:
    """A number of bytes for people: 512 B, 1.1 MB, 19.3 TB (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
