"""Sealed CARPOS envelopes: what opens, and every way an envelope must not open."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from lxml import etree

from gateway.sealing import DS, POLICY, XENC, Channel, SealError
from hub.carpos import envelope
from hub.carpos.envelope import Header, MessageKey, Transmission
from hub.errors import HostileXml, ValidationError
from tests.support.carpos import KeySet

NOW = datetime(2026, 12, 1, 10, 0, 0, 125000, tzinfo=UTC)
TEXT = "EPO.ORI/CA019015J.OCA/CCP0000000042.NAM/MOUSE,MICKEY.SEX/M"


def transmission(**header: object) -> Transmission:
    fields = dict(mcn="CCP0000000042-001", sender_ori="CA019015J", destination_ori="CADOJ0000",
                  mke=MessageKey.EPO, created=NOW, sent=NOW, order_reference="CCP0000000042")  # fmt: skip
    return Transmission(Header(**{**fields, **header}), (TEXT,))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def stranger(tmp_path_factory) -> KeySet:
    return KeySet.make(tmp_path_factory.mktemp("stranger"))


def test_the_hub_seals_and_doj_opens_and_back(keyset):
    t = transmission()
    assert keyset.doj_channel().open(keyset.hub_channel().seal(t)) == t
    answer = transmission(mcn="DOJ0000000000001", relates_to="CCP0000000042-001", sender_ori="CADOJ0000",
                          destination_ori="CA019015J", mke=MessageKey.ACK)  # fmt: skip
    answer = replace(answer, lines=("ACK.MCN/CCP0000000042-001.FCN/0190000000001",))
    assert keyset.hub_channel().open(keyset.doj_channel().seal(answer)) == answer


def test_the_wire_form_hides_the_carpos_text_and_is_signed_last(keyset):
    wire = keyset.hub_channel().seal(transmission())
    assert b"MOUSE" not in wire and b"EPO.ORI" not in wire
    root = etree.fromstring(wire)
    assert root[-1].tag == f"{{{DS}}}Signature"
    assert root.find(f"{envelope.BODY}/{{{XENC}}}EncryptedData") is not None
    assert root.findtext(f"{envelope.HEADER}/{envelope.q('MessageControlNumber')}") == "CCP0000000042-001"


def test_content_keys_are_reused_for_a_while_then_renewed(keyset):
    channel = Channel(keyset.hub, keyset.doj.certificate, policy=replace(POLICY, content_key_uses=2))

    def wrapped(wire: bytes) -> str:
        return etree.fromstring(wire).findtext(f".//{{{XENC}}}EncryptedKey/{{{XENC}}}CipherData/{{{XENC}}}CipherValue")

    first, second, third = (channel.seal(transmission()) for _ in range(3))
    assert wrapped(first) == wrapped(second) != wrapped(third)
    receiver = keyset.doj_channel()
    assert [receiver.open(w).text for w in (first, second, third)] == [TEXT] * 3


def _tamper(wire: bytes, old: bytes, new: bytes) -> bytes:
    assert old in wire
    return wire.replace(old, new, 1)


def test_a_changed_header_or_ciphertext_is_refused(keyset):
    wire = keyset.hub_channel().seal(transmission())
    with pytest.raises(SealError, match="changed after it was signed"):
        keyset.doj_channel().open(_tamper(wire, b"CCP0000000042-001", b"CCP0000000042-002"))
    root = etree.fromstring(wire)
    value = root.find(f"{envelope.BODY}/{{{XENC}}}EncryptedData/{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
    blob = bytearray(base64.b64decode(value.text))
    blob[20] ^= 1
    value.text = base64.b64encode(bytes(blob)).decode()
    with pytest.raises(SealError, match="changed after it was signed"):
        keyset.doj_channel().open(etree.tostring(root))


def test_only_the_pinned_sender_is_accepted(keyset, stranger):
    forged = Channel(stranger.hub, keyset.doj.certificate).seal(transmission())
    with pytest.raises(SealError, match="another certificate than the pinned one"):
        keyset.doj_channel().open(forged)
    root = etree.fromstring(forged)  # without its certificate, the signature itself fails
    key_info = root.find(f"{{{DS}}}Signature/{{{DS}}}KeyInfo")
    key_info.getparent().remove(key_info)
    with pytest.raises(SealError):
        keyset.doj_channel().open(etree.tostring(root))


def test_an_envelope_for_someone_else_does_not_open(keyset, stranger):
    # Signed by the hub, but encrypted to another certificate than DOJ's.
    wire = Channel(keyset.hub, stranger.doj.certificate).seal(transmission())
    with pytest.raises(SealError, match="encrypted to another certificate"):
        keyset.doj_channel().open(wire)


def test_unsigned_or_unencrypted_envelopes_are_refused(keyset):
    channel = keyset.hub_channel()
    clear = envelope.to_xml(transmission())
    with pytest.raises(SealError, match="exactly one ds:Signature"):
        keyset.doj_channel().open(etree.tostring(clear))
    signed_clear = channel.sign(envelope.to_xml(transmission()))
    with pytest.raises(SealError, match="not encrypted"):
        keyset.doj_channel().open(etree.tostring(signed_clear))


def test_only_the_policy_s_algorithms_are_accepted(keyset):
    wire = keyset.hub_channel().seal(transmission())
    sha1 = wire.replace(b"xmldsig-more#rsa-sha256", b"xmldsig#rsa-sha1")
    with pytest.raises(SealError, match="signature method .*rsa-sha1 is not accepted"):
        keyset.doj_channel().open(sha1)
    inclusive = wire.replace(b"xml-exc-c14n#", b"REC-xml-c14n-20010315", 1)
    with pytest.raises(SealError, match="canonicalization"):
        keyset.doj_channel().open(inclusive)
    for field, uri, message in (
        ("content_encryption", "http://www.w3.org/2001/04/xmlenc#aes256-cbc", "content encryption"),
        ("key_transport", "http://www.w3.org/2001/04/xmlenc#rsa-1_5", "key transport"),
    ):
        weak = Channel(keyset.hub, keyset.doj.certificate, policy=replace(POLICY, **{field: uri}))
        with pytest.raises(SealError, match=message):  # validly signed, refused before decrypting
            keyset.doj_channel().open(weak.seal(transmission()))


def test_a_second_signature_or_a_wrapped_transmission_is_refused(keyset):
    wire = keyset.hub_channel().seal(transmission())
    root = etree.fromstring(wire)
    root.append(etree.fromstring(etree.tostring(root[-1])))  # a second ds:Signature
    with pytest.raises((SealError, ValidationError)):
        keyset.doj_channel().open(etree.tostring(root))
    outer = envelope.to_xml(transmission(mcn="CCP0000000099-001"))  # a forged envelope holding the signed one
    outer.find(envelope.BODY).append(etree.fromstring(wire))
    with pytest.raises((SealError, ValidationError)):
        keyset.doj_channel().open(etree.tostring(outer))


def test_hostile_xml_is_refused_before_and_after_decryption(keyset):
    with pytest.raises(HostileXml):
        keyset.doj_channel().open(b'<!DOCTYPE x [<!ENTITY a "b">]><tx:Transmission/>')
    channel = keyset.hub_channel()
    root = envelope.to_xml(transmission())
    body = root.find(envelope.BODY)
    body.replace(body[0], channel.encrypt(b'<!DOCTYPE p [<!ENTITY big "x">]><p>&big;</p>'))
    with pytest.raises(HostileXml):
        keyset.doj_channel().open(etree.tostring(channel.sign(root)))


def test_a_decrypted_payload_must_be_a_valid_payload(keyset):
    channel = keyset.hub_channel()
    root = envelope.to_xml(transmission())
    body = root.find(envelope.BODY)
    bad = etree.tostring(envelope.payload_xml(("EPO.ORI/CA019015J\u00e9",)))  # not printable ASCII
    body.replace(body[0], channel.encrypt(bad))
    with pytest.raises(ValidationError):
        keyset.doj_channel().open(etree.tostring(channel.sign(root)))


def test_the_envelope_schema_is_checked(keyset):
    wire = keyset.hub_channel().seal(transmission())
    with pytest.raises(ValidationError):
        keyset.doj_channel().open(_tamper(wire, b"<tx:MessageKey>EPO", b"<tx:MessageKey>XYZ"))


def test_the_signature_value_is_read_strictly_as_for_requests(keyset):
    """The same signature policy as the request signatures (hub.xmldsig): characters signxml's lenient
    base64 would skip, or a value of the wrong size, are refused before any cryptography."""
    receiver = keyset.doj_channel()
    for spell, why in [(lambda t: t[:12] + "*" + t[12:], "canonical base64"), (lambda t: "AAAA" + t, "bytes")]:
        root = etree.fromstring(keyset.hub_channel().seal(transmission()))
        value = root.find(f"{{{DS}}}Signature/{{{DS}}}SignatureValue")
        value.text = spell("".join(value.text.split()))
        with pytest.raises(SealError, match=why):
            receiver.open(etree.tostring(root))
