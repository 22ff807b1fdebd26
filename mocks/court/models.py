"""The mock court's own tables (its own database; created at start, no migrations: it is a test double).

``court_received`` is the proof of "every response delivered once, in order": one row per business
response the court took, in arrival order (``id``), with what it said; a second arrival of the same
DocumentId is kept too, flagged ``duplicate`` -- the partial unique index lets only one row per
DocumentId be the first, so two workers taking twins at once cannot both count theirs as new.
``court_refused`` holds every call it refused (faults injected, authentication, schema, hostile
XML), ``court_nonces`` the PasswordDigest nonces seen within the freshness window, and
``court_faults`` the one row of the fault plan with the count of calls.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, Index, Integer, MetaData, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.db.models import NAMING
from hub.db.types import UTCDateTime


class CourtBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ReceivedRow(CourtBase):
    """One business response the court took."""

    __tablename__ = "court_received"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The ISB header's ids (DocumentId None when the header's is empty).
    document_id: Mapped[str | None] = mapped_column(String(200))
    correlation_id: Mapped[str | None] = mapped_column(String(200))
    isb_transaction_id: Mapped[str] = mapped_column(String(200))
    court_cd: Mapped[str | None] = mapped_column(String(20))
    #: What it says: the CCPOR order id, DOJ's FCN and the order type, or the errors ([[code, text], ...]).
    order_id: Mapped[str | None] = mapped_column(String(50))
    control_number: Mapped[str | None] = mapped_column(String(2000))
    order_type: Mapped[str | None] = mapped_column(String(60))
    errors: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    #: Who sent it and how: the UsernameToken's user, PasswordDigest or PasswordText, over TLS or not.
    username: Mapped[str] = mapped_column(String(200))
    password_type: Mapped[str] = mapped_column(String(20))
    over_tls: Mapped[bool] = mapped_column(Boolean)
    #: An earlier row has the same DocumentId.
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The DSP917CAJUDRespInput as received (after the hardened parse, comments dropped).
    xml: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index(
            "uq_court_received_first_document",
            "document_id",
            unique=True,
            sqlite_where=duplicate == false(),
            postgresql_where=duplicate == false(),
        ),
    )


class RefusedRow(CourtBase):
    """A call the court answered with a fault."""

    __tablename__ = "court_refused"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    refused_at: Mapped[datetime] = mapped_column(UTCDateTime)
    code: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text)
    #: Known where the message got as far as the court's own checks (authentication).
    document_id: Mapped[str | None] = mapped_column(String(200))
    correlation_id: Mapped[str | None] = mapped_column(String(200))


class NonceRow(CourtBase):
    """A PasswordDigest nonce (SHA-256 of username and nonce) seen within the freshness window."""

    __tablename__ = "court_nonces"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FaultsRow(CourtBase):
    """The fault plan (one row, id 1) and the number of calls so far (the error rate's dice)."""

    __tablename__ = "court_faults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    down: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    fail_next: Mapped[int] = mapped_column(Integer, default=0)
    error_rate: Mapped[float] = mapped_column(Float, default=0.0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
