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
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import bindparam, case, delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import metrics
from hub.accounts.passwords import hash_password, verify_password
from hub.clock import Clock, freshness, utcnow
from hub.codes import COUNTIES, AccountStatus, OrganizationKind, Role, county_code_of_ori, default_kind_of_ori
from hub.db.engine import Database
from hub.db.models import Account, Organization, UsedNonce
from hub.db.prepared import Prepared
from hub.db.types import UTCDateTime
from hub.errors import AuthenticationError, Conflict, InvalidState, NotFound, ValidationError, Violation
from hub.masterkey import Sealer

if TYPE_CHECKING:
    from hub.accounts.credentials import UsernameToken


log = logging.getLogger("ccpor.accounts")


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
    org_kind: OrganizationKind = OrganizationKind.AGENCY


def principal_of(account: Account) -> Principal:
    """The principal of an account (its organization read through it)."""
    return _principal(account, account.organization)


def _principal(account: Any, organization: Any) -> Principal:
    """The one mapping to a :class:`Principal`: from an account's columns and its organization's
    (``ori``, ``county_code``, ``kind``) -- an ``Account`` and its ``Organization``, or one row of
    ``_ACCOUNT_COLUMNS`` holding both."""
    return Principal(
        account_id=account.id,
        username=account.username,
        organization_id=account.organization_id,
        ori=organization.ori,
        county_code=organization.county_code,
        role=Role(account.role),
        clets_certified=account.clets_certified,
        org_kind=OrganizationKind(organization.kind),
    )


def system_principal(session: Session) -> Principal | None:
    """Who the hub's own scheduled changes (``ccpor-hub orders expire``) are made by: the hub itself
    (``ccpor-hub``, ORI CA0000000, county 00), in the name of the first ADMINISTRATOR account (None
    while there is none)."""
    first = session.scalar(select(Account.id).where(Account.role == Role.ADMINISTRATOR.value).limit(1))
    if first is None:
        return None
    return Principal(
        account_id=int(first),
        username="ccpor-hub",
        organization_id=0,
        ori="CA0000000",
        county_code="00",
        role=Role.ADMINISTRATOR,
        clets_certified=False,
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
        kind=default_kind_of_ori(ori).value,
        created_at=utcnow(),
    )
    session.add(org)
    session.flush()
    return org


def add_user(
    session: Session,
    username: str,
    *,
    ori: str,
    role: Role,
    clets: bool,
    password: str,
    digest_sealer: Sealer | None = None,
) -> Account:
    """Create an account (a person or a system) in the organization ``ori``.

    With ``digest_sealer`` the account may also use WS-Security PasswordDigest: the password is
    kept sealed under the master key (see :func:`seal_for_digest`) beside its scrypt hash.
    """
    if session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise Conflict(f"an account named {username!r} already exists")
    if len(password) < 12:
        raise ValidationError("passwords must have at least 12 characters", [Violation("password", "too short")])
    org = ensure_organization(session, ori)
    now = utcnow()
    account = Account(
        username=username,
        organization_id=org.id,
        role=role.value,
        clets_certified=clets,
        password_hash=hash_password(password),
        password_sealed=seal_for_digest(digest_sealer, username, password) if digest_sealer else None,
        status=AccountStatus.ACTIVE.value,
        created_at=now,
        updated_at=now,
    )
    account.organization = org
    session.add(account)
    session.flush()
    return account


#: The master-key purpose under which account passwords for PasswordDigest are sealed.
ACCOUNT_SECRETS = "account-secrets"


def seal_for_digest(sealer: Sealer, username: str, password: str) -> bytes:
    """The password sealed (AES-256-GCM under the master key) and bound to its account's name.

    PasswordDigest needs the password itself to recompute ``SHA-1(nonce + created + password)``:
    a one-way hash cannot serve. Sealing keeps it unreadable to anyone holding the database but
    not the key file; only accounts allowed to use digests have one.
    """
    return sealer.seal(password.encode(), username.encode())


