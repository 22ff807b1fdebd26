"""CARPOS key pairs: made by ``keys init``, kept only encrypted, checked for their validity period."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization

from gateway import keys
from hub import masterkey


def test_private_keys_open_only_with_their_master_key(keyset, tmp_path):
    assert keyset.files.hub_key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert keyset.files.hub_key.stat().st_mode & 0o077 == 0
    other = masterkey.create(tmp_path / "other.key")
    with pytest.raises(keys.KeyFileError, match="does not open with this master key"):
        keys.load_private_key(keyset.files.hub_key, other)
    with pytest.raises(keys.KeyFileError, match="does not open"):
        keys.load_private_key(keyset.files.doj_key, keyset.hub_master)  # DOJ's key is under DOJ's master key
    plain = tmp_path / "plain.key"
    plain.write_bytes(
        keyset.hub.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(keys.KeyFileError, match="not encrypted"):
        keys.load_private_key(plain, keyset.hub_master)


def test_a_certificate_must_belong_to_its_key(keyset):
    with pytest.raises(keys.KeyFileError, match="does not belong"):
        keys.KeyPair(keyset.hub.key, keyset.doj.certificate)


def test_missing_files_say_how_to_make_them(tmp_path, keyset):
    with pytest.raises(keys.KeyFileError, match="keys init"):
        keys.load_certificate(tmp_path / "none.pem")
    with pytest.raises(keys.KeyFileError, match="keys init"):
        keys.load_private_key(tmp_path / "none.key", keyset.hub_master)


def test_init_never_replaces_keys(keyset):
    with pytest.raises(FileExistsError):
        keys.init(keyset.files.hub_key.parent, keyset.hub_master, keyset.doj_master)


def test_validity_is_checked_at_start(keyset):
    cert = keyset.hub.certificate
    soon = cert.not_valid_after_utc - dt.timedelta(days=3)
    assert keys.check_validity(cert, "hub", cert.not_valid_before_utc + dt.timedelta(days=1), dt.timedelta(30)) is None
    assert "expires in 3 day(s)" in keys.check_validity(cert, "hub", soon, dt.timedelta(days=30))
    with pytest.raises(keys.KeyFileError, match="expired"):
        keys.check_validity(cert, "hub", cert.not_valid_after_utc + dt.timedelta(seconds=1), dt.timedelta(30))
    with pytest.raises(keys.KeyFileError, match="not valid before"):
        keys.check_validity(cert, "hub", cert.not_valid_before_utc - dt.timedelta(seconds=1), dt.timedelta(30))


def test_the_development_ca_issued_both_certificates(keyset):
    from cryptography import x509

    ca = x509.load_pem_x509_certificate(keyset.files.ca.read_bytes())
    for cert in (keyset.hub.certificate, keyset.doj.certificate):
        assert cert.issuer == ca.subject
        cert.verify_directly_issued_by(ca)
        assert cert.public_key().key_size >= 2048


def test_the_switch_warns_of_certificates_expiring_within_its_setting(tmp_path):
    from mocks.doj import server
    from mocks.doj.settings import SwitchSettings

    hub_master, doj_master = masterkey.create(tmp_path / "hub.key"), masterkey.create(tmp_path / "doj.key")
    now = dt.datetime.now(dt.UTC)
    soon = keys.init(tmp_path / "keys", hub_master, doj_master, days=30, now=now - dt.timedelta(days=1))
    files = dict(
        data_dir=tmp_path / "doj",
        master_key_file=str(tmp_path / "doj.key"),
        doj_key_file=soon.doj_key,
        doj_cert_file=soon.doj_cert,
        hub_cert_file=soon.hub_cert,
    )
    _, warned = server.doj_channel(SwitchSettings(**files))  # CCPOR_CERT_WARN_DAYS' default: 30
    assert [w.split(" expires in ")[0] for w in warned] == ["the DOJ certificate", "the hub certificate"]
    _, quiet = server.doj_channel(SwitchSettings(**files, cert_warn_days=10))
    assert quiet == []
