"""WS-Security X.509 signatures (hub.api.wssig): round trips, tampering, wrapping, algorithms, clocks."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier

from hub import ns
from hub.api.wssig import EXC_C14N, X509V3, SigningKey, VerifiedEnvelope, sign_envelope, verify_envelope
from hub.errors import AuthenticationError
from hub.xmlsafe import XmlLimits, parse

DS = "http://www.w3.org/2000/09/xmldsig#"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    SHA1: hashes.SHA1,
    SHA256: hashes.SHA256,
    RSA_SHA1: hashes.SHA1,
    RSA_SHA256: hashes.SHA256,
}

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SOAP = ns.SOAP11_ENV
TEST_NS = "urn:test:wssig"
BODY = ns.q(SOAP, "Body")
HEADER = ns.q(SOAP, "Header")
SECURITY = ns.q(ns.WSSE, "Security")
TIMESTAMP = ns.q(ns.WSU, "Timestamp")
WSU_ID = ns.q(ns.WSU, "Id")


@dataclass(frozen=True)
class Signer:
    key: SigningKey
    cert: x509.Certificate


def _signer(key: SigningKey, *, not_before: datetime, not_after: datetime, cn: str) -> Signer:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return Signer(key, cert)


@pytest.fixture(scope="module")
def rsa_signer() -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _signer(key, not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=365), cn="partner-rsa")


@pytest.fixture(scope="module")
def ec_signer() -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    return _signer(key, not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=365), cn="partner-ec")


@pytest.fixture(scope="module")
def other_signer() -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _signer(key, not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=365), cn="someone-else")


@pytest.fixture(params=["rsa", "ec"])
def signer(request: pytest.FixtureRequest, rsa_signer: Signer, ec_signer: Signer) -> Signer:
    return rsa_signer if request.param == "rsa" else ec_signer


def registry(*signers: Signer) -> Callable[[x509.Certificate], str | None]:
    """A resolve() that knows the given signers' certificates (by SHA-256 fingerprint) as accounts."""
    known = {s.cert.fingerprint(hashes.SHA256()): s.cert.subject.rfc4514_string() for s in signers}
    return lambda cert: known.get(cert.fingerprint(hashes.SHA256()))


def envelope(note: str = "grant the order", *, header: bool = False) -> etree._Element:
    head = "<soap:Header/>" if header else ""
    return etree.fromstring(
        f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:wsu="{ns.WSU}">{head}'
        f'<soap:Body><t:SubmitOrder xmlns:t="{TEST_NS}"><t:Note>{note}</t:Note></t:SubmitOrder></soap:Body>'
        "</soap:Envelope>"
    )


def signed(
    s: Signer, *, note: str = "grant the order", now: datetime = NOW, ttl: timedelta = timedelta(minutes=5)
) -> etree._Element:
    return sign_envelope(envelope(note), s.key, s.cert, now=now, ttl=ttl)


def verify(env: etree._Element, *signers: Signer, now: datetime = NOW) -> VerifiedEnvelope[str]:
    """Verify with the hub's defaults (max_age 5 min, skew 1 min) against a registry of ``signers``."""
    return verify_envelope(env, registry(*signers), now=now)


def refused(env: etree._Element, *signers: Signer, now: datetime = NOW) -> str:
    """The AuthenticationError message verification ends with (it must end with one)."""
    with pytest.raises(AuthenticationError) as info:
        verify(env, *signers, now=now)
    assert info.value.code == "Client.Authentication"
    return info.value.message


def note_of(element: etree._Element) -> str | None:
    return element.findtext(f".//{{{TEST_NS}}}Note")


def by_wsu_id(env: etree._Element, value: str) -> etree._Element:
    (element,) = env.xpath("//*[@wsu:Id=$v]", namespaces={"wsu": ns.WSU}, v=value)
    return element


