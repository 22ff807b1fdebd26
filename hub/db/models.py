"""The hub's tables as SQLAlchemy 2 typed models.

State rules live in the database where it can hold them: unique (order, version) history rows,
unique idempotency keys per organization, guarded ``UPDATE ... WHERE version = :expected`` in
:mod:`hub.orders.repository`. Enumerated columns store the enum's wire value.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hub.db.types import UTCDateTime, search_key

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organization(Base):
    """A court or agency, known by its ORI. The registry of organizations is configuration data."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ori: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    county_code: Mapped[str] = mapped_column(String(2))
    #: COURT, SHERIFF or AGENCY (hub.codes.OrganizationKind): a county's sheriff may complete
    #: orders its courts entered (the shared-entry workflow, docs/SECURITY.md).
    kind: Mapped[str] = mapped_column(String(8), default="AGENCY", server_default="AGENCY")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Account(Base):
    """A person or a system (court DMS, FACCTS, sheriff RMS) that calls the hub."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    role: Mapped[str] = mapped_column(String(24))
    clets_certified: Mapped[bool] = mapped_column(Boolean, default=False)
    #: scrypt hash in PHC-like form (see hub.accounts.passwords); never the password.
    password_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(12))
    #: SHA-256 (hex) of the DER client certificate that identifies this account over mutual TLS.
    client_cert_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: The registered client certificate (PEM) for mutual TLS and X.509-signed requests.
    client_cert_pem: Mapped[str | None] = mapped_column(Text)
    #: The password sealed under the master key (AES-GCM), kept only for accounts allowed to use
    #: WS-Security PasswordDigest, which needs the password itself to check a digest.
    password_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Consecutive failed logons counted from ``first_failed_at`` (CJIS AC-7 lockout).
    failed_logons: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(lazy="joined")


class Order(Base):
    """The current state of one protective order. Its history is in ``order_versions``."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(12))
    version: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    served: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    court_ori: Mapped[str] = mapped_column(String(9))
    county_code: Mapped[str] = mapped_column(String(2))
    case_number: Mapped[str] = mapped_column(String(30))
    case_number_key: Mapped[str] = mapped_column(search_key(30))
    form_code: Mapped[str | None] = mapped_column(String(8))
    order_type_code: Mapped[str | None] = mapped_column(String(3))
    issue_date: Mapped[date | None] = mapped_column(Date)
    expiration_date: Mapped[date | None] = mapped_column(Date)
    non_expiring: Mapped[bool] = mapped_column(Boolean, default=False)
    carpos_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: PENDING, ACCEPTED, REJECTED (hub.codes.CarposStatus); NULL: never sent to CARPOS.
    carpos_status: Mapped[str | None] = mapped_column(String(10))
    #: The CARPOS file control number DOJ assigned (CLETS data): sealed, the order id as associated data.
    carpos_fcn_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The number of the order's last CARPOS message: MCNs are never reused, even after a purge.
    carpos_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    cancel_text: Mapped[str | None] = mapped_column(Text)
    cloned_from_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    #: The canonical order XML of the current version (validated, as received).
    document: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The edit lock (LockOrder): its holder, when it was taken and when it lapses; NULL: unlocked.
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lock_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    owner: Mapped[Organization] = relationship(lazy="joined")

    __table_args__ = (
        Index(None, "case_number_key"),
        Index(None, "court_ori", "issue_date"),
        Index(None, "county_code", "issue_date"),
        Index(None, "status", "expiration_date"),
        # the sheriffs' work queue (ListAwaitingCompletion): one owner's drafts, oldest first
        Index(None, "owner_org_id", "status", "created_at", "id"),
    )


#: Upper-casing can lengthen a name ("ß" -> "SS", "ﬃ" -> "FFI"): keys hold three times the
#: 40 characters a name part may have.
NAME_KEY = 120


def _covering(lead: str) -> tuple[str, ...]:
    """Columns of a covering name index: everything a name search filters on, then the order id."""
    return (lead, "given_key", "order_status", "sealed", "owner_org_id", "role", "order_id")


