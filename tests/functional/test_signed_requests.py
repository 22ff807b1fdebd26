"""X.509-signed requests (WS-Security X.509 Token Profile) over HTTP against the real server."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta

import pytest
import requests
import zeep
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from hub import ns
from hub.accounts.service import add_user, register_certificate
from hub.api.wssig import ZeepSignature, sign_envelope
from hub.codes import Role
from hub.db.engine import Database
from tests.conftest import PASSWORD
from tests.support.audit import events_after, head
from tests.support.certs import self_signed
from tests.support.orders import order

pytestmark = pytest.mark.functional

SOAP = ns.SOAP11_ENV


def _system_account(hub, name: str, rsa_bits: int | None):
    key, cert = self_signed(name, rsa_bits=rsa_bits)
    name = f"{name}-{id(hub)}"
    db = Database(hub.db_url)
    with db.unit_of_work() as s:
        add_user(s, name, ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
        register_certificate(s, name, cert.public_bytes(Encoding.PEM))
    db.dispose()
    return name, key, cert


@pytest.fixture(scope="module")
def rms(hub):
    """A sheriff RMS system account identified by its registered signing certificate (RSA)."""
    return _system_account(hub, "sd-rms", 2048)


@pytest.fixture(scope="module")
def ec_dms(hub):
    """A court DMS signing with an EC P-256 key."""
    return _system_account(hub, "la-dms-ec", None)


def signed_client(hub, key=None, cert=None) -> zeep.Client:
    """A zeep client signing with ``key``/``cert`` (none: unsigned, for building messages by hand)."""
    session = requests.Session()
    hub.sessions.append(session)
    wsse = ZeepSignature(key, cert) if key is not None else None
    return zeep.Client(hub.server.wsdl, wsse=wsse, transport=zeep.Transport(session=session))


def post(hub, envelope: etree._Element) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.post(
            hub.endpoint, data=etree.tostring(envelope), headers={"Content-Type": "text/xml; charset=utf-8"}
        )


def order_status(hub, order_id: str) -> str:
    return hub.client().service.GetOrder(OrderId=order_id).OrderStatus


def test_a_signed_request_acts_as_the_certificate_s_account(hub, rms):
    name, key, cert = rms
    client = signed_client(hub, key, cert)  # no UsernameToken at all
    receipt = client.service.SubmitOrder(Order=order())
    record = client.service.GetOrder(OrderId=receipt.OrderId, IncludeHistory=True)
    assert record.History[0].ActorName == name


def test_signature_wrapping_is_refused_and_changes_nothing(hub, rms):
    name, key, cert = rms
    client = signed_client(hub, key, cert)
    receipt = client.service.SubmitOrder(Order=order())
    # The attacker holds a genuinely signed, harmless GetOrder ...
    signed = client.create_message(client.service, "GetOrder", OrderId=receipt.OrderId)
    forged = copy.deepcopy(signed)
    body = forged.find(f"{{{SOAP}}}Body")
    # ... moves the signed Body into a header and puts an unsigned CancelOrder where the Body was.
    wrapper = etree.SubElement(forged.find(f"{{{SOAP}}}Header"), "{urn:attacker}Wrapper")
    forged.remove(body)
    wrapper.append(body)
    evil = (
        signed_client(hub)
        .create_message(
            client.service, "CancelOrder", OrderId=receipt.OrderId, Version=1, CancelReasonCode="ENTERED-IN-ERROR"
        )
        .find(f"{{{SOAP}}}Body")
    )
    forged.append(evil)
    response = post(hub, forged)
    assert response.status_code == 500 and b"Client.Authentication" in response.content
    assert order_status(hub, receipt.OrderId) == "ACTIVE"
    # The genuine message still works (the hub kept serving, the order is intact).
    genuine = post(hub, signed)
    assert genuine.status_code == 200 and receipt.OrderId.encode() in genuine.content


def test_tampered_unregistered_and_stale_signatures_are_refused(hub, rms):
    name, key, cert = rms
    client = signed_client(hub, key, cert)
    receipt = client.service.SubmitOrder(Order=order())

    plain = signed_client(hub)

    def message():
        return plain.create_message(plain.service, "GetOrder", OrderId=receipt.OrderId)

    tampered = sign_envelope(message(), key, cert)
    tampered.find(f".//{{{ns.ORDERS_SERVICE}}}OrderId").text = "CCP0000000001"
    stranger_key, stranger_cert = self_signed("Unregistered", rsa_bits=None)
    stale = sign_envelope(message(), key, cert, now=datetime.now(UTC) - timedelta(minutes=20))
    for envelope, reason in [
        (tampered, b"changed after signing"),
        (sign_envelope(message(), stranger_key, stranger_cert), b"not registered"),
        (stale, b"expired"),
    ]:
        before = head(hub.db_url)
        response = post(hub, envelope)
        assert response.status_code == 500 and b"Client.Authentication" in response.content
        assert reason in response.content, response.content
        events = [(e.category, e.operation, e.outcome, e.client_address) for e in events_after(hub.db_url, before)]
        assert events == [("LOGON", "GetOrder", "Client.Authentication", "127.0.0.1")]


def test_a_username_token_alongside_must_name_the_same_account(hub, rms):
    name, key, cert = rms
    from zeep.wsse.username import UsernameToken

    class TokenThenSignature(ZeepSignature):  # zeep's list form of wsse= cannot verify responses
        def apply(self, envelope, headers):
            envelope, headers = UsernameToken("clerk", PASSWORD).apply(envelope, headers)
            return super().apply(envelope, headers)

    session = requests.Session()
    hub.sessions.append(session)
    client = zeep.Client(hub.server.wsdl, wsse=TokenThenSignature(key, cert), transport=zeep.Transport(session=session))
    with pytest.raises(zeep.exceptions.Fault) as f:
        client.service.SearchOrders(Criteria={"PersonSurName": "X%"})
    assert "names another account" in f.value.message


def test_a_signed_message_is_accepted_once(hub, rms):
    name, key, cert = rms
    plain = signed_client(hub)
    message = sign_envelope(plain.create_message(plain.service, "SubmitOrder", Order=order()), key, cert)
    first = post(hub, message)
    assert first.status_code == 200 and b"OrderId" in first.content
    again = post(hub, message)  # captured and replayed within the Timestamp's five minutes
    assert again.status_code == 500 and b"received before" in again.content


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_VALUE = f"{{{SOAP}}}Header/{{{ns.WSSE}}}Security/{{http://www.w3.org/2000/09/xmldsig#}}Signature/" + (
    "{http://www.w3.org/2000/09/xmldsig#}SignatureValue"
)


def _respelled(message: etree._Element, spell) -> etree._Element:
    twin = copy.deepcopy(message)
    value = twin.find(_VALUE)
    value.text = spell(value.text)
    return twin


def _high_s(text: str) -> str:
    raw = base64.b64decode(text)
    s = int.from_bytes(raw[32:], "big")
    return base64.b64encode(raw[:32] + (P256_ORDER - s).to_bytes(32, "big")).decode()


def _orders_of_case(hub, case: str) -> int:
    return hub.client().service.SearchOrders(Criteria={"CaseDocketID": case}).TotalCount


@pytest.mark.parametrize("account", ["ec_dms", "rms"])
def test_a_signed_message_is_accepted_once_whatever_its_signature_value_spelling(hub, account, request):
    name, key, cert = request.getfixturevalue(account)
    plain = signed_client(hub)
    case = f"SIG{account[:2].upper()}{id(hub) % 10**6:06d}"
    message = sign_envelope(
        plain.create_message(plain.service, "SubmitOrder", Order=order(CaseDocketID=case)), key, cert
    )
    assert post(hub, message).status_code == 200
    twins = [_respelled(message, lambda t: t[:20] + "!" + t[20:])]  # characters signxml's base64 skipped
    if account == "ec_dms":
        twins.append(_respelled(message, _high_s))  # (r, n - s): the same signature, mathematically valid
    for twin in twins:
        replay = post(hub, twin)
        assert replay.status_code == 500 and b"Client.Authentication" in replay.content, replay.content
    assert _orders_of_case(hub, case) == 1  # one signed message, one order


def test_a_signed_request_with_an_image_at_the_size_limit_is_accepted(hub, rms):
    name, key, cert = rms
    client = signed_client(hub, key, cert)
    receipt = client.service.SubmitOrder(Order=order())
    scan = b"%PDF-1.4\n" + b"0" * (20 * 1000 * 1000 - 16) + b"\n%%EOF\n"  # max_image_bytes, decoded
    assert len(scan) == 20 * 1000 * 1000
    plain = signed_client(hub)
    message = plain.create_message(
        plain.service, "AttachImage", OrderId=receipt.OrderId, Document={"Base64BinaryObject": scan}
    )
    response = post(hub, sign_envelope(message, key, cert))  # signxml re-parses a 26.7 MB text node
    assert response.status_code == 200 and b"SizeBytes>20000000<" in response.content, response.content[:300]


def test_password_guessing_does_not_lock_out_the_certificate(hub, rms):
    name, key, cert = rms
    for _ in range(5):
        with pytest.raises(zeep.exceptions.Fault):
            hub.client(name, "guessed wrong password").service.SearchOrders(Criteria={"PersonSurName": "X%"})
    with pytest.raises(zeep.exceptions.Fault):  # the password is locked out ...
        hub.client(name).service.SearchOrders(Criteria={"PersonSurName": "X%"})
    signed = signed_client(hub, key, cert)  # ... the system's certificate still works
    assert signed.service.SearchOrders(Criteria={"PersonSurName": "X%"}).TotalCount >= 0
    hub.admin_client().service.UnlockUser(Username=name)


_BST = f"{{{SOAP}}}Header/{{{ns.WSSE}}}Security/{{{ns.WSSE}}}BinarySecurityToken"


def _unknown_key_type(key, cert) -> bytes:
    """The certificate with its RSA key's algorithm OID changed to one cryptography does not know."""
    der = cert.public_bytes(Encoding.DER)
    return der.replace(bytes.fromhex("06092A864886F70D0101010500"), bytes.fromhex("06092A864886F70D01017F0500"))


