"""Shared fixtures: databases (SQLite file, PostgreSQL) migrated by Alembic, accounts, the clock."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.accounts.service import Principal, add_user, principal_of
from hub.codes import Role
from hub.db import migrate
from hub.db.engine import Database
from hub.db.models import Base

PG_URL = os.environ.get("CCPOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery staple"  # noqa: S105 - test accounts only


def _pg_available() -> str | None:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no server for us
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"


_PG_MISSING = _pg_available()


def pg_or_skip() -> None:
    if _PG_MISSING:
        if os.environ.get("CCPOR_REQUIRE_PG"):
            pytest.fail(f"CCPOR_REQUIRE_PG is set but {_PG_MISSING}")
        pytest.skip(_PG_MISSING)


def fresh_pg_database() -> tuple[str, object]:
    """A new, empty PostgreSQL database; returns its URL and a function that drops it."""
    name = f"ccpor_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@contextmanager
def empty_database(kind: str, directory: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in ``directory``, or a new PostgreSQL database
    (skipped where no server answers) that is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'hub.db'}"
        return
    pg_or_skip()
    url, drop = fresh_pg_database()
    try:
        yield url
    finally:
        drop()  # type: ignore[operator]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    pg_or_skip()
    url, drop = fresh_pg_database()
    migrate.upgrade(url)
    yield url
    drop()  # type: ignore[operator]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "hub.db"
        shutil.copy(sqlite_template, path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
        return
    url = request.getfixturevalue("pg_session_url")
    database = Database(url)
    yield database
    with database.engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # the one row migration 0005 seeds: the audit chain's head
        conn.execute(sa.text("INSERT INTO audit_chain (id, seq, mac, base_seq, base_mac) VALUES (1, 0, '', 0, '')"))
    database.dispose()


def make_user(
    db: Database, name: str, ori: str = "CA019015J", role: Role = Role.QUERY_UPDATE, clets: bool = False
) -> Principal:
    with db.unit_of_work() as s:
        return principal_of(add_user(s, name, ori=ori, role=role, clets=clets, password=PASSWORD))


@pytest.fixture
def clerk(db: Database) -> Principal:
    """A QUERY_UPDATE user of a Los Angeles court."""
    return make_user(db, "la-clerk")


@pytest.fixture(scope="session")
def keyset(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A development CARPOS key set (hub and DOJ key pairs, their master keys), made once."""
    from tests.support.carpos import KeySet

    return KeySet.make(tmp_path_factory.mktemp("carpos-keys"))
