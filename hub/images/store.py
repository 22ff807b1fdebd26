"""The image store: an interface with config-selected backends.

Images are content-addressed: the key is the SHA-256 of the bytes, so a duplicate upload costs no
space and a read can always prove it got the bytes that were stored. ``FileSystemImageStore`` is the
backend today; an object-storage backend implements the same three methods and must pass
``tests/unit/test_image_store.py``'s conformance tests.

Files are written before the database commit that references them; a rolled-back upload leaves an
unreferenced file, which is harmless (content-addressed, never served without a row) and can be
collected by a sweep.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol

from hub.errors import IntegrityFailure, NotFound

log = logging.getLogger("ccpor.images")


def _fsync_directory(directory: Path) -> None:
    """Make the entries of ``directory`` (a rename into it, a new subdirectory) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ImageStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256 (hex). Idempotent."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``, verified; IntegrityFailure if they no longer match."""
        ...

    def exists(self, sha256: str) -> bool: ...


class FileSystemImageStore:
    """Images as files under ``root/ab/cd/<sha256>``, written atomically (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFound("no such image")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` under its SHA-256. A file already at that address is trusted only if it holds
        exactly these bytes: a damaged one (bit rot, a partial restore, tampering) is replaced, so the
        re-upload repairs it instead of every new reference pointing at bad bytes. The rename is made
        durable by fsyncing the directory too (a crash after it must not lose the entry)."""
        sha = hashlib.sha256(data).hexdigest()
        path = self._path(sha)
        damaged = False
        try:
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                self._make_durable(path)  # another writer may have renamed it in and not fsynced yet
                return sha
            damaged = True
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._make_durable(path)
        if damaged:
            log.warning("image content %s... was damaged in the store and has been replaced", sha[:12])
        return sha

    def _make_durable(self, path: Path) -> None:
        """fsync the directories from ``path``'s to the root: the rename into its directory and new
        (our own or a concurrent writer's) directories' entries, before a row references the file."""
        for directory in (path.parent, path.parent.parent, self.root):
            _fsync_directory(directory)

    def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise IntegrityFailure(f"image content {sha256[:12]}... is missing from the store") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityFailure(f"image content {sha256[:12]}... failed its SHA-256 check")
        return data

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()
