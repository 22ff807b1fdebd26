"""Files another system reads: written whole or not at all (beside, fsynced, renamed), so a
reader never sees half of one."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.part")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def plain(path: Path) -> bool:
    """A regular file itself, not a symbolic link to one (which could point out of the folder)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False
