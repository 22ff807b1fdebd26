"""WS-Security X.509 message signatures (OASIS WSS 1.1, X.509 Token Profile), both sides.

A signed request carries, in one ``wsse:Security`` header (``soap:mustUnderstand="1"``)::

    <wsse:Security soap:mustUnderstand="1">
      <wsu:Timestamp wsu:Id="TS-..."><wsu:Created>...Z</wsu:Created><wsu:Expires>...Z</wsu:Expires></wsu:Timestamp>
      <wsse:BinarySecurityToken wsu:Id="X509-..." ValueType="...#X509v3" EncodingType="...#Base64Binary">
        MIIC... (the signer's certificate, base64 DER)
      </wsse:BinarySecurityToken>
      <ds:Signature>
        <ds:SignedInfo>  exclusive c14n; RSA-SHA256 or ECDSA-SHA256
          <ds:Reference URI="#<soap:Body wsu:Id>">  exclusive c14n transform, SHA-256 digest
          <ds:Reference URI="#<wsu:Timestamp wsu:Id>">  likewise
        </ds:SignedInfo>
        <ds:SignatureValue>...</ds:SignatureValue>
        <ds:KeyInfo>
          <wsse:SecurityTokenReference><wsse:Reference URI="#X509-..."/></wsse:SecurityTokenReference>
        </ds:KeyInfo>
      </ds:Signature>
    </wsse:Security>

:func:`sign_envelope` produces exactly that (partner adapters, tests and benchmarks use it);
:func:`verify_envelope` is what the hub runs on every signed request. The cryptography is signxml's
(``XMLSigner`` with a detached signature, ``XMLVerifier`` with a pinned certificate); this module
supplies the WS-Security layout and the checks XML Signature alone does not make.

**Why the checks around signxml.** A valid XML signature only says "the elements these references
resolve to were signed by this key". It does not say that they are the elements the hub will act on.
The classic attack, *signature wrapping*, moves the signed ``soap:Body`` (with its ``wsu:Id``) into a
header or a wrapper element and puts a different, unsigned Body where the SOAP processor looks; the
signature still verifies. The verifier therefore:

* accepts exactly one ``wsse:Security`` header with exactly one ``ds:Signature`` and one
  ``wsu:Timestamp`` in it, and only exclusive c14n, RSA-SHA256 / ECDSA-SHA256 and SHA-2 digests
  (SHA-1 is refused before any cryptography runs, and again by signxml's ``SignatureConfiguration``);
* requires exactly two references, resolves each one in the envelope itself with the same rule signxml
  uses, requires exactly one element to match, and requires that element to *be* the Envelope's own
  ``soap:Body`` (its direct child) and the Timestamp in this Security header (identity, not tag names);
  duplicate ``wsu:Id`` values are refused outright;
* after signxml verifies, compares the bytes signxml digested with the exclusive canonical form of
  the actual Body and Timestamp, and reads the Timestamp and returns the Body only from what signxml
  returned as signed (``VerifyResult.signed_xml``), never from the unsigned tree.

signxml serializes and re-parses the input before resolving references (``get_root``), so its
``signed_xml`` elements are fresh, parentless copies and cannot be compared by identity with the
input; that is why the identity check is made here on the input tree and tied to signxml's result by
the canonical bytes. The certificate comes from the BinarySecurityToken and is passed to signxml as
the only acceptable key (``x509_cert``); ``resolve`` maps it to a registered account, so trust is "this
exact certificate is registered", not a CA chain.

**Why not zeep.** ``zeep.wsse.signature.verify_envelope`` hands every ``#id`` reference to xmlsec and
checks only that the signature is valid; it never asks *which* elements were signed (it takes the
first element with a matching ``wsu:Id``), so the wrapped forgery above passes. It also needs the
optional xmlsec binding, which the hub does not install.

signxml quirks this module relies on (signxml 5.2):

* ``id_attribute`` is matched by XPath ``local-name()``, so it must be the bare ``"Id"`` (it then
  matches ``wsu:Id`` and any other attribute whose local name is ``Id``). A Clark name never matches,
  and in *detached* mode an unresolvable single reference silently falls back to signing the whole
  document; the signer therefore checks its references resolve before signing.
* ``SignatureConfiguration`` restricts signature and digest methods but not the canonicalization
  method or the transforms; those are checked here.
* ``XMLSigner``/``XMLVerifier`` keep per-call state on the instance (``id_attributes``, ``config``),
  so a fresh one is made for every call; construction is cheap.
* signxml serializes and re-parses its input with a parser of its own (libxml2's 10 MB text-node cap:
  a signed 20 MB image failed); :class:`hub.xmldsig.Signer`/``Verifier`` give it the hub's parser, and
  the SignatureValue is read strictly and the replay key taken there (:mod:`hub.xmldsig`).
* Keys are taken only as loaded cryptography objects: given PEM bytes signxml parses the key on every
  call, which costs far more than the signature itself.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureConfiguration, SignatureMethod, VerifyResult
from signxml import methods as signxml_methods
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidSignature, SignXMLException

from hub import ns, xmldsig
from hub.api.wsse import parse_utc
from hub.clock import freshness, utcnow
from hub.errors import AuthenticationError

__all__ = ["SigningKey", "VerifiedEnvelope", "sign_envelope", "verify_envelope"]

T = TypeVar("T")

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""The private keys :func:`sign_envelope` accepts (loaded once, not PEM bytes)."""

