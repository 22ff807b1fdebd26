"""Conformance tests every ImageStore backend must pass (here the filesystem one; the database one runs them in
tests/integration/test_image_store_db.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hub.errors import IntegrityFailure, NotFound
from hub.images.store import FileSystemImageStore, ImageStore


@pytest.fixture(params=["filesystem"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ImageStore:
    return FileSystemImageStore(tmp_path / "images")


def test_put_is_content_addressed_and_idempotent(store: ImageStore):
    data = b"%PDF-1.4 some scan %%EOF"
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.put(data) == sha and store.exists(sha)
    assert store.get(sha) == data


def test_missing_or_malformed_keys(store: ImageStore):
    with pytest.raises(IntegrityFailure):
        store.get("0" * 64)
    with pytest.raises(NotFound):
        store.get("../../etc/passwd")
    assert not store.exists("f" * 64)


def test_corruption_is_detected_on_read(tmp_path: Path):
    store = FileSystemImageStore(tmp_path)
    sha = store.put(b"original bytes")
    path = tmp_path / sha[:2] / sha[2:4] / sha
    path.write_bytes(b"changed bytes!")
    with pytest.raises(IntegrityFailure, match="SHA-256"):
        store.get(sha)
    assert not list(tmp_path.rglob(".incoming-*"))


@pytest.mark.parametrize("damage", [b"changed bytes!", b"truncat", b""])
def test_a_damaged_file_at_the_address_is_replaced_by_a_re_upload(tmp_path: Path, damage: bytes, caplog):
    store = FileSystemImageStore(tmp_path)
    sha = store.put(b"original bytes")
    (tmp_path / sha[:2] / sha[2:4] / sha).write_bytes(damage)  # bit rot, a partial restore, tampering
    assert store.put(b"original bytes") == sha  # the same image uploaded again ...
    assert store.get(sha) == b"original bytes"  # ... repairs the file every reference points at
    assert "was damaged in the store and has been replaced" in caplog.text
    assert not list(tmp_path.rglob(".incoming-*"))


def test_renames_are_made_durable_by_fsyncing_the_directories(tmp_path: Path, monkeypatch):
    import os

    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    sha = FileSystemImageStore(tmp_path).put(b"a new scan")
    first, second = tmp_path / sha[:2], tmp_path / sha[:2] / sha[2:4]
    assert str(second) in synced  # the rename's directory
    assert str(first) in synced and str(tmp_path) in synced  # and the new directories' parents
