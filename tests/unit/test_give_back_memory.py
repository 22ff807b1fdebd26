"""hub.server.GiveBackMemory: after a large request or answer has been sent (the server closes the
answer), glibc is asked to return its free heap; small calls cost nothing; the answer passes through."""

from __future__ import annotations

from typing import Any

import pytest

from hub.server import GiveBackMemory


class _App:
    def __init__(self, size: int) -> None:
        self.size = size
        self.closed = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        app = self

        class Chunks(list):
            def close(self) -> None:
                app.closed = True

        return Chunks([b"x" * self.size])


@pytest.mark.parametrize(
    "request_bytes, answer_bytes, trimmed",
    [(10, 10, False), (2 << 20, 10, True), (10, 2 << 20, True), (10, (1 << 20) - 1, False)],
)
def test_memory_is_given_back_after_large_calls_only(request_bytes: int, answer_bytes: int, trimmed: bool) -> None:
    app = _App(answer_bytes)
    wrapped = GiveBackMemory(app)
    calls: list[int] = []
    wrapped.trim = calls.append
    answer = wrapped({"CONTENT_LENGTH": str(request_bytes)}, lambda status, headers: None)
    assert b"".join(answer) == b"x" * answer_bytes  # passed through unchanged
    assert calls == []  # nothing before the server closes the answer
    answer.close()
    assert app.closed  # the wrapped answer is closed too
    assert calls == ([0] if trimmed else [])