_ACCOUNT_COLUMNS = select(
    Account.id,
    Account.username,
    Account.failed_logons,
    Account.password_hash,
    Account.password_sealed,
    Account.status,
    Account.organization_id,
    Account.role,
    Account.clets_certified,
    Organization.ori,
    Organization.county_code,
    Organization.kind,
).join(Organization, Organization.id == Account.organization_id)
#: Every call authenticates: run on the cursor, compiled once (hub.db.prepared).
_ACCOUNT_BY_NAME = Prepared(_ACCOUNT_COLUMNS.where(Account.username == bindparam("username")))
_ACCOUNT_BY_CERT = _ACCOUNT_COLUMNS.where(Account.client_cert_sha256 == bindparam("fingerprint"))


#: CJIS AC-7: this many consecutive failed logons within the window lock the account until an
#: administrator releases it (``ccpor-hub users unlock``).
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)

_NOW = bindparam("b_now", type_=UTCDateTime())
_SINCE = bindparam("b_since", type_=UTCDateTime())
_COUNT_FAILURE = (
    update(Account.__table__)
    .where(Account.__table__.c.id == bindparam("b_id"))
    .values(
        failed_logons=case(
            (
                or_(Account.__table__.c.first_failed_at.is_(None), Account.__table__.c.first_failed_at < _SINCE),
                1,
            ),
            else_=Account.__table__.c.failed_logons + 1,
        ),
        first_failed_at=case(
            (
                or_(Account.__table__.c.first_failed_at.is_(None), Account.__table__.c.first_failed_at < _SINCE),
                _NOW,
            ),
            else_=Account.__table__.c.first_failed_at,
        ),
    )
)
_LOCK_IF_EXHAUSTED = (
    update(Account.__table__)
    .where(
        Account.__table__.c.id == bindparam("b_id"),
        Account.__table__.c.status == AccountStatus.ACTIVE.value,
        Account.__table__.c.failed_logons >= LOCKOUT_FAILURES,
    )
    .values(status=AccountStatus.LOCKED.value, updated_at=_NOW)
)
_RESET_FAILURES = (
    update(Account.__table__)
    .where(Account.__table__.c.id == bindparam("b_id"))
    .values(failed_logons=0, first_failed_at=None)
)


class Unverified(Exception):  # noqa: N818 - a signal to the caller, not an error it reports
    """``Authenticator.authenticate(..., hashing=False)`` could not answer from its cache alone."""


