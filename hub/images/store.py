"""The image store: an interface with config-selected backends.

Images are content-addressed: the key is the SHA-256 of the bytes, so a duplicate upload costs no
space and a read can always prove it got the bytes that were stored. ``FileSystemImageStore`` is the
backend by default; ``DatabaseImageStore`` keeps the bytes in the hub's database in 1 MiB chunks, so
several hub machines on one PostgreSQL share every image (``CCPOR_IMAGE_STORE=database``). Every
backend implements the same three methods and passes ``tests/unit/test_image_store.py``'s
conformance tests; SHA-256 is verified on every read, whatever the backend.

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

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from hub.clock import utcnow
from hub.db.engine import Database
from hub.db.models import ImageChunk, ImageContent
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


def _key(sha256: str) -> str:
    """A content address as given by a caller: 64 lower-case hex digits, else there is no such image."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise NotFound("no such image")
    return sha256


def _verified(sha256: str, data: bytes) -> bytes:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise IntegrityFailure(f"image content {sha256[:12]}... failed its SHA-256 check")
    return data


def _holds(path: Path, data: bytes) -> bool:
    """Whether the file holds exactly ``data``, read a chunk at a time (not a second copy of the image)."""
    view = memoryview(data)
    with path.open("rb") as fh:
        for offset in range(0, len(data), CHUNK_BYTES):
            if fh.read(CHUNK_BYTES) != view[offset : offset + CHUNK_BYTES]:
                return False
        return fh.read(1) == b""


class FileSystemImageStore:
    """Images as files under ``root/ab/cd/<sha256>``, written atomically (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        key = _key(sha256)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        """Store ``data`` under its SHA-256. A file already at that address is trusted only if it holds
        exactly these bytes: a damaged one (bit rot, a partial restore, tampering) is replaced, so the
        re-upload repairs it instead of every new reference pointing at bad bytes. The rename is made
        durable by fsyncing the directory too (a crash after it must not lose the entry)."""
        sha = hashlib.sha256(data).hexdigest()
        path = self._path(sha)
        damaged = False
        try:
            if path.stat().st_size == len(data) and _holds(path, data):
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
        return _verified(sha256, data)

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()


#: The size of one chunk of an image kept in the database.
CHUNK_BYTES = 1 << 20


class DatabaseImageStore:
    """Images in the hub's database: ``image_contents`` (one row per SHA-256) and ``image_chunks``
    (its bytes in :data:`CHUNK_BYTES` pieces). Each put commits on its own, before the change that
    references the image -- as a file is written before its row -- so a rolled-back upload leaves an
    unreferenced content, harmless like an unreferenced file."""

    def __init__(self, db: Database, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.db = db
        self.chunk_bytes = chunk_bytes

    def put(self, data: bytes) -> str:
        """Store ``data`` under its SHA-256. Content already there is trusted only if it reads back as
        exactly these bytes; damaged content is replaced (as the filesystem backend replaces a file)."""
        sha = hashlib.sha256(data).hexdigest()
        held = self._holds(sha, data)
        if held:
            return sha
        damaged = held is not None
        try:
            with self.db.unit_of_work() as s:
                if damaged:
                    s.execute(delete(ImageChunk).where(ImageChunk.sha256 == sha))
                    s.execute(delete(ImageContent).where(ImageContent.sha256 == sha))
                pieces = range(0, len(data), self.chunk_bytes) if data else range(1)
                s.execute(
                    insert(ImageContent).values(
                        sha256=sha, size_bytes=len(data), chunk_count=len(pieces), created_at=utcnow()
                    )
                )
                for n, i in enumerate(pieces):  # one chunk at a time: never a second copy of the image
                    s.execute(insert(ImageChunk).values(sha256=sha, seq=n, data=data[i : i + self.chunk_bytes]))
        except IntegrityError:  # another process stored the same content meanwhile
            self._read(sha)
            return sha
        if damaged:
            log.warning("image content %s... was damaged in the store and has been replaced", sha[:12])
        return sha

    def _holds(self, sha256: str, data: bytes) -> bool | None:
        """Whether the content stored under ``sha256`` is exactly ``data`` (compared chunk by chunk,
        not read back whole); None if there is none."""
        with self.db.read() as s:
            expected = s.scalar(select(ImageContent.chunk_count).where(ImageContent.sha256 == sha256))
            if expected is None:
                return None
            view, offset, count = memoryview(data), 0, 0
            rows = s.execute(
                select(ImageChunk.data).where(ImageChunk.sha256 == sha256).order_by(ImageChunk.seq),
                execution_options={"yield_per": 1},
            )
            try:
                for chunk in rows.scalars():
                    if view[offset : offset + len(chunk)] != chunk:
                        return False
                    offset, count = offset + len(chunk), count + 1
            finally:
                rows.close()  # the server-side cursor of an early answer
        return count == expected and offset == len(data)

    def _read(self, sha256: str) -> bytes:
        key = _key(sha256)
        with self.db.read() as s:
            expected = s.scalar(select(ImageContent.chunk_count).where(ImageContent.sha256 == key))
            if expected is None:
                raise IntegrityFailure(f"image content {key[:12]}... is missing from the store")
            chunks = list(s.scalars(select(ImageChunk.data).where(ImageChunk.sha256 == key).order_by(ImageChunk.seq)))
        if len(chunks) != expected:
            raise IntegrityFailure(f"image content {key[:12]}... failed its SHA-256 check (chunks lost)")
        data = b"".join(chunks)
        del chunks
        return _verified(key, data)

    def get(self, sha256: str) -> bytes:
        return self._read(sha256)

    def exists(self, sha256: str) -> bool:
        key = _key(sha256)
        with self.db.read() as s:
            return s.scalar(select(ImageContent.sha256).where(ImageContent.sha256 == key)) is not None
