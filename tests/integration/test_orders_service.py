"""The order lifecycle on real SQLite and PostgreSQL databases (service layer, no HTTP)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hub import ids
from hub.clock import COURTS
from hub.codes import CancelReason, OrderStatus, Role
from hub.db.engine import Database
from hub.db.models import IntakeReceipt, Order, OrderParty, OrderVersion
from hub.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationError
from hub.orders.document import OrderDocument
from hub.orders.service import OrderService, Source
from tests.conftest import make_user
from tests.support.orders import name, order, order_element, proof

svc = OrderService()


def count(db: Database, model: type) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_submit_creates_active_order_with_history(db, clerk):
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, order_element(order()))
    assert r.status is OrderStatus.ACTIVE and r.version == 1 and r.order_id.startswith("CCP")
    with db.read() as s:
        o = svc.get(s, clerk, r.order_id)
        (v,) = svc.history(s, o)
    assert v.action == "SUBMIT" and v.actor_name == "la-clerk" and v.actor_ori == "CA019015J"
    assert "CaseDocketID" in v.changed.split("\n")


def test_a_new_orders_names_and_history_rows_are_derived_from_it(db, clerk):
    # PostgreSQL writes the three in one statement, SQLite in three: the rows must be the same.
    restrained = order()["ProtectionOrderRestrictedPerson"] | {"PersonAlternateName": [name(" Mouse ", "Mick  Ey")]}
    protected = [
        {"PersonName": name("DUCK", "DAISY"), "PersonBirthDate": date(1982, 1, 2)},
        {"PersonName": name("DUCK", None)},
    ]
    new = order(ProtectionOrderRestrictedPerson=restrained, ProtectionOrderProtectedPerson=protected)
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, order_element(new))
    with db.read() as s:
        o = s.get(Order, ids.parse(ids.ORDER, r.order_id))
        columns = ("role", "alias", "surname_key", "surname_rkey", "given_key", "given_rkey", "birth_date")
        rows = s.execute(select(*(OrderParty.__table__.c[c] for c in columns)).where(OrderParty.order_id == o.id))
        repeated = s.execute(
            select(OrderParty.order_status, OrderParty.sealed, OrderParty.owner_org_id).where(
                OrderParty.order_id == o.id
            )
        )
        (v,) = s.scalars(select(OrderVersion).where(OrderVersion.order_id == o.id))
    assert sorted(tuple(row) for row in rows) == [
        ("PROTECTED", False, "DUCK", "KCUD", "", "", None),
        ("PROTECTED", False, "DUCK", "KCUD", "DAISY", "YSIAD", date(1982, 1, 2)),
        ("RESTRAINED", False, "MOUSE", "ESUOM", "MICKEY", "YEKCIM", date(1980, 5, 17)),
        ("RESTRAINED", True, "MOUSE", "ESUOM", "MICK EY", "YE KCIM", date(1980, 5, 17)),
    ]
    assert set(repeated) == {("ACTIVE", False, clerk.organization_id)}
    assert (v.version, v.action, v.status, v.document) == (1, "SUBMIT", "ACTIVE", o.document)
    assert (v.actor_id, v.actor_name, v.actor_ori, v.at) == (clerk.account_id, "la-clerk", "CA019015J", o.created_at)
    assert v.changed == "\n".join(OrderDocument(order_element(new)).changed_elements(None))


def test_a_draft_without_names_has_no_name_rows(db, clerk):
    partial = {k: v for k, v in order().items() if k in ("CourtOrderIssuingCourt", "CaseDocketID")}
    with db.unit_of_work() as s:
        d = svc.save_draft(s, clerk, order_element(partial))
    assert count(db, OrderParty) == 0
    with db.read() as s:
        assert [h.action for h in svc.history(s, svc.get(s, clerk, d.order_id))] == ["SAVE_DRAFT"]


def test_active_profile_lists_every_missing_field_and_stores_nothing(db, clerk):
    incomplete = order(
        ProtectionOrderBradyIndicator=None, CourtOrderExpirationDate=None, CourtOrderFormCode="CH-130"
    )  # CH-130 is CHO, not OAH
    with pytest.raises(ValidationError) as err, db.unit_of_work() as s:
        svc.submit(s, clerk, order_element(incomplete))
    messages = " | ".join(f"{v.path}: {v.message}" for v in err.value.violations)
    assert "ProtectionOrderTypeCode" in messages and "CourtOrderExpirationDate" in messages
    assert count(db, Order) == 0


def test_draft_then_complete_then_modify_with_versions(db, clerk):
    partial = {k: v for k, v in order().items() if k in ("CourtOrderIssuingCourt", "CaseDocketID")}
    with db.unit_of_work() as s:
        d = svc.save_draft(s, clerk, order_element(partial))
    assert d.status is OrderStatus.DRAFT
    with pytest.raises(ValidationError), db.unit_of_work() as s:  # incomplete: cannot become ACTIVE
        svc.submit(s, clerk, order_element(partial), order_id=d.order_id, version=1)
    full = order(CaseDocketID=partial["CaseDocketID"])
    with db.unit_of_work() as s:
        a = svc.submit(s, clerk, order_element(full), order_id=d.order_id, version=1)
    assert (a.order_id, a.version, a.status) == (d.order_id, 2, OrderStatus.ACTIVE)
    changed = order(CaseDocketID=partial["CaseDocketID"], ProtectionOrderBradyIndicator="N")
    with db.unit_of_work() as s:
        m = svc.modify(s, clerk, d.order_id, 2, order_element(changed))
    assert m.version == 3
    with db.read() as s:
        history = svc.history(s, svc.get(s, clerk, d.order_id))
    assert [h.action for h in history] == ["SAVE_DRAFT", "SUBMIT", "MODIFY"]
    assert history[-1].changed == "ProtectionOrderBradyIndicator"


def test_stale_version_is_a_conflict(db, clerk):
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, order_element(order()))
    with db.unit_of_work() as s:
        svc.modify(s, clerk, r.order_id, 1, order_element(order(ProtectionOrderBradyIndicator="U")))
    with pytest.raises(Conflict, match="version 2, not 1"), db.unit_of_work() as s:
        svc.modify(s, clerk, r.order_id, 1, order_element(order(ProtectionOrderBradyIndicator="N")))
    assert count(db, OrderVersion) == 2


def test_modify_of_active_order_keeps_active_profile(db, clerk):
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, order_element(order()))
    with pytest.raises(ValidationError) as err, db.unit_of_work() as s:
        svc.modify(s, clerk, r.order_id, 1, order_element(order(ProtectionOrderRestrictedPerson=None)))
    assert any(
        "ProtectionOrderRestrictedPerson" in v.message or "ProtectionOrderRestrictedPerson" in v.path
        for v in err.value.violations
    )


def test_serve_cancel_and_illegal_transitions(db, clerk):
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, order_element(order()))
    with db.unit_of_work() as s:
        served = svc.serve(s, clerk, r.order_id, 1, order_element(proof(), "ProofOfService"), Source(None, None))
    assert served.served and served.version == 2
    with db.unit_of_work() as s:
        c = svc.cancel(s, clerk, r.order_id, 2, CancelReason.ENTERED_IN_ERROR, None, Source(None, None))
    assert c.status is OrderStatus.CANCELLED
    with pytest.raises(InvalidState), db.unit_of_work() as s:
        svc.cancel(s, clerk, r.order_id, 3, CancelReason.TERMINATED_BY_COURT, None, Source(None, None))
    with pytest.raises(InvalidState), db.unit_of_work() as s:
        svc.modify(s, clerk, r.order_id, 3, order_element(order()))
    with db.unit_of_work() as s:
        d = svc.save_draft(s, clerk, order_element(order()))
    with pytest.raises(InvalidState, match="only ACTIVE"), db.unit_of_work() as s:
        svc.cancel(s, clerk, d.order_id, 1, CancelReason.OTHER, "dup", Source(None, None))
    with pytest.raises(ValidationError), db.unit_of_work() as s:
        svc.cancel(s, clerk, d.order_id, 1, CancelReason.OTHER, None, Source(None, None))


def test_served_order_keeps_proof_when_modified_without_it(db, clerk):
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, order_element(order()))
    with db.unit_of_work() as s:
        svc.serve(s, clerk, r.order_id, 1, order_element(proof(), "ProofOfService"), Source(None, None))
        m = svc.modify(s, clerk, r.order_id, 2, order_element(order(ProtectionOrderBradyIndicator="N")))
    assert m.served


def test_idempotent_intake_returns_original_receipt(db, clerk):
    data = order(SourceSystemName="FACCTS", SourceMessageID="MSG-0001")
    with db.unit_of_work() as s:
        first = svc.submit(s, clerk, order_element(data))
    with db.unit_of_work() as s:
        again = svc.submit(s, clerk, order_element(data))
    assert again.duplicate and (again.order_id, again.version, again.received_at) == (
        first.order_id,
        first.version,
        first.received_at,
    )
    assert count(db, Order) == 1 and count(db, IntakeReceipt) == 1
    with pytest.raises(Conflict, match="already used for SubmitOrder"), db.unit_of_work() as s:
        svc.save_draft(s, clerk, order_element(data))


def test_same_message_id_from_another_organization_is_independent(db, clerk):
    other = make_user(db, "sf-clerk", ori="CA038015J")
    data = order(SourceSystemName="DMS", SourceMessageID="42")
    san_francisco = {"OrganizationORIIdentification": "CA038015J", "OrganizationName": "SF Superior Court"}
    with db.unit_of_work() as s:
        a = svc.submit(s, clerk, order_element(data))
        b = svc.submit(s, other, order_element({**data, "CourtOrderIssuingCourt": san_francisco}))
    assert a.order_id != b.order_id and not b.duplicate


def test_clone_makes_a_new_draft_without_service_or_source(db, clerk):
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, order_element(order(SourceSystemName="DMS", SourceMessageID="A1")))
        c = svc.clone(s, clerk, r.order_id, Source("DMS", "A2"))
    assert c.status is OrderStatus.DRAFT and c.order_id != r.order_id
    with db.read() as s:
        copy = svc.get(s, clerk, c.order_id)
    assert copy.cloned_from_id is not None and "SourceMessageID" not in copy.document
    assert "MOUSE" in copy.document


def test_roles_and_ownership(db, clerk):
    reader = make_user(db, "reader", role=Role.QUERY_ONLY)
    stranger = make_user(db, "sd-clerk", ori="CA037015J")
    admin = make_user(db, "admin", role=Role.ADMINISTRATOR)
    with pytest.raises(Forbidden), db.unit_of_work() as s:
        svc.submit(s, reader, order_element(order()))
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, order_element(order()))
    with pytest.raises(Forbidden, match="only the organization"), db.unit_of_work() as s:
        svc.modify(s, stranger, r.order_id, 1, order_element(order()))
    with pytest.raises(Forbidden), db.read() as s:
        svc.get(s, admin, r.order_id)
    with db.read() as s:
        assert svc.get(s, reader, r.order_id).id


def test_sealed_orders_need_sealed_role_to_enter(db, clerk):
    with pytest.raises(Forbidden, match="SEALED"), db.unit_of_work() as s:
        svc.submit(s, clerk, order_element(order(SealedIndicator=True)))
    sealed_clerk = make_user(db, "sealed", role=Role.QUERY_UPDATE_SEALED)
    with db.unit_of_work() as s:
        assert svc.submit(s, sealed_clerk, order_element(order(SealedIndicator=True))).order_id


def test_drafts_are_invisible_to_other_organizations(db, clerk):
    stranger = make_user(db, "sd-reader", ori="CA037015J", role=Role.QUERY_ONLY)
    with db.unit_of_work() as s:
        d = svc.save_draft(s, clerk, order_element(order()))
    with pytest.raises(NotFound), db.read() as s:
        svc.get(s, stranger, d.order_id)


def test_expiry_moves_past_orders_to_expired(db, clerk):
    issued = COURTS.today() - timedelta(days=20)
    with db.unit_of_work() as s:
        r = svc.submit(
            s,
            clerk,
            order_element(
                order(
                    CourtOrderFormCode="DV-110",
                    ProtectionOrderTypeCode="TRO",
                    CourtOrderIssuingDate=issued,
                    CourtOrderExpirationDate=issued + timedelta(days=15),
                )
            ),
        )
        keep = svc.submit(s, clerk, order_element(order()))
    with db.unit_of_work() as s:
        expired = svc.expire_due(s, clerk)
    assert expired == [r.order_id]
    with db.read() as s:
        assert svc.get(s, clerk, r.order_id).status == "EXPIRED"
        assert svc.get(s, clerk, keep.order_id).status == "ACTIVE"


def test_unknown_and_malformed_ids_are_not_found(db, clerk):
    with pytest.raises(NotFound), db.read() as s:
        svc.get(s, clerk, "CCP9999999999")
    with pytest.raises(NotFound), db.read() as s:
        svc.get(s, clerk, "1; DROP TABLE orders")


def test_a_message_id_reused_for_another_order_is_a_conflict(db, clerk):
    with db.unit_of_work() as s:
        a = svc.submit(s, clerk, order_element(order()))
        b = svc.submit(s, clerk, order_element(order()))
        svc.modify(s, clerk, a.order_id, 1, order_element(order(SourceSystemName="DMS", SourceMessageID="M1")))
    with pytest.raises(Conflict, match=f"already used for order {a.order_id}"), db.unit_of_work() as s:
        svc.modify(s, clerk, b.order_id, 1, order_element(order(SourceSystemName="DMS", SourceMessageID="M1")))
    with db.read() as s:
        assert svc.get(s, clerk, b.order_id).version == 1


def test_stored_orders_with_huge_text_nodes_read_back(db, clerk):
    """Intake accepts text nodes over libxml2's 10 MB default; reading back must too."""
    from hub.xmlsafe import XmlLimits, parse
    from tests.support.orders import envelope

    body = envelope("SubmitOrder", [("Order", order())]).replace(
        b"<ord:CaseDocketID>", b"\n" + b" " * 11_000_000 + b"<ord:CaseDocketID>"
    )
    root = parse(body, XmlLimits(max_bytes=30_000_000))
    element = root.find(".//{urn:ca:courts:ccpor:orders:1}Order")
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, element)
    with db.read() as s:
        doc = OrderDocument.from_xml(svc.get(s, clerk, r.order_id).document)
    assert doc.case_number.startswith("24FL")


@pytest.mark.parametrize("again", ["save_draft", "submit"])
def test_saving_or_completing_an_active_order_as_a_draft_is_an_illegal_transition(db, clerk, again):
    """Not a lost race (Client.Conflict, "retry"): the order is ACTIVE, and SaveDraft or SubmitOrder
    with its OrderId only ever take a DRAFT -- Client.InvalidState, before any UPDATE runs."""
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, order_element(order()))
    with pytest.raises(InvalidState, match="is ACTIVE; only a DRAFT") as refused, db.unit_of_work() as s:
        getattr(svc, again)(s, clerk, order_element(order()), order_id=r.order_id, version=1)
    assert "ModifyOrder" in refused.value.message
    with db.read() as s:
        assert (svc.get(s, clerk, r.order_id).version, count(db, OrderVersion)) == (1, 1)  # nothing changed