def resign(
    env: etree._Element,
    key: rsa.RSAPrivateKey,
    *,
    signature_method: str = RSA_SHA256,
    digest_method: str = SHA256,
    drop: str | None = None,
) -> etree._Element:
    """Recompute every digest and the SignatureValue in place, with the given algorithms (RSA keys only).

    Produces a cryptographically valid signature over whatever the envelope now says, so a refusal of
    the result can only come from the verifier's policy, not from a broken signature. ``drop`` removes
    the reference with that local name (``Body`` / ``Timestamp``) first.
    """
    signature = env.find(f".//{{{DS}}}Signature")
    assert signature is not None
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    assert signed_info is not None
    signed_info.find(f"{{{DS}}}SignatureMethod").set("Algorithm", signature_method)
    for reference in signed_info.findall(f"{{{DS}}}Reference"):
        target = by_wsu_id(env, reference.get("URI")[1:])
        if etree.QName(target).localname == drop:
            signed_info.remove(reference)
            continue
        reference.find(f"{{{DS}}}DigestMethod").set("Algorithm", digest_method)
        digest = hashes.Hash(_HASHES[digest_method]())
        digest.update(etree.tostring(target, method="c14n", exclusive=True))
        reference.find(f"{{{DS}}}DigestValue").text = base64.b64encode(digest.finalize()).decode()
    raw = key.sign(
        etree.tostring(signed_info, method="c14n", exclusive=True), padding.PKCS1v15(), _HASHES[signature_method]()
    )
    signature.find(f"{{{DS}}}SignatureValue").text = base64.b64encode(raw).decode()
    return env


def signxml_alone_accepts(env: etree._Element, s: Signer) -> bool:
    """Whether plain XML Signature verification (signxml, two references) accepts the envelope."""
    config = SignatureConfiguration(expect_references=2, verification_time=NOW)
    XMLVerifier().verify(env, x509_cert=s.cert, id_attribute="Id", expect_config=config)
    return True


def set_times(env: etree._Element, created: str, expires: str) -> None:
    timestamp = env.find(f"{HEADER}/{SECURITY}/{TIMESTAMP}")
    timestamp.find(ns.q(ns.WSU, "Created")).text = created
    timestamp.find(ns.q(ns.WSU, "Expires")).text = expires


# ------------------------------------------------------------------------------------------ round trip


def test_round_trip(signer: Signer):
    env = signed(signer)
    result = verify(env, signer)
    assert result.owner == signer.cert.subject.rfc4514_string()
    assert result.certificate == signer.cert
    assert result.body.tag == BODY
    assert note_of(result.body) == "grant the order"
    assert result.created == NOW.replace(microsecond=0)
    assert result.expires == NOW + timedelta(minutes=5)
    # The body handed back is what the verifier canonicalized, not the request's element, and equal to it.
    actual = env.find(BODY)
    assert result.body is not actual
    assert etree.tostring(result.body, method="c14n", exclusive=True) == etree.tostring(
        actual, method="c14n", exclusive=True
    )


def test_signed_layout(signer: Signer):
    env = signed(signer)
    security = env.find(f"{HEADER}/{SECURITY}")
    assert security is not None
    assert security.get(ns.q(SOAP, "mustUnderstand")) == "1"
    assert [etree.QName(c).localname for c in security] == ["Timestamp", "BinarySecurityToken", "Signature"]
    timestamp, token, signature = security
    assert timestamp.findtext(ns.q(ns.WSU, "Created")) == "2025-03-01T12:00:00.000Z"
    assert timestamp.findtext(ns.q(ns.WSU, "Expires")) == "2025-03-01T12:05:00.000Z"
    assert token.get("ValueType") == X509V3
    assert token.get("EncodingType", "").endswith("#Base64Binary")
    assert x509.load_der_x509_certificate(base64.b64decode(token.text)) == signer.cert

    dsns = {"ds": DS, "wsse": ns.WSSE}
    expected_method = RSA_SHA256 if isinstance(signer.key, rsa.RSAPrivateKey) else ECDSA_SHA256
    assert signature.xpath("ds:SignedInfo/ds:SignatureMethod/@Algorithm", namespaces=dsns) == [expected_method]
    assert signature.xpath("ds:SignedInfo/ds:CanonicalizationMethod/@Algorithm", namespaces=dsns) == [EXC_C14N]
    references = signature.xpath("ds:SignedInfo/ds:Reference", namespaces=dsns)
    body_id, ts_id = env.find(BODY).get(WSU_ID), timestamp.get(WSU_ID)
    assert body_id and ts_id
    assert [r.get("URI") for r in references] == [f"#{body_id}", f"#{ts_id}"]
    for reference in references:
        assert reference.xpath("ds:Transforms/ds:Transform/@Algorithm", namespaces=dsns) == [EXC_C14N]
        assert reference.xpath("ds:DigestMethod/@Algorithm", namespaces=dsns) == [SHA256]
    str_uri = signature.xpath("ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference/@URI", namespaces=dsns)
    assert str_uri == [f"#{token.get(WSU_ID)}"]