class Authenticator:
    """Checks a username and password against the accounts table, and locks out guessing.

    Failed logons are counted in their own transaction (so the count survives the caller's
    rollback) with single guarded UPDATEs, so concurrent workers cannot lose a count.
    """

    #: How long a verified (username, password) pair is remembered in this process.
    cache_seconds = 300.0

    def __init__(
        self,
        db: Database,
        clock: Clock = utcnow,
        *,
        digest_sealer: Sealer | None = None,
        max_age: timedelta = timedelta(minutes=5),
        skew: timedelta = timedelta(minutes=1),
    ) -> None:
        self.db = db
        self.clock = clock
        self.digest_sealer = digest_sealer
        self.max_age = max_age
        self.skew = skew
        self._nonces_recorded = 0
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, tuple[str, float]] = {}
        self._lock = threading.Lock()
        # Unknown users cost one scrypt too, so response time does not reveal which names exist.
        self._dummy_hash = hash_password(secrets.token_urlsafe(16))

    def _cache_key(self, username: str, password: str) -> bytes:
        return hmac.digest(self._key, f"{username}\0{password}".encode(), "sha256")

    def remembered(self, username: str, password: str) -> bool:
        """These credentials passed the password check in this process less than ``cache_seconds``
        ago (an in-memory look, no database): ``authenticate(..., hashing=False)`` will likely answer."""
        with self._lock:
            hit = self._verified.get(self._cache_key(username, password))
        return hit is not None and hit[1] >= time.monotonic()

    def authenticate(self, connection: Connection, username: str, password: str, *, hashing: bool = True) -> Principal:
        """The principal for these credentials, or AuthenticationError (never saying which part failed).

        ``hashing=False``: answer only from the verified-password cache -- one SELECT, no password
        hashing and no writes of its own -- else raise :class:`Unverified` (the caller then asks
        again with hashing, outside its transaction). SQLite's call wrapper uses it inside the
        write transaction, which must not wait for a scrypt or open a second writer."""
        row = _ACCOUNT_BY_NAME.one_or_none(connection, {"username": username})
        if row is None or row.status != AccountStatus.ACTIVE.value:
            if not hashing:
                raise Unverified
            verify_password(password, self._dummy_hash)
            raise AuthenticationError(_FAILED)
        mac = self._cache_key(username, password)
        now = time.monotonic()
        with self._lock:
            hit = self._verified.get(mac)
        if hit is None or hit[0] != row.password_hash or hit[1] < now:
            if not hashing:
                raise Unverified
            if not verify_password(password, row.password_hash):
                self._count_failure(row.id)
                raise AuthenticationError(_FAILED)
            with self._lock:
                if len(self._verified) > 10000:
                    self._verified.clear()
                self._verified[mac] = (row.password_hash, now + self.cache_seconds)
        if row.failed_logons:
            if not hashing:  # the reset is a write of its own
                raise Unverified
            with self.db.unit_of_work() as session:
                session.connection().execute(_RESET_FAILURES, {"b_id": row.id})
        return _principal(row, organization=row)

    def authenticate_digest(self, connection: Connection, token: UsernameToken) -> Principal:
        """A PasswordDigest UsernameToken: fresh, a correct digest, a nonce never seen before.

        The nonce is remembered in the database (table ``wsse_nonces``) so that every worker of
        every hub process refuses a captured message replayed within the freshness window.
        """
        assert token.created is not None and self.digest_sealer is not None
        now = self.clock()
        # Freshness first: its answer must not depend on whether the account exists.
        check_freshness(token.created, now, self.max_age, self.skew, "UsernameToken")
        row = _ACCOUNT_BY_NAME.one_or_none(connection, {"username": token.username})
        if row is None or row.status != AccountStatus.ACTIVE.value or row.password_sealed is None:
            raise AuthenticationError(_FAILED)  # no digest-enabled active account: the same answer
        try:
            password = self.digest_sealer.open(row.password_sealed, token.username.encode())
        except (InvalidTag, ValueError) as exc:
            log.error("the sealed password of %s does not open: is this the master key it was sealed with?", row.id)
            raise AuthenticationError(_FAILED) from exc
        if not token.digest_matches(password):
            self._count_failure(row.id)
            raise AuthenticationError(_FAILED)
        self.remember_once(f"digest\0{token.username}".encode() + b"\0" + token.nonce, now, _REPLAYED_NONCE)
        if row.failed_logons:
            with self.db.unit_of_work() as session:
                session.connection().execute(_RESET_FAILURES, {"b_id": row.id})
        return _principal(row, organization=row)

    def remember_once(self, material: bytes, now: datetime, refusal: str) -> None:
        """Record ``material`` (a digest's nonce, a signature value) in the shared table; refuse it
        if any worker of any hub recorded it within the freshness window (a replayed message)."""
        key = hashlib.sha256(material).hexdigest()
        try:
            with self.db.unit_of_work() as session:
                connection = session.connection()
                connection.execute(insert(UsedNonce.__table__), {"key": key, "seen_at": now})
                self._nonces_recorded += 1
                if self._nonces_recorded % 256 == 0:  # forget nonces too old to pass the freshness check
                    connection.execute(
                        delete(UsedNonce.__table__).where(UsedNonce.__table__.c.seen_at < _SINCE),
                        {"b_since": now - 2 * (self.max_age + self.skew)},
                    )
        except IntegrityError as exc:
            raise AuthenticationError(refusal) from exc

    def by_certificate(self, connection: Connection, fingerprint: str) -> Principal | None:
        """The active account registered for this client certificate (mutual TLS), if any.

        The TLS handshake already proved possession of the certificate's key and that the CA
        given to ``serve --client-ca`` issued it; this maps it to its account.
        """
        row = connection.execute(_ACCOUNT_BY_CERT, {"fingerprint": fingerprint}).one_or_none()
        if row is None:
            return None
        # The lockout (AC-7) stops password guessing; it does not switch off a system account's
        # certificate, or anyone could take a court's DMS offline with five wrong passwords.
        if row.status not in (AccountStatus.ACTIVE.value, AccountStatus.LOCKED.value):
            raise AuthenticationError(_FAILED)
        return _principal(row, organization=row)

    def _count_failure(self, account_id: int) -> None:
        now = self.clock()
        params = {"b_id": account_id, "b_now": now, "b_since": now - LOCKOUT_WINDOW}
        with self.db.unit_of_work() as session:
            connection = session.connection()
            connection.execute(_COUNT_FAILURE, params)
            locked = connection.execute(_LOCK_IF_EXHAUSTED, params).rowcount == 1
        metrics.LOGON_FAILURES.inc()
        if locked:
            metrics.LOCKOUTS.inc()


