"""An adapter's own record of what it has sent: a small SQLite database beside it.

One row per step of an input record, keyed by a name stable for that record (a DMS document: the
digest of its index fields; an RMS completion: the order and its version), with its
``kind`` (what ``status`` counts: ``document``; the steps and batches are kinds of their own) and the
batch it came in. A record is SENT once the hub's answer is stored here; WAITING until then (with
when to try again after a transient failure); FAILED when the hub refused it for good (a
``Client.*`` fault: the code and every violation kept).

Each change is committed with ``synchronous=FULL`` before the adapter moves on, and
:meth:`StateStore.attempt` is recorded *before* each call: after a restart or a kill -9 a record
with attempts but no answer is one whose call may have reached the hub. The hub's idempotent
intake (stable ``SourceMessageID``) answers such a resend with the original receipt; for the calls
that have no message id (AttachImage, AddQuickAttach) the adapter first looks whether the image is
there already (its SHA-256) -- never a second order or image.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

WAITING, SENT, FAILED = "WAITING", "SENT", "FAILED"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'document',
    batch TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_waiting ON records (kind, status, next_attempt_at);
CREATE TABLE IF NOT EXISTS batch_documents (
    batch TEXT NOT NULL,
    position INTEGER NOT NULL,
    key TEXT NOT NULL,
    image TEXT NOT NULL,
    place TEXT NOT NULL,
    PRIMARY KEY (batch, position)
);
"""


class AlreadyRunning(RuntimeError):
    """Another adapter process holds this state database."""


@dataclass(frozen=True)
class Member:
    """A document of a batch as it was read when the batch was first taken: its position, its
    state key, its image's file name and where in the index it stands."""

    position: int
    key: str
    image: str
    place: str


@dataclass(frozen=True)
class Record:
    key: str
    kind: str
    batch: str
    status: str
    attempts: int
    next_attempt_at: float
    outcome: str
    detail: str


@dataclass(frozen=True)
class Status:
    """What ``adapter ... status`` prints."""

    counts: dict[str, int]
    last_success: float | None
    next_attempt_at: float | None
    held: tuple[tuple[str, str], ...] = ()  # (batch, why) of each batch held back


