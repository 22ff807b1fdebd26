"""How one call's authentication, work and audit share transactions -- chosen per database.

PostgreSQL (row locks, many writers): one transaction holds the authentication, the work and its
audit event, and a call declared ``retry_on_conflict`` runs once more when a concurrent twin
committed first.

SQLite (one writer at a time): the write lock is held only for the change itself. The caller is
authenticated on its own short read (a PasswordText caller this process verified lately is instead
checked inside the write transaction -- one SELECT, no hashing, no writes; see
``Authenticator.authenticate(hashing=False)``); a read-only call runs on the reader engine and is
audited in a short write afterwards.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from hub.accounts.service import Unverified
from hub.api.call import PendingCall
from hub.api.callers import Credentials, Gate
from hub.db.engine import Database
from hub.errors import Conflict
from hub.soap.operations import Operation


class Transactions:
    """Runs pending calls in the units of work their database calls for."""

    def __init__(self, db: Database, gate: Gate) -> None:
        self.db = db
        self.gate = gate

    def run(self, declared: Operation, credentials: Credentials, call: PendingCall) -> Any:
        if not self.db.serializes_writes:
            return self._write(declared, credentials, call, hashing=True)
        remembered = not declared.read_only and self.gate.remembered(credentials)
        if remembered:
            return self._write(declared, credentials, call, hashing=False)
        self._identify_apart(credentials, call)
        if not declared.read_only:
            return self._write(declared, credentials, call, hashing=True)
        with self.db.read() as session:
            result = call.run(session)
        with self.db.unit_of_work() as session:
            call.audit(session, result)
        return result

    def _identify_apart(self, credentials: Credentials, call: PendingCall) -> None:
        """Authenticate on a short read of its own, outside any write lock."""
        with self.db.read_engine.connect() as connection:
            call.who = self.gate.identify(connection, credentials)

    def _write(self, declared: Operation, credentials: Credentials, call: PendingCall, *, hashing: bool) -> Any:
        """One transaction for the authentication (unless done already), the work and its audit."""
        retries = 1 if declared.retry_on_conflict else 0
        conflicts = 0
        while True:
            try:
                with self.db.unit_of_work() as session:
                    if call.who is None:
                        call.who = self.gate.identify(session.connection(), credentials, hashing=hashing)
                    result = call.run(session)
                    call.audit(session, result)
                return result
            except Unverified:
                # The logon cache could not answer after all (the password or the account changed, a
                # failed logon to reset): nothing was written; the long way, outside the lock.
                self._identify_apart(credentials, call)
            except (IntegrityError, Conflict):
                # A concurrent twin (same idempotency key) committed first -- a unique-key collision,
                # or on PostgreSQL a guarded UPDATE that found the version moved: run again, which
                # now finds its receipt. A real conflict fails again.
                conflicts += 1
                if conflicts > retries:
                    raise
