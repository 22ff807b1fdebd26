"""The WSGI application factory gunicorn loads in each worker (``hub.server:wsgi_app()``)."""

from __future__ import annotations

import gc
import logging
from typing import Any

from hub import logs
from hub.api.app import Services, create_app
from hub.console.app import PREFIX, Console
from hub.settings import load


def wsgi_app() -> Any:
    """Build the hub for this worker process: settings, database engine, image store, services, and
    the web console under /console."""
    settings = load()
    logs.configure(settings.log_format)
    large_blocks_mapped()
    # Spyne logs every fault with its traceback at ERROR; the hub logs refusals itself, once.
    logging.getLogger("spyne").setLevel(logging.CRITICAL)
    return compose(Services.build(settings))


def compose(services: Services) -> Any:
    """The SOAP services and, under /console, the administrators' web console beside them; memory a
    large request took given back to the system once its answer is sent (:class:`GiveBackMemory`)."""
    app = create_app(services)
    app.mount(PREFIX, Console(services))
    return GiveBackMemory(app)


class GiveBackMemory:
    """After a request or answer of ``threshold`` bytes or more (an image) has been sent -- when the
    server closes the answer -- ask glibc to return its free heap to the system (``malloc_trim``):
    without it a worker that once held a 20 MB image's copies keeps their pages for good."""

    def __init__(self, app: Any, threshold: int = 1 << 20) -> None:
        self.app = app
        self.threshold = threshold
        self.trim = _malloc_trim()

    def __getattr__(self, name: str) -> Any:  # the wrapped Router's mount, routes ...
        return getattr(self.app, name)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            large = int(environ.get("CONTENT_LENGTH") or 0) >= self.threshold
        except ValueError:
            large = False
        answer = self.app(environ, start_response)
        if self.trim is None:
            return answer
        return _Answer(answer, self.trim, large, self.threshold)


class _Answer:
    """The answer's chunks, passed through; its size counted; the trim at ``close``."""

    def __init__(self, chunks: Any, trim: Any, large: bool, threshold: int) -> None:
        self.chunks, self.trim, self.large, self.threshold, self.sent = chunks, trim, large, threshold, 0

    def __iter__(self) -> Any:
        for chunk in self.chunks:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            if hasattr(self.chunks, "close"):
                self.chunks.close()
        finally:
            self.chunks = ()
            if self.large or self.sent >= self.threshold:
                gc.collect()  # the call's objects sit in reference cycles (Spyne's context, the environ)
                self.trim(0)


#: glibc's mallopt parameter: the size from which a block is mapped on its own (and unmapped when freed).
_M_MMAP_THRESHOLD = -3
#: Blocks of 1 MiB or more -- an image, its base64, a parsed text node -- each get their own mapping.
MMAP_THRESHOLD = 1 << 20


def large_blocks_mapped() -> bool:
    """Give every block of :data:`MMAP_THRESHOLD` bytes or more its own memory mapping, returned to
    the system the moment it is freed. glibc's default threshold adapts upwards: once a 27 MB block
    was freed, blocks up to that size come from the heap, whose freed pages the process keeps -- so
    every copy an image call made stayed counted in the worker's memory, and the next image call's
    copies came on top. A fixed threshold also turns the adaptation off (glibc's documented rule).
    False where the C library is not glibc."""
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where there is none (another libc)."""
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
