"""The console's sessions: a random token in an HttpOnly, SameSite=Strict cookie; in the database
only its SHA-256 (``console_sessions``), so neither a copy of the database nor a log opens one.

CJIS AC-11: a session idle for :data:`IDLE` is locked -- the next request finds it gone and asks for
the password again. Requests the page makes by itself (auto-refresh) do not count as activity.
The CSRF token of a session is an HMAC of its token under a key derived from the master key: the
forms carry it, it reveals nothing of the cookie, and nothing needs to be stored for it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.codes import AccountStatus, Role
from hub.db.models import Account, ConsoleSession

#: CJIS AC-11: the session locks after this long without a request of the administrator's.
IDLE = timedelta(minutes=30)

#: The master-key purpose of the CSRF tokens' key.
CSRF_KEY = "console-csrf"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Signed:
    """A live session and its administrator."""

    token_sha256: str
    account: Account


class Sessions:
    def __init__(self, csrf_key: bytes) -> None:
        self.csrf_key = csrf_key

    def csrf(self, token: str) -> str:
        """The CSRF token the forms of the session (or of the login page, by its pre-session cookie) carry."""
        return hmac.new(self.csrf_key, token.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, token: str, sent: str) -> bool:
        return bool(token and sent) and hmac.compare_digest(self.csrf(token), sent)

    def open(self, s: Session, account: Account, now: datetime, client: str) -> str:
        """A new session for ``account``; its cookie's token. Sessions locked by idleness are removed."""
        s.execute(delete(ConsoleSession).where(ConsoleSession.active_at < now - IDLE))
        token = secrets.token_urlsafe(32)
        s.add(
            ConsoleSession(
                token_sha256=_digest(token),
                account_id=account.id,
                created_at=now,
                active_at=now,
                client_address=client[:64],
            )
        )
        return token

    def find(self, s: Session, token: str, now: datetime) -> tuple[Signed | None, str]:
        """The session of the cookie's token, or None and why (for the login page): unknown, locked
        by idleness, or its account no longer an active administrator."""
        if not token:
            return None, ""
        row = s.execute(
            select(ConsoleSession, Account)
            .join(Account, Account.id == ConsoleSession.account_id)
            .where(ConsoleSession.token_sha256 == _digest(token))
        ).one_or_none()
        if row is None:
            return None, "Your session has ended: sign in again."
        session, account = row
        if session.active_at < now - IDLE:
            return None, "Your session was locked after 30 minutes without activity: sign in again."
        if account.status != AccountStatus.ACTIVE.value or account.role != Role.ADMINISTRATOR.value:
            return None, "Your account can no longer use the console."
        return Signed(session.token_sha256, account), ""

    def touch(self, s: Session, signed: Signed, now: datetime) -> None:
        s.execute(
            update(ConsoleSession).where(ConsoleSession.token_sha256 == signed.token_sha256).values(active_at=now)
        )

    def close(self, s: Session, token: str) -> None:
        s.execute(delete(ConsoleSession).where(ConsoleSession.token_sha256 == _digest(token)))