def test_signer_reuses_header_security_and_body_id(rsa_signer: Signer):
    env = envelope(header=True)
    header = env.find(HEADER)
    security = etree.SubElement(header, SECURITY)
    etree.SubElement(security, ns.q(ns.WSSE, "UsernameToken"))
    env.find(BODY).set(WSU_ID, "the-body")

    sign_envelope(env, rsa_signer.key, rsa_signer.cert, now=NOW)

    assert env.findall(HEADER) == [header]
    assert header.findall(SECURITY) == [security]
    assert [etree.QName(c).localname for c in security] == [
        "Timestamp",
        "BinarySecurityToken",
        "Signature",
        "UsernameToken",
    ]
    assert env.find(BODY).get(WSU_ID) == "the-body"
    assert verify(env, rsa_signer).body.get(WSU_ID) == "the-body"


def test_signer_refuses_pem_bytes_and_a_foreign_certificate(rsa_signer: Signer, other_signer: Signer):
    with pytest.raises(TypeError, match="loaded"):
        sign_envelope(envelope(), b"-----BEGIN PRIVATE KEY-----", rsa_signer.cert)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not belong"):
        sign_envelope(envelope(), rsa_signer.key, other_signer.cert, now=NOW)


@pytest.mark.parametrize("via", ["lxml", "hub.xmlsafe"])
def test_serialized_and_reparsed_envelope_verifies(rsa_signer: Signer, via: str):
    data = etree.tostring(signed(rsa_signer), xml_declaration=True, encoding="UTF-8")
    if via == "lxml":
        env = etree.fromstring(data, etree.XMLParser(remove_blank_text=False))
    else:
        env = parse(data, XmlLimits(max_bytes=1_000_000))
    assert note_of(verify(env, rsa_signer).body) == "grant the order"


# ------------------------------------------------------------------------------------------- tampering


def test_tampered_body_is_refused(signer: Signer):
    env = signed(signer)
    env.find(f"{BODY}//{{{TEST_NS}}}Note").text = "deny the order"
    message = refused(env, signer)
    assert "soap:Body" in message and "changed after signing" in message


def test_tampered_timestamp_is_refused(signer: Signer):
    env = signed(signer)
    env.find(f".//{ns.q(ns.WSU, 'Expires')}").text = "2025-03-01T12:06:00.000Z"  # still within max_age
    message = refused(env, signer)
    assert "wsu:Timestamp" in message and "changed after signing" in message


def test_tampered_signed_info_is_refused(rsa_signer: Signer):
    env = signed(rsa_signer)
    digest = env.find(f".//{{{DS}}}DigestValue")
    digest.text = base64.b64encode(b"\0" * 32).decode()
    assert "SignatureValue does not verify" in refused(env, rsa_signer)


# -------------------------------------------------------------------------------------- signature wrapping


def _wrap_body(env: etree._Element, *, keep_id: bool, where: str) -> None:
    """Move the signed Body into a wrapper and put an unsigned Body with another payload in its place."""
    signed_body = env.find(BODY)
    forged = etree.Element(BODY)
    etree.SubElement(etree.SubElement(forged, f"{{{TEST_NS}}}SubmitOrder"), f"{{{TEST_NS}}}Note").text = "forged"
    if keep_id:
        forged.set(WSU_ID, signed_body.get(WSU_ID))
    env.replace(signed_body, forged)
    wrapper = etree.SubElement(env.find(HEADER) if where == "header" else forged, "{urn:attacker}Wrapper")
    wrapper.append(signed_body)


