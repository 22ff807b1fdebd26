"""The CARPOS codec: order -> transaction -> text -> transaction, the field rules, DOJ's answers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.carpos.codec import (
    TABLES,
    Answer,
    AnswerKind,
    CarposError,
    Mke,
    Transaction,
    answer_text,
    build,
    decode,
    encode,
    from_order,
    parse_answer,
    problems,
)
from hub.clock import COURTS
from hub.contract import contract_dir
from hub.orders.document import OrderDocument
from tests.property.test_intake_properties import valid_orders
from tests.support.orders import order, order_element, proof

OCA = "CCP0000000042"


def doc(**overrides) -> OrderDocument:
    return OrderDocument(order_element(order(**overrides)))


def epo(**overrides) -> Transaction:
    return from_order(doc(**overrides), mke=Mke.EPO, ori="CA019015J", oca=OCA)


@pytest.mark.parametrize(
    ("code", "xsd_type"),
    [
        ("SEX", "PersonSexCodeType"),
        ("RAC", "PersonRaceCodeType"),
        ("EYE", "PersonEyeColorCodeType"),
        ("HAI", "PersonHairColorCodeType"),
        ("SKN", "PersonSkinToneCodeType"),
        ("PCO", "ProtectionOrderConditionCodeType"),
        ("BRD", "BradyIndicatorType"),
        ("TOS", "ServiceTypeCodeType"),
        ("OTC", "ProtectionOrderTypeCodeType"),
    ],
)
def test_code_tables_are_the_xsd_s(code, xsd_type):
    schema = xmlschema.XMLSchema(str(contract_dir("xsd") / "ccpor-order.xsd"))
    assert TABLES[code] == frozenset(schema.types[xsd_type].enumeration)


def test_an_order_becomes_an_epo_in_wire_order():
    tx = epo()
    text = encode(tx)
    assert text.startswith(f"EPO.ORI/CA019015J.OCA/{OCA}.NAM/MOUSE,MICKEY.SEX/M.RAC/W.DOB/19800517.HGT/510.WGT/180.")
    assert ".OTC/OAH." in text and ".CTI/CA019015J.PPN/DUCK,DAISY.PPB/19820102.PCO/01.PCO/04.PCO/05.BRD/Y" in text
    assert decode(text) == tx


def test_service_travels_on_epo_and_spo_and_identity_alone_on_cpo_xpo():
    served = doc(ProofOfService=proof(served=COURTS.today()))
    spo = from_order(served, mke=Mke.SPO, ori="CA019015J", oca=OCA, fcn="0190000000001")
    assert [c for c, _ in spo.fields] == ["ORI", "OCA", "FCN", "SVD", "SVA", "TOS"]
    assert problems(spo) == []
    for mke in (Mke.CPO, Mke.XPO):
        tx = from_order(served, mke=mke, ori="CA019015J", oca=OCA, fcn="0190000000001")
        assert [c for c, _ in tx.fields] == ["ORI", "OCA", "FCN"] and problems(tx) == []
    assert problems(from_order(served, mke=Mke.MPO, ori="CA019015J", oca=OCA)) == [
        "REJECT - MANDATORY FIELD MISSING (FCN)"
    ]


def test_names_lose_separators_and_fit_the_field():
    tx = epo(ProtectionOrderProtectedPerson=[{"PersonName": {"PersonGivenName": "Ann", "PersonSurName": "St. John"}}])
    assert tx.all("PPN") == ["ST JOHN,ANN"]
    long = "A" * 40
    tx = epo(ProtectionOrderProtectedPerson=[{"PersonName": {"PersonGivenName": long, "PersonSurName": long}}])
    assert len(tx.get("PPN")) == 30 and tx.get("PPN").startswith("A" * 28 + ",A") and problems(tx) == []
    tx = epo(ProtectionOrderProtectedPerson=[{"PersonName": {"PersonGivenName": "José", "PersonSurName": "Núñez"}}])
    assert tx.all("PPN") == ["NUNEZ,JOSE"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: [p for p in f if p[0] != "PPN"], "REJECT - MANDATORY FIELD MISSING (PPN)"),
        (lambda f: [p for p in f if p[0] != "DOB"], "REJECT - MANDATORY FIELD MISSING (DOB)"),
        (lambda f: [(c, "X" if c == "SEX" else v) for c, v in f], "REJECT - INVALID CODE (SEX/X)"),
        (lambda f: [(c, "CA999ABCD" if c == "CTI" else v) for c, v in f], "REJECT - INVALID ORI (CTI)"),
        (lambda f: [(c, "20260231" if c == "ISD" else v) for c, v in f], "REJECT - INVALID DATE (ISD)"),
        (lambda f: [(c, "19990101" if c == "EXP" else v) for c, v in f], "REJECT - INVALID DATE (EXP BEFORE ISD)"),
        (
            lambda f: [(c, "NONEXP" if c == "EXP" else v) for c, v in f],
            "REJECT - INVALID DATE (NONEXP NOT ALLOWED FOR OAH)",
        ),
        (lambda f: [*f, ("PCO", "08")], "REJECT - MANDATORY FIELD MISSING (MIS FOR PCO 08)"),
        (lambda f: [(c, "X" * 21 if c == "PNO" else v) for c, v in f], "REJECT - FIELD TOO LONG (PNO)"),
        (lambda f: [(c, "MOUSE.MICKEY" if c == "NAM" else v) for c, v in f], "REJECT - INVALID FORMAT (NAM)"),
    ],
)
def test_what_carpos_would_reject_is_said_in_its_words(change, reason):
    tx = Transaction(Mke.EPO, tuple(change(list(epo().fields))))
    assert reason in problems(tx)
    with pytest.raises(CarposError) as refused:
        encode(tx)
    assert reason in refused.value.reasons


def test_durations_follow_the_order_type():
    issued = COURTS.today() - timedelta(days=2)
    tro = epo(CourtOrderFormCode="DV-110", ProtectionOrderTypeCode="TRO", CourtOrderIssuingDate=issued,
              CourtOrderExpirationDate=issued + timedelta(days=45))  # fmt: skip
    assert "REJECT - INVALID DATE (EXP EXCEEDS 30 DAYS FOR TRO)" in problems(tro)
    ok = epo(CourtOrderFormCode="DV-110", ProtectionOrderTypeCode="TRO", CourtOrderIssuingDate=issued,
             CourtOrderExpirationDate=issued + timedelta(days=21))  # fmt: skip
    assert problems(ok) == []


def test_queries_need_a_search_key():
    assert problems(build(Mke.QPO, [("ORI", "CA0190000")])) == ["REJECT - QUERY NEEDS FCN, NAM AND DOB, OR PNO AND CTI"]
    assert problems(build(Mke.QPO, [("ORI", "CA0190000"), ("NAM", "MOUSE,MICKEY"), ("DOB", "19800517")])) == []


def test_text_that_is_not_a_transaction_is_refused():
    for text, reason in [
        ("ZZZ.ORI/CA019015J", "REJECT - INVALID MESSAGE KEY (ZZZ)"),
        ("EPO.ORI/CA019015J.XYZ/1", "REJECT - INVALID FIELD (XYZ/1)"),
        ("EPO.ORI-CA019015J", "REJECT - INVALID FIELD (ORI-CA0190)"),
    ]:
        with pytest.raises(CarposError) as refused:
            decode(text)
        assert refused.value.reasons == [reason]


def test_answers():
    ack = parse_answer("ACK.MCN/M-1.FCN/0190000000042")
    assert (ack.kind, ack.mcn, ack.fcn) == (AnswerKind.ACK, "M-1", "0190000000042")
    rej = parse_answer("REJ.MCN/M-2.RSN/REJECT - MANDATORY FIELD MISSING (PPN)")
    assert (rej.kind, rej.reason) == (AnswerKind.REJ, "REJECT - MANDATORY FIELD MISSING (PPN)")
    notice = Answer(AnswerKind.NTC, "N-7", fcn="0190000000042", reason="RECORD PURGED", extra={"OCA": OCA})
    assert parse_answer(answer_text(notice)) == Answer(
        AnswerKind.NTC, "N-7", "0190000000042", "RECORD PURGED", answer_text(notice), {"OCA": OCA}
    )
    for bad in ("ACK.MCN/M-1", "ACK.FCN/0190000000042", "REJ.MCN/M-3", "OK.MCN/1", "ACK.MCN"):
        with pytest.raises(CarposError):
            parse_answer(bad)


FCNS = st.from_regex(r"[0-9]{13}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(data=valid_orders(), mke=st.sampled_from([m for m in Mke if m is not Mke.QPO]), fcn=FCNS, draw=st.data())
def test_random_valid_orders_encode_cleanly_and_round_trip(data, mke, fcn, draw):
    issued = data["CourtOrderIssuingDate"]
    served = issued + timedelta(days=draw.draw(st.integers(0, (COURTS.today() - issued).days)))
    kind = draw.draw(st.sampled_from(sorted(TABLES["TOS"])))
    if mke is Mke.SPO or draw.draw(st.booleans()):  # a served order's EPO and MPO carry the service too
        data = order(**{**data, "ProofOfService": proof(kind, served=served)})
    tx = from_order(OrderDocument(order_element(data)), mke=mke, ori="CA019015J", oca=OCA, fcn=fcn)
    assert problems(tx) == []
    assert decode(encode(tx)) == tx
    if mke is Mke.SPO:
        assert (tx.get("SVD"), tx.get("TOS")) == (served.strftime("%Y%m%d"), kind)


_WORDS = st.from_regex(r"[A-Z0-9]([A-Z0-9 ()-]{0,29}[A-Z0-9)])?", fullmatch=True)  # no edge blanks on the wire


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(["FCN", "NAM_DOB", "PNO_CTI"]),
    fcn=FCNS,
    surname=st.from_regex(r"[A-Z]{1,15}", fullmatch=True),
    given=st.from_regex(r"[A-Z]{1,10}", fullmatch=True),
    born=st.dates(date(1920, 1, 1), date(2010, 12, 31)),
    case=st.from_regex(r"[0-9]{2}[A-Z]{2}[0-9]{6}", fullmatch=True),
)
def test_random_valid_queries_encode_cleanly_and_round_trip(key, fcn, surname, given, born, case):
    pairs = {
        "FCN": [("FCN", fcn)],
        "NAM_DOB": [("NAM", f"{surname},{given}"), ("DOB", born.strftime("%Y%m%d"))],
        "PNO_CTI": [("PNO", case), ("CTI", "CA019015J")],
    }[key]
    tx = build(Mke.QPO, [("ORI", "CA019015J"), *pairs])
    assert problems(tx) == []
    assert decode(encode(tx)) == tx


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(list(AnswerKind)),
    mcn=st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,23}", fullmatch=True),
    fcn=st.one_of(st.none(), FCNS),
    reason=st.one_of(st.none(), _WORDS),
    extra=st.dictionaries(st.sampled_from(["OCA", "REF", "ORI"]), _WORDS, max_size=3),
    count=st.integers(0, 50),
)
def test_answers_round_trip(kind, mcn, fcn, reason, extra, count):
    if kind is AnswerKind.ACK:
        fcn = fcn or "0190000000042"
    if kind is AnswerKind.REJ:
        reason = reason or "REJECT ON FILE"
    if kind is AnswerKind.QRY:
        extra = {**extra, "CNT": str(count)}
    answer = Answer(kind, mcn, fcn, reason, extra=extra)
    text = answer_text(answer)
    assert parse_answer(text) == Answer(kind, mcn, fcn, reason, text, extra)
