"""Files another system reads: written whole or not at all (beside, fsynced, renamed), so a
reader never sees half of one."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` as ``path``: a fresh temporary file beside it (created exclusively, so a link planted
    under a predictable name is never followed), fsynced, renamed over ``path`` (a link there is
    replaced, not written through), the folder fsynced."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def plain(path: Path) -> bool:
    """A regular file itself, not a symbolic link to one (which could point out of the folder)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def fresh(path: Path, before_suffix: bool = False) -> Path:
    """``path``, or the first of ``path.2``, ``path.3``, ... that does not exist (with
    ``before_suffix``: ``name.2.txt``, so the file keeps its kind)."""
    candidate, n = path, 1
    while os.path.lexists(candidate):
        n += 1
        name = f"{path.stem}.{n}{path.suffix}" if before_suffix else f"{path.name}.{n}"
        candidate = path.with_name(name)
    return candidate