@pytest.mark.parametrize("where", ["header", "inside-new-body"])
def test_wrapped_body_is_refused(rsa_signer: Signer, where: str):
    env = signed(rsa_signer)
    _wrap_body(env, keep_id=False, where=where)
    assert signxml_alone_accepts(env, rsa_signer)  # the forgery is a valid XML signature...
    message = refused(env, rsa_signer)  # ...and still refused
    assert "does not cover the soap:Body" in message


def test_wrapped_body_with_duplicate_id_is_refused(rsa_signer: Signer):
    env = signed(rsa_signer)
    _wrap_body(env, keep_id=True, where="header")
    assert "appears more than once" in refused(env, rsa_signer)


def test_wrapped_timestamp_is_refused(rsa_signer: Signer):
    env = signed(rsa_signer, now=NOW - timedelta(hours=1))  # an old message being replayed
    security = env.find(f"{HEADER}/{SECURITY}")
    old = security.find(TIMESTAMP)
    fresh = etree.Element(TIMESTAMP)
    etree.SubElement(fresh, ns.q(ns.WSU, "Created")).text = "2025-03-01T12:00:00Z"
    etree.SubElement(fresh, ns.q(ns.WSU, "Expires")).text = "2025-03-01T12:05:00Z"
    security.replace(old, fresh)
    etree.SubElement(env.find(HEADER), "{urn:attacker}Wrapper").append(old)
    assert signxml_alone_accepts(env, rsa_signer)
    assert "does not cover the wsu:Timestamp" in refused(env, rsa_signer)


def test_body_only_signature_is_refused(rsa_signer: Signer):
    env = resign(signed(rsa_signer), rsa_signer.key, drop="Timestamp")
    assert len(env.findall(f".//{{{DS}}}Reference")) == 1
    assert "does not cover the wsu:Timestamp" in refused(env, rsa_signer)


# ------------------------------------------------------------------------------------------- algorithms


def test_resign_helper_makes_valid_signatures(rsa_signer: Signer):
    # The control for the SHA-1 tests: the same re-signing with SHA-256 verifies.
    env = resign(signed(rsa_signer), rsa_signer.key)
    assert note_of(verify(env, rsa_signer).body) == "grant the order"


@pytest.mark.parametrize(
    "signature_method, digest_method, named",
    [(RSA_SHA1, SHA256, "SignatureMethod"), (RSA_SHA256, SHA1, "DigestMethod")],
    ids=["rsa-sha1-signature", "sha1-digest"],
)
def test_sha1_is_refused(rsa_signer: Signer, signature_method: str, digest_method: str, named: str):
    env = resign(signed(rsa_signer), rsa_signer.key, signature_method=signature_method, digest_method=digest_method)
    message = refused(env, rsa_signer)
    assert message.startswith("SHA-1 is not accepted") and named in message
    assert "RSA-SHA256 or ECDSA-SHA256" in message


def test_inclusive_c14n_is_refused(rsa_signer: Signer):
    env = signed(rsa_signer)
    env.find(f".//{{{DS}}}CanonicalizationMethod").set("Algorithm", "http://www.w3.org/2006/12/xml-c14n11")
    assert "exclusive canonicalization" in refused(env, rsa_signer)


# ---------------------------------------------------------------------------------------------- clocks


@pytest.mark.parametrize(
    "signed_at, ttl, verified_at, expect",
    [
        (NOW, timedelta(minutes=5), NOW + timedelta(minutes=6, seconds=1), "expired at 2025-03-01T12:05:00.000Z"),
        (NOW + timedelta(minutes=2), timedelta(minutes=5), NOW, "in the future"),
        (NOW, timedelta(minutes=10), NOW, "longer than the 0:05:00"),
    ],
    ids=["expired", "future", "too-long"],
)
def test_bad_timestamps_are_refused(
    rsa_signer: Signer, signed_at: datetime, ttl: timedelta, verified_at: datetime, expect: str
):
    env = signed(rsa_signer, now=signed_at, ttl=ttl)
    assert expect in refused(env, rsa_signer, now=verified_at)


