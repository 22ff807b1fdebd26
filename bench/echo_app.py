"""A bare Spyne service with the hub's own generated bindings, answering SubmitOrder with a fixed
receipt: the baseline for "what does our own work cost" (bench/submit_bench.py).

Spyne parses the same envelope with its own parser, deserializes the same order types, and
serializes the same receipt type; no entry-point checks, XSD validation, auth or database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from spyne import Application
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from hub import ns
from hub.soap.bindings import orders_bindings
from hub.soap.wsdl import service_class


def wsgi_app() -> WsgiApplication:
    bindings = orders_bindings()
    receipt_type = bindings["OrderReceiptType"]

    def implement(name: str) -> Any:
        def method(ctx: Any, *args: Any) -> Any:
            return receipt_type(
                OrderId="CCP0000000001",
                Version=1,
                OrderStatus="ACTIVE",
                ServedIndicator=False,
                ReceivedDateTime=datetime.now(UTC),
                DuplicateIndicator=False,
            )

        return method

    app = Application(
        [service_class(bindings, implement)],
        tns=ns.ORDERS_SERVICE,
        name="OrdersService",
        in_protocol=Soap11(),
        out_protocol=Soap11(),
    )
    return WsgiApplication(app, max_content_length=32 * 1024 * 1024)
