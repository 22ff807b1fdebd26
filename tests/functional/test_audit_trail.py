"""Every call over HTTP leaves an audit event (who, org, operation, target, outcome, time, address),
chained so that ``ccpor-hub audit verify`` passes, with no secret or image content in it."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
import zeep

from tests.conftest import PASSWORD
from tests.support.audit import events_after, head
from tests.support.orders import order, tiny_pdf

pytestmark = pytest.mark.functional


def test_each_kind_of_access_is_audited_and_the_chain_verifies(hub):
    start = head(hub.db_url)
    clerk = hub.client()
    receipt = clerk.service.SubmitOrder(Order=order())
    pdf = tiny_pdf("audit")
    image = clerk.service.AttachImage(
        OrderId=receipt.OrderId, Document={"DocumentFileName": "o.pdf", "Base64BinaryObject": pdf}
    )
    clerk.service.GetOrder(OrderId=receipt.OrderId)
    clerk.service.GetImage(ImageId=image.ImageId)
    clerk.service.SearchOrders(Criteria={"PersonSurName": "MOU%"})
    with pytest.raises(zeep.exceptions.Fault):
        hub.client("reader", "not the password at all").service.GetOrder(OrderId=receipt.OrderId)
    with pytest.raises(zeep.exceptions.Fault):
        hub.client("reader").service.CancelOrder(
            OrderId=receipt.OrderId, Version=2, CancelReasonCode="ENTERED-IN-ERROR"
        )

    events = events_after(hub.db_url, start)
    seen = [(e.category, e.username, e.operation, e.outcome) for e in events]
    assert seen == [
        ("CHANGE", "clerk", "SubmitOrder", "OK"),
        ("CHANGE", "clerk", "AttachImage", "OK"),
        ("VIEW", "clerk", "GetOrder", "OK"),
        ("IMAGE", "clerk", "GetImage", "OK"),
        ("QUERY", "clerk", "SearchOrders", "OK"),
        ("LOGON", "reader", "GetOrder", "Client.Authentication"),
        ("CHANGE", "reader", "CancelOrder", "Client.Forbidden"),
    ]
    assert [e.seq for e in events] == list(range(start + 1, start + 8))  # gapless
    assert events[0].target == receipt.OrderId and events[3].target == image.ImageId
    assert {e.client_address for e in events} == {"127.0.0.1"}
    assert all(e.org_ori == "CA019015J" for e in events if e.category != "LOGON")
    assert all(len(e.mac) == 64 for e in events)
    text = " ".join(str(v) for e in events for v in e)
    for secret in (PASSWORD, "not the password at all", base64.b64encode(pdf).decode()[:40]):
        assert secret not in text

    cli = str(Path(sys.executable).with_name("ccpor-hub"))
    env = {
        "PATH": "/usr/bin:/bin",
        "CCPOR_DATABASE_URL": hub.db_url,
        "CCPOR_DATA_DIR": hub.server.env["CCPOR_DATA_DIR"],
    }
    verified = subprocess.run([cli, "audit", "verify"], capture_output=True, text=True, timeout=60, env=env)
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout, verified.stderr


def test_using_the_sealed_role_on_a_sealed_order_is_noted(hub):
    sealed_clerk = hub.client("sealed-clerk")
    start = head(hub.db_url)
    receipt = sealed_clerk.service.SubmitOrder(Order=order(SealedIndicator=True))  # the order the call made
    hub.client("sealed-reader").service.GetOrder(OrderId=receipt.OrderId)  # details, by the SEALED role
    hub.client("reader").service.GetOrder(OrderId=receipt.OrderId)  # a redacted stub: no privilege used
    events = events_after(hub.db_url, start)
    assert [(e.username, e.detail) for e in events] == [
        ("sealed-clerk", "sealed order, SEALED role"),
        ("sealed-reader", "sealed order, SEALED role"),
        ("reader", ""),
    ]