DS = xmldsig.DS
EXC_C14N = xmldsig.EXC_C14N
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

_SIGNATURE_METHODS = xmldsig.WSS.signature_methods
_DIGEST_METHODS = xmldsig.WSS.digest_methods
_ACCEPTED = "sign with RSA-SHA256 or ECDSA-SHA256 and SHA-256/384/512 digests"

# signxml resolves "#x" as //*[@*[local-name() = 'Id'] = 'x'] on its copy of the envelope; see the module docstring.
_ID_ATTRIBUTE = "Id"
_WSU_ID = ns.q(ns.WSU, "Id")

_ENVELOPE = ns.q(ns.SOAP11_ENV, "Envelope")
_HEADER = ns.q(ns.SOAP11_ENV, "Header")
_BODY = ns.q(ns.SOAP11_ENV, "Body")
_MUST_UNDERSTAND = ns.q(ns.SOAP11_ENV, "mustUnderstand")
_SECURITY = ns.q(ns.WSSE, "Security")
_BST = ns.q(ns.WSSE, "BinarySecurityToken")
_STR = ns.q(ns.WSSE, "SecurityTokenReference")
_STR_REFERENCE = ns.q(ns.WSSE, "Reference")
_TIMESTAMP = ns.q(ns.WSU, "Timestamp")
_CREATED = ns.q(ns.WSU, "Created")
_EXPIRES = ns.q(ns.WSU, "Expires")
_SIGNATURE = ns.q(DS, "Signature")
_SIGNED_INFO = ns.q(DS, "SignedInfo")
_C14N_METHOD = ns.q(DS, "CanonicalizationMethod")
_SIGNATURE_METHOD = ns.q(DS, "SignatureMethod")
_REFERENCE = ns.q(DS, "Reference")
_TRANSFORMS = ns.q(DS, "Transforms")
_TRANSFORM = ns.q(DS, "Transform")
_DIGEST_METHOD = ns.q(DS, "DigestMethod")
_KEY_INFO = ns.q(DS, "KeyInfo")
_INCLUSIVE_NAMESPACES = ns.q(EXC_C14N, "InclusiveNamespaces")


@dataclass(frozen=True)
class VerifiedEnvelope(Generic[T]):
    """What a verified signature establishes: who signed, with which certificate, what, and when.

    ``body`` is the signed ``soap:Body`` exactly as the verifier canonicalized it (a standalone copy,
    not the element in the request tree); read the request from it and from nothing else.
    ``message_key`` identifies the signed message whatever its SignatureValue encoding
    (:func:`hub.xmldsig.message_key`): the replay record is keyed on it.
    """

    owner: T
    certificate: x509.Certificate
    body: etree._Element
    created: datetime
    expires: datetime
    message_key: bytes


