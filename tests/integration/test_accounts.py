"""Authentication and the CJIS AC-7 lockout on real databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.accounts.service import LOCKOUT_FAILURES, Authenticator, unlock
from hub.db.models import Account
from hub.errors import AuthenticationError, NotFound
from tests.conftest import PASSWORD


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def attempt(db, auth: Authenticator, password: str):
    # As the hub does: on SQLite a reader connection (the failure count is its own write).
    with db.read_engine.connect() as connection:
        return auth.authenticate(connection, "la-clerk", password)


def status(db) -> tuple[str, int]:
    with db.read() as s:
        account = s.scalar(select(Account).where(Account.username == "la-clerk"))
        return account.status, account.failed_logons


def test_five_failures_in_fifteen_minutes_lock_until_released(db, clerk):
    auth = Authenticator(db, Clock())
    for _ in range(LOCKOUT_FAILURES):
        with pytest.raises(AuthenticationError):
            attempt(db, auth, "wrong password!")
    assert status(db) == ("LOCKED", LOCKOUT_FAILURES)
    with pytest.raises(AuthenticationError) as locked:
        attempt(db, auth, PASSWORD)  # the right password no longer opens it
    assert "unknown user, wrong password or account not active" in locked.value.message  # says nothing more
    with db.unit_of_work() as s:
        unlock(s, "la-clerk")
    assert attempt(db, auth, PASSWORD).username == "la-clerk"
    assert status(db) == ("ACTIVE", 0)
    with pytest.raises(NotFound), db.unit_of_work() as s:
        unlock(s, "nobody")


def test_failures_outside_the_window_and_before_a_success_do_not_add_up(db, clerk):
    clock = Clock()
    auth = Authenticator(db, clock)
    for _ in range(LOCKOUT_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            attempt(db, auth, "wrong password!")
    clock.now += timedelta(minutes=16)
    with pytest.raises(AuthenticationError):
        attempt(db, auth, "wrong password!")
    assert status(db) == ("ACTIVE", 1)  # a new window started
    attempt(db, auth, PASSWORD)
    assert status(db) == ("ACTIVE", 0)  # a success resets the count
    for _ in range(LOCKOUT_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            attempt(db, auth, "wrong password!")
    assert status(db)[0] == "ACTIVE"
