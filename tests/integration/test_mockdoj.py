"""The mock DOJ switch on its own: the registry's rules, the ledger, the mailbox, the fault plan."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from hub.carpos import codec
from hub.carpos.envelope import Header, MessageKey, Transmission
from hub.orders.document import OrderDocument
from mocks.doj import registry
from mocks.doj.faults import FaultPlan
from mocks.doj.service import Switch, open_database
from tests.support.carpos import Clock
from tests.support.orders import order, order_element

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def switch(keyset, tmp_path) -> Switch:
    db = open_database(f"sqlite:///{tmp_path / 'switch.db'}")
    with db.unit_of_work() as s:
        registry.seed(s, 30, 11, NOW)
    return Switch(db, keyset.doj_channel(), "CADOJ0000", FaultPlan(rng=random.Random(2)), Clock(NOW))  # noqa: S311


def send(keyset, switch: Switch, text: str, mcn: str, *, ori: str = "CA019015J", mke: str | None = None) -> list[str]:
    """Submit one transaction; the lines of every answer the mailbox then holds (and clear it)."""
    header = Header(mcn, ori, "CADOJ0000", MessageKey(mke or text[:3]), NOW, NOW, None)
    (receipt,) = switch.submit([keyset.hub_channel().seal(Transmission(header, (text,)))])
    assert receipt.status == "QUEUED", receipt.reason
    items, _ = switch.fetch(50)
    switch.acknowledge([i for i, _ in items])
    return [line for _, sealed in items for line in keyset.hub_channel().open(sealed).lines]


def epo(oca: str = "CCP0000000001", **overrides: object) -> codec.Transaction:
    return codec.from_order(
        OrderDocument(order_element(order(**overrides))), mke=codec.Mke.EPO, ori="CA019015J", oca=oca
    )


def change(mke: codec.Mke, fcn: str, ori: str = "CA019015J") -> str:
    return codec.encode(codec.build(mke, [("ORI", ori), ("OCA", "CCP0000000001"), ("FCN", fcn)]))


def test_enter_then_modify_clear_and_the_record_is_gone(keyset, switch):
    (ack,) = send(keyset, switch, codec.encode(epo()), "M-1")
    answer = codec.parse_answer(ack)
    assert answer.kind is codec.AnswerKind.ACK and answer.fcn.startswith("019")
    assert send(keyset, switch, codec.encode(epo()), "M-2") == [f"REJ.MCN/M-2.RSN/REJECT ON FILE (FCN {answer.fcn})"]
    assert codec.parse_answer(send(keyset, switch, change(codec.Mke.CPO, answer.fcn), "M-3")[0]).kind.value == "ACK"
    (gone,) = send(keyset, switch, change(codec.Mke.XPO, answer.fcn), "M-4")
    assert gone == f"REJ.MCN/M-4.RSN/REJECT - NOT ON FILE (FCN {answer.fcn})"


def test_the_switch_applies_carpos_s_field_rules_and_the_sender_s_ori(keyset, switch):
    broken = codec.Transaction(codec.Mke.EPO, tuple((c, v) for c, v in epo().fields if c != "PPN"))
    (rej,) = send(keyset, switch, ".".join(["EPO", *(f"{c}/{v}" for c, v in broken.fields)]), "M-1")
    assert rej == "REJ.MCN/M-1.RSN/REJECT - MANDATORY FIELD MISSING (PPN)"
    (rej,) = send(keyset, switch, codec.encode(epo()), "M-2", ori="CA0190000")
    assert rej.endswith("REJECT - INVALID ORI (NOT THE SENDING AGENCY)")
    (rej,) = send(keyset, switch, codec.encode(epo()), "M-3", mke="MPO")
    assert "DOES NOT MATCH THE HEADER" in rej


def test_another_county_may_not_change_a_record(keyset, switch):
    fcn = codec.parse_answer(send(keyset, switch, codec.encode(epo()), "M-1")[0]).fcn
    (rej,) = send(keyset, switch, change(codec.Mke.CPO, fcn, ori="CA0370000"), "M-2", ori="CA0370000")
    assert rej.endswith("REJECT - NOT AUTHORIZED (THE RECORD BELONGS TO ANOTHER COUNTY)")
    (ack,) = send(keyset, switch, change(codec.Mke.CPO, fcn, ori="CA0190000"), "M-3", ori="CA0190000")
    assert ack.startswith("ACK")  # the county's sheriff may


def test_a_resend_is_answered_with_the_original_result_and_applied_once(keyset, switch):
    first = send(keyset, switch, codec.encode(epo()), "M-1")
    again = send(keyset, switch, codec.encode(epo()), "M-1")
    assert first == again and switch.ledger_counts()["M-1"] == 2


def test_queries_find_seeded_records_of_other_agencies(keyset, switch):
    ori, oca, cti, fields = registry.seed_records(30, 11)[7]
    values = dict(fields)
    query = codec.build(codec.Mke.QPO, [("ORI", "CA019015J"), ("NAM", values["NAM"]), ("DOB", values["DOB"])])
    head, *records = send(keyset, switch, codec.encode(query), "Q-1")
    found = [codec.parse_record(r) for r in records]
    assert codec.parse_answer(head).extra["CNT"] == str(len(found)) and len(found) >= 1
    assert any(r.get("OCA") == oca and r.get("ORI") == ori and r.status == "ACTIVE" for r in found)
    by_case = codec.build(codec.Mke.QPO, [("ORI", "CA019015J"), ("PNO", values["PNO"]), ("CTI", cti)])
    head, *records = send(keyset, switch, codec.encode(by_case), "Q-2")
    assert {codec.parse_record(r).get("OCA") for r in records} >= {oca}
    nothing = codec.build(codec.Mke.QPO, [("ORI", "CA019015J"), ("FCN", "9999999999999")])
    assert send(keyset, switch, codec.encode(nothing), "Q-3") == ["QRY.MCN/Q-3.CNT/0"]


def test_an_order_for_a_person_another_court_protects_against_brings_a_notice(keyset, switch):
    send(keyset, switch, codec.encode(epo()), "M-1")
    other = codec.from_order(
        OrderDocument(order_element(order(CourtOrderIssuingCourt={"OrganizationORIIdentification": "CA037015J",
                                                                   "OrganizationName": "SD"}))),
        mke=codec.Mke.EPO, ori="CA037015J", oca="CCP0000000002",
    )  # fmt: skip
    lines = send(keyset, switch, codec.encode(other), "M-2", ori="CA037015J")
    assert lines[0].startswith("ACK.MCN/M-2.") and lines[1].startswith("NTC.MCN/DOJ")
    assert "RSN/POSSIBLE CONFLICTING ORDER ON FILE" in lines[1]


def test_envelopes_it_cannot_trust_are_refused_not_answered(keyset, switch, tmp_path):
    from tests.support.carpos import KeySet

    stranger = KeySet.make(tmp_path / "stranger")
    header = Header("M-1", "CA019015J", "CADOJ0000", MessageKey.EPO, NOW, NOW, None)
    forged = stranger.hub_channel().seal(Transmission(header, (codec.encode(epo()),)))
    misaddressed = keyset.hub_channel().seal(
        Transmission(Header("M-2", "CA019015J", "CAFBI0000", MessageKey.EPO, NOW, NOW, None), (codec.encode(epo()),))
    )
    receipts = switch.submit([forged, b"<not-xml", misaddressed])
    assert [r.status for r in receipts] == ["REFUSED"] * 3
    assert "not addressed to" not in receipts[0].reason and "CAFBI0000" in receipts[2].reason
    assert switch.fetch(10) == ([], 0) and switch.ledger_counts() == {}


def test_answer_latency_holds_answers_back(keyset, switch):
    switch.faults.answer_latency = timedelta(seconds=5)
    header = Header("M-1", "CA019015J", "CADOJ0000", MessageKey.EPO, NOW, NOW, None)
    switch.submit([keyset.hub_channel().seal(Transmission(header, (codec.encode(epo()),)))])
    assert switch.fetch(10) == ([], 0)
    switch.clock.advance(seconds=5)
    assert len(switch.fetch(10)[0]) == 1
