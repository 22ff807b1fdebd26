"""DSP917 over HTTP: a court's FACCTS/CCMS notification posted to /ws/dsp917 as the Judicial Council's
WSDL defines it -- the official sample request, wrapped in a SOAP envelope with a UsernameToken --
creates, updates and cancels its order in the registry, answered with the ISB receipt."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import requests
import zeep
from lxml import etree
from sqlalchemy import func, select
from zeep.wsse.username import UsernameToken

from hub import ns
from hub.contract import Dsp917, dsp917_dir, validate_dsp917
from hub.db.engine import Database
from hub.db.models import Dsp917Notification, Image, Order, OutboxMessage
from tests.conftest import PASSWORD
from tests.support.dsp917 import ORDER_PATH, RESTRAINED, current, sample
from tests.support.dsp917 import put as _set
from tests.support.dsp917 import with_ids as _ids

pytestmark = pytest.mark.functional

SOAP_ACTION = "/portal/isb/Schema/DSP917CAJUDReq/1.0.0"
N = {
    "ip": ns.DSP917_REQ_INPUT,
    "r": ns.DSP917_REQ,
    "nc": ns.DSP917_NC,
    "h": ns.ISB_HEADER,
    "resp": ns.ISB_RESPONSE,
    "err": ns.ISB_ERROR,
    "ord": ns.ORDER,
    "soap": ns.SOAP11_ENV,
    "s": ns.DSP917_S,
}
ERROR_XSD = "SchemaDefinitions/Common/ISBCommonServiceErrorSchema.xsd"
COURT = "imperial-faccts"  # CA013013J: court number 13, the sample's CourtCd


def envelope(message: etree._Element, user: str = COURT, *, digest: bool = True) -> bytes:
    env = etree.Element(ns.q(ns.SOAP11_ENV, "Envelope"), nsmap={"soapenv": ns.SOAP11_ENV})
    etree.SubElement(env, ns.q(ns.SOAP11_ENV, "Header"))
    etree.SubElement(env, ns.q(ns.SOAP11_ENV, "Body")).append(copy.deepcopy(message))
    env, _ = UsernameToken(user, PASSWORD, use_digest=digest).apply(env, {})
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def post(hub: Any, message: etree._Element, **kw: Any) -> tuple[int, etree._Element]:
    reply = requests.post(
        f"{hub.server.url}/ws/dsp917",
        data=envelope(message, **kw),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION},
        timeout=60,
    )
    return reply.status_code, etree.fromstring(reply.content)


def receipt(hub: Any, message: etree._Element, **kw: Any) -> etree._Element:
    status, env = post(hub, message, **kw)
    assert status == 200, etree.tostring(env)
    (out,) = env.xpath("soap:Body/*", namespaces=N)
    assert validate_dsp917(out, Dsp917.REQ_OUTPUT) == []
    (answer,) = out.xpath("resp:ISBCommonResponseMessage", namespaces=N)
    return answer


def fault(hub: Any, message: etree._Element, **kw: Any) -> tuple[str, etree._Element]:
    status, env = post(hub, message, **kw)
    assert status == 500
    (code,) = env.xpath("soap:Body/soap:Fault/faultcode/text()", namespaces=N)
    (isb,) = env.xpath("soap:Body/soap:Fault/detail/err:ISBCommonErrorMessage", namespaces=N)
    error_schema = etree.XMLSchema(
        etree.parse(str(dsp917_dir() / "SchemaDefinitions/Common/ISBCommonServiceErrorSchema.xsd"))
    )
    assert error_schema.validate(isb), error_schema.error_log
    assert isb.findtext(ns.q(ns.ISB_ERROR, "ExceptionCode")) == code.split(":")[-1]
    return code.split(":")[-1], isb


def _r(answer: etree._Element, local: str) -> str:
    return answer.findtext(ns.q(ns.ISB_RESPONSE, local)) or ""


def notifications(hub: Any, correlation: str) -> list[Dsp917Notification]:
    db = Database(hub.db_url)
    try:
        with db.read() as s:
            rows = s.scalars(select(Dsp917Notification).where(Dsp917Notification.correlation_id == correlation)).all()
            for row in rows:
                s.expunge(row)
            return list(rows)
    finally:
        db.dispose()


def stored_order(hub: Any, order_id: int) -> tuple[Order, etree._Element, list[Image], int]:
    db = Database(hub.db_url)
    try:
        with db.read() as s:
            order = s.get(Order, order_id)
            assert order is not None
            s.expunge(order)
            images = list(s.scalars(select(Image).where(Image.order_id == order_id)))
            for image in images:
                s.expunge(image)
            outbox = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.order_id == order_id))
            return order, etree.fromstring(order.document.encode()), images, int(outbox or 0)
    finally:
        db.dispose()


#: The official sample as mapped, element by element (request-mapping.csv; hub/dsp917/mapping.py).
SAMPLE_AS_MAPPED = {
    "ord:CourtOrderFormCode": "DV-110",  # ActivityCategoryText TRO
    "ord:ProtectionOrderTypeCode": "TRO",
    "ord:CourtOrderIssuingCourt/ord:OrganizationORIIdentification": "CA013013J",  # the account's court
    "ord:CourtOrderIssuingCourt/ord:OrganizationName": "IMPERIAL",  # j:CourtName as given
    "ord:CaseDocketID": "00003235",
    "ord:CourtOrderIssuingDate": "2011-08-13",
    "ord:CourtOrderExpirationDate": "2015-08-13",
    "ord:SealedIndicator": "true",  # SealedCode Y
    "ord:ProtectionOrderRestrictedPerson/ord:PersonName/ord:PersonGivenName": "Thomas",
    "ord:ProtectionOrderRestrictedPerson/ord:PersonName/ord:PersonMiddleName": "Frank",
    "ord:ProtectionOrderRestrictedPerson/ord:PersonName/ord:PersonSurName": "Spelling",
    "ord:ProtectionOrderRestrictedPerson/ord:PersonBirthDate": "1967-08-13",
    "ord:ProtectionOrderRestrictedPerson/ord:PersonSexCode": "M",
    "ord:ProtectionOrderRestrictedPerson/ord:PersonRaceCode": "P",  # DSP917 P Pacific Islander
    "ord:ProtectionOrderRestrictedPerson/ord:PersonHeightText": "603",
    "ord:ProtectionOrderRestrictedPerson/ord:PersonWeightMeasure": "194",
    "ord:ProtectionOrderRestrictedPerson/ord:PersonEyeColorCode": "BLU",
    "ord:ProtectionOrderRestrictedPerson/ord:PersonHairColorCode": "BLK",
    "ord:ProtectionOrderRestrictedPerson/ord:PersonSkinToneCode": "LGT",
    "ord:ProtectionOrderRestrictedPerson/ord:DriverLicense/ord:DriverLicenseIdentification": "C1288753",
    "ord:ProtectionOrderRestrictedPerson/ord:DriverLicense/ord:DriverLicenseIssuingStateCode": "CA",
    "ord:ProtectionOrderProtectedPerson/ord:PersonName/ord:PersonGivenName": "Mary",
    "ord:ProtectionOrderProtectedPerson/ord:PersonName/ord:PersonSurName": "Spelling",
    "ord:ProtectionOrderProtectedPerson/ord:PersonSexCode": "F",
    "ord:ProtectionOrderProtectedPerson/ord:PersonBirthDate": "1967-08-13",
    # StayAwayText CPRV -> 04; VisitationCode Y -> 06; FirearmProvisionsCode B -> 07 and surrender;
    # MiscellaneousInformationText -> 08 with its text.
    "ord:ProtectionOrderCondition/ord:ProtectionOrderConditionCode": ["04", "06", "07", "08"],
    "ord:ProtectionOrderCondition/ord:FirearmRelinquishmentIndicator": "true",
    "ord:ProtectionOrderBradyIndicator": "U",
    "ord:SourceSystemName": "DSP917",
}


def test_the_official_sample_as_sent_is_held_as_a_draft_with_its_image_people_and_codes(hub):
    answer = receipt(hub, _ids(sample(), "130000217092", "1002968903"))
    assert _r(answer, "Status") == "SUCCESS"
    assert _r(answer, "CorrelationId") == "130000217092"
    assert _r(answer, "ISBTransactionId") == "1002968903"
    assert "450100" in _r(answer, "Message")
    (row,) = notifications(hub, "130000217092")
    assert (row.outcome, row.error_code, row.action) == ("HELD", "450100", "A")
    assert _r(answer, "DocumentId") == f"DSP917-{row.id}"
    # The rules it breaks, in words: DV-110 lasts weeks, not four years; 123456 yards is kept aside.
    assert "DV-110 orders last at most" in row.findings
    assert "StayAwayDistanceMeasure '123456' is kept" in row.findings
    order, doc, images, outbox = stored_order(hub, row.order_id)
    assert order.status == "DRAFT" and outbox == 0  # kept out of CARPOS
    for path, expected in SAMPLE_AS_MAPPED.items():
        found = [e.text for e in doc.xpath(path, namespaces=N)]
        assert found == (expected if isinstance(expected, list) else [expected]), path
    assert doc.find(ns.q(ns.ORDER, "ProtectionOrderCondition/ord:StayAwayDistanceMeasure".replace("ord:", ""))) is None
    assert "Bad Dude" in doc.findtext("ord:ProtectionOrderCondition/ord:ProtectionOrderConditionText", namespaces=N)
    # The inline PDF is the order's image, content-checked; the stored notification keeps all but its bytes.
    (image,) = images
    assert image.media_type == "application/pdf" and image.id == row.image_id
    assert image.file_name == "Tempory Restraining Order"
    kept = etree.fromstring(row.payload.encode())
    assert kept.xpath("string(//nc:BinaryBase64Object)", namespaces=N) == ""
    assert (
        kept.xpath("string(//r:VehicleIdentification/nc:IdentificationID)", namespaces={**N, "r": ns.DSP917_NC})
        == "V123UKL89734"
    )
    assert row.order_version == order.version
    # A resend is answered with the same receipt and changes nothing.
    again = receipt(hub, _ids(sample(), "130000217092", "1002968903"))
    assert _r(again, "DocumentId") == _r(answer, "DocumentId")
    assert "a resend" in _r(again, "Message")
    assert len(notifications(hub, "130000217092")) == 1
    assert stored_order(hub, row.order_id)[0].version == order.version


def test_add_update_cancel_in_sequence_each_resend_answered_once(hub):
    added = receipt(hub, current("AUC-1", "880000000001", "AUC0001"))
    assert re.search(r"CCPOR order CCP\d+ is ACTIVE", _r(added, "Message")), _r(added, "Message")
    (row,) = notifications(hub, "AUC-1")
    order, doc, images, _ = stored_order(hub, row.order_id)
    assert order.status == "ACTIVE" and len(images) == 1
    # In-court presence is not claimed by the sample (PresentInCourtCode N): no proof of service.
    assert doc.find(ns.q(ns.ORDER, "ProofOfService")) is None

    change = current("AUC-2", "880000000001", "AUC0001")
    _set(change, f"{ORDER_PATH}/r:AddUpdateCancelText", "U")
    _set(change, f"{RESTRAINED}/r:PersonDemographics/nc:PersonWeightMeasure/nc:MeasureText", "210")
    updated = receipt(hub, change)
    assert "is ACTIVE" in _r(updated, "Message")
    order2, doc2, images2, _ = stored_order(hub, row.order_id)
    assert order2.version > order.version and len(images2) == 1  # no second copy of the image
    assert doc2.findtext("ord:ProtectionOrderRestrictedPerson/ord:PersonWeightMeasure", namespaces=N) == "210"

    cancel = current("AUC-3", "880000000001", "AUC0001")
    _set(cancel, f"{ORDER_PATH}/r:AddUpdateCancelText", "C")
    cancelled = receipt(hub, cancel)
    assert "is CANCELLED" in _r(cancelled, "Message")
    order3 = stored_order(hub, row.order_id)[0]
    assert order3.status == "CANCELLED"
    # Each resend: its first receipt, nothing changed.
    for message, first in (
        (current("AUC-1", "880000000001", "AUC0001"), added),
        (change, updated),
        (cancel, cancelled),
    ):
        again = receipt(hub, message)
        assert _r(again, "DocumentId") == _r(first, "DocumentId")
    assert stored_order(hub, row.order_id)[0].version == order3.version
    # The order the court added once: a second A for it is refused, naming the order to update.
    second = receipt(hub, current("AUC-4", "880000000001", "AUC0001"))
    assert "450200" in _r(second, "Message") and "send U" in _r(second, "Message")
    assert "CCP" not in _r(second, "Message")  # a refusal names no CCPOR order


def test_an_update_of_an_order_the_court_never_added_is_the_lookup_error(hub):
    message = current("LOOKUP-1", "770000000009", "NOPE0001")
    _set(message, f"{ORDER_PATH}/r:AddUpdateCancelText", "U")
    answer = receipt(hub, message)
    assert "450000" in _r(answer, "Message")
    (row,) = notifications(hub, "LOOKUP-1")
    assert row.outcome == "REFUSED" and row.order_id is None


def test_another_courts_court_code_is_refused_and_nothing_is_stored(hub):
    message = current("OTHER-1", "770000000010")
    _set(message, "h:ISBCommonServiceHeader/CourtCd", "19")
    code, isb = fault(hub, message)
    assert code == "Client.Forbidden"
    assert "CourtCd 19 is not this account's court" in isb.findtext(ns.q(ns.ISB_ERROR, "ExceptionMessage"))
    assert notifications(hub, "OTHER-1") == []
    # A court of another county cannot send Imperial's notifications either.
    code, _ = fault(hub, current("OTHER-2", "770000000011"), user="kern-faccts")
    assert code == "Client.Forbidden"


def test_a_notification_the_official_schema_refuses_is_a_fault_with_the_isb_error(hub):
    message = current("BAD-1", "770000000012")
    (case,) = message.xpath(
        "r:ProductExchangePackage/r:ProductRelatedObjects/r:ProductRelatedActivities/r:CourtCase/nc:CaseDocketID",
        namespaces=N,
    )
    case.getparent().remove(case)
    code, isb = fault(hub, message)
    assert code == "Client.ValidationError"
    details = isb.findall(ns.q(ns.ISB_ERROR, "ExceptionDetails"))
    assert details and "CourtCase" in details[0].findtext(ns.q(ns.ISB_ERROR, "Data"))
    assert notifications(hub, "BAD-1") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: _set(m, f"{ORDER_PATH}/r:AddUpdateCancelText", "X"), "AddUpdateCancelText is 'X'"),
        (lambda m: _set(m, "h:ISBCommonServiceHeader/CorrelationId", ""), "CorrelationId is required"),
        (
            lambda m: m.xpath("//nc:RoleOfPersonReference", namespaces=N)[0].set(ns.q(ns.DSP917_S, "ref"), "NOBODY"),
            "s:ref 'NOBODY' names no Person",
        ),
    ],
    ids=["indicator", "correlation", "dangling-ref"],
)
def test_what_the_schema_admits_but_the_hub_cannot_use_is_a_validation_fault(hub, change, message):
    m = current("USE-1", "770000000013")
    change(m)
    code, isb = fault(hub, m)
    assert code == "Client.ValidationError"
    assert message in " ".join(
        d.findtext(ns.q(ns.ISB_ERROR, "Msg")) for d in isb.findall(ns.q(ns.ISB_ERROR, "ExceptionDetails"))
    )


def test_the_wsdl_is_the_official_one_at_the_hubs_address_and_zeep_loads_it(hub):
    wsdl = requests.get(f"{hub.server.url}/ws/dsp917?wsdl", timeout=30).content
    official = (dsp917_dir() / "SOAP/CAJUD/DSP917/V_2_0_0/ConcreteWSDLs/DSP917CAJUDReq_Concrete.wsdl").read_bytes()
    # Byte for byte the official file, but for the address: the hub's public one (CCPOR_PUBLIC_URL).
    ours = f"{hub.server.url}/ws/dsp917".encode()
    assert wsdl == official.replace(b"https://localhost:25201/portal/isb/Schema/DSP917CAJUDReq/1.0.0", ours)
    client = zeep.Client(f"{hub.server.url}/ws/dsp917?wsdl")
    (service,) = client.wsdl.services.values()
    (port,) = service.ports.values()
    assert port.binding_options["address"] == ours.decode()
    assert list(port.binding._operations) == ["Notify"]
    assert port.binding._operations["Notify"].soapaction == SOAP_ACTION


def test_zeep_and_suds_call_notify_from_the_wsdl_and_read_the_receipt_typed(hub):
    """DSP917's request type is 22 NIEM substitution groups deep: no toolkit builds it from keyword
    arguments, so courts' systems send the document they already have. zeep and suds take it from
    the WSDL's address and soapAction and read the receipt through the WSDL's types."""
    wsdl = f"{hub.server.url}/ws/dsp917?wsdl"
    client = zeep.Client(wsdl)
    (service,) = client.wsdl.services.values()
    (port,) = service.ports.values()
    operation = port.binding._operations["Notify"]
    message = current("TOOLKIT-ZEEP", "660000000001", "TOOL0001")
    reply = client.transport.post_xml(
        port.binding_options["address"],
        etree.fromstring(envelope(message)),
        {"SOAPAction": f'"{operation.soapaction}"', "Content-Type": "text/xml; charset=utf-8"},
    )
    typed = port.binding.process_reply(client, operation, reply)
    assert typed.ISBCommonResponseMessage.Status == "SUCCESS"
    assert typed.ISBCommonResponseMessage.CorrelationId == "TOOLKIT-ZEEP"
    assert "is ACTIVE" in typed.ISBCommonResponseMessage.Message

    import suds.client

    court = suds.client.Client(wsdl, cache=None)
    answer = court.service.Notify(__inject={"msg": envelope(current("TOOLKIT-SUDS", "660000000002", "TOOL0002"))})
    response = answer.ISBCommonResponseMessage
    assert response.Status == "SUCCESS" and response.CorrelationId == "TOOLKIT-SUDS"


def test_a_scan_near_the_image_limit_is_taken_whole_and_stored_once(hub):
    """A 9 MB PDF inline (12 MB of base64, a text node over libxml2's default 10 MB): the order gets
    it as its image, the stored notification keeps everything else."""
    import base64

    message = current("BIG-1", "770000000099", "BIG0001")
    scan = b"%PDF-1.4\n" + b"0" * (9 * 1000 * 1000) + b"\n%%EOF\n"
    (binary,) = message.xpath("//nc:BinaryBase64Object", namespaces=N)
    binary.text = base64.b64encode(scan).decode()
    answer = receipt(hub, message)
    assert "is ACTIVE" in _r(answer, "Message")
    (row,) = notifications(hub, "BIG-1")
    _, _, images, _ = stored_order(hub, row.order_id)
    assert [i.size_bytes for i in images] == [len(scan)]
    assert len(row.payload) < 100_000


@pytest.fixture(scope="module")
def faccts_signer(hub):  # type: ignore[no-untyped-def]
    """Imperial's FACCTS as a system account identified by its registered signing certificate."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from hub.accounts.service import add_user, register_certificate
    from hub.codes import Role
    from tests.support.certs import self_signed

    key, cert = self_signed("imperial-faccts-signer", rsa_bits=2048)
    db = Database(hub.db_url)
    with db.unit_of_work() as s:
        add_user(s, "imperial-signer", ori="CA013013J", role=Role.QUERY_UPDATE_SEALED, clets=False, password=PASSWORD)
        register_certificate(s, "imperial-signer", cert.public_bytes(Encoding.PEM))
    db.dispose()
    return key, cert


def signed(message: etree._Element, key: Any, cert: Any) -> etree._Element:
    from hub.api.wssig import sign_envelope

    env = etree.Element(ns.q(ns.SOAP11_ENV, "Envelope"), nsmap={"soapenv": ns.SOAP11_ENV})
    etree.SubElement(env, ns.q(ns.SOAP11_ENV, "Body")).append(copy.deepcopy(message))
    return sign_envelope(env, key, cert)


def post_raw(hub: Any, env: etree._Element) -> tuple[int, etree._Element]:
    reply = requests.post(
        f"{hub.server.url}/ws/dsp917",
        data=etree.tostring(env, xml_declaration=True, encoding="UTF-8"),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION},
        timeout=60,
    )
    return reply.status_code, etree.fromstring(reply.content)


