"""``ccpor-hub etl load``: a court's historical orders, loaded straight through the order service.

A batch file (xsd/ccpor-historical-batch.xsd) is read as a stream, record by record
(:func:`hub.xmlsafe.iter_records`: the hub's refusals, constant memory). Each record is checked
against the schema, then submitted exactly as a SubmitOrder would be -- the same
:class:`~hub.orders.service.OrderService` rules, history and idempotent intake, its images attached,
an audit event per record -- in transactions of ``batch_size`` records. Each transaction also moves
the load's checkpoint (``etl_loads.records_done``) and keeps its rejects (``etl_rejects``), so an
interrupted load (Ctrl-C, kill -9) resumes after the last committed record: nothing twice, nothing
skipped. A record that is refused leaves nothing behind (it is checked before its rows are written;
a record with scans is written in a savepoint with them) and is reported
with every violation; the rejects CSV is written from the table at the end.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import contract, ns, xmlsafe
from hub.accounts.service import Principal
from hub.audit import AuditTrail, Event
from hub.clock import Clock, utcnow
from hub.codes import OrderStatus
from hub.db.engine import Database
from hub.db.models import EtlLoad, EtlReject
from hub.errors import HubError, MalformedRequest, ValidationError, Violation
from hub.images.service import ImageService
from hub.orders.records import PendingRows, Receipt
from hub.orders.service import OrderService

BATCH = ns.q(ns.HISTORICAL_BATCH, "HistoricalBatch")
RECORD = ns.q(ns.HISTORICAL_BATCH, "Record")
_DESCRIPTION = ns.q(ns.HISTORICAL_BATCH, "BatchDescription")
_ORDER = ns.q(ns.HISTORICAL_BATCH, "Order")
_IMAGE = ns.q(ns.HISTORICAL_BATCH, "ImageFile")
_REFERENCE = ns.q(ns.ORDER, "DocumentReference")
#: The path rule violations name, as a SubmitOrder's name /svc:SubmitOrder/svc:Order.
ORDER_PATH = "/hb:Record/hb:Order"
OPERATION = "LoadHistoricalOrder"
#: The file is read in pieces of this size.
_READ = 1 << 20
#: SQLite's page cache for the loading connection (its default is 2 MB): the indexes of a registry
#: growing towards millions of orders stay in memory -- 7 % faster over 100,000 records, +65 MB of
#: RSS, the same for 10,000 records as for 100,000 (docs/PERFORMANCE.md).
_SQLITE_CACHE_KIB = 64 * 1024


@dataclass
class Tally:
    """What a load did, this run and before it (a resumed load counts both)."""

    batch_id: str = ""
    records: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    expired: int = 0
    resumed_after: int = 0
    already_loaded: bool = False
    #: The rejects CSV written for the batch (None when nothing was rejected).
    rejects_file: Path | None = None


@dataclass(frozen=True)
class _Header:
    batch_id: str
    source_system: str


class HistoricalLoad:
    """Loads batch files as one account (``who``: the court's own, so the issuing-court rule holds)."""

    def __init__(
        self,
        db: Database,
        orders: OrderService,
        images: ImageService,
        audit: AuditTrail,
        who: Principal,
        *,
        to_carpos: bool = False,
        batch_size: int = 500,
        limits: xmlsafe.XmlLimits | None = None,
        progress: Callable[[Tally, float], None] | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.db, self.orders, self.images, self.audit, self.who = db, orders, images, audit, who
        self.to_carpos = to_carpos
        self.batch_size = batch_size
        self.limits = limits or xmlsafe.XmlLimits(max_bytes=0, max_depth=40, max_elements=2000)
        self.progress = progress
        self.clock = clock

    def load(self, path: Path, rejects_dir: Path | None = None) -> Tally:
        """Load one batch file (resuming it where an earlier run stopped); its tally, earlier runs'
        counts included. If any record of the batch was rejected (in this run or an earlier one),
        ``rejects_dir/<BatchId>.rejects.csv`` lists them all."""
        size = path.stat().st_size
        with path.open("rb") as fh:
            stream = xmlsafe.iter_records(_pieces(fh), BATCH, self.limits)
            header = _header(next(stream, None))
            tally = Tally(batch_id=header.batch_id)
            started = self._start(header, path, size)
            if started.status == "DONE":
                if started.file_bytes != size:
                    raise ValidationError(
                        f"batch {header.batch_id} was loaded from a file of {started.file_bytes} bytes; this one "
                        f"has {size}: a changed batch is loaded under a new BatchId",
                        [Violation("/hb:HistoricalBatch/@BatchId", "already loaded with other content")],
                    )
                tally.already_loaded = True
            else:
                tally.resumed_after = started.done
                self._run(stream, header, started, tally, lambda: fh.tell() / max(size, 1))
        self._tally_from_db(started.load_id, tally)
        if rejects_dir is not None and tally.rejected:
            rejects_dir.mkdir(parents=True, exist_ok=True)
            tally.rejects_file = rejects_dir / f"{header.batch_id}.rejects.csv"
            write_rejects(self.db, started.load_id, tally.rejects_file)
        return tally

    # ---------------------------------------------------------------- the run

    def _run(
        self,
        stream: Iterator[etree._Element],
        header: _Header,
        started: _Started,
        tally: Tally,
        fraction: Callable[[], float],
    ) -> None:
        """Settle the records after the checkpoint, ``batch_size`` to a transaction. A record is
        settled as it arrives (the stream clears it when the next one is read)."""
        records = _Numbered(stream, started.done, started.last_record_id)
        path, load_id = started.path, started.load_id
        while True:
            counts, batch = Tally(), _Batch()
            with self.db.unit_of_work() as s:
                if s.connection().dialect.name == "sqlite":
                    s.execute(text(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}"))  # this connection's
                settled, last_id = 0, None
                for number, record in records:
                    last_id = record.get("RecordId") or ""
                    self._settle(s, record, number, header, path, load_id, counts, batch)
                    settled += 1
                    if settled == self.batch_size:
                        break
                batch.flush(s)
                events = self._outcomes(s, batch, header, load_id, counts)
                final = settled < self.batch_size
                now = self.clock()
                s.execute(
                    update(EtlLoad)
                    .where(EtlLoad.id == load_id)
                    .values(
                        records_done=max(records.number, started.done),
                        **({"last_record_id": last_id[:64]} if last_id is not None else {}),
                        loaded=EtlLoad.loaded + counts.loaded,
                        duplicates=EtlLoad.duplicates + counts.duplicates,
                        rejected=EtlLoad.rejected + counts.rejected,
                        expired=EtlLoad.expired + counts.expired,
                        updated_at=now,
                        **({"status": "DONE", "finished_at": now} if final else {}),
                    )
                )
                self.audit.record_all(s.connection(), events)
            for name in ("loaded", "duplicates", "rejected", "expired"):
                setattr(tally, name, getattr(tally, name) + getattr(counts, name))
            tally.records = records.number
            if self.progress:
                self.progress(tally, 1.0 if final else fraction())
            if final:
                return

    def _settle(
        self,
        s: Session,
        record: etree._Element,
        number: int,
        header: _Header,
        path: Path,
        load_id: int,
        counts: Tally,
        batch: _Batch,
    ) -> None:
        """One record: refused (its reject rows, its audit event), or entered -- its outcome known
        once the batch's held rows are written (:meth:`_outcomes`)."""
        record_id = record.get("RecordId") or ""
        try:
            violations = contract.validate_batch_record(record)
            if violations:
                raise ValidationError(f"record {number} does not match the batch schema", violations)
            order = record.find(_ORDER)
            assert order is not None  # the schema requires it
            _stamp_source(order, header.source_system, record_id)
            scans = [_image(path, image.text or "", self.images.max_bytes) for image in record.iterfind(_IMAGE)]
            receipt, held = self._enter(s, order, scans, batch)
        except HubError as err:
            batch.outcomes.append(self._reject(s, number, record_id, header, load_id, err, counts))
            return
        batch.outcomes.append(_Entered(number, record_id, receipt, held, self.clock()))

    def _reject(
        self,
        s: Session,
        number: int,
        record_id: str,
        header: _Header,
        load_id: int,
        err: HubError,
        counts: Tally,
        at: datetime | None = None,
    ) -> Event:
        """A refused record's reject rows (one per violation) and its audit event."""
        counts.rejected += 1
        found = err.violations or (Violation("/hb:Record", err.message),)
        for violation in found:
            s.add(
                EtlReject(
                    load_id=load_id,
                    record_number=number,
                    record_id=record_id[:64] or None,
                    code=err.code,
                    field=violation.path[:400],
                    reason=violation.message[:1000],
                )
            )
        return self._event(number, record_id, header, err.code, "", err.message, at or self.clock())

    def _outcomes(self, s: Session, batch: _Batch, header: _Header, load_id: int, counts: Tally) -> list[Event]:
        """The batch's audit events in record order, its entered records counted -- a held one with
        the answer its writing gave (a new order's real id; for a message id received before, a
        duplicate of the original, or a refusal)."""
        events = []
        for outcome in batch.outcomes:
            if not isinstance(outcome, _Entered):
                events.append(outcome)
                continue
            answer: Receipt | HubError = outcome.receipt
            if outcome.held:
                answer = batch.answers[outcome.receipt.order_id]
                if isinstance(answer, Receipt) and outcome.receipt.duplicate:  # a repeat of a held order
                    answer = dataclasses.replace(answer, duplicate=True)
            if isinstance(answer, HubError):
                events.append(
                    self._reject(s, outcome.number, outcome.record_id, header, load_id, answer, counts, outcome.at)
                )
                continue
            if answer.duplicate:
                counts.duplicates += 1
            else:
                counts.expired += answer.status is OrderStatus.EXPIRED
                counts.loaded += 1
            events.append(self._event(outcome.number, outcome.record_id, header, "OK", answer.order_id, "", outcome.at))
        return events

    def _enter(
        self, s: Session, order: etree._Element, scans: list[tuple[str, bytes]], batch: _Batch
    ) -> tuple[Receipt, bool]:
        """The order: held with the batch's (:class:`~hub.orders.records.PendingRows`) when it needs
        no more than its own rows -- no scan, no document reference, not for CARPOS -- else written
        now (the held rows first) with its scans in a savepoint, so a refused record leaves nothing
        behind. A held order is checked in full before anything is held, so a refusal has nothing
        to undo; a batch is mostly new records, so the receipt is looked for only when writing.
        The receipt, and whether its order is held."""
        if not scans and not self.to_carpos and order.find(_REFERENCE) is None:
            held = self.orders.load_historical(
                s, self.who, order, carpos_requested=False, path=ORDER_PATH, pending=batch.pending
            )
            return held, True
        batch.flush(s)  # the held orders first: their ids come before this order's
        try:
            return self._write_now(s, order, scans, probe=False), False
        except IntegrityError:  # this record's receipt exists: loaded before (another batch, a reload)
            return self._write_now(s, order, scans, probe=True), False

    def _write_now(self, s: Session, order: etree._Element, scans: list[tuple[str, bytes]], *, probe: bool) -> Receipt:
        with s.begin_nested():
            receipt = self.orders.load_historical(
                s, self.who, order, carpos_requested=self.to_carpos, path=ORDER_PATH, probe=probe
            )
            if not receipt.duplicate:
                for name, data in scans:
                    self.images.attach_historical(s, self.who, receipt.order_id, data, name)
            return receipt

    def _event(
        self, number: int, record_id: str, header: _Header, outcome: str, target: str, why: str, at: datetime
    ) -> Event:
        detail = f"batch {header.batch_id} record {number} ({record_id})" + (f": {why}" if why else "")
        return Event(
            at=at,
            username=self.who.username,
            org_ori=self.who.ori,
            operation=OPERATION,
            outcome=outcome,
            target=target,
            client_address="etl",
            detail=detail[:500],
        )

    # ---------------------------------------------------------------- the load's row

    def _start(self, header: _Header, path: Path, size: int) -> _Started:
        """The load's row for this court and batch: created, or found to resume or report."""
        with self.db.unit_of_work() as s:
            found = s.scalars(
                select(EtlLoad).where(
                    EtlLoad.organization_id == self.who.organization_id, EtlLoad.batch_id == header.batch_id
                )
            ).one_or_none()
            if found is None:
                now = self.clock()
                found = EtlLoad(
                    organization_id=self.who.organization_id,
                    account_id=self.who.account_id,
                    batch_id=header.batch_id,
                    source_system=header.source_system,
                    file_name=str(path)[-400:],
                    file_bytes=size,
                    status="RUNNING",
                    records_done=0,
                    loaded=0,
                    duplicates=0,
                    rejected=0,
                    expired=0,
                    started_at=now,
                    updated_at=now,
                )
                s.add(found)
                s.flush()
            return _Started(found.id, found.records_done, found.last_record_id, found.status, found.file_bytes, path)

    def _tally_from_db(self, load_id: int, tally: Tally) -> None:
        """The batch's counts as the database holds them: every run's, not only this one's."""
        with self.db.read() as s:
            row = s.get(EtlLoad, load_id)
            assert row is not None
            tally.records = max(tally.records, row.records_done)
            tally.loaded, tally.duplicates = row.loaded, row.duplicates
            tally.rejected, tally.expired = row.rejected, row.expired


@dataclass(frozen=True)
class _Entered:
    """A record entered: its receipt (a held order's until the batch is written) and when."""

    number: int
    record_id: str
    receipt: Receipt
    #: held with the batch's orders: its answer is the one their writing gave
    held: bool
    at: datetime


class _Batch:
    """One transaction's records: their outcomes in record order (refusals as their audit events),
    the orders held to be written together, and the answers their writing gave."""

    def __init__(self) -> None:
        self.outcomes: list[_Entered | Event] = []
        self.pending = PendingRows()
        #: a held order's answer, by the stand-in id of its receipt (PendingRows.write)
        self.answers: dict[str, Receipt | HubError] = {}

    def flush(self, s: Session) -> None:
        """Write the held orders."""
        self.answers |= self.pending.write(s)


@dataclass(frozen=True)
class _Started:
    """Where a batch's load stands when a run starts."""

    load_id: int
    done: int
    last_record_id: str | None
    status: str
    file_bytes: int
    path: Path


class _Numbered:
    """The batch's records numbered in file order, those up to the checkpoint skipped (settled by an
    earlier run) -- after checking that the record at the checkpoint is still the one settled there,
    so a file changed between runs (a record removed, the export regenerated) is refused instead of
    silently skipping records; ``number`` is the last one read."""

    def __init__(self, stream: Iterator[etree._Element], done: int, last_record_id: str | None) -> None:
        self.stream, self.done, self.last_record_id, self.number = stream, done, last_record_id, 0

    def __iter__(self) -> Iterator[tuple[int, etree._Element]]:
        return self

    def __next__(self) -> tuple[int, etree._Element]:
        for element in self.stream:
            if element.tag == _DESCRIPTION:
                continue
            if element.tag != RECORD:
                raise MalformedRequest(f"a historical batch holds hb:Record elements, not {element.tag}")
            self.number += 1
            if self.number == self.done and self.last_record_id is not None:
                found = (element.get("RecordId") or "")[:64]
                if found != self.last_record_id:
                    raise ValidationError(
                        f"the file changed since the interrupted run: record {self.number} is {found!r}, the "
                        f"run stopped after {self.last_record_id!r}; restore the file, or load the changed one "
                        "under a new BatchId (records already loaded are recognised and not loaded twice)",
                        [Violation("/hb:HistoricalBatch", "changed since the interrupted run")],
                    )
            if self.number > self.done:
                return self.number, element
        if self.number < self.done:
            raise ValidationError(
                f"the file changed since the interrupted run: it has {self.number} records, the run had "
                f"settled {self.done}; restore the file, or load the changed one under a new BatchId",
                [Violation("/hb:HistoricalBatch", "changed since the interrupted run")],
            )
        raise StopIteration


def write_rejects(db: Database, load_id: int, target: Path) -> int:
    """The rejects of a load as CSV (record number, record id, code, field, reason); how many rows."""
    with db.read() as s:
        rows = s.execute(
            select(EtlReject.record_number, EtlReject.record_id, EtlReject.code, EtlReject.field, EtlReject.reason)
            .where(EtlReject.load_id == load_id)
            .order_by(EtlReject.record_number, EtlReject.id)
        ).all()
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["record", "record_id", "code", "field", "reason"])
        writer.writerows(rows)
    return len(rows)


def _pieces(fh: object) -> Iterator[bytes]:
    read = fh.read  # type: ignore[attr-defined]
    while piece := read(_READ):
        yield piece


def _header(root: etree._Element | None) -> _Header:
    """The batch's attributes, checked against the schema (an empty batch of them is valid)."""
    if root is None:
        raise MalformedRequest("the file is empty")
    probe = etree.Element(BATCH, {k: v for k, v in root.attrib.items()})
    violations = contract.validate_batch_record(probe)
    if violations:
        raise ValidationError("the batch's attributes do not match the batch schema", violations)
    return _Header(root.get("BatchId", ""), root.get("SourceSystemName", ""))


_SOURCE_SYSTEM = ns.q(ns.ORDER, "SourceSystemName")
_SOURCE_MESSAGE = ns.q(ns.ORDER, "SourceMessageID")


def _stamp_source(order: etree._Element, system: str, record_id: str) -> None:
    """The order's source: its own SourceSystemName/SourceMessageID, else the batch's system and
    the record's id -- stable per record, so the idempotent intake makes a reload the same order."""
    message = order.find(_SOURCE_MESSAGE)
    if order.find(_SOURCE_SYSTEM) is None:
        element = etree.Element(_SOURCE_SYSTEM)
        element.text = system
        if message is not None:
            message.addprevious(element)
        else:
            order.append(element)
    if message is None:
        etree.SubElement(order, _SOURCE_MESSAGE).text = record_id


def _image(batch_file: Path, name: str, max_bytes: int) -> tuple[str, bytes]:
    """A record's scan: a regular file inside the batch file's directory, no larger than the hub
    takes. Opened without blocking (a FIFO or device named like a scan must not hang the load)."""
    where = "/hb:Record/hb:ImageFile"
    base = batch_file.resolve().parent
    try:
        target = (base / name).resolve()
        if not target.is_relative_to(base):
            raise ValidationError("image path outside the batch", [Violation(where, f"{name} is outside {base}")])
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ValidationError("image not a file", [Violation(where, f"{name} is not a regular file")])
            if info.st_size > max_bytes:
                raise ValidationError(
                    "image too large", [Violation(where, f"{name} has {info.st_size} bytes; the limit is {max_bytes}")]
                )
            return target.name, fh.read()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (pathlib)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationError("image unreadable", [Violation(where, f"{name}: {why}")]) from exc