# --------------------------------------------------------------------------------------------- signing


def sign_envelope(
    envelope: etree._Element,
    key: SigningKey,
    certificate: x509.Certificate,
    *,
    now: datetime | None = None,
    ttl: timedelta = timedelta(minutes=5),
) -> etree._Element:
    """Sign a SOAP 1.1 Envelope in place (Body and a fresh Timestamp) and return it.

    Adds the soap:Header and the ``wsse:Security`` header if missing (an existing Security header, e.g.
    one carrying a UsernameToken, is reused) and gives the Body a ``wsu:Id`` if it has none. The
    signature method follows the key: RSA-SHA256 for RSA keys, ECDSA-SHA256 for EC keys.
    """
    if isinstance(key, rsa.RSAPrivateKey):
        method = SignatureMethod.RSA_SHA256
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        method = SignatureMethod.ECDSA_SHA256
    else:
        raise TypeError("key must be a loaded RSA or EC private key (load PEM once with cryptography, not per call)")
    if _public_der(key.public_key()) != _public_der(certificate.public_key()):
        raise ValueError("the certificate does not belong to the signing key")
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    created = _utc(now if now is not None else utcnow(), "now")

    if envelope.tag != _ENVELOPE:
        raise ValueError(f"not a SOAP 1.1 Envelope: {envelope.tag}")
    body = _only_child(envelope, _BODY)
    if body is None:
        raise ValueError("the Envelope needs exactly one soap:Body")
    header = envelope.find(_HEADER)
    if header is None:
        header = etree.SubElement(envelope, _HEADER)  # made in place so it uses the Envelope's soap prefix
        envelope.insert(0, header)
    security = header.find(_SECURITY)
    if security is None:
        security = etree.SubElement(header, _SECURITY, nsmap={"wsse": ns.WSSE, "wsu": ns.WSU})
    elif security.find(_SIGNATURE) is not None or security.find(_TIMESTAMP) is not None:
        raise ValueError("the wsse:Security header already has a Signature or Timestamp")
    security.set(_MUST_UNDERSTAND, "1")

    body_id = body.get(_WSU_ID)
    if body_id is None:
        body_id = _new_id("Body")
        body.set(_WSU_ID, body_id)
    timestamp_id, token_id = _new_id("TS"), _new_id("X509")

    # Timestamp first (the WSS "strict" layout), then the token, then the Signature whose KeyInfo points to it;
    # anything already in the header (a UsernameToken) follows.
    timestamp = etree.SubElement(security, _TIMESTAMP, {_WSU_ID: timestamp_id})
    etree.SubElement(timestamp, _CREATED).text = _xs_datetime(created)
    etree.SubElement(timestamp, _EXPIRES).text = _xs_datetime(created + ttl)
    token = etree.SubElement(security, _BST, {"ValueType": X509V3, "EncodingType": BASE64_BINARY, _WSU_ID: token_id})
    token.text = base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")
    security.insert(0, timestamp)
    security.insert(1, token)

    references = [f"#{body_id}", f"#{timestamp_id}"]
    for uri, target in zip(references, (body, timestamp), strict=True):
        if _resolve_id(envelope, uri[1:]) != [target]:
            # signxml would otherwise sign the wrong element (or, detached, silently the whole document).
            raise ValueError(f"wsu:Id {uri[1:]!r} is not unique in the envelope")

    key_info = etree.Element(_KEY_INFO, nsmap={"ds": DS})
    str_el = etree.SubElement(key_info, _STR, nsmap={"wsse": ns.WSSE})
    etree.SubElement(str_el, _STR_REFERENCE, URI=f"#{token_id}", ValueType=X509V3)

    signer = xmldsig.Signer(
        method=signxml_methods.detached,
        signature_algorithm=method,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=EXC_C14N,
    )
    signature = signer.sign(envelope, key=key, reference_uri=references, id_attribute=_ID_ATTRIBUTE, key_info=key_info)
    xmldsig.low_s(signature, key)
    security.insert(2, signature)
    return envelope