class OrderParty(Base):
    """A searchable name of the current version: restrained person (and aliases), protected persons.

    ``*_key`` columns hold the upper-cased name; ``*_rkey`` the same reversed, so that a suffix
    search (``%SE``) becomes a prefix range on the reversed column and uses its index.

    ``order_status``, ``sealed`` and ``owner_org_id`` repeat the order's (kept in step by
    ``hub.orders.records.guarded_update``, the one place statuses change) so that a name search, its
    visibility rule (drafts only for their owner) and a status filter are answered from the two
    covering name indexes alone, without reading a single ``orders`` row until the page is known.
    """

    __tablename__ = "order_parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    alias: Mapped[bool] = mapped_column(Boolean, default=False)
    surname_key: Mapped[str] = mapped_column(search_key(NAME_KEY))
    surname_rkey: Mapped[str] = mapped_column(search_key(NAME_KEY))
    given_key: Mapped[str] = mapped_column(search_key(NAME_KEY), default="")
    given_rkey: Mapped[str] = mapped_column(search_key(NAME_KEY), default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    order_status: Mapped[str] = mapped_column(String(12))
    sealed: Mapped[bool] = mapped_column(Boolean)
    owner_org_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_order_parties_surname", *_covering("surname_key")),
        Index("ix_order_parties_rsurname", *_covering("surname_rkey")),
        Index(None, "given_key"),
        Index(None, "given_rkey"),
        Index(None, "birth_date"),
    )


class OrderVersion(Base):
    """Append-only history: one row per version, with who, when, what."""

    __tablename__ = "order_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12))
    document: Mapped[str] = mapped_column(Text)
    #: Newline-separated element names that changed against the previous version.
    changed: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_ori: Mapped[str] = mapped_column(String(9))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("order_id", "version"),)


class IntakeReceipt(Base):
    """Idempotency: one row per (organization, source system, source message id)."""

    __tablename__ = "intake_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    source_system: Mapped[str] = mapped_column(String(100))
    source_message_id: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(24))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("organization_id", "source_system", "source_message_id"),)


