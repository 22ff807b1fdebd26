"""The one XML-Signature policy: how every signature the hub makes or checks is parsed, which
algorithms it may use, how its SignatureValue is read, and what identifies a signed message.

Two kinds of signature go through here, and a fix made here is made for both:

* WS-Security X.509 signatures on SOAP requests (:mod:`hub.api.wssig`, :data:`WSS`);
* the enveloped signatures of CARPOS transmissions (:mod:`gateway.sealing`, :data:`CARPOS`).

signxml does the cryptography; this module decides what it is given:

**The parser.** signxml re-serializes and re-parses what it signs or verifies, with a parser of
its own that has libxml2's default caps: a text node over ~10 MB (a 20 MB image in base64) is a
``XMLSyntaxError`` that nothing maps to a fault. :class:`Signer` and :class:`Verifier` use
:func:`parser` instead: no entities, no DTD, no network, *huge tree on*. Huge trees are safe here
because signxml only ever re-parses trees that already passed the hardened entry point
(:mod:`hub.xmlsafe`, whose caps on size, depth and element count come first) or that the hub built;
whatever it still cannot parse is an unacceptable signature (:class:`SignatureRefused`), never a crash.

**The SignatureValue, strictly.** signxml decodes it with a lenient ``b64decode`` that skips any
character outside the alphabet, so ``AB!CD`` and ``ABCD`` are "two" signatures with one value; an
ECDSA value may be padded with zero bytes, and ``(r, s)`` and ``(r, n - s)`` are both valid. So a
signature value is admitted only as canonical base64 (whitespace aside) of exactly the key's size
(:func:`signature_value`), and our own ECDSA signatures are made low-s (:func:`low_s`).

**What a signed message is.** A signature commits to its canonical ``SignedInfo`` -- the
algorithms and the digest of everything signed -- and to nothing about how its SignatureValue is
written. The replay record is therefore keyed on the SHA-256 of the canonical SignedInfo signxml
verified (:func:`message_key`): one signed message is accepted once, whichever of its valid
SignatureValue encodings (high or low s, any base64 spelling) comes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner, XMLVerifier

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0.value
_SIGNED_INFO = f"{{{DS}}}SignedInfo"
_SIGNATURE_VALUE = f"{{{DS}}}SignatureValue"
_C14N_METHOD = f"{{{DS}}}CanonicalizationMethod"
_INCLUSIVE_NAMESPACES = f"{{{EXC_C14N}}}InclusiveNamespaces"

#: Canonical base64: the alphabet, then at most two '=' (XML whitespace is removed first).
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


class SignatureRefused(ValueError):
    """A signature that is not acceptable under the policy, before or instead of any cryptography.
    The message names the problem (never key material); callers wrap it in their own error."""


@dataclass(frozen=True)
class SignaturePolicy:
    """The algorithms one kind of signature may use. Every field's hazard is written beside it."""

    #: Signature methods over SignedInfo. Hazard: anything with SHA-1 (RSA-SHA1, DSA-SHA1) allows
    #: forged messages; HMAC methods would let anyone holding the shared secret sign as anyone.
    signature_methods: frozenset[SignatureMethod]
    #: Digest methods of the references. Hazard: a weak digest lets a changed element keep its signature.
    digest_methods: frozenset[DigestAlgorithm]
    #: Canonicalization of SignedInfo and of every reference. Exclusive c14n keeps a signature valid
    #: when the signed element travels inside another document. Hazard: inclusive c14n breaks
    #: signatures once re-embedded, and any other transform (XSLT, XPath) runs attacker-chosen code
    #: paths inside the verifier.
    c14n_method: str = EXC_C14N

    def accepts(self, signature_method: str | None, digest_method: str | None) -> bool:
        return signature_method in {m.value for m in self.signature_methods} and digest_method in {
            d.value for d in self.digest_methods
        }


#: WS-Security X.509 signatures on requests: partners sign with RSA or EC keys, SHA-2 digests.
WSS = SignaturePolicy(
    signature_methods=frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.ECDSA_SHA256}),
    digest_methods=frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}),
)
#: CARPOS transmissions, both ways: exactly one algorithm each (a protocol agreed with DOJ).
CARPOS = SignaturePolicy(
    signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
    digest_methods=frozenset({DigestAlgorithm.SHA256}),
)