# ----------------------------------------------------------------------------------------- verification


def verify_envelope(
    envelope: etree._Element,
    resolve: Callable[[x509.Certificate], T | None],
    *,
    now: datetime,
    max_age: timedelta = timedelta(minutes=5),
    skew: timedelta = timedelta(minutes=1),
) -> VerifiedEnvelope[T]:
    """Verify the WS-Security X.509 signature on a SOAP 1.1 Envelope; raise AuthenticationError if not.

    ``resolve`` maps the certificate in the BinarySecurityToken to its registered owner (None: not
    registered). The signature must cover exactly this envelope's soap:Body and the wsu:Timestamp in
    the Security header; the Timestamp must be current at ``now`` within ``skew`` and no longer-lived or
    older than ``max_age``; the certificate must be within its validity period at ``now``.
    """
    now = _utc(now, "now")
    if envelope.tag != _ENVELOPE:
        raise AuthenticationError("the message is not a SOAP 1.1 Envelope")
    body = _only_child(envelope, _BODY)
    if body is None:
        raise AuthenticationError("the Envelope must have exactly one soap:Body")
    headers = envelope.findall(_HEADER)
    if len(headers) != 1:
        raise AuthenticationError("a signed message needs exactly one soap:Header with a wsse:Security header")
    securities = headers[0].findall(_SECURITY)
    if len(securities) != 1:
        raise AuthenticationError(f"exactly one wsse:Security header is required, found {len(securities)}")
    security = securities[0]
    signature = _only_child(security, _SIGNATURE)
    if signature is None:
        raise AuthenticationError("the wsse:Security header must contain exactly one ds:Signature")
    timestamp = _only_child(security, _TIMESTAMP)
    if timestamp is None:
        raise AuthenticationError("the wsse:Security header must contain exactly one wsu:Timestamp")
    _refuse_duplicate_ids(envelope)

    prefixes = _check_signed_info(signature)
    targets = {body: "soap:Body", timestamp: "wsu:Timestamp"}
    covered = {uri: _bind_reference(envelope, uri, targets) for uri in prefixes}
    missing = [name for target, name in targets.items() if target not in covered.values()]
    if missing:
        raise AuthenticationError(f"the signature does not cover the {' and '.join(missing)}")
    if len(covered) != len(targets):
        raise AuthenticationError(
            f"the signature must have exactly two references, the soap:Body and the wsu:Timestamp "
            f"(found {len(covered)})"
        )

    certificate = _certificate(security, signature)
    _check_validity_period(certificate, now)
    try:
        xmldsig.signature_value(signature, certificate)
    except xmldsig.SignatureRefused as exc:
        raise AuthenticationError(str(exc)) from None
    owner = resolve(certificate)
    if owner is None:
        raise AuthenticationError(
            f"the signing certificate ({certificate.subject.rfc4514_string()}, serial {certificate.serial_number:x}) "
            "is not registered with the hub"
        )

    results = _signxml_verify(envelope, certificate, now, {uri: targets[el] for uri, el in covered.items()})

    # From here on, only what signxml verified. Its SignedInfo is the one checked above (same bytes). Each
    # signed element must also canonicalize exactly like this envelope's own Body / Timestamp, chosen by the
    # signed element's tag and independently of the reference binding above.
    actual = {_BODY: body, _TIMESTAMP: timestamp}
    signed: dict[str, etree._Element] = {}
    verified_uris = [r.get("URI") or "" for r in results[0].signature_xml.iterfind(f"{_SIGNED_INFO}/{_REFERENCE}")]
    for uri, result in zip(verified_uris, results, strict=True):
        element = result.signed_xml
        target = actual.get(element.tag) if element is not None else None
        if target is None or uri not in covered or covered[uri] is not target or element.tag in signed:
            raise AuthenticationError(f"the verified signature has an unexpected reference {uri!r}")
        c14n = etree.tostring(target, method="c14n", exclusive=True, inclusive_ns_prefixes=prefixes[uri])
        if result.signed_data != c14n:
            raise AuthenticationError(f"the signature does not cover the {targets[target]}: {uri} signs another one")
        signed[element.tag] = element
    signed_body, signed_timestamp = signed[_BODY], signed[_TIMESTAMP]

    created, expires = _check_timestamp(signed_timestamp, now=now, max_age=max_age, skew=skew)
    return VerifiedEnvelope(
        owner=owner,
        certificate=certificate,
        body=signed_body,
        created=created,
        expires=expires,
        message_key=xmldsig.message_key(results[0].signature_xml),
    )


