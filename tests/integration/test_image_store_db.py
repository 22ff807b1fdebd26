"""The database image store (``CCPOR_IMAGE_STORE=database``) on SQLite and PostgreSQL: the
conformance tests every backend passes (tests/unit/test_image_store.py), and what chunking adds --
pieces of 1 MiB, damage detected on read and repaired by a re-upload, concurrent uploads of one
content stored once."""

from __future__ import annotations

import hashlib
import threading

import pytest
from sqlalchemy import func, select, update

from hub.api.app import Services
from hub.db.engine import Database
from hub.db.models import ImageChunk, ImageContent
from hub.errors import IntegrityFailure
from hub.images.store import CHUNK_BYTES, DatabaseImageStore, ImageStore
from hub.settings import SettingError, Settings
from tests.unit.test_image_store import (  # noqa: F401 - collected here against this module's store
    test_missing_or_malformed_keys,
    test_put_is_content_addressed_and_idempotent,
)


@pytest.fixture
def store(db: Database) -> ImageStore:
    return DatabaseImageStore(db)


def _chunks(db: Database, sha: str) -> list[int]:
    with db.read() as s:
        return [
            len(d) for d in s.scalars(select(ImageChunk.data).where(ImageChunk.sha256 == sha).order_by(ImageChunk.seq))
        ]


def test_an_image_is_kept_in_chunks_of_a_mebibyte(db: Database) -> None:
    data = bytes(range(256)) * (CHUNK_BYTES * 5 // 2 // 256)  # 2.5 MiB
    sha = DatabaseImageStore(db).put(data)
    assert _chunks(db, sha) == [CHUNK_BYTES, CHUNK_BYTES, CHUNK_BYTES // 2]
    assert DatabaseImageStore(db).get(sha) == data
    empty = DatabaseImageStore(db).put(b"")
    assert DatabaseImageStore(db).get(empty) == b"" and _chunks(db, empty) == [0]


@pytest.mark.parametrize("damage", ["changed", "lost"])
def test_damage_is_found_on_read_and_a_re_upload_repairs_it(db: Database, damage: str, caplog) -> None:
    store = DatabaseImageStore(db, chunk_bytes=4)
    sha = store.put(b"original bytes")
    with db.unit_of_work() as s:
        if damage == "changed":
            s.execute(update(ImageChunk).where(ImageChunk.sha256 == sha, ImageChunk.seq == 1).values(data=b"XXXX"))
        else:
            s.execute(ImageChunk.__table__.delete().where(ImageChunk.sha256 == sha, ImageChunk.seq == 2))
    with pytest.raises(IntegrityFailure, match="SHA-256"):
        store.get(sha)
    assert store.put(b"original bytes") == sha
    assert store.get(sha) == b"original bytes"
    assert "was damaged in the store and has been replaced" in caplog.text


def test_concurrent_uploads_of_one_content_store_it_once(db: Database) -> None:
    data = b"%PDF-1.4 the same scan from two clerks %%EOF" * 1000
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def upload() -> None:
        barrier.wait()
        try:
            results.append(DatabaseImageStore(db).put(data))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [hashlib.sha256(data).hexdigest()] * 4
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ImageContent)) == 1


def test_the_setting_chooses_the_backend(db: Database, tmp_path) -> None:
    from hub import masterkey
    from hub.images.store import FileSystemImageStore

    masterkey.create(tmp_path / "master.key")
    chosen = {}
    kinds = ("filesystem", "database") if db.url.startswith("postgresql") else ("filesystem",)
    for kind in kinds:
        services = Services.build(Settings(data_dir=tmp_path, database_url=db.url, image_store=kind))
        chosen[kind] = type(services.images.store)
        services.db.dispose()
    assert chosen["filesystem"] is FileSystemImageStore
    if "database" in chosen:
        assert chosen["database"] is DatabaseImageStore
    else:  # one SQLite writer: the image's transaction would wait on the call's -- refused at start
        with pytest.raises(SettingError, match="CCPOR_IMAGE_STORE"):
            Settings(data_dir=tmp_path, database_url=db.url, image_store="database")
