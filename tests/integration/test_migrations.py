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
