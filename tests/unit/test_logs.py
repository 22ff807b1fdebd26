"""hub.logs: JSON lines with the known fields, the request id on every line of a call, and a
caller's X-Request-Id taken only when it is a plain token."""

from __future__ import annotations

import io
import json
import logging

from hub import logs


def test_a_caller_s_request_id_is_kept_only_when_it_is_a_plain_token():
    assert logs.request_id_for("dms-42.batch_7") == "dms-42.batch_7"
    for hostile in ("", None, "a b", "x" * 65, "id\nInjected: 1", "<script>", "ünïcode"):
        made = logs.request_id_for(hostile)
        assert made != hostile and len(made) == 32 and made.isalnum()


def test_json_lines_carry_the_request_id_and_the_known_fields_only():
    stream = io.StringIO()
    log = logging.getLogger("ccpor.test-logs")
    log.addHandler(logs.handler("json", stream))
    log.propagate, log.level = False, logging.INFO
    try:
        token = logs.REQUEST_ID.set("req-1")
        try:
            log.info(
                "orders SubmitOrder by clerk: OK",
                extra={"operation": "SubmitOrder", "account": "clerk", "password": "x"},
            )
        finally:
            logs.REQUEST_ID.reset(token)
        log.warning("outside a request")
    finally:
        log.handlers.clear()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "req-1" and first["operation"] == "SubmitOrder" and first["account"] == "clerk"
    assert "password" not in first and first["level"] == "INFO" and first["logger"] == "ccpor.test-logs"
    assert first["ts"].endswith("+00:00") and "request_id" not in second