class Image(Base):
    """A stored image's metadata; the bytes are in the image store under ``sha256``."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str | None] = mapped_column(String(255))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImageContent(Base):
    """An image's bytes kept in the database (``CCPOR_IMAGE_STORE=database``): one row per content
    (its SHA-256), the bytes in :class:`ImageChunk` rows so no single value is huge."""

    __tablename__ = "image_contents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    chunk_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImageChunk(Base):
    """One piece (1 MiB, the last shorter) of an :class:`ImageContent`'s bytes."""

    __tablename__ = "image_chunks"

    sha256: Mapped[str] = mapped_column(ForeignKey("image_contents.sha256"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class QuickAttach(Base):
    """A scanned order uploaded before its data: searchable in its county, converted into an order."""

    __tablename__ = "quick_attaches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    county_code: Mapped[str] = mapped_column(String(2))
    case_number: Mapped[str] = mapped_column(String(30))
    case_number_key: Mapped[str] = mapped_column(search_key(30))
    surname: Mapped[str | None] = mapped_column(String(40))
    surname_key: Mapped[str | None] = mapped_column(search_key(NAME_KEY))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    converted_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    owner: Mapped[Organization] = relationship(lazy="joined")
    image: Mapped[Image] = relationship(lazy="joined")

    __table_args__ = (
        Index(None, "county_code", "case_number_key"),
        Index(None, "county_code", "surname_key"),
    )


class OutboxMessage(Base):
    """The outbox, one for every destination: one message to send, written in the same transaction
    as the change that calls for it (nothing sent for a rolled-back change, nothing lost for a
    committed one). ``kind`` says whose it is -- ``CARPOS`` (a transaction to DOJ) today -- and so
    how it is built, sealed, sent and answered; the bookkeeping is the same for every kind
    (:mod:`hub.outbox.manager`).

    A sender claims due rows of its kind (``state`` QUEUED, or SENT with its answer overdue) under a
    lease, builds the message from the order version the row names -- a CARPOS MPO/SPO/CPO/XPO
    carries the FCN DOJ assigns only when it accepts the EPO -- seals and submits it, and keeps
    per-key order: a row is due only when every earlier row of its kind and order is finished
    (ACCEPTED, REJECTED, SUPERSEDED). A CARPOS QPO (query) belongs to no order; its text is kept
    sealed in ``payload_sealed``.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Whose message this is: CARPOS (hub.outbox.kinds).
    kind: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    #: 1, 2, 3 ... per kind and order: a later message waits for the earlier ones.
    order_seq: Mapped[int | None] = mapped_column(Integer)
    #: The order version whose document this message carries.
    order_version: Mapped[int | None] = mapped_column(Integer)
    #: The message's type within its kind (CARPOS: its message key, EPO ... QPO).
    mke: Mapped[str] = mapped_column(String(3))
    #: Message control number: the same on every resend, which makes a resend harmless.
    mcn: Mapped[str] = mapped_column(String(24), unique=True)
    #: The ORI the transaction is sent under (the organization whose change it carries).
    sender_ori: Mapped[str] = mapped_column(String(9))
    #: The account whose action queued it (NULL for the hub's own).
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    #: QUEUED, SENT, ACCEPTED, REJECTED, DEAD, SUPERSEDED (hub.codes.OutboxState).
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When the gateway may (re)send it: after a backoff, or when its answer is overdue.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A QPO's text (names, dates of birth), sealed under the master key with the MCN as associated data.
    payload_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Why the last attempt failed (transport errors, the switch's refusal); never CLETS data.
    last_error: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The id of the request that queued it (hub.logs): its SOAP call's log lines and the gateway's
    #: lines about this message share it. None for what no request queued (the worker's expiry).
    request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("kind", "order_id", "order_seq"),
        Index(None, "kind", "state", "next_attempt_at"),
        Index(None, "updated_at"),  # the console's activity of the last hour and day
    )


class CarposInboxMessage(Base):
    """What DOJ sent the hub: answers (ACK, REJ, QRY) and unsolicited notices (NTC).

    The text is CLETS data: it is kept only sealed (AES-256-GCM under the master key, the DOJ MCN as
    associated data) and shown only to CLETS-certified users of ``organization_id``. ``doj_mcn`` is
    unique, so an answer DOJ delivers twice is recorded once.
    """

    __tablename__ = "carpos_inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: DOJ's own id of the answer or notice.
    doj_mcn: Mapped[str] = mapped_column(String(24), unique=True)
    #: ACK, REJ, NTC, QRY (hub.carpos.codec.AnswerKind).
    kind: Mapped[str] = mapped_column(String(3))
    #: The outbox message it answers (NULL for a notice).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    #: Whose CLETS-certified users see it: the order's owner, or the organization that asked.
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    #: A reject or a notice waits for a CLETS user to act on it (AcknowledgeCarposMessage).
    needs_action: Mapped[bool] = mapped_column(Boolean)
    text_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "organization_id", "needs_action", "received_at"),)


class AuditEvent(Base):
    """Who did what to which target, when, from where, with what outcome (CJIS AU-3).

    Append-only and hash-chained (:mod:`hub.audit`): ``mac`` is a keyed hash over the previous
    event's ``mac``, this event's ``seq`` and its fields, so editing, inserting or deleting an
    event breaks the chain that ``ccpor-hub audit verify`` walks.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Position in the chain: 1, 2, 3 ... without gaps (assigned under the chain head's row lock).
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: LOGON, QUERY, VIEW, IMAGE, CHANGE, CARPOS, ADMIN (see hub.audit.category_of).
    category: Mapped[str] = mapped_column(String(12), default="", server_default="")
    username: Mapped[str] = mapped_column(String(64))
    org_ori: Mapped[str] = mapped_column(String(9))
    operation: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(40))
    client_address: Mapped[str] = mapped_column(String(64), default="")
    #: What an administrator changed (never a secret, never CLETS data).
    detail: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: HMAC-SHA256 (hex) chaining this event to the one before; empty for events older than the chain.
    mac: Mapped[str] = mapped_column(String(64), default="", server_default="")

    __table_args__ = (Index(None, "username", "at"), Index(None, "target"))


class AuditChain(Base):
    """The chain's head (one row): the last ``seq`` and ``mac``, and where verification starts.

    Every audited transaction updates this row last, so PostgreSQL's row lock orders events in
    commit order; ``base_seq``/``base_mac`` move forward only when retention purges old events.
    """

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    mac: Mapped[str] = mapped_column(String(64))
    base_seq: Mapped[int] = mapped_column(BigInteger)
    base_mac: Mapped[str] = mapped_column(String(64))
    #: HMAC over seq, mac, base_seq, base_mac: the row cannot be moved back or forward without the key.
    seal: Mapped[str] = mapped_column(String(64), default="", server_default="")


class JobRun(Base):
    """One run of a scheduled job (``ccpor-hub worker``): the row its worker inserted to claim the
    run's slot, so that of several workers exactly one runs it (hub.jobs)."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    #: The schedule's fire time this run is for (UTC): the same in every worker.
    slot: Mapped[datetime] = mapped_column(UTCDateTime)
    owner: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: "OK: what it did" or the error, in a line.
    outcome: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (UniqueConstraint("job", "slot"),)


class ConsoleSession(Base):
    """A signed-in administrator's session of the web console (hub.console): the cookie carries a
    random token, the table only its SHA-256, so a copy of the database opens no session."""

    __tablename__ = "console_sessions"

    #: SHA-256 (hex) of the cookie's token.
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The last request the administrator made (auto-refreshes do not count): the idle lock's clock.
    active_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    client_address: Mapped[str] = mapped_column(String(64), default="")


class UsedNonce(Base):
    """WS-Security PasswordDigest nonces seen in the freshness window, shared by all workers."""

    __tablename__ = "wsse_nonces"

    #: SHA-256 (hex) of username and nonce: a replayed token collides on this key.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Dsp917Court(Base):
    """A court that sends DSP917 notifications (FACCTS, CCMS): whether its orders go on to CARPOS, and
    where its business responses go (``ccpor-hub dsp917 court``). A court without a row sends to
    the registry only."""

    __tablename__ = "dsp917_courts"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    #: The court's orders are entered in CARPOS by the hub (off: the court or its sheriff does it).
    carpos: Mapped[bool] = mapped_column(Boolean, default=False)
    response_url: Mapped[str | None] = mapped_column(String(300))
    response_username: Mapped[str | None] = mapped_column(String(100))
    #: The response service's password, sealed under the master key.
    response_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Dsp917Order(Base):
    """The registry order a court's notifications are about, found again by the court, its case number
    and the court's own id of the order (its case system's: ``CaseRestrainingOrder/IdentificationID``)."""

    __tablename__ = "dsp917_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    case_docket_id: Mapped[str] = mapped_column(String(50))
    order_identification: Mapped[str] = mapped_column(String(50))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    #: Why the order is held as a DRAFT, in a clerk's words ('' when it is not held).
    held: Mapped[str] = mapped_column(Text, default="")
    #: The business responses queued about this order so far: each one's place in the order's line.
    response_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("organization_id", "case_docket_id", "order_identification", name="uq_dsp917_orders_key"),
    )


class Dsp917Notification(Base):
    """Every DSP917 notification a court sent, as sent (its image's bytes replaced by the stored
    image, ``image_id``), with what became of it. The ISB header's CourtCd, CorrelationId and
    ISBTransactionId are unique per court account: a resend is answered with this row's receipt."""

    __tablename__ = "dsp917_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    court_cd: Mapped[str] = mapped_column(String(64))
    correlation_id: Mapped[str] = mapped_column(String(64))
    isb_transaction_id: Mapped[str] = mapped_column(String(64))
    #: A, U or C.
    action: Mapped[str] = mapped_column(String(1))
    dsp917_order_id: Mapped[int | None] = mapped_column(ForeignKey("dsp917_orders.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    #: The order version the notification made (the notification is stored with it).
    order_version: Mapped[int | None] = mapped_column(Integer)
    #: The order's version before it (0: the notification made the order). The versions after it,
    #: up to ``order_version``, are this notification's changes: a CARPOS message carrying one of
    #: them is answered to this notification's court (hub.dsp917.responses).
    base_version: Mapped[int | None] = mapped_column(Integer)
    #: ACCEPTED, HELD or REFUSED (hub.dsp917.codes.Outcome).
    outcome: Mapped[str] = mapped_column(String(10))
    #: The business response's error code ('' when accepted; hub.dsp917.codes.ErrorCode).
    error_code: Mapped[str] = mapped_column(String(8), default="")
    #: What the court must know, one finding a line: ``path: message``.
    findings: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text)
    #: SHA-256 of the notification as sent (C14N): a resend under the same ids must be the same.
    payload_sha256: Mapped[str] = mapped_column(String(64))
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint(
            "organization_id", "court_cd", "correlation_id", "isb_transaction_id", name="uq_dsp917_notifications_key"
        ),
        Index(None, "order_id", "id"),
    )


class EtlLoad(Base):
    """One historical batch of a court being loaded (``ccpor-hub etl load``): its checkpoint -- the
    records settled so far, in file order, moved in the transaction that settles them -- and counts,
    so an interrupted load resumes after its last committed record."""

    __tablename__ = "etl_loads"
    __table_args__ = (UniqueConstraint("organization_id", "batch_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    batch_id: Mapped[str] = mapped_column(String(64))
    source_system: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(400))
    #: The file's size when the load began: a finished batch offered again with other content is refused.
    file_bytes: Mapped[int] = mapped_column(BigInteger)
    #: The RecordId of the last record settled (at ``records_done``): a resume checks it is still there.
    last_record_id: Mapped[str | None] = mapped_column(String(64))
    #: RUNNING until the last record is settled, then DONE.
    status: Mapped[str] = mapped_column(String(10))
    records_done: Mapped[int] = mapped_column(Integer)
    loaded: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    expired: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EtlReject(Base):
    """One reason a record of a historical batch was not loaded (a record may have several)."""

    __tablename__ = "etl_rejects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    load_id: Mapped[int] = mapped_column(ForeignKey("etl_loads.id"), index=True)
    record_number: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(400))
    reason: Mapped[str] = mapped_column(String(1000))
