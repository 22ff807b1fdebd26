"""The gateway's doorbell: a new outbox message wakes the gateway at once, not at its next poll.

Both ends agree on the database, nothing else:

* PostgreSQL: the transaction that queues a message runs ``pg_notify('ccpor_carpos', '')``
  (:func:`hub.carpos.outbox.ring`); PostgreSQL delivers it when that transaction commits and drops
  it if it rolls back. Every gateway process LISTENs on its own connection, on any host.
* SQLite (one machine by nature): the transaction marks its session; once it commits,
  :func:`install_ringer`'s hook sends one datagram to a Unix socket beside the database file, which
  the gateway binds. Nobody listening is not an error: the gateway's timer still polls.

A ring is only a hint to look now; correctness never depends on it (a lost ring costs at most one
polling interval).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from hub.carpos.outbox import NOTIFY_CHANNEL, RING
from hub.db.engine import Database

log = logging.getLogger("ccpor.doorbell")

#: Longest path a Unix socket address may have on Linux (sun_path is 108 bytes with its NUL).
_MAX_SOCKET_PATH = 107


def socket_path(database_url: str) -> Path | None:
    """Where the gateway of a SQLite database listens: ``<database file>.gateway``; None for other
    databases, in-memory SQLite, or a path too long for a socket address."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).resolve().with_name(Path(url.database).name + ".gateway")
    return path if len(os.fsencode(path)) <= _MAX_SOCKET_PATH else None


def install_ringer(db: Database) -> None:
    """Ring the doorbell after every commit of ``db`` that queued a CARPOS message (SQLite)."""
    path = socket_path(db.url)
    if path is None:
        return
    address = os.fsencode(path)

    def after_commit(session: Any) -> None:
        if not session.info.pop(RING, False):
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            # No gateway running (no file, nobody bound), or its queue is full: it will poll anyway.
            with contextlib.suppress(OSError):
                sock.sendto(b"!", address)

    db.after_commit(after_commit)


class Listener:
    """Calls ``wake`` whenever the doorbell rings, from a daemon thread, until :meth:`stop`."""

    def __init__(self, database_url: str, wake: Callable[[], None]) -> None:
        self.url = database_url
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def start(self) -> Listener:
        if make_url(self.url).get_backend_name() == "postgresql":
            target: Callable[[], None] = self._listen_postgresql
        else:
            path = socket_path(self.url)
            if path is None:
                log.warning("no doorbell for %s: new messages wait for the next poll", make_url(self.url).database)
                return self
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a socket file left by a gateway that died
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.bind(os.fsencode(path))
            self._sock.settimeout(0.5)
            target = self._listen_socket
        self._thread = threading.Thread(target=target, name="carpos-doorbell", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            path = socket_path(self.url)
            self._sock.close()
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _listen_socket(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                self._sock.recv(64)
            except TimeoutError:
                continue
            except OSError:
                return
            self.wake()

    def _listen_postgresql(self) -> None:
        import psycopg

        url = make_url(self.url).set(drivername="postgresql")
        while not self._stop.is_set():
            try:
                with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.wake()  # anything queued while we were not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self.wake()
            except psycopg.Error as exc:
                log.warning("doorbell connection lost (%s); reconnecting", type(exc).__name__)
                self._stop.wait(1.0)
