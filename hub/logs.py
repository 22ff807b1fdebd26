"""Logging for every hub process: one configuration, text or JSON lines (``CCPOR_LOG_FORMAT``), and
the request id that follows a submission from its SOAP call to DOJ's answer.

Each request gets an id at the entry point -- the caller's ``X-Request-Id`` if it is a plain token
(letters, digits, ``.``, ``_``, ``-``, at most 64), else a new one -- answered in the response's
``X-Request-Id`` header, kept in a context variable for the call (sync workers: one call per
thread at a time), written on every log line of the call, on the call's one summary line
(``ccpor.requests``: operation, account, organization, outcome, duration) and on each CARPOS
message the call queued (``outbox.request_id``), which the gateway's lines about that message name
again. Log lines never carry a password, a token, an image, a party's name or DOJ's text: the
summary holds identifiers and codes only.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("ccpor_request_id", default="")
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: The fields a log record may carry beyond its message (``logging``'s ``extra=``), in the JSON line.
FIELDS = (
    "request_id", "service", "operation", "account", "organization", "outcome", "duration_ms",
    "kind", "mcn", "mke", "order_id", "state",
)  # fmt: skip


def request_id_for(header: str | None) -> str:
    """The id of a new request: the caller's header when it is a plain token, else a fresh one."""
    text = (header or "").strip()
    return text if _TOKEN.fullmatch(text) else uuid.uuid4().hex


def current_request_id() -> str:
    return REQUEST_ID.get()


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = REQUEST_ID.get()
        record.request_suffix = f" request={record.request_id}" if record.request_id else ""
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, pid, message, the known fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value not in (None, ""):
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s%(request_suffix)s"


def configure(fmt: str = "text", level: int = logging.INFO) -> None:
    """The root logger of this process: text (the default) or ``json`` lines on stderr, every line
    with the current request's id when there is one."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(fmt))
    root.setLevel(level)


def handler(fmt: str = "text", stream: Any = None) -> logging.Handler:
    """A handler writing ``fmt`` lines (text or json) to ``stream`` (stderr), with the request id."""
    out = logging.StreamHandler(stream)
    out.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    out.addFilter(_WithRequestId())
    return out


__all__ = ["FIELDS", "REQUEST_ID", "JsonLines", "configure", "current_request_id", "handler", "request_id_for"]