def test_an_x509_signed_notification_acts_as_the_certificates_court_account(hub, faccts_signer):
    """The same WS-Security X.509 signatures as the hub's own services: the signer's registered
    certificate names the court's account; a tampered body or a replayed message is refused with the
    ISB error (nothing stored); the ISB's resend, signed afresh, gets its first receipt."""
    key, cert = faccts_signer
    message = current("SIG-1", "770000000001", "SIG0001")
    status, env = post_raw(hub, signed(message, key, cert))
    assert status == 200, etree.tostring(env)
    (answer,) = env.xpath("soap:Body/*/resp:ISBCommonResponseMessage", namespaces=N)
    assert "is ACTIVE" in _r(answer, "Message")
    (row,) = notifications(hub, "SIG-1")
    assert row.order_id is not None

    tampered = signed(current("SIG-2", "770000000002", "SIG0002"), key, cert)
    (surname,) = tampered.xpath(
        f"soap:Body/ip:DSP917CAJUDReqInput/{RESTRAINED}/r:PersonName/nc:PersonSurName", namespaces=N
    )
    surname.text = "Someone Else"
    status, env = post_raw(hub, tampered)
    assert status == 500
    assert env.xpath("string(soap:Body/soap:Fault/faultcode)", namespaces=N).endswith("Client.Authentication")
    assert env.xpath("soap:Body/soap:Fault/detail/err:ISBCommonErrorMessage", namespaces=N)
    assert notifications(hub, "SIG-2") == []

    replay = signed(current("SIG-3", "770000000003", "SIG0003"), key, cert)
    assert post_raw(hub, replay)[0] == 200
    status, env = post_raw(hub, replay)  # the same signed bytes again: a replay
    assert status == 500 and "Client.Authentication" in env.xpath("string(//faultcode)")
    assert len(notifications(hub, "SIG-3")) == 1
    status, env = post_raw(hub, signed(message, key, cert))  # the resend of SIG-1, signed afresh
    (again,) = env.xpath("soap:Body/*/resp:ISBCommonResponseMessage", namespaces=N)
    assert status == 200 and _r(again, "DocumentId") == _r(answer, "DocumentId")
    assert len(notifications(hub, "SIG-1")) == 1
