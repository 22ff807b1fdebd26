"""Property-based tests of the intake (hypothesis), through the hub's whole WSGI application
in-process: hardened parser, XSD validation, Spyne, handlers, database.

- Any valid order (random parties, codes, dates within the duration rules) is accepted and comes
  back from GetOrder exactly as it was sent.
- Any mutation of a valid request -- a removed or duplicated element, a replaced text, an
  inserted stranger, cut-off bytes -- gets a SOAP fault with a Client code (never a Server fault or
  a non-SOAP answer) and stores nothing, or, when the mutation happens to leave the request valid,
  succeeds.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub import masterkey, ns
from hub.api.app import Services, create_app
from hub.clock import COURTS
from hub.codes import FORM_TO_CLETS, MAX_DURATION_DAYS
from hub.settings import Settings
from tests.conftest import PASSWORD, make_user
from tests.support.orders import SOAP, envelope, name, order
from tests.support.wsgi import call

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZÁÉÍÑÓÚÜ"
FORMS = sorted(f for f in FORM_TO_CLETS if f in MAX_DURATION_DAYS)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    data = tmp_path_factory.mktemp("property-hub")
    shutil.copy(sqlite_template, data / "hub.db")
    masterkey.create(data / "master.key")
    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'hub.db'}", dev_password_text_over_http=True)
    services = Services.build(settings)
    make_user(services.db, "clerk")
    yield create_app(services)
    services.db.dispose()


def orders_in(app: Any) -> int:
    engine = app.routes["/ws/orders"].spyne_app.app.hub.db.engine
    with engine.connect() as conn:
        return int(conn.execute(sa.text("select count(*) from orders")).scalar_one())


name_part = st.text(LETTERS + " '-", min_size=1, max_size=40).filter(lambda s: s[0].isalpha())


@st.composite
def valid_orders(draw: st.DrawFn) -> dict[str, Any]:
    form = draw(st.sampled_from(FORMS))
    issued = COURTS.today() - timedelta(days=draw(st.integers(0, 60)))
    expires = issued + timedelta(days=draw(st.integers(1, MAX_DURATION_DAYS[form])))
    codes = draw(st.lists(st.sampled_from(["01", "02", "03", "04", "05", "06", "07", "09"]), min_size=1, unique=True))
    protected = [
        {"PersonName": name(draw(name_part), draw(name_part)), "PersonBirthDate": date(1950, 1, 1) + timedelta(days=n)}
        for n in draw(st.lists(st.integers(0, 20000), min_size=1, max_size=3))
    ]
    return order(
        CourtOrderFormCode=form,
        ProtectionOrderTypeCode=FORM_TO_CLETS[form],
        CourtOrderIssuingDate=issued,
        CourtOrderExpirationDate=expires,
        ProtectionOrderRestrictedPerson={
            "PersonName": name(
                draw(name_part), draw(st.one_of(st.none(), name_part)), draw(st.one_of(st.none(), name_part))
            ),
            "PersonBirthDate": date(1940, 1, 1) + timedelta(days=draw(st.integers(0, 25000))),
            "PersonSexCode": draw(st.sampled_from("FMU")),
            "PersonRaceCode": draw(st.sampled_from("ABHIPUW")),
            "PersonHeightText": f"{draw(st.integers(4, 7))}{draw(st.integers(0, 11)):02d}",
            "PersonWeightMeasure": draw(st.integers(80, 400)),
            "PersonEyeColorCode": draw(st.sampled_from(["BLK", "BLU", "BRO", "GRN", "HAZ"])),
            "PersonHairColorCode": draw(st.sampled_from(["BLK", "BRO", "BLN", "RED", "GRY"])),
        },
        ProtectionOrderProtectedPerson=protected,
        ProtectionOrderCondition={
            "ProtectionOrderConditionCode": codes,
            "StayAwayDistanceMeasure": draw(st.integers(1, 999)),
        },
        ProtectionOrderBradyIndicator=draw(st.sampled_from("YNU")),
    )


def submit_body(data: dict[str, Any]) -> bytes:
    return envelope("SubmitOrder", [("Order", data)], username="clerk", password=PASSWORD)


def shape(element: etree._Element) -> list[tuple[str, str]]:
    """Every element's local path and text, in document order: what "exactly the same" means."""
    out = []
    for el in element.iter(etree.Element):
        path = "/".join(etree.QName(a).localname for a in reversed([el, *el.iterancestors()]))
        out.append((path.split("/Order/", 1)[-1], (el.text or "").strip()))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=valid_orders())
def test_valid_orders_round_trip_exactly(app, data):
    status, answer = call(app, submit_body(data))
    assert status.startswith("200"), etree.tostring(answer)
    order_id = answer.findtext(f".//{{{ns.ORDERS_SERVICE}}}OrderId")
    sent = etree.fromstring(submit_body(data)).find(f".//{{{ns.ORDERS_SERVICE}}}Order")
    status, record = call(app, envelope("GetOrder", [("OrderId", order_id)], username="clerk", password=PASSWORD))
    assert status.startswith("200")
    returned = record.find(f".//{{{ns.ORDERS_SERVICE}}}Order")
    assert shape(returned)[1:] == shape(sent)[1:]


def _mutate(tree: etree._Element, kind: str, pick: int, text: str) -> bytes:
    order_el = tree.find(f".//{{{ns.ORDERS_SERVICE}}}Order")
    elements = list(order_el.iter(etree.Element))[1:]
    target = elements[pick % len(elements)]
    if kind == "remove":
        target.getparent().remove(target)
    elif kind == "duplicate":
        target.addnext(etree.fromstring(etree.tostring(target)))
    elif kind == "text":
        target.text = text
    elif kind == "stranger":
        etree.SubElement(target, f"{{{ns.ORDER}}}Unexpected").text = text
    elif kind == "swap" and target.getnext() is not None:
        target.addprevious(target.getnext())
    raw = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    return raw[: len(raw) * pick // 1000] if kind == "truncate" else raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=valid_orders(),
    kind=st.sampled_from(["remove", "duplicate", "text", "stranger", "swap", "truncate"]),
    pick=st.integers(0, 999),
    text=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=50),  # what XML can carry
)
def test_mutated_requests_get_a_client_fault_and_store_nothing(app, data, kind, pick, text):
    assume(kind != "text" or text.strip())  # whitespace-only text can leave a valid request
    body = _mutate(etree.fromstring(submit_body(data)), kind, pick, text)
    before = orders_in(app)
    status, answer = call(app, body)
    assert answer is not None, "the answer is not XML"
    fault = answer.find(f".//{{{SOAP}}}Fault")
    event("accepted" if fault is None else f"refused {fault.findtext('faultcode')}")
    if fault is None:  # the mutation left a valid order (e.g. a name replaced by another name)
        assert status.startswith("200") and orders_in(app) == before + 1
        return
    code = fault.findtext("faultcode")
    assert code.split(":")[-1].startswith("Client.") or code.split(":")[-1] in ("VersionMismatch",), code
    assert orders_in(app) == before
