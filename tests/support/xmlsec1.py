"""Sealing a CARPOS envelope with Debian's ``xmlsec1`` command instead of the hub's code: the same
layout (encrypt the Payload, then an enveloped signature), for interop tests and the benchmark."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hub.carpos.envelope import NS

XMLSEC1 = shutil.which("xmlsec1")

ENCRYPTION_TEMPLATE = (
    b'<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">'
    b'<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>'
    b'<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>'
    b'<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>'
    b"<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"
    b"<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"
)
SIGNATURE_TEMPLATE = (
    b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    b'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    b'<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    b'<ds:Reference URI=""><ds:Transforms>'
    b'<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    b'<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    b'<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>'
    b"</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"
)


def seal(clear: bytes, *, hub_key: Path, hub_cert: Path, passphrase: str, doj_cert: Path, workdir: Path) -> bytes:
    """The cleartext envelope ``clear`` encrypted to DOJ and signed by the hub, by two xmlsec1 runs."""
    assert XMLSEC1 is not None
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "clear.xml").write_bytes(clear)
    (workdir / "template.xml").write_bytes(ENCRYPTION_TEMPLATE)
    subprocess.run(  # noqa: S603 - our own arguments
        [XMLSEC1, "--encrypt", "--pubkey-cert-pem", str(doj_cert), "--session-key", "aes-256",
         "--xml-data", str(workdir / "clear.xml"), "--node-name", f"{NS}:Payload",
         "--output", str(workdir / "encrypted.xml"), str(workdir / "template.xml")],
        check=True, capture_output=True,
    )  # fmt: skip
    encrypted = (workdir / "encrypted.xml").read_bytes()
    closing = b"</tx:Transmission>"
    (workdir / "to-sign.xml").write_bytes(encrypted.replace(closing, SIGNATURE_TEMPLATE + closing))
    subprocess.run(  # noqa: S603 - our own arguments
        [XMLSEC1, "--sign", "--privkey-pem", f"{hub_key},{hub_cert}", "--pwd", passphrase,
         "--output", str(workdir / "sealed.xml"), str(workdir / "to-sign.xml")],
        check=True, capture_output=True,
    )  # fmt: skip
    return (workdir / "sealed.xml").read_bytes()