def _check_signed_info(signature: etree._Element) -> dict[str, list[str] | None]:
    """Refuse any algorithm outside the policy; return each reference URI with its InclusiveNamespaces."""
    signed_info = _only_child(signature, _SIGNED_INFO)
    if signed_info is None:
        raise AuthenticationError("the ds:Signature has no SignedInfo")
    c14n = signed_info.find(_C14N_METHOD)
    if c14n is None or c14n.get("Algorithm") != EXC_C14N:
        raise AuthenticationError(f"SignedInfo must use exclusive canonicalization ({EXC_C14N})")
    method_el = signed_info.find(_SIGNATURE_METHOD)
    _check_algorithm(method_el, {m.value for m in _SIGNATURE_METHODS}, "SignatureMethod")

    prefixes: dict[str, list[str] | None] = {}
    for reference in signed_info.iterchildren(_REFERENCE):
        uri = reference.get("URI") or ""
        if not uri.startswith("#") or len(uri) < 2 or uri.startswith("#xpointer("):
            raise AuthenticationError(f"reference URI {uri!r} is not a same-document '#wsu:Id' reference")
        if uri in prefixes:
            raise AuthenticationError(f"reference {uri} appears twice in SignedInfo")
        transforms = reference.find(_TRANSFORMS)
        steps = [] if transforms is None else list(transforms.iterchildren(etree.Element))
        if len(steps) != 1 or steps[0].tag != _TRANSFORM or steps[0].get("Algorithm") != EXC_C14N:
            raise AuthenticationError(f"reference {uri} must have exactly one transform, exclusive c14n ({EXC_C14N})")
        _check_algorithm(reference.find(_DIGEST_METHOD), {d.value for d in _DIGEST_METHODS}, f"{uri} DigestMethod")
        inclusive = steps[0].find(_INCLUSIVE_NAMESPACES)
        prefixes[uri] = (inclusive.get("PrefixList") or "").split() if inclusive is not None else None
    return prefixes


def _check_algorithm(element: etree._Element | None, accepted: set[str], what: str) -> None:
    algorithm = element.get("Algorithm") if element is not None else None
    if algorithm in accepted:
        return
    if algorithm is not None and "sha1" in algorithm.lower():
        raise AuthenticationError(f"SHA-1 is not accepted ({what} {algorithm}); {_ACCEPTED}")
    raise AuthenticationError(f"{what} {algorithm or '(missing)'} is not accepted; {_ACCEPTED}")


def _bind_reference(envelope: etree._Element, uri: str, targets: dict[etree._Element, str]) -> etree._Element:
    """The one element ``uri`` resolves to, which must be one of ``targets`` (by identity)."""
    matches = _resolve_id(envelope, uri[1:])
    if len(matches) != 1:
        raise AuthenticationError(f"reference {uri} must match exactly one element, found {len(matches)}")
    match = matches[0]
    if match in targets:
        return match
    if match.tag == _BODY:
        raise AuthenticationError(
            f"the signature does not cover the soap:Body: reference {uri} is a soap:Body elsewhere in the message, "
            "not the Envelope's own (signature wrapping)"
        )
    if match.tag == _TIMESTAMP:
        raise AuthenticationError(
            f"the signature does not cover the wsu:Timestamp: reference {uri} is a wsu:Timestamp outside the "
            "wsse:Security header"
        )
    raise AuthenticationError(
        f"reference {uri} points to a {etree.QName(match).localname} element; only the soap:Body and the "
        "wsu:Timestamp may be signed"
    )


