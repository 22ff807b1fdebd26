"""Every statement of the mock court's database, behind one class (:class:`CourtStore`).

The service records through it (what it took, what it refused, the nonces it saw, each call's
fault verdict); tests and ``ccpor-hub mock-court`` read and change it from outside the server's
processes, on the same database::

    store = CourtStore.existing(court.database_url)
    store.set_faults(fail_next=2)          # the next two calls: HTTP 500
    ...                                    # the hub delivers
    [r.document_id for r in store.received() if not r.duplicate]   # once each, in arrival order
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from hub.db.engine import Database, redacted
from mocks.court.business import BusinessResponse, ErrorInformation
from mocks.court.faults import Faults, verdict
from mocks.court.models import CourtBase, FaultsRow, NonceRow, ReceivedRow, RefusedRow
from mocks.soap import Injected


class PasswordType(StrEnum):
    """How a UsernameToken carries its password (the profile's type names, without their URI)."""

    DIGEST = "PasswordDigest"
    TEXT = "PasswordText"


@dataclass(frozen=True)
class Caller:
    """Who sent a message, and how it proved it (mocks.court.auth decides)."""

    username: str
    password_type: PasswordType
    over_tls: bool


class NoCourtDatabase(FileNotFoundError):
    """The mock court has no database yet: it never ran with this database URL."""


@dataclass(frozen=True)
class Received:
    """One business response the court took, as its ledger holds it."""

    id: int
    received_at: datetime
    document_id: str | None
    correlation_id: str | None
    isb_transaction_id: str
    court_cd: str | None
    order_id: str | None
    control_number: str | None
    order_type: str | None
    errors: tuple[ErrorInformation, ...]
    username: str
    #: ``PasswordDigest`` or ``PasswordText``, and whether it came over TLS.
    password_type: PasswordType
    over_tls: bool
    #: An earlier row has the same DocumentId: this is the second (or later) delivery.
    duplicate: bool
    xml: str

    @property
    def error_code(self) -> str | None:
        """The first error's code (an error business response), else None."""
        return self.errors[0].code if self.errors else None

    @property
    def error_text(self) -> str | None:
        return self.errors[0].text if self.errors else None


@dataclass(frozen=True)
class Refused:
    """A call the court answered with a fault."""

    id: int
    refused_at: datetime
    code: str
    reason: str
    document_id: str | None
    correlation_id: str | None


_FAULT_FIELDS = tuple(f.name for f in fields(Faults))
#: What a received row keeps of the business response as it is.
_SAID = (
    "document_id", "correlation_id", "isb_transaction_id", "court_cd", "order_id", "control_number", "order_type"
)  # fmt: skip


class CourtStore:
    """The mock court's ledger, fault plan and nonces."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def create(cls, url: str) -> CourtStore:
        """The store at ``url``, its tables and its fault plan (none) made if missing."""
        db = Database(url)
        CourtBase.metadata.create_all(db.engine)
        with db.unit_of_work() as s:
            if s.get(FaultsRow, 1) is None:
                s.add(FaultsRow(id=1, down=False, latency_ms=0, fail_next=0, error_rate=0.0, calls=0))
        return cls(db)

    @classmethod
    def existing(cls, url: str) -> CourtStore:
        """The store of a court that has run (``create`` made it); it makes nothing. A SQLite file that
        does not exist is :class:`NoCourtDatabase`, not a new empty database."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
            raise NoCourtDatabase(
                f"the mock court has no database yet ({redacted(url)}): start it with ccpor-hub mock-court serve"
            )
        return cls(Database(url))

    def close(self) -> None:
        self.db.dispose()

    # ---------------------------------------------------------------------------------- the ledger

    def receive(self, response: BusinessResponse, caller: Caller, xml: str, now: datetime) -> Received:
        """Record a business response the court took; ``duplicate`` if its DocumentId came before."""
        said = {name: getattr(response, name) for name in _SAID}
        values = dict(
            said,
            received_at=now,
            errors=[[e.code, e.text] for e in response.errors],
            username=caller.username,
            password_type=caller.password_type.value,
            over_tls=caller.over_tls,
            xml=xml,
        )
        try:
            with self.db.unit_of_work() as s:
                row = ReceivedRow(duplicate=False, **values)
                s.add(row)
        except IntegrityError:  # the partial unique index: this DocumentId already has its first row
            with self.db.unit_of_work() as s:
                row = ReceivedRow(duplicate=True, **values)
                s.add(row)
        return _received(row)

    def refuse(self, code: str, reason: str, now: datetime, response: BusinessResponse | None = None) -> None:
        """Record a call answered with the fault ``code`` (the business response, if it was read)."""
        with self.db.unit_of_work() as s:
            s.execute(
                insert(RefusedRow),
                {
                    "refused_at": now,
                    "code": code,
                    "reason": reason,
                    "document_id": response.document_id if response else None,
                    "correlation_id": response.correlation_id if response else None,
                },
            )

    def received(self) -> list[Received]:
        """Every business response taken, in arrival order."""
        with self.db.read() as s:
            return [_received(r) for r in s.scalars(select(ReceivedRow).order_by(ReceivedRow.id))]

    def refused(self) -> list[Refused]:
        """Every call refused, in order."""
        with self.db.read() as s:
            return [
                Refused(r.id, r.refused_at, r.code, r.reason, r.document_id, r.correlation_id)
                for r in s.scalars(select(RefusedRow).order_by(RefusedRow.id))
            ]

    # ------------------------------------------------------------------------------- the fault plan

    def faults(self) -> Faults:
        with self.db.read() as s:
            return _faults(s.get_one(FaultsRow, 1))

    def set_faults(
        self,
        *,
        down: bool | None = None,
        latency_ms: int | None = None,
        fail_next: int | None = None,
        error_rate: float | None = None,
    ) -> Faults:
        """Change the named parts of the fault plan (the others stay); the plan now. ValueError for a
        value out of its range (nothing changes)."""
        given = {"down": down, "latency_ms": latency_ms, "fail_next": fail_next, "error_rate": error_rate}
        with self.db.unit_of_work() as s:
            row = s.get_one(FaultsRow, 1, with_for_update=True)
            plan = replace(_faults(row), **{k: v for k, v in given.items() if v is not None})
            for name in _FAULT_FIELDS:
                setattr(row, name, getattr(plan, name))
        return plan

    def clear_faults(self) -> Faults:
        """No faults: every call goes to the service at once."""
        return self.set_faults(**asdict(Faults()))

    def admit(self, seed: int) -> Injected:
        """Number this call and decide what it gets (mocks.court.faults.verdict), using up one of
        ``fail_next`` if it fails by it -- one transaction, so each worker's calls count once."""
        with self.db.unit_of_work() as s:
            row = s.get_one(FaultsRow, 1, with_for_update=True)
            row.calls += 1
            injected, takes_one = verdict(_faults(row), row.calls, seed)
            if takes_one:
                row.fail_next -= 1
        return injected

    # ------------------------------------------------------------------------------------ the nonces

    def remember_once(self, material: bytes, now: datetime, window: timedelta) -> bool:
        """Record ``material`` (a user's PasswordDigest nonce); False if it was seen within ``window``.
        What is older than the window is forgotten (the freshness check refuses it anyway)."""
        key = hashlib.sha256(material).hexdigest()
        try:
            with self.db.unit_of_work() as s:
                s.execute(delete(NonceRow).where(NonceRow.seen_at < now - window))
                s.execute(insert(NonceRow), {"key": key, "seen_at": now})
        except IntegrityError:
            return False
        return True


def _faults(row: FaultsRow) -> Faults:
    return Faults(**{name: getattr(row, name) for name in _FAULT_FIELDS})


def _received(r: ReceivedRow) -> Received:
    columns = {f.name: getattr(r, f.name) for f in fields(Received)}
    errors = tuple(ErrorInformation(code, text) for code, text in r.errors)
    return Received(**{**columns, "errors": errors, "password_type": PasswordType(r.password_type)})