@pytest.mark.parametrize(
    "signed_at, verified_at",
    [(NOW, NOW + timedelta(minutes=6)), (NOW + timedelta(seconds=59), NOW)],
    ids=["expired-within-skew", "future-within-skew"],
)
def test_clock_skew_is_tolerated(rsa_signer: Signer, signed_at: datetime, verified_at: datetime):
    env = signed(rsa_signer, now=signed_at)
    assert verify(env, rsa_signer, now=verified_at).created == signed_at.replace(microsecond=0)


def test_offset_timestamps_are_accepted(rsa_signer: Signer):
    env = signed(rsa_signer)
    set_times(env, "2025-03-01T12:00:00+00:00", "2025-03-01T12:05:00+00:00")  # how zeep writes them
    result = verify(resign(env, rsa_signer.key), rsa_signer)
    assert (result.created, result.expires) == (NOW, NOW + timedelta(minutes=5))


def test_timestamp_without_offset_is_refused(rsa_signer: Signer):
    env = signed(rsa_signer)
    set_times(env, "2025-03-01T12:00:00", "2025-03-01T12:05:00")
    assert "no UTC offset" in refused(resign(env, rsa_signer.key), rsa_signer)


# ---------------------------------------------------------------------------------------- certificates


def test_unknown_certificate_is_refused(rsa_signer: Signer, other_signer: Signer):
    env = signed(rsa_signer)
    message = refused(env, other_signer)  # the registry knows someone else only
    assert "is not registered" in message and "partner-rsa" in message


def test_certificate_of_another_key_is_refused(rsa_signer: Signer, other_signer: Signer):
    env = signed(rsa_signer)
    token = env.find(f".//{ns.q(ns.WSSE, 'BinarySecurityToken')}")
    token.text = base64.b64encode(other_signer.cert.public_bytes(Encoding.DER)).decode()
    message = refused(env, rsa_signer, other_signer)  # both registered: only the key match can refuse it
    assert "SignatureValue does not verify" in message


@pytest.mark.parametrize("window", ["expired", "not-yet-valid"])
def test_certificate_outside_validity_is_refused(rsa_signer: Signer, window: str):
    if window == "expired":
        stale = _signer(rsa_signer.key, not_before=NOW - timedelta(days=60), not_after=NOW - timedelta(days=1), cn="x")
    else:
        stale = _signer(rsa_signer.key, not_before=NOW + timedelta(days=1), not_after=NOW + timedelta(days=60), cn="x")
    env = sign_envelope(envelope(), stale.key, stale.cert, now=NOW)
    message = refused(env, stale)
    assert ("expired at" if window == "expired" else "not valid before") in message
    # The same message with a current certificate for the same key verifies.
    assert verify(sign_envelope(envelope(), rsa_signer.key, rsa_signer.cert, now=NOW), rsa_signer).owner


# ------------------------------------------------------------------------------------------- structure


def test_missing_or_repeated_security_header_is_refused(rsa_signer: Signer):
    assert "soap:Header" in refused(envelope(), rsa_signer)
    env = signed(rsa_signer)
    header = env.find(HEADER)
    header.append(etree.Element(SECURITY))
    assert "exactly one wsse:Security header" in refused(env, rsa_signer)


def test_messages_carry_no_key_material(rsa_signer: Signer):
    env = signed(rsa_signer)
    env.find(f"{BODY}//{{{TEST_NS}}}Note").text = "changed"
    message = refused(env, rsa_signer)
    token_text = env.find(f".//{ns.q(ns.WSSE, 'BinarySecurityToken')}").text
    signature_value = env.find(f".//{{{DS}}}SignatureValue").text
    assert token_text[:40] not in message and signature_value[:40] not in message


