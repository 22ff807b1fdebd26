"""`ccpor-hub serve --tls-cert --tls-key [--client-ca]`: HTTPS, and mutual TLS for VPN partners."""

from __future__ import annotations

import ssl
import urllib.request
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree
from zeep.wsse.username import UsernameToken

from hub import ns
from hub.runner import HubServer
from tests.conftest import PASSWORD
from tests.functional.conftest import _start_db
from tests.support.certs import make_tls
from tests.support.dsp917 import current
from tests.support.orders import order

pytestmark = pytest.mark.functional


def client(server: HubServer, cert: tuple[str, str] | None = None) -> tuple[zeep.Client, requests.Session]:
    session = requests.Session()
    assert server.tls is not None
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides verify
    session.verify = str(server.tls.ca)
    session.cert = cert
    return zeep.Client(
        server.wsdl, wsse=UsernameToken("clerk", PASSWORD), transport=zeep.Transport(session=session)
    ), session


def test_https_serves_the_wsdl_with_an_https_address_and_calls(tmp_path: Path):
    server = HubServer(tmp_path, _start_db(tmp_path), tls=make_tls(tmp_path, mutual=False)).start()
    try:
        hub, session = client(server)
        assert hub.service.SearchOrders(Criteria={"PersonSurName": "X%"}).TotalCount == 0
        with session.get(server.wsdl) as resp:
            assert f'location="https://127.0.0.1:{server.port}/ws/orders"'.encode() in resp.content
        session.close()
        with pytest.raises(OSError):  # plain HTTP to the TLS port gets no answer
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health", timeout=5)  # noqa: S310
    finally:
        assert server.stop() == 0


def test_mutual_tls_refuses_clients_without_a_certificate(tmp_path: Path):
    tls = make_tls(tmp_path, mutual=True)
    server = HubServer(tmp_path, _start_db(tmp_path), tls=tls).start()
    try:
        assert tls.client_cert and tls.client_key
        hub, session = client(server, (str(tls.client_cert), str(tls.client_key)))
        assert hub.service.SearchOrders(Criteria={"PersonSurName": "X%"}).TotalCount == 0
        session.close()
        anonymous = ssl.create_default_context(cafile=str(tls.ca))
        with pytest.raises((ssl.SSLError, OSError)):
            urllib.request.urlopen(f"{server.url}/health", timeout=5, context=anonymous)  # noqa: S310
        with urllib.request.urlopen(f"{server.url}/health", timeout=5, context=tls.client_context()) as r:  # noqa: S310
            assert r.status == 200  # and the server keeps serving certified clients
    finally:
        assert server.stop() == 0


def test_a_registered_client_certificate_identifies_its_account(tmp_path: Path):
    import subprocess
    import sys

    tls = make_tls(tmp_path, mutual=True)
    url = _start_db(tmp_path)
    server = HubServer(tmp_path, url, tls=tls)  # creates the data directory's master key
    cli = str(Path(sys.executable).with_name("ccpor-hub"))
    for account, cert in (("reader", tls.client_cert), ("imperial-faccts", tmp_path / "court-faccts.pem")):
        done = subprocess.run(
            [cli, "users", "set-cert", account, str(cert)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "CCPOR_DATABASE_URL": url, "CCPOR_DATA_DIR": str(tmp_path)},
        )
        assert done.returncode == 0 and "sha256:" in done.stdout, done.stderr
    server.start()

    def session(cert: str) -> requests.Session:
        s = requests.Session()
        s.trust_env, s.verify, s.cert = (
            False,
            str(tls.ca),
            (str(tmp_path / f"{cert}.pem"), str(tmp_path / f"{cert}.key")),
        )
        return s

    try:
        rms = session("sheriff-rms")
        by_cert = zeep.Client(server.wsdl, transport=zeep.Transport(session=rms))  # no WS-Security header at all
        assert by_cert.service.SearchOrders(Criteria={"PersonSurName": "X%"}).TotalCount == 0
        with pytest.raises(zeep.exceptions.Fault) as f:  # it is the reader (QUERY_ONLY): no submitting
            by_cert.service.SubmitOrder(Order=order())
        assert f.value.code.endswith("Client.Forbidden") and "QUERY_ONLY" in f.value.message
        mismatch = zeep.Client(
            server.wsdl, wsse=UsernameToken("clerk", PASSWORD), transport=zeep.Transport(session=rms)
        )
        with pytest.raises(zeep.exceptions.Fault) as f:
            mismatch.service.SearchOrders(Criteria={"PersonSurName": "X%"})
        assert f.value.code.endswith("Client.Authentication") and "another account" in f.value.message
        stranger = session("stranger")
        anonymous = zeep.Client(server.wsdl, transport=zeep.Transport(session=stranger))
        with pytest.raises(zeep.exceptions.Fault) as f:
            anonymous.service.SearchOrders(Criteria={"PersonSurName": "X%"})
        assert f.value.code.endswith("Client.Authentication")
        # A court's case system over mutual TLS: its certificate is its account on /ws/dsp917 too.
        faccts = session("court-faccts")
        notification = etree.Element(ns.q(ns.SOAP11_ENV, "Envelope"))
        etree.SubElement(notification, ns.q(ns.SOAP11_ENV, "Body")).append(current("TLS-1", "660000000001"))
        soap = {"Content-Type": "text/xml", "SOAPAction": "/portal/isb/Schema/DSP917CAJUDReq/1.0.0"}
        reply = faccts.post(f"{server.url}/ws/dsp917", data=etree.tostring(notification), headers=soap)
        assert reply.status_code == 200 and b"is ACTIVE" in reply.content, reply.text[:500]
        reply = stranger.post(
            f"{server.url}/ws/dsp917", data=etree.tostring(notification), headers=reply.request.headers
        )
        assert reply.status_code == 500 and b"Client.Authentication" in reply.content
        assert b"ISBCommonErrorMessage" in reply.content
        for s in (rms, stranger, faccts):
            s.close()
    finally:
        assert server.stop() == 0


def test_passwordtext_is_refused_over_plain_http_and_accepted_over_https(tmp_path: Path):
    """A production hub (no development setting) on plain HTTP: PasswordText is refused -- the
    password already crossed the wire in the clear, so the hub does not even try it -- while
    PasswordDigest still works; the same account's PasswordText over HTTPS is accepted
    (test_https_serves_the_wsdl_with_an_https_address_and_calls)."""
    server = HubServer(tmp_path, _start_db(tmp_path)).start()
    try:
        session = requests.Session()
        session.trust_env = False
        text = zeep.Client(
            server.wsdl, wsse=UsernameToken("clerk", PASSWORD), transport=zeep.Transport(session=session)
        )
        with pytest.raises(zeep.exceptions.Fault) as f:
            text.service.SearchOrders(Criteria={"PersonSurName": "X%"})
        assert f.value.code.endswith("Client.Authentication") and "only over TLS" in f.value.message
        digest = zeep.Client(
            server.wsdl,
            wsse=UsernameToken("digest-dms", PASSWORD, use_digest=True),
            transport=zeep.Transport(session=session),
        )
        assert digest.service.SearchOrders(Criteria={"PersonSurName": "X%"}).TotalCount == 0
        session.close()
    finally:
        assert server.stop() == 0
    assert "DEVELOPMENT SETTING" not in server.log.read_text()
