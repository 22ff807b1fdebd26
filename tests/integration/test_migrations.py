"""Migrations replay on both databases and carry existing data forward."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from hub.db import migrate
from tests.conftest import fresh_pg_database, pg_or_skip


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    pg_or_skip()
    url, drop = fresh_pg_database()
    yield url
    drop()


def test_party_columns_are_filled_from_existing_orders(empty_url):
    migrate.upgrade(empty_url, "0001")
    engine = sa.create_engine(empty_url)
    now = {"now": "2026-01-01 00:00:00"}
    statements = [
        "INSERT INTO organizations (id, ori, name, county_code, created_at) VALUES (1, 'CA019015J', 'x', '19', :now)",
        "INSERT INTO accounts (id, username, organization_id, role, clets_certified, password_hash, status,"
        " created_at, updated_at) VALUES (1, 'u', 1, 'QUERY_UPDATE', false, 'h', 'ACTIVE', :now, :now)",
        "INSERT INTO orders (id, status, version, sealed, served, owner_org_id, court_ori, county_code, case_number,"
        " case_number_key, non_expiring, carpos_requested, document, created_by_id, created_at, updated_at)"
        " VALUES (7, 'DRAFT', 1, true, false, 1, 'CA019015J', '19', 'C1', 'C1', false, false, '<x/>', 1, :now, :now)",
        "INSERT INTO order_parties (order_id, role, alias, surname_key, surname_rkey, given_key, given_rkey)"
        " VALUES (7, 'RESTRAINED', false, 'MOUSE', 'ESUOM', '', '')",
    ]
    with engine.begin() as c:
        for statement in statements:
            c.execute(sa.text(statement), now if ":now" in statement else {})
    migrate.upgrade(empty_url)
    with engine.connect() as c:
        row = c.execute(sa.text("SELECT order_status, sealed, owner_org_id FROM order_parties")).one()
    engine.dispose()
    assert (row.order_status, bool(row.sealed), row.owner_org_id) == ("DRAFT", True, 1)
    command.check(migrate.config(empty_url))  # models and migrations agree after the replay


def test_the_carpos_outbox_becomes_the_outbox_of_every_kind_with_its_messages_and_answers(empty_url):
    migrate.upgrade(empty_url, "0007")
    engine = sa.create_engine(empty_url)
    now = {"now": "2026-01-01 00:00:00"}
    statements = [
        "INSERT INTO organizations (id, ori, name, county_code, kind, created_at)"
        " VALUES (1, 'CA019015J', 'x', '19', 'COURT', :now)",
        "INSERT INTO carpos_outbox (id, mke, mcn, sender_ori, state, attempts, next_attempt_at, created_at,"
        " updated_at) VALUES (41, 'QPO', 'Q-1', 'CA019015J', 'ACCEPTED', 1, :now, :now, :now)",
        "INSERT INTO carpos_inbox (doj_mcn, kind, message_id, organization_id, needs_action, text_sealed,"
        " received_at) VALUES ('DOJ-Q-1', 'QRY', 41, 1, false, :blob, :now)",
    ]
    with engine.begin() as c:
        for statement in statements:
            c.execute(sa.text(statement), {**now, "blob": b"sealed"} if ":" in statement else {})
    migrate.upgrade(empty_url)
    with engine.begin() as c:
        moved = c.execute(sa.text("SELECT id, kind, mcn, state FROM outbox")).one()
        answer = c.execute(sa.text("SELECT message_id FROM carpos_inbox")).scalar_one()
        c.execute(  # the next message gets a new id: the copied ids are not handed out again
            sa.text(
                "INSERT INTO outbox (kind, mke, mcn, sender_ori, state, attempts, next_attempt_at, created_at,"
                " updated_at) VALUES ('CARPOS', 'QPO', 'Q-2', 'CA019015J', 'QUEUED', 0, :now, :now, :now)"
            ),
            now,
        )
        fresh = c.execute(sa.text("SELECT id FROM outbox WHERE mcn = 'Q-2'")).scalar_one()
        tables = set(sa.inspect(c).get_table_names())
    engine.dispose()
    assert tuple(moved) == (41, "CARPOS", "Q-1", "ACCEPTED") and answer == 41 and fresh > 41
    assert "carpos_outbox" not in tables
    command.check(migrate.config(empty_url))


def test_a_message_an_old_hub_commits_while_the_outbox_migration_runs_is_kept(tmp_path):
    """PostgreSQL: a hub still running the old code commits an outbox row during 0008's upgrade --
    the migration waits for it and copies it (it locks carpos_outbox first), never drops it."""
    import threading

    pg_or_skip()
    url, drop = fresh_pg_database()
    try:
        migrate.upgrade(url, "0007")
        engine = sa.create_engine(url)
        insert = sa.text(
            "INSERT INTO carpos_outbox (mke, mcn, sender_ori, state, attempts, next_attempt_at, created_at,"
            " updated_at) VALUES ('QPO', :mcn, 'CA019015J', 'QUEUED', 0, :now, :now, :now)"
        )
        now = "2026-01-01 00:00:00+00"
        with engine.begin() as c:
            c.execute(insert, {"mcn": "Q-BEFORE", "now": now})
        old_hub = engine.connect()
        in_flight = old_hub.begin()
        old_hub.execute(insert, {"mcn": "Q-DURING", "now": now})  # written, not yet committed
        failures: list[BaseException] = []

        def upgrade() -> None:
            try:
                migrate.upgrade(url)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)

        migration = threading.Thread(target=upgrade)
        migration.start()
        waiting = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        # The migration is blocked behind the old hub's transaction. Autocommit: pg_stat_activity is a
        # snapshot held for a whole transaction, so each look must be a transaction of its own.
        watcher = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
        with watcher.connect() as monitor:
            blocked = False
            for _ in range(600):
                if monitor.execute(waiting).scalar():
                    blocked = True
                    break
                migration.join(0.05)
        watcher.dispose()
        in_flight.commit()
        old_hub.close()
        migration.join(60)
        with engine.connect() as c:
            kept = c.execute(sa.text("SELECT mcn FROM outbox ORDER BY id")).scalars().all()
        engine.dispose()
        assert blocked and not failures and not migration.is_alive()
        assert kept == ["Q-BEFORE", "Q-DURING"]
    finally:
        drop()
