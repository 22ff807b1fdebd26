"""``/healthz`` and ``/readyz`` (hub.api.probes), in process on both databases: ready when the
database answers at this code's schema; 503 naming what is not ready -- a schema left behind by a
pending ``db upgrade``, a database that never was migrated, one that does not answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from hub import masterkey
from hub.api.app import Services, create_app
from hub.api.probes import Readiness
from hub.db import migrate
from hub.db.engine import Database
from hub.settings import Settings
from tests.support.xsdfuzz import call


def get(app, path: str):  # type: ignore[no-untyped-def]
    answer = call(app, path, b"", REQUEST_METHOD="GET")
    return answer.status, answer.body


@pytest.fixture
def app(db, tmp_path: Path):  # type: ignore[no-untyped-def]
    masterkey.create(tmp_path / "master.key")
    services = Services.build(Settings(data_dir=tmp_path, database_url=db.url), db=db)
    return create_app(services)


def test_ready_at_this_code_s_schema_and_not_while_an_upgrade_is_pending(db, app):
    assert get(app, "/healthz") == ("200 OK", b"ok\n")
    status, body = get(app, "/readyz")
    assert status == "200 OK"
    assert json.loads(body) == {"ready": True, "database": "ok", "migrations": "ok", "master_key": "loaded"}
    with db.unit_of_work() as s:
        s.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    status, body = get(app, "/readyz")
    assert status == "503 Service Unavailable"
    found = json.loads(body)
    assert found["ready"] is False and found["database"] == "ok"
    assert found["migrations"] == f"at 0010, this code needs {migrate.head()}: run 'ccpor-hub db upgrade'"


def test_a_database_never_migrated_or_not_answering_is_not_ready(tmp_path: Path):
    (tmp_path / "empty.db").touch()  # a database file, never migrated
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    assert Readiness(empty, True).checks()["migrations"].startswith("at none, this code needs")
    empty.dispose()
    for missing in (tmp_path / "no-such-dir" / "hub.db", tmp_path / "not-there.db"):
        gone = Database(f"sqlite:///{missing}")
        assert Readiness(gone, True).checks() == {"master_key": "loaded", "database": "unreachable"}
        gone.dispose()
        assert not missing.exists()  # asking does not create it
