"""A throwaway CA with a server certificate for 127.0.0.1 and a client certificate (tests only)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.runner import Tls, development_tls


def make_tls(directory: Path, *, mutual: bool) -> Tls:
    """The development TLS set the demo uses (:func:`hub.runner.development_tls`)."""
    return development_tls(directory, mutual=mutual)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def self_signed(cn: str, *, rsa_bits: int | None = 2048) -> tuple[object, x509.Certificate]:
    """A signing key (RSA, or EC P-256 when ``rsa_bits`` is None) and its self-signed certificate."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        if rsa_bits
        else ec.generate_private_key(ec.SECP256R1())
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert
