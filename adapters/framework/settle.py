"""When a file (or a folder of files) another program writes is finished: its signature (names,
sizes, modification times) unchanged for ``seconds``. A first sighting is not settled, so a write
that has just begun is not taken, however the writer goes about it -- except by a process that
looks only once (``--once``, ``by_age``): it takes what has not been modified for ``seconds`` by
this machine's clock, which trusts the writer's clock (a file server's, on a share) to agree."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path


class Settling:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic, by_age: bool = False) -> None:
        self.seconds = seconds
        self.clock = clock
        self.by_age = by_age
        self._seen: dict[str, tuple[Hashable, float]] = {}

    def settled(self, name: str, signature: Hashable) -> bool:
        if signature is None:
            self._seen.pop(name, None)
            return False
        now = self.clock()
        earlier = self._seen.get(name)
        if self.by_age and isinstance(signature, tuple) and signature:
            newest = max(mtime for _, _, mtime in signature) / 1e9
            if time.time() - newest >= self.seconds:
                return True
        if earlier is None or earlier[0] != signature:
            self._seen[name] = (signature, now)
            return False
        return now - earlier[1] >= self.seconds

    def keep_only(self, names: Iterable[str]) -> None:
        """Forget what is gone."""
        present = set(names)
        for gone in set(self._seen) - present:
            del self._seen[gone]


def signature(path: Path) -> tuple[tuple[str, int, int], ...] | None:
    """A file's, or a folder's files', (name, size, mtime) -- what changes while they are written;
    None while a file vanishes or cannot be read meanwhile (a writer renaming its temporary file)."""
    try:
        files = [path] if path.is_file() else [f for f in path.iterdir() if f.is_file()]
        return tuple(sorted((f.name, (st := f.stat()).st_size, st.st_mtime_ns) for f in files))
    except OSError:
        return None