def _point_off_the_curve(key, cert) -> bytes:
    from cryptography.hazmat.primitives.serialization import PublicFormat

    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return cert.public_bytes(Encoding.DER).replace(point, point[:-1] + bytes([point[-1] ^ 1]))


@pytest.mark.parametrize(("rsa_bits", "spoil"), [(2048, _unknown_key_type), (None, _point_off_the_curve)])
def test_a_certificate_whose_key_cannot_be_loaded_is_refused_and_audited(hub, rsa_bits, spoil):
    """Anyone can put any certificate in a BinarySecurityToken: one whose key cryptography cannot load
    is a Client.Authentication like any bad signature (the outside review found a bare HTTP 500)."""
    key, cert = self_signed("nobody", rsa_bits=rsa_bits)  # never registered
    plain = signed_client(hub)
    message = sign_envelope(plain.create_message(plain.service, "GetOrder", OrderId="CCP0000000001"), key, cert)
    message.find(_BST).text = base64.b64encode(spoil(key, cert)).decode()
    before = head(hub.db_url)
    response = post(hub, message)
    assert response.status_code == 500 and b"Client.Authentication" in response.content, response.content[:300]
    assert [(e.category, e.outcome) for e in events_after(hub.db_url, before)] == [("LOGON", "Client.Authentication")]


def test_a_timestamp_that_expires_at_the_end_of_time_is_refused(hub, rms):
    name, key, cert = rms
    plain = signed_client(hub)
    ttl = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - datetime.now(UTC)
    message = sign_envelope(
        plain.create_message(plain.service, "GetOrder", OrderId="CCP0000000001"), key, cert, ttl=ttl
    )
    response = post(hub, message)
    assert response.status_code == 500 and b"Client.Authentication" in response.content, response.content[:300]
    assert b"longer than" in response.content  # the Timestamp's lifetime, named
