"""Interop: Debian's xmlsec1 verifies the signatures and decrypts the envelopes the hub seals
(``ccpor-hub keys init`` + ``ccpor-hub carpos seal``), and DOJ's side opens the same file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from gateway import keys
from gateway.keys import _passphrase
from gateway.sealing import Channel
from hub import masterkey
from tests.functional.test_cli import run
from tests.support.orders import order, order_element

XMLSEC1 = shutil.which("xmlsec1")


def _require_xmlsec1() -> str:
    if XMLSEC1 is None:
        if os.environ.get("CCPOR_REQUIRE_XMLSEC1"):
            pytest.fail("CCPOR_REQUIRE_XMLSEC1 is set but xmlsec1 is not installed (apt-get install xmlsec1)")
        pytest.skip("xmlsec1 is not installed (Debian package xmlsec1)")
    return XMLSEC1


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = tmp_path_factory.mktemp("interop")
    assert run("keys", "master", data_dir=data).returncode == 0
    made = run("keys", "init", str(data / "carpos-keys"), data_dir=data)
    assert made.returncode == 0, made.stderr
    order_file = data / "order.xml"
    order_file.write_bytes(
        etree.tostring(
            order_element(order(CaseDocketID="24FL4242"), tag="{urn:ca:courts:ccpor:order-profiles:1}ActiveOrder")
        )
    )
    out = run(
        "carpos", "seal", str(order_file), "--oca", "CCP0000000042", "--out", str(data / "epo.xml"), data_dir=data
    )
    assert out.returncode == 0, out.stderr
    return data, data / "epo.xml"


def xmlsec1(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_require_xmlsec1(), *args], capture_output=True, text=True, timeout=60, check=False)


def test_xmlsec1_verifies_the_hub_s_signature(sealed):
    data, epo = sealed
    checked = xmlsec1("--verify", "--trusted-pem", str(data / "carpos-keys" / "ca.pem"), str(epo))
    assert checked.returncode == 0 and "OK" in checked.stderr, checked.stderr
    tampered = data / "tampered.xml"
    tampered.write_bytes(epo.read_bytes().replace(b"CCP0000000042-001", b"CCP0000000042-002"))
    refused = xmlsec1("--verify", "--trusted-pem", str(data / "carpos-keys" / "ca.pem"), str(tampered))
    assert refused.returncode != 0 and "FAIL" in refused.stderr


def test_xmlsec1_decrypts_the_hub_s_envelope_with_doj_s_key(sealed):
    data, epo = sealed
    doj_master = masterkey.load(data / "doj" / "master.key")
    doj_cert = keys.load_certificate(data / "carpos-keys" / "doj.pem")
    key_name = keys.fingerprint(doj_cert)  # the KeyName the envelope names its recipient by
    opened = xmlsec1(
        "--decrypt",
        f"--privkey-pem:{key_name}",
        str(data / "carpos-keys" / "doj.key"),
        "--pwd",
        _passphrase(doj_master).decode(),
        str(epo),
    )
    assert opened.returncode == 0, opened.stderr
    text = etree.fromstring(opened.stdout.encode()).findtext(".//{*}CarposText")
    assert text.startswith("EPO.ORI/CA019015J.OCA/CCP0000000042.NAM/MOUSE,MICKEY") and ".PNO/24FL4242." in text


def test_doj_s_side_opens_the_file_the_cli_sealed(sealed):
    data, epo = sealed
    doj = keys.load_pair(
        data / "carpos-keys" / "doj.key", data / "carpos-keys" / "doj.pem", masterkey.load(data / "doj" / "master.key")
    )
    t = Channel(doj, keys.load_certificate(data / "carpos-keys" / "hub.pem")).open(epo.read_bytes())
    assert t.header.mcn == "CCP0000000042-001" and t.header.order_reference == "CCP0000000042"
    assert t.text.startswith("EPO.ORI/CA019015J.")


def test_an_envelope_xmlsec1_sealed_opens_on_doj_s_side(sealed):
    from datetime import UTC, datetime

    from hub.carpos import envelope
    from hub.carpos.envelope import Header, MessageKey, Transmission
    from tests.support import xmlsec1 as xmlsec1_seal

    _require_xmlsec1()
    data, _ = sealed
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    t = Transmission(Header("CCP0000000043-001", "CA019015J", "CADOJ0000", MessageKey.EPO, now, now, "CCP0000000043"),
                     ("EPO.ORI/CA019015J.OCA/CCP0000000043",))  # fmt: skip
    key_dir = data / "carpos-keys"
    wire = xmlsec1_seal.seal(
        etree.tostring(envelope.to_xml(t)),
        hub_key=key_dir / "hub.key",
        hub_cert=key_dir / "hub.pem",
        passphrase=_passphrase(masterkey.load(data / "master.key")).decode(),
        doj_cert=key_dir / "doj.pem",
        workdir=data / "xmlsec1-sealed",
    )
    doj = keys.load_pair(key_dir / "doj.key", key_dir / "doj.pem", masterkey.load(data / "doj" / "master.key"))
    assert Channel(doj, keys.load_certificate(key_dir / "hub.pem")).open(wire) == t
