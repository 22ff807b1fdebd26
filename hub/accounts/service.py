"""Creating accounts and organizations, and authenticating callers.

Authentication verifies the scrypt hash once and then remembers, per process and for a few
minutes, an HMAC of (username, password) under a random per-process key next to the hash it was
checked against. The cache holds no password and nothing reusable outside this process; a changed
password (a new hash) or a disabled account misses it, because the account row is read on every
request anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from hub.accounts.passwords import hash_password, verify_password
from hub.codes import COUNTIES, AccountStatus, Role, county_code_of_ori
from hub.db.models import Account, Organization
from hub.errors import AuthenticationError, Conflict, ValidationError, Violation


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as every service and permission check sees it."""

    account_id: int
    username: str
    organization_id: int
    ori: str
    county_code: str
    role: Role
    clets_certified: bool


def principal_of(account: Account) -> Principal:
    return Principal(
        account_id=account.id,
        username=account.username,
        organization_id=account.organization_id,
        ori=account.organization.ori,
        county_code=account.organization.county_code,
        role=Role(account.role),
        clets_certified=account.clets_certified,
    )


def ensure_organization(session: Session, ori: str, name: str | None = None) -> Organization:
    """The organization with ``ori``, registered now if it is new (the county comes from the ORI)."""
    org = session.scalar(select(Organization).where(Organization.ori == ori))
    if org is not None:
        return org
    try:
        county = county_code_of_ori(ori)
    except ValueError as exc:
        raise ValidationError(str(exc), [Violation("--org", str(exc))]) from exc
    org = Organization(
        ori=ori,
        name=name or f"{COUNTIES[int(county) - 1]} County agency {ori}",
        county_code=county,
        created_at=datetime.now(UTC),
    )
    session.add(org)
    session.flush()
    return org


def add_user(session: Session, username: str, *, ori: str, role: Role, clets: bool, password: str) -> Account:
    """Create an account (a person or a system) in the organization ``ori``."""
    if session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise Conflict(f"an account named {username!r} already exists")
    if len(password) < 12:
        raise ValidationError("passwords must have at least 12 characters", [Violation("password", "too short")])
    org = ensure_organization(session, ori)
    now = datetime.now(UTC)
    account = Account(
        username=username,
        organization_id=org.id,
        role=role.value,
        clets_certified=clets,
        password_hash=hash_password(password),
        status=AccountStatus.ACTIVE.value,
        created_at=now,
        updated_at=now,
    )
    account.organization = org
    session.add(account)
    session.flush()
    return account


_ACCOUNT_BY_NAME = (
    select(
        Account.id,
        Account.password_hash,
        Account.status,
        Account.organization_id,
        Account.role,
        Account.clets_certified,
        Organization.ori,
        Organization.county_code,
    )
    .join(Organization, Organization.id == Account.organization_id)
    .where(Account.username == bindparam("username"))
)


class Authenticator:
    """Checks a username and password against the accounts table."""

    #: How long a verified (username, password) pair is remembered in this process.
    cache_seconds = 300.0

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, tuple[str, float]] = {}
        self._lock = threading.Lock()
        # Unknown users cost one scrypt too, so response time does not reveal which names exist.
        self._dummy_hash = hash_password(secrets.token_urlsafe(16))

    def authenticate(self, connection: Connection, username: str, password: str) -> Principal:
        """The principal for these credentials, or AuthenticationError (never saying which part failed)."""
        row = connection.execute(_ACCOUNT_BY_NAME, {"username": username}).one_or_none()
        if row is None or row.status != AccountStatus.ACTIVE.value:
            verify_password(password, self._dummy_hash)
            raise AuthenticationError("authentication failed: unknown user, wrong password or account not active")
        mac = hmac.new(self._key, f"{username}\0{password}".encode(), hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._verified.get(mac)
        if hit is None or hit[0] != row.password_hash or hit[1] < now:
            if not verify_password(password, row.password_hash):
                raise AuthenticationError("authentication failed: unknown user, wrong password or account not active")
            with self._lock:
                if len(self._verified) > 10000:
                    self._verified.clear()
                self._verified[mac] = (row.password_hash, now + self.cache_seconds)
        return Principal(
            account_id=row.id,
            username=username,
            organization_id=row.organization_id,
            ori=row.ori,
            county_code=row.county_code,
            role=Role(row.role),
            clets_certified=row.clets_certified,
        )