class StateStore:
    def __init__(self, path: Path, clock: object = time.time, exclusive: bool = False) -> None:
        """``exclusive``: the adapter itself -- one process per state database (an exclusive lock
        on ``PATH.lock`` for its life), so two instances (a scheduler's overlapping runs, a run
        beside the service) never work the same records; ``status`` reads without it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = None
        if exclusive:
            import fcntl

            self._lock = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115 - held for the life
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock.seek(0)
                holder = self._lock.read().strip() or "?"
                self._lock.close()
                raise AlreadyRunning(f"another adapter (pid {holder}) is running on {path}") from None
            self._lock.truncate(0)
            self._lock.write(str(os.getpid()))
            self._lock.flush()
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            self._lock.close()

    def _now(self) -> float:
        return float(self.clock())  # type: ignore[operator]

    def get(self, key: str) -> Record | None:
        row = self.db.execute(
            "SELECT key, kind, batch, status, attempts, next_attempt_at, outcome, detail FROM records WHERE key = ?",
            (key,),
        ).fetchone()
        return Record(*row) if row else None

    def waiting(self, key: str, kind: str = "document", batch: str = "") -> Record:
        """The record of ``key``, added as WAITING if it is new."""
        now = self._now()
        self.db.execute(
            "INSERT INTO records (key, kind, batch, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING",
            (key, kind, batch, WAITING, now, now),
        )
        found = self.get(key)
        assert found is not None
        return found

    def sent(self, key: str, outcome: str) -> None:
        """The hub took it: ``outcome`` is what it answered (an order id, "duplicate of ...")."""
        self._set(key, SENT, outcome, "", 0)

    def failed(self, key: str, code: str, detail: str) -> None:
        """The hub refused it for good (a Client fault): its code and what it said."""
        self._set(key, FAILED, code, detail, 0)

    def attempt(self, key: str) -> None:
        """About to call the hub for ``key``: counted first, so a crash during the call is known."""
        self.db.execute("UPDATE records SET attempts = attempts + 1, updated_at = ? WHERE key = ?", (self._now(), key))

    def retry_later(self, key: str, reason: str, delay: float) -> None:
        """A transient failure: not tried again before ``delay`` seconds."""
        self.db.execute(
            "UPDATE records SET next_attempt_at = ?, detail = ?, updated_at = ? WHERE key = ?",
            (self._now() + delay, reason[:2000], self._now(), key),
        )

    def hold(self, key: str, why: str) -> None:
        """A batch held back (an image missing): kept WAITING, with why, for ``status``."""
        self.db.execute("UPDATE records SET detail = ?, updated_at = ? WHERE key = ?", (why[:2000], self._now(), key))

    def clear_held(self, present: Iterable[str]) -> None:
        """Held batches whose folder left the inbox are held no longer."""
        names = set(present)
        rows = self.db.execute("SELECT key, batch FROM records WHERE kind = 'batch' AND detail LIKE ?", ("held:%",))
        for key, batch in rows.fetchall():
            if batch not in names:
                self.hold(key, "")

    def reopen(self, key: str, batch: str) -> None:
        """``key`` is to be tried again, now for ``batch`` (a refused document dropped again; one a
        vanished batch left waiting). Its attempts are kept: the next try looks before it sends."""
        self.db.execute(
            "UPDATE records SET status = ?, batch = ?, next_attempt_at = 0, updated_at = ? WHERE key = ?",
            (WAITING, batch, self._now(), key),
        )

    def members(self, batch: str) -> list[Member]:
        rows = self.db.execute(
            "SELECT position, key, image, place FROM batch_documents WHERE batch = ? ORDER BY position", (batch,)
        )
        return [Member(*row) for row in rows.fetchall()]

    def set_members(self, batch: str, members: list[Member]) -> None:
        """The batch's documents as first read, in one transaction (replacing none: once only)."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR IGNORE INTO batch_documents (batch, position, key, image, place) VALUES (?, ?, ?, ?, ?)",
                [(batch, m.position, m.key, m.image, m.place) for m in members],
            )

    def forget(self, key: str) -> None:
        """``key`` is to be done again from the start (an RMS hand-out of an order that changed)."""
        self.db.execute("DELETE FROM records WHERE key = ?", (key,))

    def due(self, record: Record) -> bool:
        return record.status == WAITING and record.next_attempt_at <= self._now()

    def _set(self, key: str, status: str, outcome: str, detail: str, next_at: float) -> None:
        self.db.execute(
            "UPDATE records SET status = ?, outcome = ?, detail = ?, next_attempt_at = ?, updated_at = ? WHERE key = ?",
            (status, outcome[:500], detail[:4000], next_at, self._now(), key),
        )

    def status(self, kind: str = "document") -> Status:
        counts = {WAITING: 0, SENT: 0, FAILED: 0}
        rows = self.db.execute("SELECT status, count(*) FROM records WHERE kind = ? GROUP BY status", (kind,))
        counts.update(dict(rows.fetchall()))
        (last,) = self.db.execute("SELECT max(updated_at) FROM records WHERE status = ?", (SENT,)).fetchone()
        (upcoming,) = self.db.execute(
            "SELECT min(next_attempt_at) FROM records WHERE status = ? AND next_attempt_at > 0", (WAITING,)
        ).fetchone()
        held = self.db.execute(
            "SELECT batch, detail FROM records WHERE kind = 'batch' AND status = ? AND detail LIKE ? ORDER BY batch",
            (WAITING, "held:%"),
        ).fetchall()
        return Status(counts, last, upcoming, tuple((b, d) for b, d in held))

    def records(self, status: str | None = None, kind: str = "document") -> Iterator[Record]:
        query = (
            "SELECT key, kind, batch, status, attempts, next_attempt_at, outcome, detail FROM records WHERE kind = ?"
        )
        if status:
            rows = self.db.execute(query + " AND status = ? ORDER BY key", (kind, status))
        else:
            rows = self.db.execute(query + " ORDER BY key", (kind,))
        yield from (Record(*row) for row in rows.fetchall())


def when(moment: float | None) -> str:
    """A state time for ``status``: UTC, to the second, or "never"."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds") if moment else "never"


def failed_lines(state: StateStore) -> list[str]:
    """One ``status`` line per refused record: its key, its code and the first line of why."""
    return [
        f"failed {r.key} ({r.outcome}): {r.detail.splitlines()[0] if r.detail else ''}" for r in state.records(FAILED)
    ]