_FAILED = "authentication failed: unknown user, wrong password or account not active"
_REPLAYED_NONCE = "this UsernameToken's nonce was used before: a replayed message is refused (send a new nonce)"
REPLAYED_SIGNATURE = "this signed message was received before: a replayed message is refused (sign each request)"


def check_freshness(created: datetime, now: datetime, max_age: timedelta, skew: timedelta, what: str) -> None:
    """WS-Security freshness: ``created`` neither in the future (beyond ``skew``) nor too old."""
    problem = freshness(created, now, max_age, skew)
    if problem == "future":
        raise AuthenticationError(f"the {what}'s Created time is in the future: check the sending system's clock")
    if problem == "stale":
        raise AuthenticationError(
            f"the {what} was created more than {int(max_age.total_seconds())} seconds ago: send a fresh one"
        )


def register_certificate(session: Session, username: str, pem: bytes) -> str:
    """Tie a client certificate (PEM) to an account, for mutual TLS and X.509-signed requests;
    returns its SHA-256."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    except ValueError as exc:
        raise ValidationError("not a PEM certificate", [Violation("certificate", str(exc))]) from exc
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise NotFound(f"no account named {username!r}")
    account.client_cert_sha256 = hashlib.sha256(der).hexdigest()
    account.client_cert_pem = pem.decode("ascii", "replace")
    account.updated_at = utcnow()
    return account.client_cert_sha256


def unlock(session: Session, username: str) -> tuple[Account, str]:
    """An administrator releases a lockout (CJIS AC-7): LOCKED -> ACTIVE, the failed-logon count reset
    (on an ACTIVE account only the count is reset). It never undoes a deliberate disable -- that is
    :func:`hub.accounts.admin.enable`, its own audited action -- and the guarded UPDATE changes
    nothing if the account is disabled between the read and the write. Returns the account and what
    was done, for the audit event."""
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise NotFound(f"no account named {username!r}")
    was = account.status
    released = session.execute(
        update(Account)
        .where(
            Account.id == account.id,
            Account.status.in_((AccountStatus.ACTIVE.value, AccountStatus.LOCKED.value)),
        )
        .values(status=AccountStatus.ACTIVE.value, failed_logons=0, first_failed_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(account)
    if not released:
        raise InvalidState(
            f"account {username!r} is disabled, not locked out: unlocking releases a lockout only; an administrator "
            "enables a disabled account with EnableUser (ccpor-hub users enable)"
        )
    what = "released from lockout" if was == AccountStatus.LOCKED.value else "was not locked"
    return account, f"{what}; failed-logon count reset"
