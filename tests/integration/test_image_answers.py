"""An image through a hub worker without extra copies (docs/PERFORMANCE.md, "A 20 MB image in a hub
worker"): GetImage's base64 is produced in pieces as the answer is sent, with an exact
Content-Length; the call's trees and values are let go when Spyne closes its context. Memory
itself is measured by ``make bench-image-memory``; these tests pin the mechanisms it relies on."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub import masterkey
from hub.accounts.service import add_user
from hub.api.app import Services
from hub.codes import Role
from hub.server import compose
from hub.settings import Settings
from hub.soap.protocol import SPLICE_FROM
from tests.conftest import PASSWORD
from tests.support.orders import SVC, envelope, order, tiny_pdf
from tests.support.xsdfuzz import call

BIG = 2_500_000  # several 1 MiB pieces of base64


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    data = tmp_path_factory.mktemp("image-answers")
    shutil.copy(sqlite_template, data / "hub.db")
    masterkey.create(data / "master.key")
    services = Services.build(
        Settings(data_dir=data, database_url=f"sqlite:///{data / 'hub.db'}", dev_password_text_over_http=True)
    )
    with services.db.unit_of_work() as s:
        add_user(s, "imager", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
    yield compose(services)
    services.db.dispose()


def _soap(app: Any, operation: str, params: list[tuple[Any, ...]]) -> bytes:
    answer = call(app, "/ws/orders", envelope(operation, params, username="imager", password=PASSWORD))
    assert answer.status.startswith("200"), answer.body[:500]
    return answer.body


def _attached(app: Any, content: bytes) -> str:
    receipt = _soap(app, "SubmitOrder", [("Order", order(CaseDocketID=f"24IMG{len(content)}"))])
    order_id = re.search(rb"OrderId>([^<]+)<", receipt).group(1).decode()  # type: ignore[union-attr]
    attached = _soap(
        app,
        "AttachImage",
        [("OrderId", order_id), ("Document", {"Base64BinaryObject": base64.b64encode(content).decode()}, SVC)],
    )
    return re.search(rb"ImageId>([^<]+)<", attached).group(1).decode()  # type: ignore[union-attr]


def _get_image_pieces(app: Any, image_id: str) -> tuple[dict[str, str], list[bytes]]:
    """The answer of GetImage as the server would write it: its headers and each piece."""
    body = envelope("GetImage", [("ImageId", image_id)], username="imager", password=PASSWORD)
    started: list[tuple[str, list[tuple[str, str]]]] = []
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/ws/orders",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8080",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
    }
    answer = app(env, lambda status, headers, exc_info=None: started.append((status, headers)))
    pieces = list(answer)
    answer.close()
    assert started[0][0].startswith("200")
    assert "ccpor.tree" not in env  # the request's tree is let go with the call
    return dict(started[0][1]), pieces


def _image_of(answer: bytes) -> bytes:
    root = etree.fromstring(answer, etree.XMLParser(huge_tree=True))
    (text,) = root.xpath("//*[local-name()='Base64BinaryObject']/text()")
    return base64.b64decode(text, validate=True)


def test_a_large_image_is_sent_in_pieces_with_its_exact_length(app: Any) -> None:
    scan = b"%PDF-1.4\n" + os.urandom(BIG) + b"\n%%EOF\n"
    headers, pieces = _get_image_pieces(app, _attached(app, scan))
    answer = b"".join(pieces)
    assert int(headers["Content-Length"]) == len(answer)
    assert _image_of(answer) == scan
    # no piece holds the image's whole base64 (Spyne's way: one bytes of the whole answer)
    assert len(pieces) > 3 and max(len(p) for p in pieces) <= 1 << 20
    assert b"ccpor-splice" not in answer and base64.b64encode(b"ccpor-splice")[:12] not in answer


def test_a_small_image_is_answered_as_before(app: Any) -> None:
    small = tiny_pdf("small answer")
    assert len(small) < SPLICE_FROM
    headers, pieces = _get_image_pieces(app, _attached(app, small))
    assert len(pieces) == 1 and int(headers["Content-Length"]) == len(pieces[0])
    assert _image_of(pieces[0]) == small


def test_the_call_context_lets_go_of_the_request_and_the_answer(app: Any) -> None:
    """Spyne's method context sits in reference cycles; the hub empties it when Spyne closes it."""
    closed: list[Any] = []
    spyne_app = app.routes["/ws/orders"].spyne_app
    spyne_app.event_manager.add_listener("wsgi_close", closed.append)  # fired after the context closed
    try:
        _get_image_pieces(app, _attached(app, tiny_pdf("context")))
    finally:
        spyne_app.event_manager.handlers["wsgi_close"].discard(closed.append)
    assert closed
    for ctx in closed:
        assert (ctx.in_document, ctx.in_body_doc, ctx.in_object, ctx.out_object, ctx.out_document) == (None,) * 5
