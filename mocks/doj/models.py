"""The switch's own tables (its own database; created at start, no migrations: it is a test double).

``ledger`` is the proof of exactly-once: one row per message control number the switch ever took,
with what it did and the answer it gave (resends of the MCN only count up ``times_received``).
``records`` is the CARPOS registry; ``mailbox`` holds the sealed answers until the hub removes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.db.models import NAMING
from hub.db.types import UTCDateTime


class SwitchBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Record(SwitchBase):
    """One protection order on file with CARPOS."""

    __tablename__ = "records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fcn: Mapped[str | None] = mapped_column(String(13), unique=True)
    #: The entering agency and its own id of the order.
    ori: Mapped[str] = mapped_column(String(9))
    oca: Mapped[str] = mapped_column(String(20))
    #: ACTIVE, CLEARED (no longer in effect), CANCELLED (entered in error).
    status: Mapped[str] = mapped_column(String(10))
    #: The record's fields as CARPOS text (EPO/MPO form, without the message key), the latest version.
    fields: Mapped[str] = mapped_column(Text)
    nam: Mapped[str] = mapped_column(String(30))
    dob: Mapped[str | None] = mapped_column(String(8))
    pno: Mapped[str | None] = mapped_column(String(20))
    cti: Mapped[str | None] = mapped_column(String(9))
    otc: Mapped[str | None] = mapped_column(String(3))
    served: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Seeded at first start (another agency's order, never sent by the hub).
    seeded: Mapped[bool] = mapped_column(Boolean, default=False)
    modifications: Mapped[int] = mapped_column(Integer, default=0)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "oca", "cti"), Index(None, "nam", "dob"), Index(None, "pno", "cti"))


class LedgerEntry(SwitchBase):
    """What the switch did with one MCN, once."""

    __tablename__ = "ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mcn: Mapped[str] = mapped_column(String(24), unique=True)
    mke: Mapped[str] = mapped_column(String(3))
    sender_ori: Mapped[str] = mapped_column(String(9))
    #: The record it touched (its FCN), if any.
    fcn: Mapped[str | None] = mapped_column(String(13))
    #: ACK, REJ or QRY, and the answer's own id and text lines (newline-separated).
    result: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(400))
    answer_mcn: Mapped[str] = mapped_column(String(24))
    answer_lines: Mapped[str] = mapped_column(Text)
    times_received: Mapped[int] = mapped_column(Integer, default=1)
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MailboxItem(SwitchBase):
    """A sealed answer or notice waiting for the hub."""

    __tablename__ = "mailbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_mcn: Mapped[str] = mapped_column(String(24), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    #: Not fetched before this (the injected answer latency).
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
