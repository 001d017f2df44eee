"""The run directory's lock: one ``rnngen train`` writes a run directory at a time."""

import errno
import fcntl
import os
from pathlib import Path

from rnngen.errors import TrainingError


class RunLock:
    """An exclusive lock on a run directory, held while a run writes into it: a second ``rnngen
    train`` into the same directory is refused. It is an flock on the directory itself (no file
    is left behind), which the kernel releases when the process ends, however it ends, so a
    killed run leaves nothing stuck."""

    def __init__(self, run_dir: Path) -> None:
        try:
            self.fd = os.open(run_dir, os.O_RDONLY)
        except OSError as e:
            raise TrainingError(
                f"{run_dir}: cannot open the run directory ({e.strerror or e})"
            ) from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):  # a file system without flock
                self.release()  # (some network ones): train unlocked rather than not at all
                return
            holder = _lock_holder(self.fd)
            os.close(self.fd)
            who = f" (process {holder})" if holder else ""
            raise TrainingError(
                f"{run_dir}: another rnngen train{who} is writing this run directory; wait for "
                "it to end, or choose another --out"
            ) from None

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = -1


def _lock_holder(fd: int) -> str | None:
    """The process holding an flock on ``fd``'s file, as Linux lists it in /proc/locks."""
    inode = os.fstat(fd).st_ino
    try:
        with open("/proc/locks") as f:
            for line in f:
                parts = line.split()
                if "FLOCK" in parts and len(parts) > 5 and parts[5].endswith(f":{inode}"):
                    return parts[4]
    except OSError:
        pass
    return None