def _certificate(security: etree._Element, signature: etree._Element) -> x509.Certificate:
    """The certificate in the BinarySecurityToken that KeyInfo's SecurityTokenReference points to."""
    key_info = _only_child(signature, _KEY_INFO)
    children = [] if key_info is None else list(key_info.iterchildren(etree.Element))
    str_el = children[0] if len(children) == 1 and children[0].tag == _STR else None
    refs = [] if str_el is None else list(str_el.iterchildren(etree.Element))
    uri = (refs[0].get("URI") or "") if len(refs) == 1 and refs[0].tag == _STR_REFERENCE else ""
    if not uri.startswith("#"):
        raise AuthenticationError(
            'ds:KeyInfo must hold only a wsse:SecurityTokenReference/wsse:Reference URI="#<BinarySecurityToken '
            'wsu:Id>" (KeyIdentifier, X509Data and KeyValue are not accepted)'
        )
    tokens = [t for t in security.iterchildren(_BST) if t.get(_WSU_ID) == uri[1:]]
    if len(tokens) != 1:
        raise AuthenticationError(f"no wsse:BinarySecurityToken with wsu:Id {uri[1:]!r} in the wsse:Security header")
    token = tokens[0]
    if token.get("ValueType") != X509V3 or token.get("EncodingType", BASE64_BINARY) != BASE64_BINARY:
        raise AuthenticationError(f"the BinarySecurityToken must have ValueType {X509V3} and Base64Binary encoding")
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join((token.text or "").split()), validate=True))
    except ValueError:
        raise AuthenticationError("the BinarySecurityToken is not a base64-encoded DER X.509 certificate") from None


def _check_validity_period(certificate: x509.Certificate, now: datetime) -> None:
    if now < certificate.not_valid_before_utc:
        raise AuthenticationError(
            f"the signing certificate is not valid before {_xs_datetime(certificate.not_valid_before_utc)}"
        )
    if now > certificate.not_valid_after_utc:
        raise AuthenticationError(f"the signing certificate expired at {_xs_datetime(certificate.not_valid_after_utc)}")


