"""The CARPOS key pairs: the hub's (signs what it sends, decrypts what DOJ answers) and DOJ's.

``ccpor-hub keys init DIR`` makes a development set: a CA that issues two RSA certificates, one for
the hub and one for the mock DOJ switch, and the two private keys::

    DIR/ca.pem     the development CA's certificate (its key is thrown away after issuing)
    DIR/hub.pem    the hub's certificate        DIR/hub.key   its key, under the hub's master key
    DIR/doj.pem    DOJ's certificate (pinned)   DIR/doj.key   its key, under the switch's master key

Private keys are never at rest in the clear: each is PKCS#8 encrypted (AES-256-CBC, PBKDF2 --
``BestAvailableEncryption``) with a passphrase derived from the master key of the process that
uses it (:meth:`hub.masterkey.MasterKey.derive`), so a copy of the key directory alone signs
nothing. Production keys come from the courts' PKI and DOJ's; the same loaders read them once they
are wrapped the same way (``ccpor-hub keys wrap``, a later addition, or an HSM behind this module).

Keys are loaded once per process (signxml re-parses PEM on every call, ~70 ms; a loaded key object
signs in ~1 ms) and certificates are checked for their validity period when a process starts
(:func:`check_validity`): an expired certificate stops the process with the reason, one close to
expiry is reported.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.clock import utcnow
from hub.masterkey import MasterKey

#: The purpose under which private-key passphrases are derived from a master key.
PRIVATE_KEY_PURPOSE = "carpos-private-key"


class KeyFileError(RuntimeError):
    """A key or certificate file is missing, unreadable, malformed, expired or mismatched."""


@dataclass(frozen=True)
class KeyPair:
    """A loaded private key and its certificate (what a signer and a decrypter need)."""

    key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate

    def __post_init__(self) -> None:
        if _spki(self.key.public_key()) != _spki(self.certificate.public_key()):
            raise KeyFileError("the certificate does not belong to the private key")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 (hex) of the certificate's DER form: how envelopes name a recipient's key."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _passphrase(master: MasterKey) -> bytes:
    return base64.b64encode(master.derive(PRIVATE_KEY_PURPOSE))


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileError(f"no {what} at {path}: create a development set with 'ccpor-hub keys init DIR'") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def load_certificate(path: Path) -> x509.Certificate:
    data = _read(path, "certificate")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise KeyFileError(f"{path} is not a PEM certificate") from exc


def load_private_key(path: Path, master: MasterKey) -> rsa.RSAPrivateKey:
    """A private key written by :func:`write_private_key` under ``master``."""
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=_passphrase(master))
    except TypeError as exc:
        raise KeyFileError(f"{path} is not encrypted; private keys are kept only under a master key") from exc
    except ValueError as exc:
        raise KeyFileError(f"{path} does not open with this master key (another installation's key file?)") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(f"{path} is not an RSA key; CARPOS envelopes use RSA (RSA-SHA256, RSA-OAEP)")
    return key


def load_pair(key_path: Path, cert_path: Path, master: MasterKey) -> KeyPair:
    return KeyPair(load_private_key(key_path, master), load_certificate(cert_path))


def write_private_key(path: Path, key: rsa.RSAPrivateKey, master: MasterKey) -> None:
    """Write ``key`` encrypted under ``master`` (mode 0600; an existing file is never replaced)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_passphrase(master)),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def wrap_private_key(plain: bytes, out: Path, master: MasterKey) -> str:
    """A private key in the clear (PEM, RSA or EC: from a PKI's export) written to ``out`` under
    ``master`` (:func:`write_private_key`); its kind. The plaintext is never written anywhere."""
    try:
        key = serialization.load_pem_private_key(plain, password=None)
    except TypeError as exc:
        raise KeyFileError("the key is encrypted already: give it in the clear (it is wrapped at once)") from exc
    except ValueError as exc:
        raise KeyFileError("not a PEM private key") from exc
    write_private_key(out, key, master)  # type: ignore[arg-type]
    return type(key).__name__.lstrip("_")


