"""`ccpor-hub serve --tls-cert --tls-key [--client-ca]`: HTTPS, and mutual TLS for VPN partners."""

from __future__ import annotations

import ssl
import urllib.request
from pathlib import Path

import pytest
import requests
import zeep
from zeep.wsse.username import UsernameToken

from hub.runner import HubServer
from tests.conftest import PASSWORD
from tests.functional.conftest import _start_db
from tests.support.certs import make_tls

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
