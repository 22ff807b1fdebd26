"""The mock switch's SOAP service (``xsd/carpos-switch-service.xsd``) and its WSGI application.

The path of a submitted batch::

    gunicorn worker -> mocks.soap.FaultInjection (downtime, injected errors: HTTP 503 + SOAP fault, nothing done)
      -> hub.soap.endpoint.SoapEndpoint (hardened parse, schema of the switch service)
      -> Spyne (bindings generated from the XSD) -> Switch.submit, in one transaction:
         for each sealed transmission: Channel.open (signature against the pinned hub certificate,
         decryption, the envelope's schema) -> REFUSED receipt if that fails;
         the ledger by MCN: seen -> the original answer again; new -> registry.apply, a ledger row;
         the answer (and any notice) sealed to the hub and put in the mailbox (dropped, doubled,
         delayed as the fault plan says)
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from spyne import Application
from spyne import const as spyne_const
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication
from sqlalchemy import bindparam, delete, func, insert, select, update

from gateway.sealing import Channel, SealError
from hub.carpos import codec
from hub.carpos.envelope import Header, MessageKey, Transmission
from hub.clock import Clock
from hub.contract import validate_request
from hub.db.engine import Database
from hub.errors import HubError
from hub.settings import Settings
from hub.soap.bindings import as_bytes
from hub.soap.endpoint import Router, SoapEndpoint
from hub.soap.operations import declared, operation
from hub.soap.protocol import PreParsedSoap11
from hub.soap.wsdl import ServiceSpec, service_class, service_wsdl
from mocks.doj import registry
from mocks.doj.faults import FaultPlan
from mocks.doj.models import LedgerEntry, MailboxItem, SwitchBase
from mocks.soap import UNAVAILABLE, FaultInjection, Injected, Unavailable

log = logging.getLogger("ccpor.mockdoj")

NAMESPACE = "urn:ca:doj:carpos:switch:1"
SWITCH = ServiceSpec("/doj/switch", NAMESPACE, "CarposSwitch", "carpos-switch-service.xsd", "carpos-switch.wsdl")


@dataclass(frozen=True)
class Receipt:
    position: int
    mcn: str | None
    status: str
    reason: str | None = None


class Switch:
    """The switch's behaviour, independent of SOAP (tests drive it directly too)."""

    def __init__(
        self,
        db: Database,
        channel: Channel,
        ori: str,
        faults: FaultPlan,
        clock: Clock,
        mailbox_lease: timedelta = timedelta(seconds=30),
    ) -> None:
        self.db = db
        self.channel = channel
        self.ori = ori
        self.faults = faults
        self.clock = clock
        self.mailbox_lease = mailbox_lease

    def submit(self, blobs: list[bytes]) -> list[Receipt]:
        """Take a batch: verify and decrypt each (outside any transaction), apply the new ones and
        record them in the ledger (one transaction), then seal and post the answers (another).

        A crash between the two loses answers, never effects: the hub sends the MCN again when its
        answer is overdue, and the ledger answers it with the original result.
        """
        now = self.clock()
        opened: list[tuple[int, Transmission | None, str | None]] = []
        for position, blob in enumerate(blobs, start=1):
            try:
                t = self.channel.open(blob)
            except (SealError, HubError) as err:
                opened.append((position, None, str(err)[:400]))
                continue
            if t.header.destination_ori != self.ori:
                opened.append((position, None, f"addressed to {t.header.destination_ori}, not to {self.ori}"))
                continue
            opened.append((position, t, None))
        receipts, replies = [], []
        taken = [t for _, t, _ in opened if t is not None]
        with self.db.unit_of_work() as s:
            known = {
                e.mcn: (MessageKey(e.result), tuple(e.answer_lines.split("\n")))
                for e in s.scalars(
                    select(LedgerEntry).where(LedgerEntry.mcn.in_([t.header.mcn for t in taken])).with_for_update()
                )
            }
            new_entries, resent = [], []
            for position, t, refusal in opened:
                if t is None:
                    receipts.append(Receipt(position, None, "REFUSED", refusal))
                    continue
                receipts.append(Receipt(position, t.header.mcn, "QUEUED"))
                answer_mcn = answer_mcn_for(t.header.mcn)
                if t.header.mcn in known:  # a resend: the same answer again, nothing applied twice
                    resent.append({"b_mcn": t.header.mcn})
                    kind, lines = known[t.header.mcn]
                    replies.append((t, answer_mcn, kind, lines, True))
                    continue
                outcome = registry.apply(s, t, now)
                lines = outcome.lines(answer_mcn, t.header.mcn)
                known[t.header.mcn] = (MessageKey(outcome.kind.value), lines)
                new_entries.append(
                    dict(
                        mcn=t.header.mcn,
                        mke=t.header.mke.value,
                        sender_ori=t.header.sender_ori,
                        fcn=outcome.fcn,
                        result=outcome.kind.value,
                        reason=outcome.reason,
                        answer_mcn=answer_mcn,
                        answer_lines="\n".join(lines),
                        times_received=1,
                        first_received_at=now,
                        last_received_at=now,
                    )  # fmt: skip
                )
                replies.append((t, answer_mcn, MessageKey(outcome.kind.value), lines, True))
                for i, notice in enumerate(outcome.notices, start=1):
                    notice_mcn = f"{answer_mcn}N{i}"[:24]
                    replies.append((t, notice_mcn, MessageKey.NTC, (notice.replace("{notice}", notice_mcn),), False))
            if new_entries:
                s.execute(insert(LedgerEntry.__table__), new_entries)
            if resent:
                table = LedgerEntry.__table__
                s.execute(
                    update(table)
                    .where(table.c.mcn == bindparam("b_mcn"))
                    .values(times_received=table.c.times_received + 1, last_received_at=now),
                    resent,
                )
        mail = [row for reply in replies for row in self._mail(*reply, now)]
        if mail:
            with self.db.unit_of_work() as s:
                s.execute(insert(MailboxItem.__table__), mail)
        return receipts

    def _mail(
        self, t: Transmission, answer_mcn: str, kind: MessageKey, lines: tuple[str, ...], answer: bool, now: datetime
    ) -> list[dict[str, object]]:
        """The mailbox rows of one reply: none if the fault plan drops it, two if it doubles it."""
        if self.faults.drop_answer():
            log.info("fault plan: dropped the answer %s to %s", answer_mcn, t.header.mcn)
            return []
        text = self.faults.garble(lines)
        if text != lines:
            log.info("fault plan: garbled the answer %s", answer_mcn)
        reply = Transmission(
            Header(
                mcn=answer_mcn,
                relates_to=t.header.mcn if answer else None,
                sender_ori=self.ori,
                destination_ori=t.header.sender_ori,
                mke=kind,
                created=now,
                sent=now,
                order_reference=t.header.order_reference,
            ),
            text,
        )
        rows = [self._row(reply, now)]
        if self.faults.duplicate_answer():
            log.info("fault plan: doubled the answer %s", answer_mcn)
            rows.append(self._row(reply, now))
        return rows

    def _row(self, reply: Transmission, now: datetime) -> dict[str, object]:
        return dict(
            answer_mcn=reply.header.mcn,
            sealed=self.channel.seal(reply),
            available_at=now + self.faults.answer_latency,
            created_at=now,
        )

    def post(self, s: Any, reply: Transmission, now: datetime) -> None:
        """Seal ``reply`` to the hub and put it in the mailbox."""
        s.execute(insert(MailboxItem.__table__), self._row(reply, now))

    def fetch(self, max_count: int) -> tuple[list[tuple[int, bytes]], int]:
        """The oldest visible answers, hidden from other readers for the mailbox lease: a gateway
        that dies before acknowledging them lets them reappear; two gateways never read the same."""
        now = self.clock()
        with self.db.unit_of_work() as s:
            rows = s.execute(
                select(MailboxItem.id, MailboxItem.sealed)
                .where(MailboxItem.available_at <= now)
                .order_by(MailboxItem.id)
                .limit(max_count)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                s.execute(
                    update(MailboxItem)
                    .where(MailboxItem.id.in_([r.id for r in rows]))
                    .values(available_at=now + self.mailbox_lease)
                )
            remaining = s.scalar(select(func.count()).where(MailboxItem.available_at <= now)) or 0
        items = [(int(r.id), bytes(r.sealed)) for r in rows]
        shuffled = self.faults.reorder(items)
        if shuffled != items:
            log.info("fault plan: reordered a page of %d answers", len(items))
        return shuffled, int(remaining)

    def acknowledge(self, ids: list[int]) -> int:
        with self.db.unit_of_work() as s:
            result = s.execute(delete(MailboxItem).where(MailboxItem.id.in_(ids)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def notice(self, destination_ori: str, fcn: str, reason: str, oca: str | None = None) -> str:
        """An unsolicited notice about a record (operators, tests); its id."""
        now = self.clock()
        with self.db.unit_of_work() as s:
            mcn = f"DOJN{secrets.randbelow(10**16):016d}"
            extra = {"OCA": oca} if oca else {}
            line = codec.answer_text(codec.Answer(codec.AnswerKind.NTC, mcn, fcn=fcn, reason=reason, extra=extra))
            header = Header(mcn, self.ori, destination_ori, MessageKey.NTC, now, now, oca)
            self.post(s, Transmission(header, (line,)), now)
        return mcn

    def ledger_counts(self) -> dict[str, int]:
        with self.db.read() as s:
            return {m: int(n) for m, n in s.execute(select(LedgerEntry.mcn, LedgerEntry.times_received)).all()}


# ------------------------------------------------------------------------------------- SOAP + WSGI


def _spyne_app(switch: Switch, settings: Settings) -> WsgiApplication:
    # As in the hub (docs/DECISIONS.md 13): Spyne's once-a-second full gc.collect() at the end of a
    # call is for file handles of features we do not use; it was half of the switch's CPU.
    spyne_const.MIN_GC_INTERVAL = float("inf")
    bindings = SWITCH.bindings()
    receipt, receipts = bindings["ReceiptType"], bindings["ReceiptListType"]
    item, mailbox = bindings["MailboxItemType"], bindings["MailboxType"]

    class SwitchService:
        """The switch's three operations, declared like every service's (hub.soap.operations)."""

        @operation()
        def op_SubmitTransmissions(self, ctx: Any, blobs: Any) -> Any:
            done = switch.submit([as_bytes(b) for b in blobs or []])
            return receipts(
                Receipt=[
                    receipt(Position=r.position, MessageControlNumber=r.mcn, Status=r.status, ReasonText=r.reason)
                    for r in done
                ]
            )

        @operation()  # declared as the hub's are (checked against the schema); no wrapper reads the flags here
        def op_FetchAnswers(self, ctx: Any, max_count: int) -> Any:
            found, remaining = switch.fetch(int(max_count))
            return mailbox(Item=[item(MailboxId=i, SealedTransmission=b) for i, b in found], RemainingCount=remaining)

        @operation()
        def op_AcknowledgeAnswers(self, ctx: Any, ids: Any) -> Any:
            return switch.acknowledge([int(i) for i in ids or []])

    operations = declared(SwitchService(), (op.name for op in bindings.operations()))

    def implement(name: str) -> Callable[..., Any]:
        handler = operations[name].handler
        return lambda ctx, *args: handler(ctx, *args)  # a plain function: Spyne names it after the operation

    app = Application(
        [service_class(bindings, implement, name=SWITCH.name)],
        tns=SWITCH.namespace,
        name=SWITCH.name,
        in_protocol=PreParsedSoap11(validator=None),
        out_protocol=Soap11(),
    )
    app.event_manager.add_listener("method_exception_object", _log_exception)
    return WsgiApplication(app, max_content_length=settings.max_request_bytes)


def _log_exception(ctx: Any) -> None:
    if not isinstance(ctx.out_error, Fault):
        log.error("switch call failed: %r", ctx.out_error)


def injected_faults(faults: FaultPlan, clock: Clock) -> Callable[[], Injected]:
    """The switch's fault injection (mocks.soap.FaultInjection): every call held for the call
    latency; in a downtime window, or by the dice of the error rate, HTTP 503 with a SOAP fault."""
    delay = faults.call_latency.total_seconds()

    def decide() -> Injected:
        reason = faults.down(clock()) or ("injected failure" if faults.fail_call() else None)
        error = Unavailable(reason) if reason else None
        return Injected(delay, UNAVAILABLE, error, retry_after=5)

    return decide


def answer_mcn_for(mcn: str) -> str:
    """DOJ's MCN for its answer to the transmission ``mcn``: ``DOJ-`` + ``mcn`` (unique because the
    ledger's MCN is), or, where that would be longer than an MCN may be (24 characters), ``DOJ-`` and
    the first 20 hex digits of the MCN's SHA-256, upper case (unique in practice: 80 bits)."""
    answer = f"DOJ-{mcn}"
    return answer if len(answer) <= 24 else "DOJ-" + hashlib.sha256(mcn.encode()).hexdigest()[:20].upper()


def create_app(switch: Switch, settings: Settings, public_url: str = "") -> Router:
    endpoint = SoapEndpoint(
        _spyne_app(switch, settings),
        service_wsdl(SWITCH),
        {op.name for op in SWITCH.bindings().operations()},
        SWITCH.namespace,
        functools.partial(validate_request, xsd_name=SWITCH.xsd),
        settings,
        SWITCH.placeholder,
        public_url=public_url,
    )
    return Router({SWITCH.path: FaultInjection(endpoint, injected_faults(switch.faults, switch.clock))})


def open_database(url: str) -> Database:
    """The switch's database, its tables created if missing."""
    db = Database(url)
    SwitchBase.metadata.create_all(db.engine)
    return db
