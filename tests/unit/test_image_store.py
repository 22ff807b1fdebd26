"""Conformance tests every ImageStore backend must pass (filesystem today, object storage later)."""

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
