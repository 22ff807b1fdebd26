"""The access log line the hub's logger writes is gunicorn's own line for the hub's format, built
from the five values it names; any other format is gunicorn's."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn import glogging
from gunicorn.config import Config

from hub.cli.accesslog import ACCESS_FORMAT, AccessLogger
from hub.cli.processes import gunicorn

ENVIRON = {
    "REMOTE_ADDR": "10.1.2.3",
    "REQUEST_METHOD": "POST",
    "RAW_URI": "/ws/orders?wsdl",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "PATH_INFO": "/ws/orders",
    "HTTP_AUTHORIZATION": "Basic c2VjcmV0",
}


def _line(logger_class: type, access_format: str, sent: int | None, status: str) -> str:
    cfg = Config()
    cfg.set("access_log_format", access_format)
    logger = logger_class(cfg)
    resp = SimpleNamespace(status=status, sent=sent, headers=[("Content-Type", "text/xml")])
    req = SimpleNamespace(headers=[("AUTHORIZATION", "Basic c2VjcmV0")])
    atoms = logger.atoms(resp, req, ENVIRON, timedelta(seconds=1, microseconds=234_567))
    return access_format % logger.atoms_wrapper_class(atoms)


@pytest.mark.parametrize(("sent", "status"), [(1234, "200 OK"), (0, "500 Internal Server Error"), (None, "400 Bad")])
def test_the_hubs_line_is_gunicorns_line(sent: int | None, status: str) -> None:
    ours = _line(AccessLogger, ACCESS_FORMAT, sent, status)
    assert ours == _line(glogging.Logger, ACCESS_FORMAT, sent, status)
    assert ours.startswith('10.1.2.3 "POST /ws/orders?wsdl HTTP/1.1"') and ours.endswith(" 1234ms")
    assert "c2VjcmV0" not in ours


def test_another_format_is_left_to_gunicorn() -> None:
    other = "%(h)s %({authorization}i)s %(a)s"
    assert _line(AccessLogger, other, 1, "200 OK") == _line(glogging.Logger, other, 1, "200 OK")


def test_every_server_uses_it() -> None:
    argv = gunicorn("127.0.0.1:8080", 2, "hub.server:wsgi_app()")
    assert argv[argv.index("--logger-class") + 1] == "hub.cli.accesslog.AccessLogger"
    assert argv[argv.index("--access-logformat") + 1] == ACCESS_FORMAT
