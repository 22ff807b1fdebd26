"""Structured logs: one JSON object per line on stderr (``ts``, ``level``, ``event`` and the
event's fields), so a court's log shipper indexes them as they are. No secret is ever a field:
the password is read where it is used and never logged."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO


class Log:
    def __init__(self, adapter: str, stream: TextIO | None = None) -> None:
        self.adapter = adapter
        self.stream = stream or sys.stderr

    def _write(self, level: str, event: str, fields: dict[str, Any]) -> None:
        now = time.time()  # one reading: the seconds and the milliseconds of the same moment
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        line = {"ts": stamp, "level": level, "adapter": self.adapter, "event": event, **fields}
        self.stream.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")
        self.stream.flush()

    def info(self, event: str, **fields: Any) -> None:
        self._write("INFO", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._write("WARNING", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._write("ERROR", event, fields)
