"""Sealing CARPOS envelopes: XML Encryption of the Payload, then an enveloped XML Signature.

Both directions are sealed the same way, each side with its own key pair: the hub encrypts to DOJ's
certificate and signs with its own key; DOJ encrypts its answers to the hub's certificate and signs
with its key. A :class:`Channel` is one end: ``seal`` for what it sends, ``open`` for what it receives.

Before (the cleartext envelope, :func:`hub.carpos.envelope.to_xml`)::

    <tx:Transmission Version="1">
      <tx:Header>... MCN, sender, destination, MKE, times, OCA ...</tx:Header>
      <tx:Body><tx:Payload><tx:CarposText>EPO.ORI/CA019015J.OCA/CCP0000000042...</tx:CarposText></tx:Payload></tx:Body>
    </tx:Transmission>

After (on the wire)::

    <tx:Transmission Version="1">
      <tx:Header>... unchanged ...</tx:Header>
      <tx:Body>
        <xenc:EncryptedData Type="http://www.w3.org/2001/04/xmlenc#Element">
          <xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>
          <ds:KeyInfo>
            <xenc:EncryptedKey>
              <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p">
                <ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>
              </xenc:EncryptionMethod>
              <ds:KeyInfo><ds:KeyName>(SHA-256 of the recipient's certificate)</ds:KeyName></ds:KeyInfo>
              <xenc:CipherData><xenc:CipherValue>(RSA-OAEP of the content key)</xenc:CipherValue></xenc:CipherData>
            </xenc:EncryptedKey>
          </ds:KeyInfo>
          <xenc:CipherData>
            <xenc:CipherValue>(96-bit IV | AES-256-GCM of the Payload | 128-bit tag)</xenc:CipherValue>
          </xenc:CipherData>
        </xenc:EncryptedData>
      </tx:Body>
      <ds:Signature>  enveloped (URI=""), exclusive c14n, RSA-SHA256, SHA-256, X509Data = the sender's certificate
    </tx:Transmission>

**Encrypt, then sign.** The signature covers the ciphertext and the header, so a receiver checks who
sent a message, and that nothing in it changed, before it spends any effort on (or reveals anything
through) decryption; the header (MCN, MKE, ORIs) is authenticated although it stays readable.

**Algorithms** (:data:`POLICY`, a frozen object; each field names its hazard). The key transport is
RSA-OAEP with SHA-1 and MGF1-SHA-1 (``xmlenc#rsa-oaep-mgf1p``) because that is the one RSA-OAEP form
Debian's xmlsec1 1.2.37 decrypts; OAEP's security rests on SHA-1 as a random oracle inside the
padding, not on its collision resistance, so the SHA-1 weakness that rules it out for signatures
does not apply here (docs/DECISIONS.md). Content encryption is AES-256-GCM (CJIS SC-13 asks for
AES of at least 128 bits in transit). Signatures are RSA-SHA256 with SHA-256 digests; SHA-1 is
refused. The receiver accepts exactly these algorithms and exactly this layout -- anything else is
refused before any cryptography runs.

**Only verified XML moves on.** ``open`` parses the bytes with the hardened parser, checks the
envelope against the XSD and the signature's shape, has signxml verify it against the *pinned*
certificate of the peer, and from then on reads only signxml's ``signed_xml`` -- the header and the
EncryptedData it decrypts come from the verified copy, never from the tree that came in.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from xml.sax.saxutils import quoteattr

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod
from signxml import methods as signxml_methods
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidSignature, SignXMLException

from gateway import keys
from gateway.keys import KeyPair, fingerprint
from hub import xmldsig, xmlsafe
from hub.carpos import envelope
from hub.carpos.envelope import Transmission
from hub.clock import utcnow
from hub.errors import ValidationError

DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC_ELEMENT = XENC + "Element"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


@dataclass(frozen=True)
class SealPolicy:
    """The algorithms of every CARPOS envelope, both ways. Changing one is a protocol change with DOJ."""

    #: The signature's algorithms: the hub's one signature policy for CARPOS (:data:`hub.xmldsig.CARPOS`:
    #: RSA-SHA256 over exclusive-c14n SignedInfo, SHA-256 digests; each hazard is written there).
    signature: xmldsig.SignaturePolicy = xmldsig.CARPOS
    #: Content encryption. Hazard: CBC modes without a MAC are open to padding-oracle attacks (XML
    #: Encryption's known break); GCM authenticates the ciphertext.
    content_encryption: str = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
    #: Key transport. Hazard: RSA PKCS#1 v1.5 (xmlenc#rsa-1_5) is open to Bleichenbacher's attack.
    #: mgf1p is RSA-OAEP with SHA-1/MGF1-SHA-1, the OAEP form xmlsec1 1.2.37 can decrypt (module doc).
    key_transport: str = XENC + "rsa-oaep-mgf1p"
    key_transport_digest: str = DS + "sha1"
    #: AES-256 content keys (CJIS SC-28 asks for 256-bit AES at rest; we use it in transit too).
    content_key_bytes: int = 32
    #: Envelopes sealed under one content key before a new one is made. Hazard: AES-GCM with random
    #: 96-bit IVs must stay far below 2**32 messages per key; a higher number also widens what one
    #: leaked content key reveals.
    content_key_uses: int = 10_000
    #: Seconds one content key lives, whatever its use count (the same hazard, bounded in time).
    content_key_seconds: float = 300.0

    @property
    def signature_method(self) -> SignatureMethod:
        (method,) = self.signature.signature_methods  # CARPOS agrees on exactly one
        return method

    @property
    def digest_method(self) -> DigestAlgorithm:
        (method,) = self.signature.digest_methods
        return method

    @property
    def c14n_method(self) -> str:
        return self.signature.c14n_method


POLICY = SealPolicy()
_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303 - see module doc


class SealError(ValueError):
    """A received envelope is not acceptable: unsigned, signed by someone else, altered, not for us,
    not decryptable or not a valid transmission. The message says which, never with key material."""


def _x(tag: str) -> str:
    return f"{{{XENC}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DS}}}{tag}"


class Channel:
    """One end of the sealed channel: ``own`` signs what it sends and decrypts what it receives;
    ``peer`` is the other side's pinned certificate (encrypted to, and the only accepted signer).

    A content key is used for up to ``policy.content_key_uses`` envelopes or ``content_key_seconds``
    (each with a fresh IV), and its RSA-OAEP wrapping travels in every envelope, so each one still
    decrypts on its own (xmlsec1 included); a receiver remembers the keys it unwrapped, so an RSA
    private-key operation is spent once per content key instead of once per message. Thread-safe.
    """

    def __init__(
        self,
        own: KeyPair,
        peer: x509.Certificate,
        *,
        limits: xmlsafe.XmlLimits | None = None,
        policy: SealPolicy = POLICY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.own = own
        self.peer = peer
        self.limits = limits or xmlsafe.XmlLimits(max_bytes=2 * 1024 * 1024)
        self.policy = policy
        self.clock = clock
        self._peer_fingerprint = fingerprint(peer)
        self._pinned_der_b64 = base64.b64encode(peer.public_bytes(Encoding.DER)).decode("ascii")
        self._lock = threading.Lock()
        self._sending: _ContentKey | None = None
        self._received: OrderedDict[bytes, bytes] = OrderedDict()

    # ---------------------------------------------------------------------------------- sending

    def seal(self, t: Transmission) -> bytes:
        """The wire form of ``t``: Payload encrypted to the peer, then the whole envelope signed."""
        return etree.tostring(self.seal_element(t))

    def seal_element(self, t: Transmission) -> etree._Element:
        root = envelope.to_xml(t)
        body = root.find(envelope.BODY)
        payload = body.find(envelope.PAYLOAD)  # type: ignore[union-attr]
        body.replace(payload, self.encrypt(etree.tostring(payload)))  # type: ignore[union-attr]
        return self.sign(root)

    # The two stages of :meth:`seal`, public for checks that must build what a peer would send
    # wrongly (signed but not encrypted, encrypted hostile XML): the receiving end refuses those.

    def sign(self, root: etree._Element) -> etree._Element:
        """``root`` with an enveloped signature by this end's key (the policy's algorithms)."""
        signer = xmldsig.Signer(
            method=signxml_methods.enveloped,
            signature_algorithm=self.policy.signature_method,
            digest_algorithm=self.policy.digest_method,
            c14n_algorithm=self.policy.c14n_method,
        )
        return signer.sign(root, key=self.own.key, cert=[self.own.certificate])

    def _content_key(self) -> _ContentKey:
        with self._lock:
            now, current = self.clock(), self._sending
            if (
                current is None
                or current.uses >= self.policy.content_key_uses
                or now - current.created >= self.policy.content_key_seconds
            ):
                key = AESGCM.generate_key(bit_length=self.policy.content_key_bytes * 8)
                wrapped = self.peer.public_key().encrypt(key, _OAEP)  # type: ignore[union-attr]
                current = self._sending = _ContentKey(key, wrapped, now)
            current.uses += 1
            return current

    def encrypt(self, plaintext: bytes) -> etree._Element:
        """``plaintext`` as an xenc:EncryptedData to the peer (AES-GCM under a content key that the
        peer's RSA key unwraps)."""
        content = self._content_key()
        iv = os.urandom(12)
        ciphertext = iv + AESGCM(content.key).encrypt(iv, plaintext, None)  # XML Enc 1.1: IV | ct | tag
        wrapped = content.wrapped

        data = etree.Element(_x("EncryptedData"), nsmap={"xenc": XENC}, Type=XENC_ELEMENT)
        etree.SubElement(data, _x("EncryptionMethod"), Algorithm=self.policy.content_encryption)
        key_info = etree.SubElement(data, _d("KeyInfo"), nsmap={"ds": DS})
        encrypted_key = etree.SubElement(key_info, _x("EncryptedKey"))
        method = etree.SubElement(encrypted_key, _x("EncryptionMethod"), Algorithm=self.policy.key_transport)
        etree.SubElement(method, _d("DigestMethod"), Algorithm=self.policy.key_transport_digest)
        etree.SubElement(etree.SubElement(encrypted_key, _d("KeyInfo")), _d("KeyName")).text = self._peer_fingerprint
        _cipher_value(encrypted_key).text = base64.b64encode(wrapped).decode("ascii")
        _cipher_value(data).text = base64.b64encode(ciphertext).decode("ascii")
        return data

    # -------------------------------------------------------------------------------- receiving

    def open(self, data: bytes) -> Transmission:
        """Verify, decrypt and read a received envelope, given as the bytes that came (so that it
        always goes through the hardened parser); SealError (or ValidationError for a well-sealed
        envelope whose content breaks the schema) if it is not acceptable."""
        root = xmlsafe.parse(data, self.limits)
        if root.tag != envelope.TRANSMISSION:
            raise SealError(f"not a CARPOS transmission: {etree.QName(root).localname}")
        envelope.check(root)
        self._check_signature_shape(root)
        signed = self._verify(root)
        encrypted = signed.find(f"{envelope.BODY}/{_x('EncryptedData')}")
        if encrypted is None:
            raise SealError("the transmission's Body is not encrypted (an xenc:EncryptedData is required)")
        payload = self._in_context(self._decrypt(encrypted), encrypted)
        if payload.tag != envelope.PAYLOAD:
            raise SealError("the decrypted content is not a tx:Payload")
        # The wire form passed the schema above; signxml's copy of it is the same document.
        return envelope.from_xml(signed, payload, checked=True)

    def _check_signature_shape(self, root: etree._Element) -> None:
        """Exactly one enveloped signature, last child, one whole-document reference, the policy's algorithms."""
        signatures = root.findall(f".//{_d('Signature')}")
        if len(signatures) != 1 or signatures[0].getparent() is not root or root[-1] is not signatures[0]:
            raise SealError("the transmission must carry exactly one ds:Signature, as its last child")
        info = signatures[0].find(_d("SignedInfo"))
        references = [] if info is None else info.findall(_d("Reference"))
        if info is None or len(references) != 1 or references[0].get("URI") != "":
            raise SealError('the signature must have exactly one Reference, URI="" (the whole transmission)')
        algorithm = _algorithm(info, _d("CanonicalizationMethod"))
        if algorithm != self.policy.c14n_method:
            raise SealError(f"SignedInfo canonicalization {algorithm} is not accepted; use {self.policy.c14n_method}")
        algorithm = _algorithm(info, _d("SignatureMethod"))
        if algorithm != self.policy.signature_method.value:
            raise SealError(f"signature method {algorithm} is not accepted; use {self.policy.signature_method.value}")
        transforms = [t.get("Algorithm") for t in references[0].iterfind(f"{_d('Transforms')}/{_d('Transform')}")]
        if transforms != [ENVELOPED, self.policy.c14n_method]:
            raise SealError("the reference's transforms must be exactly enveloped-signature, then exclusive c14n")
        algorithm = _algorithm(references[0], _d("DigestMethod"))
        if algorithm != self.policy.digest_method.value:
            raise SealError(f"digest method {algorithm} is not accepted; use {self.policy.digest_method.value}")
        embedded = signatures[0].findtext(f"{_d('KeyInfo')}/{_d('X509Data')}/{_d('X509Certificate')}")
        if embedded is not None:
            if "".join(embedded.split()) != self._pinned_der_b64:
                raise SealError("the transmission is signed with another certificate than the pinned one")
        try:
            xmldsig.signature_value(signatures[0], self.peer)
        except xmldsig.SignatureRefused as exc:
            raise SealError(str(exc)) from None

    def _verify(self, root: etree._Element) -> etree._Element:
        config = SignatureConfiguration(
            require_x509=True,
            location="./",
            expect_references=1,
            signature_methods=frozenset({self.policy.signature_method}),
            digest_algorithms=frozenset({self.policy.digest_method}),
        )
        try:
            result = xmldsig.Verifier().verify(root, x509_cert=self.peer, expect_config=config)
        except InvalidDigest:
            raise SealError("the transmission was changed after it was signed (digest mismatch)") from None
        except InvalidCertificate:
            raise SealError("the signing certificate is not valid at this time") from None
        except InvalidSignature:
            raise SealError("the signature does not verify with the pinned certificate") from None
        except (SignXMLException, ValueError, etree.DocumentInvalid) as exc:
            raise SealError(f"the signature is not acceptable: {exc}") from None
        except etree.LxmlError:  # signxml re-parses the envelope: whatever it cannot read is no signature
            raise SealError("the transmission could not be read for verification") from None
        signed = result.signed_xml  # type: ignore[union-attr]
        if signed is None or signed.tag != envelope.TRANSMISSION:
            raise SealError("the signature does not cover a transmission")
        return signed

    def _decrypt(self, encrypted: etree._Element) -> bytes:
        if encrypted.get("Type") != XENC_ELEMENT:
            raise SealError(f"EncryptedData Type must be {XENC_ELEMENT}")
        algorithm = _algorithm(encrypted, _x("EncryptionMethod"))
        if algorithm != self.policy.content_encryption:
            raise SealError(f"content encryption {algorithm} is not accepted; use {self.policy.content_encryption}")
        keys = encrypted.findall(f"{_d('KeyInfo')}/{_x('EncryptedKey')}")
        if len(keys) != 1:
            raise SealError("EncryptedData must carry exactly one xenc:EncryptedKey in its ds:KeyInfo")
        method = keys[0].find(_x("EncryptionMethod"))
        if method is None or method.get("Algorithm") != self.policy.key_transport:
            raise SealError(f"key transport {_algorithm(keys[0], _x('EncryptionMethod'))} is not accepted")
        digest = method.find(_d("DigestMethod"))
        if digest is not None and digest.get("Algorithm") != self.policy.key_transport_digest:
            raise SealError(f"key transport digest {digest.get('Algorithm')} is not accepted")
        recipient = keys[0].findtext(f"{_d('KeyInfo')}/{_d('KeyName')}")
        if recipient is not None and recipient != self.own.fingerprint:
            raise SealError("the transmission is encrypted to another certificate than ours")
        try:
            content_key = self._unwrap(_cipher_bytes(keys[0]))
            blob = _cipher_bytes(encrypted)
            return AESGCM(content_key).decrypt(blob[:12], blob[12:], None)
        except (ValueError, InvalidTag):
            # One message for every failure: which step failed is an oracle an attacker could use.
            raise SealError("the transmission does not decrypt with our key") from None

    def _in_context(self, plaintext: bytes, where: etree._Element) -> etree._Element:
        """The decrypted element, parsed (by the hardened parser) with the namespaces in scope where the
        EncryptedData stood, as XML Encryption requires: xmlsec1 and other implementations encrypt an
        element's serialization without the declarations it inherits."""
        declarations = " ".join(
            f"xmlns:{prefix}={quoteattr(uri)}" if prefix else f"xmlns={quoteattr(uri)}"
            for prefix, uri in where.nsmap.items()
        )
        context = xmlsafe.parse(f"<c {declarations}>".encode() + plaintext + b"</c>", self.limits)
        children = list(context.iterchildren(etree.Element))
        if len(children) != 1 or (context.text or "").strip() or (children[0].tail or "").strip():
            raise SealError("the decrypted content is not one element")
        return children[0]

    def _unwrap(self, wrapped: bytes) -> bytes:
        """The content key inside ``wrapped`` (RSA-OAEP), remembered for the envelopes that follow."""
        with self._lock:
            known = self._received.get(wrapped)
            if known is not None:
                self._received.move_to_end(wrapped)
                return known
        key = self.own.key.decrypt(wrapped, _OAEP)
        if len(key) != self.policy.content_key_bytes:
            raise ValueError("wrong content key length")
        with self._lock:
            self._received[wrapped] = key
            while len(self._received) > _REMEMBERED_KEYS:
                self._received.popitem(last=False)
        return key


def checked_channel(
    own: KeyPair, peer: x509.Certificate, names: tuple[str, str], warn_within: timedelta
) -> tuple[Channel, list[str]]:
    """The channel between ``own`` and the pinned ``peer`` (``names``: what to call each in messages),
    both certificates valid now (KeyFileError otherwise); warnings for those expiring within ``warn_within``."""
    now = utcnow()
    checks = ((own.certificate, names[0]), (peer, names[1]))
    warnings = [w for c, what in checks if (w := keys.check_validity(c, what, now, warn_within))]
    return Channel(own, peer), warnings


@dataclass
class _ContentKey:
    key: bytes = field(repr=False)
    wrapped: bytes
    created: float
    uses: int = 0


#: Unwrapped content keys a receiver keeps (one per sender process and rotation period is typical).
_REMEMBERED_KEYS = 256


def _cipher_value(parent: etree._Element) -> etree._Element:
    return etree.SubElement(etree.SubElement(parent, _x("CipherData")), _x("CipherValue"))


def _cipher_bytes(parent: etree._Element) -> bytes:
    values = parent.findall(f"{_x('CipherData')}/{_x('CipherValue')}")
    if len(values) != 1:
        raise ValueError("exactly one CipherData/CipherValue")
    return base64.b64decode("".join((values[0].text or "").split()), validate=True)


def _algorithm(parent: etree._Element, tag: str) -> str | None:
    found = parent.findall(tag)
    return found[0].get("Algorithm") if len(found) == 1 else None


__all__ = ["POLICY", "Channel", "SealError", "SealPolicy", "ValidationError", "checked_channel"]