def _signxml_verify(
    envelope: etree._Element, certificate: x509.Certificate, now: datetime, names: dict[str, str]
) -> list[VerifyResult]:
    """signxml's verdict, restricted to the hub's algorithms, with this certificate as the only key."""
    config = SignatureConfiguration(
        require_x509=True,
        location=f"./{_HEADER}/{_SECURITY}/",
        expect_references=2,
        signature_methods=_SIGNATURE_METHODS,
        digest_algorithms=_DIGEST_METHODS,
        verification_time=now,
        default_reference_c14n_method=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    try:
        results = xmldsig.Verifier().verify(
            envelope, x509_cert=certificate, id_attribute=_ID_ATTRIBUTE, expect_config=config
        )
    except InvalidDigest as exc:
        uri = str(exc).rpartition("(")[2].rstrip(")")  # signxml: "Digest mismatch for reference 0 (#id)"
        which = f"the {names[uri]} ({uri})" if uri in names else "a signed element"
        raise AuthenticationError(f"the digest of {which} does not match: it was changed after signing") from None
    except InvalidCertificate:
        raise AuthenticationError("the signing certificate is not valid at this time") from None
    except InvalidSignature:
        raise AuthenticationError(
            "the SignatureValue does not verify with the certificate in the BinarySecurityToken "
            "(SignedInfo changed after signing, or signed with another key)"
        ) from None
    except etree.DocumentInvalid as exc:
        raise AuthenticationError(f"the ds:Signature does not follow the XML Signature schema: {exc}") from None
    except etree.LxmlError:  # signxml re-parses the envelope: whatever it cannot read is no signature
        raise AuthenticationError("the signed message could not be read for verification") from None
    except (SignXMLException, ValueError) as exc:  # InvalidInput is a ValueError; messages carry no key material
        raise AuthenticationError(f"the signature is not acceptable: {exc}") from None
    assert isinstance(results, list)  # expect_references=2 makes signxml return a list
    return results


def _check_timestamp(
    timestamp: etree._Element, *, now: datetime, max_age: timedelta, skew: timedelta
) -> tuple[datetime, datetime]:
    created_els, expires_els = timestamp.findall(_CREATED), timestamp.findall(_EXPIRES)
    if len(created_els) != 1 or len(expires_els) != 1:
        raise AuthenticationError("the wsu:Timestamp needs exactly one wsu:Created and one wsu:Expires")
    created = parse_utc(created_els[0].text, "wsu:Created")
    expires = parse_utc(expires_els[0].text, "wsu:Expires")
    if expires <= created:
        raise AuthenticationError("the Timestamp's wsu:Expires must be later than its wsu:Created")
    problem = freshness(created, now, max_age, skew)
    if problem == "future":
        raise AuthenticationError(
            f"the Timestamp was created at {_xs_datetime(created)}, in the future (hub time {_xs_datetime(now)}, "
            f"allowed clock skew {skew}); check the sender's clock"
        )
    if expires < now - skew:  # not expires + skew: an Expires in year 9999 plus the skew has no datetime
        raise AuthenticationError(
            f"the Timestamp expired at {_xs_datetime(expires)} (hub time {_xs_datetime(now)}); sign each request afresh"
        )
    if expires - created > max_age:
        raise AuthenticationError(
            f"the Timestamp is valid for {expires - created}, longer than the {max_age} the hub accepts; "
            "set wsu:Expires closer to wsu:Created"
        )
    # Implied by the two checks above; kept so the rule stands on its own if either changes.
    if problem == "stale":
        raise AuthenticationError(
            f"the Timestamp was created at {_xs_datetime(created)}, more than {max_age} before hub time "
            f"{_xs_datetime(now)}"
        )
    return created, expires


# ---------------------------------------------------------------------------------------------- helpers


def _resolve_id(envelope: etree._Element, value: str) -> list[etree._Element]:
    """Every element (the envelope included) with an attribute named Id, in any namespace, equal to ``value``.

    The same rule as signxml's ``//*[@*[local-name() = 'Id'] = $uri]`` on its copy of the envelope, so the
    element found here is the one signxml digested.
    """
    return [
        el
        for el in envelope.iter(etree.Element)
        if any(v == value and etree.QName(k).localname == _ID_ATTRIBUTE for k, v in el.attrib.items())
    ]


def _refuse_duplicate_ids(envelope: etree._Element) -> None:
    seen: set[str] = set()
    for el in envelope.iter(etree.Element):
        value = el.get(_WSU_ID)
        if value is None:
            continue
        if value in seen:
            raise AuthenticationError(f"wsu:Id {value!r} appears more than once in the envelope")
        seen.add(value)


def _only_child(parent: etree._Element, tag: str) -> etree._Element | None:
    """The single direct child with ``tag``; None if there is none or more than one."""
    found = parent.findall(tag)
    return found[0] if len(found) == 1 else None


def _public_der(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _new_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment.astimezone(UTC)


def _xs_datetime(moment: datetime) -> str:
    """xs:dateTime in UTC with a ``Z`` and millisecond precision, as WSS recommends."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ZeepSignature:
    """A zeep ``wsse=`` plugin that signs each request with :func:`sign_envelope`.

    For partner adapters and tests: ``zeep.Client(wsdl, wsse=ZeepSignature(key, certificate))``.
    To send a UsernameToken too, subclass and apply the token before ``super().apply`` (zeep's
    list form ``wsse=[...]`` fails on responses in zeep 4.3).
    The hub's responses are not signed, so ``verify`` accepts them as they are.
    """

    def __init__(self, key: SigningKey, certificate: x509.Certificate, ttl: timedelta = timedelta(minutes=5)) -> None:
        self.key = key
        self.certificate = certificate
        self.ttl = ttl

    def apply(self, envelope: etree._Element, headers: dict[str, str]) -> tuple[etree._Element, dict[str, str]]:
        return sign_envelope(envelope, self.key, self.certificate, ttl=self.ttl), headers

    def verify(self, envelope: etree._Element) -> etree._Element:
        return envelope