@dataclass(frozen=True)
class ClientIdentity:
    """A TLS client certificate and its private key, the key kept as every key here is (PKCS#8,
    encrypted under the master key; ``ccpor-hub keys wrap``): what the gateway presents to the
    courts that require mutual TLS (``CCPOR_DSP917_CLIENT_CERT`` / ``CCPOR_DSP917_CLIENT_KEY``)."""

    cert: Path
    key: Path
    master: MasterKey = field(repr=False)

    def certificate(self) -> x509.Certificate:
        return load_certificate(self.cert)

    def load_into(self, context: ssl.SSLContext) -> None:
        data = _read(self.key, "private key")
        blocks = re.findall(rb"-----BEGIN ([A-Z ]+)-----", data)
        if blocks != [b"ENCRYPTED PRIVATE KEY"] or _opens_without_password(data):
            raise KeyFileError(
                f"{self.key} is not encrypted (one encrypted PKCS#8 key and nothing else): "
                "wrap it with 'ccpor-hub keys wrap' (no key rests in clear)"
            )
        try:
            context.load_cert_chain(str(self.cert), str(self.key), password=_passphrase(self.master))
        except ssl.SSLError as exc:
            raise KeyFileError(
                f"{self.key} does not open with this master key, or is not the key of {self.cert} ({exc.reason})"
            ) from exc


def _opens_without_password(pem: bytes) -> bool:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(pem, password=None)
    except (TypeError, ValueError):  # TypeError: encrypted (a password is needed); ValueError: not a key
        return False
    return True


def check_validity(certificate: x509.Certificate, what: str, now: dt.datetime, warn_within: dt.timedelta) -> str | None:
    """Raise if ``certificate`` is not valid at ``now``; a warning if it expires within ``warn_within``."""
    if now < certificate.not_valid_before_utc:
        raise KeyFileError(
            f"the {what} certificate is not valid before {certificate.not_valid_before_utc:%Y-%m-%d %H:%MZ}"
        )
    if now > certificate.not_valid_after_utc:
        raise KeyFileError(
            f"the {what} certificate expired at {certificate.not_valid_after_utc:%Y-%m-%d %H:%MZ}: "
            "renew it before CARPOS traffic can flow"
        )
    left = certificate.not_valid_after_utc - now
    if left < warn_within:
        return f"the {what} certificate expires in {left.days} day(s), at {certificate.not_valid_after_utc:%Y-%m-%d}"
    return None


# ------------------------------------------------------------------------------ development set


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "California"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CCPOR development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class DevelopmentSet:
    ca: Path
    hub_cert: Path
    hub_key: Path
    doj_cert: Path
    doj_key: Path


def init(
    directory: Path,
    hub_master: MasterKey,
    doj_master: MasterKey,
    *,
    bits: int = 2048,
    days: int = 825,
    now: dt.datetime | None = None,
) -> DevelopmentSet:
    """Create a development CA, the hub's and DOJ's keys and certificates in ``directory``.

    Refuses to touch a directory that already holds any of the files (keys are never replaced in
    place: a new set goes to a new directory, and the settings point to it).
    """
    now = now or utcnow()
    directory.mkdir(parents=True, exist_ok=True)
    out = DevelopmentSet(
        directory / "ca.pem", directory / "hub.pem", directory / "hub.key", directory / "doj.pem", directory / "doj.key"
    )
    existing = [p for p in vars(out).values() if p.exists()]
    if existing:
        raise FileExistsError(", ".join(str(p) for p in existing))
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("CCPOR development CA"))
        .issuer_name(_name("CCPOR development CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days + 1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for common_name, cert_path, key_path, master in (
        ("CCPOR hub CARPOS gateway", out.hub_cert, out.hub_key, hub_master),
        ("DOJ CARPOS switch (mock)", out.doj_cert, out.doj_key, doj_master),
    ):
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # digitalSignature (XML signatures), keyEncipherment (RSA-OAEP content keys)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write_private_key(key_path, key, master)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return out
