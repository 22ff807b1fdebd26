"""Authentication and the CJIS AC-7 lockout on real databases."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.accounts.credentials import UsernameToken
from hub.accounts.service import ACCOUNT_SECRETS, LOCKOUT_FAILURES, Authenticator, Unverified, add_user, unlock
from hub.api.wsse import parse_utc
from hub.codes import Role
from hub.db.models import Account
from hub.errors import AuthenticationError, NotFound
from hub.masterkey import MasterKey
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


def test_without_hashing_only_a_password_verified_lately_is_accepted_and_nothing_is_written(db, clerk, monkeypatch):
    # What SQLite's call wrapper asks inside its write transaction: no scrypt, no write of its own.
    auth = Authenticator(db, Clock())

    def without_hashing(password: str):
        with db.read_engine.connect() as connection:
            return auth.authenticate(connection, "la-clerk", password, hashing=False)

    assert not auth.remembered("la-clerk", PASSWORD)
    with pytest.raises(Unverified):
        without_hashing(PASSWORD)  # never verified in this process
    attempt(db, auth, PASSWORD)
    assert auth.remembered("la-clerk", PASSWORD) and not auth.remembered("la-clerk", "wrong password!")
    monkeypatch.setattr("hub.accounts.service.verify_password", lambda *_: pytest.fail("hashed"))
    assert without_hashing(PASSWORD).username == "la-clerk"
    with pytest.raises(Unverified):
        without_hashing("wrong password!")  # not counted here: the caller asks again, with hashing
    assert status(db) == ("ACTIVE", 0)
    monkeypatch.undo()
    with pytest.raises(AuthenticationError):
        attempt(db, auth, "wrong password!")
    with pytest.raises(Unverified):
        without_hashing(PASSWORD)  # a failed logon to reset is a write: left to the full check
    assert status(db) == ("ACTIVE", 1)
    with db.unit_of_work() as s:
        s.scalar(select(Account).where(Account.username == "la-clerk")).status = "DISABLED"
    with pytest.raises(Unverified):
        without_hashing(PASSWORD)  # an account no longer active: the full check refuses it


# --- WS-Security PasswordDigest -------------------------------------------------------------------

KEY = MasterKey(bytes(range(32)))


def digest_token(password: str, created: str, nonce: bytes | None = None, username: str = "sys-dms") -> UsernameToken:
    nonce = nonce if nonce is not None else os.urandom(16)
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()  # noqa: S324
    return UsernameToken(
        username, digest, digest=True, nonce=nonce, created_text=created, created=parse_utc(created, "Created")
    )


@pytest.fixture
def digest_user(db) -> str:
    with db.unit_of_work() as s:
        add_user(
            s,
            "sys-dms",
            ori="CA019015J",
            role=Role.QUERY_UPDATE,
            clets=False,
            password=PASSWORD,
            digest_sealer=KEY.sealer(ACCOUNT_SECRETS),
        )
    return "sys-dms"


def digest_auth(db, clock: Clock) -> Authenticator:
    return Authenticator(db, clock, digest_sealer=KEY.sealer(ACCOUNT_SECRETS))


def check(db, auth: Authenticator, token: UsernameToken):
    with db.read_engine.connect() as connection:
        return auth.authenticate_digest(connection, token)


@pytest.mark.parametrize("created", ["2026-11-22T11:59:30Z", "2026-11-22T11:59:30+00:00", "2026-11-22T11:59:30.25Z"])
def test_a_fresh_digest_authenticates_in_either_utc_spelling(db, digest_user, created):
    assert check(db, digest_auth(db, Clock()), digest_token(PASSWORD, created)).username == "sys-dms"


def test_the_sealed_password_is_not_in_the_database(db, digest_user):
    with db.read() as s:
        sealed = s.scalar(select(Account.password_sealed).where(Account.username == "sys-dms"))
    assert sealed and PASSWORD.encode() not in sealed


def test_a_replayed_nonce_is_refused_by_every_worker(db, digest_user):
    token = digest_token(PASSWORD, "2026-11-22T11:59:30Z")
    assert check(db, digest_auth(db, Clock()), token).username == "sys-dms"
    for worker in (digest_auth(db, Clock()), digest_auth(db, Clock())):  # other processes share the table
        with pytest.raises(AuthenticationError) as replay:
            check(db, worker, token)
        assert "nonce was used before" in replay.value.message


@pytest.mark.parametrize(
    ("created", "reason"),
    [
        ("2026-11-22T11:53:59Z", "more than 300 seconds ago"),  # 6 min 1 s old: past 5 min + 1 min skew
        ("2026-11-22T12:01:01Z", "in the future"),
    ],
)
def test_stale_or_future_tokens_are_refused(db, digest_user, created, reason):
    with pytest.raises(AuthenticationError) as refused:
        check(db, digest_auth(db, Clock()), digest_token(PASSWORD, created))
    assert reason in refused.value.message


def test_skew_is_tolerated(db, digest_user):
    auth = digest_auth(db, Clock())
    assert check(db, auth, digest_token(PASSWORD, "2026-11-22T12:00:50Z")).username == "sys-dms"  # 50 s ahead
    assert check(db, auth, digest_token(PASSWORD, "2026-11-22T11:54:30Z")).username == "sys-dms"  # 5.5 min old


def test_a_wrong_digest_counts_towards_lockout(db, digest_user):
    auth = digest_auth(db, Clock())
    for _ in range(LOCKOUT_FAILURES):
        with pytest.raises(AuthenticationError):
            check(db, auth, digest_token("wrong password!", "2026-11-22T11:59:30Z"))
    with db.read() as s:
        assert s.scalar(select(Account.status).where(Account.username == "sys-dms")) == "LOCKED"
    with pytest.raises(AuthenticationError):
        check(db, auth, digest_token(PASSWORD, "2026-11-22T11:59:31Z"))


def test_an_account_without_digest_permission_cannot_use_one(db, clerk):
    with pytest.raises(AuthenticationError) as refused:
        check(db, digest_auth(db, Clock()), digest_token(PASSWORD, "2026-11-22T11:59:30Z", username="la-clerk"))
    assert "unknown user, wrong password or account not active" in refused.value.message


def test_a_stale_token_gets_the_same_answer_whether_the_account_exists_or_not(db, digest_user, clerk):
    auth = digest_auth(db, Clock())
    answers = set()
    for user in ("sys-dms", "la-clerk", "nobody-at-all"):
        with pytest.raises(AuthenticationError) as refused:
            check(db, auth, digest_token(PASSWORD, "2026-11-22T11:40:00Z", username=user))
        answers.add(refused.value.message)
    assert len(answers) == 1 and "more than 300 seconds ago" in answers.pop()


def test_a_non_ascii_digest_is_an_authentication_failure_not_a_crash(db, digest_user):
    token = digest_token(PASSWORD, "2026-11-22T11:59:30Z")
    forged = UsernameToken(
        token.username, "dïgést", digest=True, nonce=token.nonce, created_text=token.created_text, created=token.created
    )
    with pytest.raises(AuthenticationError):
        check(db, digest_auth(db, Clock()), forged)


def test_a_password_sealed_under_another_master_key_fails_closed(db, digest_user):
    other = Authenticator(db, Clock(), digest_sealer=MasterKey(bytes(32)).sealer(ACCOUNT_SECRETS))
    with pytest.raises(AuthenticationError):
        check(db, other, digest_token(PASSWORD, "2026-11-22T11:59:30Z"))
