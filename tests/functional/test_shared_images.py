"""Several hub machines, one PostgreSQL, no shared file system: with ``CCPOR_IMAGE_STORE=database``
an image attached through one hub process is served by another (each with its own data directory,
so neither could read the other's image files), SHA-256 verified on the read."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import zeep
from zeep.wsse.username import UsernameToken

from hub.runner import HubServer
from tests.conftest import PASSWORD, empty_database
from tests.functional.conftest import LOOPBACK_PASSWORD_TEXT, _start_db
from tests.support.orders import order, tiny_pdf

pytestmark = [pytest.mark.functional, pytest.mark.postgres]


def _client(server: HubServer, session: requests.Session) -> zeep.Client:
    return zeep.Client(server.wsdl, wsse=UsernameToken("clerk", PASSWORD), transport=zeep.Transport(session=session))


def test_an_image_attached_on_one_hub_is_served_by_another(tmp_path: Path) -> None:
    with empty_database("postgresql", tmp_path) as url:
        first, second = tmp_path / "hub-a", tmp_path / "hub-b"
        first.mkdir()
        second.mkdir()
        _start_db(first, url)  # the schema, the accounts, the master key both hubs share
        env = {
            **LOOPBACK_PASSWORD_TEXT,
            "CCPOR_IMAGE_STORE": "database",
            "CCPOR_MASTER_KEY_FILE": str(first / "master.key"),
        }
        hubs = [HubServer(first, url, **env).start(), HubServer(second, url, **env).start()]
        try:
            with requests.Session() as a, requests.Session() as b:
                receipt = _client(hubs[0], a).service.SubmitOrder(Order=order(CaseDocketID="24FLSHARED"))
                scan = tiny_pdf("shared") * 40_000  # ~4 MB: several chunks
                image = _client(hubs[0], a).service.AttachImage(
                    OrderId=receipt.OrderId, Document={"Base64BinaryObject": scan}
                )
                served = _client(hubs[1], b).service.GetImage(ImageId=image.ImageId)
            assert served.Base64BinaryObject == scan
            assert not list(first.rglob("images/??/*")) and not list(second.rglob("images/??/*"))  # no files
        finally:
            for hub in hubs:
                hub.stop()
