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


def test_a_large_calls_cyclic_garbage_is_collected_when_its_answer_closes() -> None:
    """What a call leaves in reference cycles (Spyne's method context holds the request's tree and
    the image) is freed before the trim, not at some later collection."""
    import gc
    import weakref

    class Held:
        pass

    kept: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        held = Held()
        held.cycle = held  # type: ignore[attr-defined]
        kept.append(weakref.ref(held))
        return [b"answer"]

    wrapped = GiveBackMemory(app)
    wrapped.trim = lambda _pad: None
    gc.disable()
    try:
        answer = wrapped({"CONTENT_LENGTH": str(2 << 20)}, lambda status, headers: None)
        list(answer)
        assert kept[0]() is not None  # a cycle: not freed by reference counting
        answer.close()
        assert kept[0]() is None
    finally:
        gc.enable()


def test_large_blocks_get_their_own_mappings_on_glibc() -> None:
    import platform

    from hub.server import large_blocks_mapped

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    assert large_blocks_mapped()