def parser() -> etree.XMLParser:
    """The parser signxml re-parses with: no entities, DTDs or network; huge text nodes allowed (the
    input already passed :mod:`hub.xmlsafe`'s caps). A new one per signer/verifier: lxml parsers
    must not be shared between threads (the gateway signs on several)."""
    return etree.XMLParser(
        resolve_entities=False, load_dtd=False, no_network=True, huge_tree=True, remove_comments=False
    )


class _HardenedParser:
    """Mixin: signxml's ``parser`` property, answered with :func:`parser`."""

    _hub_parser: etree.XMLParser | None = None

    @property
    def parser(self) -> etree.XMLParser:
        if self._hub_parser is None:
            self._hub_parser = parser()
        return self._hub_parser


class Signer(_HardenedParser, XMLSigner):
    """signxml's signer with the policy's parser. Make one per signature (signxml keeps per-call state)."""


class Verifier(_HardenedParser, XMLVerifier):
    """signxml's verifier with the policy's parser. Make one per verification."""


def signature_value(signature: etree._Element, certificate: x509.Certificate) -> bytes:
    """The raw SignatureValue of ``signature`` as the policy admits it: canonical base64 (XML
    whitespace aside), and for ECDSA exactly twice the curve's size (r | s, XML-DSig 1.1); for RSA
    exactly the modulus' size. SignatureRefused otherwise."""
    values = signature.findall(_SIGNATURE_VALUE)
    if len(values) != 1:
        raise SignatureRefused("the ds:Signature must have exactly one SignatureValue")
    text = "".join((values[0].text or "").split()).encode("ascii", "replace")
    try:
        raw = base64.b64decode(text, validate=True) if _BASE64.fullmatch(text) else None
    except (binascii.Error, ValueError):
        raw = None
    if raw is None or base64.b64encode(raw) != text:
        raise SignatureRefused("the SignatureValue is not canonical base64")
    try:
        public = certificate.public_key()
    except (UnsupportedAlgorithm, ValueError):  # an unknown key type, an EC point off its curve
        raise SignatureRefused("the signing certificate's public key cannot be used") from None
    if isinstance(public, ec.EllipticCurvePublicKey):
        expected = 2 * ((public.curve.key_size + 7) // 8)
    elif isinstance(public, rsa.RSAPublicKey):
        expected = (public.key_size + 7) // 8
    else:
        raise SignatureRefused("the signing certificate's key is neither RSA nor EC")
    if len(raw) != expected:
        raise SignatureRefused(f"the SignatureValue has {len(raw)} bytes; this key's signatures have {expected}")
    return raw


def message_key(signature: etree._Element) -> bytes:
    """What identifies a signed message: SHA-256 of its canonical SignedInfo (exclusive c14n, with the
    InclusiveNamespaces the CanonicalizationMethod names). Pass the Signature signxml verified
    (``VerifyResult.signature_xml``): two encodings of one signature give one key."""
    signed_info = signature.find(_SIGNED_INFO)
    if signed_info is None:
        raise SignatureRefused("the ds:Signature has no SignedInfo")
    inclusive = signed_info.find(f"{_C14N_METHOD}/{_INCLUSIVE_NAMESPACES}")
    prefixes = (inclusive.get("PrefixList") or "").split() if inclusive is not None else None
    c14n = etree.tostring(signed_info, method="c14n", exclusive=True, inclusive_ns_prefixes=prefixes)
    return hashlib.sha256(c14n).digest()


def low_s(signature: etree._Element, key: Any) -> None:
    """Rewrite an ECDSA SignatureValue made with ``key`` to its low-s form (s <= n/2), in place.

    Both forms verify; emitting one of them is what careful signers do (BIP-62, RFC 6979 users), so
    the hub's own signatures are never the "other" encoding of themselves. RSA signatures are untouched.
    """
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return
    order = _CURVE_ORDERS.get(key.curve.name)
    value = signature.find(_SIGNATURE_VALUE)
    if order is None or value is None:
        return
    raw = base64.b64decode("".join((value.text or "").split()))
    half = len(raw) // 2
    r, s = raw[:half], int.from_bytes(raw[half:], "big")
    if s > order // 2:
        value.text = base64.b64encode(r + (order - s).to_bytes(half, "big")).decode("ascii")


#: Group orders of the curves partners sign with (SEC 2).
_CURVE_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16
    ),
    "secp521r1": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D"
        "03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}

__all__ = [
    "CARPOS",
    "DS",
    "EXC_C14N",
    "WSS",
    "SignaturePolicy",
    "SignatureRefused",
    "Signer",
    "Verifier",
    "low_s",
    "message_key",
    "parser",
    "signature_value",
]
