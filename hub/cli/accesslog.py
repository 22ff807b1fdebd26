"""The access log of every server the hub runs under gunicorn (hub.cli.processes.gunicorn).

One line a request: the client's address, the request line, the status, the bytes sent and the
time taken -- no bodies and no headers, which carry passwords and CJI. gunicorn builds every atom
a format could name (each request and response header, each environ key) for every line whatever
the format asks for: two thirds of the line's cost (~50 µs a request here, docs/PERFORMANCE.md).
:class:`AccessLogger` builds the five this format names and leaves any other format to gunicorn.
"""

from __future__ import annotations

from typing import Any

from gunicorn import glogging

ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


class AccessLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger, with :data:`ACCESS_FORMAT`'s atoms built alone."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        if self.cfg.access_log_format != ACCESS_FORMAT:
            return super().atoms(resp, req, environ, request_time)  # type: ignore[no-any-return]
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            "s": status,
            "b": str(sent) if sent is not None else "-",
            "M": request_time.seconds * 1000 + int(request_time.microseconds / 1000),
        }
