"""Writing an export's files so that a failure leaves nothing half-written: every file goes to a
temporary name beside its target first (``rnngen.files.temp_path``), and only when all are
written and synced are they renamed into place, one after another."""

import os
from pathlib import Path

from rnngen.files import as_target, fsync_dir, open_temp


def write_files(files: dict[Path, bytes]) -> list[Path]:
    """Write each target's bytes; on any failure (OSError naming the target) no temporary file
    is left and no target is touched. Returns the targets, in order."""
    written: list[tuple[Path, Path]] = []
    try:
        for target, data in files.items():
            fd, tmp = open_temp(target)
            written.append((tmp, target))
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                raise as_target(e, tmp, target) from None
    except BaseException:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, target in written:
        os.replace(tmp, target)
    for directory in {target.parent for target in files}:
        fsync_dir(directory)
    return list(files)
