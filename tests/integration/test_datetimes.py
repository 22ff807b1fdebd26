"""Every xs:dateTime a caller sends follows one rule: it carries its UTC offset (svc:ZonedDateTimeType
in the schemas) and becomes a UTC instant (hub.clock.instant). A time without an offset, or one with
no UTC instant, is the caller's Client.ValidationError -- never a Server fault. The three services
were swept: /ws/admin's SearchAudit and UnlockOrder are the operations that take a dateTime."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub import masterkey, ns
from hub.api.app import Services, create_app
from hub.codes import Role
from hub.contract import contract_dir
from hub.settings import Settings
from tests.conftest import PASSWORD, make_user
from tests.support.orders import envelope
from tests.support.wsgi import call, fault_of

ADM = ns.ADMIN_SERVICE


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    data = tmp_path_factory.mktemp("datetimes")
    shutil.copy(sqlite_template, data / "hub.db")
    masterkey.create(data / "master.key")
    url = f"sqlite:///{data / 'hub.db'}"
    services = Services.build(Settings(data_dir=data, database_url=url, dev_password_text_over_http=True))
    make_user(services.db, "admin", role=Role.ADMINISTRATOR)
    yield create_app(services)
    services.db.dispose()


def search_audit(app: Any, start: str, end: str) -> tuple[str, str] | None:
    criteria = {"FromDateTime": start, "ToDateTime": end}
    body = envelope("SearchAudit", [("Criteria", criteria, ADM)], username="admin", password=PASSWORD, service=ADM)
    return fault_of(call(app, body, "/ws/admin")[1])


def unlock_order(app: Any, locked: str) -> tuple[str, str] | None:
    params = [("OrderId", "CCP0000000001"), ("LockedDateTime", locked), ("ReasonText", "stuck")]
    body = envelope("UnlockOrder", params, username="admin", password=PASSWORD, service=ADM)
    return fault_of(call(app, body, "/ws/admin")[1])


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-12-01T00:00:00-08:00", "2026-12-02T00:00:00-08:00"),
        ("2026-12-01T08:00:00Z", "2026-12-02T08:00:00+00:00"),
    ],
)
def test_a_period_with_offsets_is_searched(app, start: str, end: str):
    assert search_audit(app, start, end) is None


@pytest.mark.parametrize(
    ("start", "end", "why"),
    [
        ("2026-12-01T00:00:00", "2026-12-02T00:00:00Z", "FromDateTime"),  # the Server fault the review found
        ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00", "ToDateTime"),
        ("0001-01-01T00:00:00+01:00", "0001-01-02T00:00:00+01:00", "outside the years"),  # no UTC instant
        ("9999-12-31T23:00:00-02:00", "9999-12-31T23:30:00-02:00", "outside the years"),
    ],
)
def test_a_time_without_its_offset_or_without_an_instant_is_the_caller_s_error(app, start: str, end: str, why: str):
    code, message = search_audit(app, start, end) or ("", "")
    assert code == "Client.ValidationError", message
    if why.startswith("outside"):
        assert why in message
    else:  # the schema's own refusal: the element named in the fault's detail
        assert "does not match the published schema" in message


def test_unlock_order_takes_its_locked_time_the_same_way(app):
    assert unlock_order(app, "2026-12-01T10:00:00")[0] == "Client.ValidationError"
    assert unlock_order(app, "0001-01-01T00:00:00+05:00")[0] == "Client.ValidationError"
    assert unlock_order(app, "2026-12-01T10:00:00Z")[0] == "Client.Conflict"  # valid: no lock taken then


def test_no_request_dateTime_in_any_service_lacks_the_rule():
    """The sweep, kept: every xs:dateTime a request element of the three services may carry is the
    zoned type (response elements are written by the hub, always in UTC with Z)."""
    import xmlschema

    loose, zoned = [], []
    for xsd in ("ccpor-orders-service.xsd", "ccpor-admin-service.xsd", "ccpor-carpos-service.xsd"):
        schema = xmlschema.XMLSchema(str(contract_dir("xsd") / xsd))
        for element in schema.elements.values():
            if element.local_name.endswith("Response"):
                continue
            for child in element.iter():
                kind = child.type
                if kind.is_simple() and kind.is_derived(schema.meta_schema.types["dateTime"]):
                    (zoned if kind.local_name == "ZonedDateTimeType" else loose).append(child.local_name)
    assert loose == [] and sorted(set(zoned)) == ["FromDateTime", "LockedDateTime", "ToDateTime"]