# ------------------------------------------------------ one signed message, whatever its encoding


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _signature_value(env: etree._Element) -> etree._Element:
    return env.find(f"{HEADER}/{SECURITY}/{{{DS}}}Signature/{{{DS}}}SignatureValue")


def _raw(env: etree._Element) -> bytes:
    return base64.b64decode(_signature_value(env).text)


def test_the_hub_signs_ecdsa_in_low_s_form(ec_signer: Signer):
    for i in range(16):  # half of all ECDSA signatures come out high-s; none of ours may
        raw = _raw(signed(ec_signer, note=f"order {i}"))
        assert len(raw) == 64 and int.from_bytes(raw[32:], "big") <= P256_ORDER // 2


def test_the_high_s_twin_of_a_signature_is_the_same_message(ec_signer: Signer):
    env = signed(ec_signer)
    twin = etree.fromstring(etree.tostring(env))
    raw = _raw(twin)
    s = int.from_bytes(raw[32:], "big")
    _signature_value(twin).text = base64.b64encode(raw[:32] + (P256_ORDER - s).to_bytes(32, "big")).decode()
    assert _raw(twin) != _raw(env)
    first, second = verify(env, ec_signer), verify(twin, ec_signer)  # (r, n - s) verifies too ...
    assert first.message_key == second.message_key  # ... and is the same signed message for the replay record


def test_the_message_key_is_what_the_signature_covers(signer: Signer):
    one, other = verify(signed(signer), signer), verify(signed(signer, note="another order"), signer)
    assert len(one.message_key) == 32 and one.message_key != other.message_key
    respaced = signed(signer)
    assert verify(respaced, signer).message_key != one.message_key  # a new Timestamp: a new message


@pytest.mark.parametrize(
    ("spell", "why"),
    [
        (lambda text: text[:10] + "!" + text[10:], "not canonical base64"),  # signxml's b64decode skips the '!'
        (lambda text: text[:10] + "." + text[10:], "not canonical base64"),
        (lambda text: text + "==", "not canonical base64"),
        (lambda text: base64.b64encode(b"\0" + base64.b64decode(text)).decode(), "bytes"),  # zero-padded
    ],
)
def test_a_signature_value_is_read_strictly(signer: Signer, spell, why: str):
    env = signed(signer)
    value = _signature_value(env)
    value.text = spell(value.text)
    assert why in refused(env, signer)


def test_a_signature_value_may_be_wrapped_over_lines(rsa_signer: Signer):
    env = signed(rsa_signer)
    value = _signature_value(env)
    text = value.text
    value.text = "\n".join(text[i : i + 64] for i in range(0, len(text), 64)) + "\n"
    assert note_of(verify(env, rsa_signer).body) == "grant the order"


def test_a_body_with_a_text_node_over_libxml2_s_10_mb_limit_signs_and_verifies(rsa_signer: Signer):
    image = base64.b64encode(b"%PDF-1.7 " + b"\x01" * (20 * 1000 * 1000)).decode()  # the README's 20 MB image
    env = envelope()
    env.find(f".//{{{TEST_NS}}}Note").text = image
    sign_envelope(env, rsa_signer.key, rsa_signer.cert, now=NOW)  # signxml re-parses it: huge text allowed
    wire = etree.tostring(env)
    received = parse(wire, XmlLimits(max_bytes=len(wire) + 1024))  # the hub's entry point
    assert len(note_of(verify(received, rsa_signer).body)) == len(image)


def test_what_the_verifier_cannot_read_is_an_authentication_failure(rsa_signer: Signer, monkeypatch):
    """Should signxml's re-parse fail for any reason (here: a parser without huge-tree support, as
    signxml's own), the request is refused as Client.Authentication -- never a bare server error."""
    env = envelope()
    env.find(f".//{{{TEST_NS}}}Note").text = "A" * (11 * 1000 * 1000)
    sign_envelope(env, rsa_signer.key, rsa_signer.cert, now=NOW)
    monkeypatch.setattr("hub.xmldsig.parser", lambda: etree.XMLParser(resolve_entities=False))
    assert "could not be read" in refused(env, rsa_signer)
