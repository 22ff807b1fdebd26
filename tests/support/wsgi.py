"""Calling the hub's WSGI application in-process, without a server (property tests, benchmarks)."""

from __future__ import annotations

import io
from typing import Any


def post(app: Any, body: bytes, path: str = "/ws/orders") -> tuple[str, bytes]:
    """POST ``body`` to ``path`` of ``app`` as a SOAP request from 127.0.0.1; (HTTP status, answer)."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8080",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
    }
    status: list[str] = []
    content = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
    return status[0], content
