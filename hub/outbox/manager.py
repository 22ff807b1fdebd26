"""The outbox's bookkeeping, for every kind of message: claim, lease, send, retry, dead-letter, settle.

One mechanism whatever the destination (CARPOS transactions to DOJ today, business responses to
courts next): a kind says how to build, seal and send a message and how to read the answer
(``gateway``); this module holds the SQL that keeps the promises, as procrastinate's ``JobManager``
holds its queue's:

    claim    one short transaction: due rows of one kind (QUEUED, or SENT with the answer overdue;
             no live lease; every earlier message of the same key -- the order -- finished)
             ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has a single writer), each given this
             sender's lease and one more attempt; commit.
    record   one transaction for a batch's outcomes: taken by the destination -> SENT (the answer
             due within the policy's timeout); refused or unbuildable -> DEAD; a transport failure ->
             retry after a backoff, or DEAD when the policy is exhausted. Updates are guarded by the
             lease: a row someone else took over, or already answered, is left alone.
    settle   an answer: ACCEPTED or REJECTED, whatever the row's lease.

Whatever tells the hub first that the destination has a message -- a receipt, or else its answer
-- sets the message's ``sent_at`` and records its one SENT audit event (:meth:`mark_sent`);
transmissions after that are audited as RESENT.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from hub import ids
from hub.audit import AuditTrail, Event
from hub.clock import Clock, utcnow
from hub.codes import FINISHED_STATES, OutboxState
from hub.db.engine import Database
from hub.db.models import OutboxMessage
from hub.outbox.retry import RetryPolicy

_log = logging.getLogger("ccpor.gateway")

#: The account name on the audit events of the process that drains the outbox.
SENDER_ACCOUNT = "ccpor-gateway"


def owner_id() -> str:
    """This process's name on the leases it takes."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Claim:
    """A message a sender holds the lease of, with what its audit event names."""

    id: int
    mcn: str
    mke: str
    attempts: int
    state: str
    sender_ori: str = ""
    target: str = ""
    #: This claim's lease token: every update after the claim is guarded by it, so a sender whose
    #: lease lapsed (and was taken over) can no longer change the row.
    lease: str = ""
    #: Whether the hub had already recorded a send of the message when this claim was made: a
    #: transmission after that is a resend.
    sent: bool = False
    #: Whose message it is (``outbox.kind``): a claim is made, and audited, for one kind.
    kind: str = field(default="", kw_only=True)
    #: The request that queued it (hub.logs), named on the gateway's log lines about it.
    request_id: str = field(default="", kw_only=True)


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed message's transmission: ``taken`` by the destination, or not --
    then ``why``, and whether trying again can help (``transient``: a transport failure)."""

    claim: Claim
    taken: bool = False
    why: str = ""
    transient: bool = False
    #: Never handed to the destination (the batch's time ran out first, or the destination was still
    #: busy with an earlier call): back in the queue, its attempt not counted.
    untried: bool = False


class OutboxManager:
    """The SQL of one kind's outbox (``kind``; its audit events in ``category``), for a sender named ``owner``."""

    def __init__(
        self,
        db: Database,
        audit: AuditTrail,
        policy: RetryPolicy,
        *,
        kind: str,
        category: str,
        destination: str = "the destination",
        batch: int = 100,
        lease_seconds: int = 60,
        owner: str | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        answered_by_receipt: bool = False,
    ) -> None:
        self.db = db
        #: The destination's receipt is its answer (a court's ISB receipt): a message it took is
        #: ACCEPTED at once, not SENT to wait for an answer to come later.
        self.answered_by_receipt = answered_by_receipt
        self.audit = audit
        self.policy = policy
        self.kind = kind
        self.category = category
        self.destination = destination
        self.batch = batch
        self.lease = lease_seconds
        self.owner = owner or owner_id()
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - backoff jitter, not secrets

    # ---------------------------------------------------------------------------------- claiming

    def claim(self) -> list[Claim]:
        """Lease up to ``batch`` due messages (one more attempt each) in one short transaction."""
        now = self.clock()
        m, earlier = OutboxMessage, aliased(OutboxMessage)
        waiting_behind = exists().where(
            earlier.kind == m.kind,
            earlier.order_id == m.order_id,
            earlier.order_seq < m.order_seq,
            earlier.state.not_in(FINISHED_STATES),
        )
        query = (
            select(m.id, m.mcn, m.mke, m.attempts, m.state, m.sender_ori, m.order_id, m.sent_at, m.request_id)
            .where(
                m.kind == self.kind,
                m.state.in_((OutboxState.QUEUED.value, OutboxState.SENT.value)),
                m.next_attempt_at <= now,
                or_(m.lease_expires_at.is_(None), m.lease_expires_at < now),
                ~waiting_behind,
            )
            .order_by(m.next_attempt_at, m.id)
            .limit(self.batch)
            .with_for_update(skip_locked=True, of=m)
        )
        lease = f"{self.owner}#{uuid.uuid4().hex[:8]}"
        with self.db.unit_of_work() as s:
            rows = [
                Claim(r.id, r.mcn, r.mke, r.attempts + 1, r.state, r.sender_ori,
                      ids.public(ids.ORDER, r.order_id) if r.order_id else r.mcn, lease, r.sent_at is not None,
                      kind=self.kind, request_id=r.request_id or "")
                for r in s.execute(query)
            ]  # fmt: skip
            if rows:
                s.execute(
                    update(m)
                    .where(m.id.in_([r.id for r in rows]))
                    .values(
                        lease_owner=lease,
                        lease_expires_at=now + timedelta(seconds=self.lease),
                        attempts=m.attempts + 1,
                        updated_at=now,
                    )
                )
        return rows

    def overdue(self, claim: Claim) -> str | None:
        """Why a claimed message must not be sent again (its destination never answered it, however
        often it went), or None."""
        if claim.state == OutboxState.SENT.value and self.policy.exhausted(claim.attempts - 1):
            return f"{self.destination} did not answer {claim.attempts - 1} transmissions"
        return None

    # --------------------------------------------------------------------------------- recording

    def record(self, outcomes: Iterable[Outcome]) -> None:
        """A batch's outcomes in one transaction, with their audit events."""
        now = self.clock()
        taken: list[Claim] = []
        events: list[Event] = []
        with self.db.unit_of_work() as s:
            for o in outcomes:
                if o.taken:
                    taken.append(o.claim)
                elif o.untried:
                    self._put_back(s, o.claim, o.why, now)
                elif o.transient:
                    self._retry_or_die(s, o.claim, o.why, now, events)
                else:
                    self._die(s, o.claim, o.why, now, events)
            if taken:
                self._record_taken(s, taken, now, events)
            self.audit.record_all(s.connection(), events)

    def _record_taken(self, s: Session, taken: list[Claim], now: datetime, events: list[Event]) -> None:
        """The transmissions the destination gave a receipt for: SENT, awaiting the answer, and audited.

        Every transmission the destination took is audited, also when its row was no longer ours to
        update: the first the hub learns of is the message's one SENT (:meth:`mark_sent`), any later
        one RESENT. One case adds no event: the answer was recorded during this claim (no claim came
        after it) and the hub knew of no send before it -- settling the answer recorded the SENT, and
        this transmission is the one it stands for.
        """
        m = OutboxMessage
        settled: dict[str, object] = {
            "state": OutboxState.SENT.value,
            "next_attempt_at": now + self.policy.answer_timeout,
        }
        if self.answered_by_receipt:
            settled = {"state": OutboxState.ACCEPTED.value, "answered_at": now, "next_attempt_at": now}
        ours = set(
            s.scalars(
                update(m)
                .where(*self._mine(*taken))  # one claim per batch: one lease token
                .values(**settled, lease_owner=None, lease_expires_at=None, last_error=None, updated_at=now)
                .returning(m.id)
            )
        )
        first = self.mark_sent(s, [(c, now, _attempt(c)) for c in taken if not c.sent], now, events)
        # Neither known sent at the claim nor ours any more, and a send recorded meanwhile: the answer
        # came during this claim, or the lease lapsed and a later claim (one more attempt) sent it.
        gone = [c.id for c in taken if not (c.sent or c.id in first or c.id in ours)]
        attempts = {i: n for i, n in s.execute(select(m.id, m.attempts).where(m.id.in_(gone)))} if gone else {}
        for c in taken:
            answered_during_this_claim = c.id in attempts and attempts[c.id] == c.attempts
            if c.id not in first and not answered_during_this_claim:
                events.append(self.event(c, f"RESENT (attempt {c.attempts})", now))
            if self.answered_by_receipt and c.id in ours:
                events.append(self.event(c, "ACCEPTED", now, detail=f"MCN {c.mcn}: {self.destination}'s receipt"))

    def mark_sent(
        self, s: Session, sends: list[tuple[Claim, datetime, str]], now: datetime, events: list[Event]
    ) -> set[int]:
        """The one place a message becomes known as sent: of ``sends`` (message, when, the audit
        detail), those the hub has no record of sending yet get their ``sent_at`` and the message's
        one SENT audit event, in the caller's transaction; their ids.

        ``sent_at IS NULL`` guards the UPDATE itself: a sender recording its receipt and a receiver
        recording the answer at the same moment mark a message once (on PostgreSQL the second waits
        for the first's row lock, then finds the time set). A resend never moves the time:
        ``sent_at`` is when the hub first knew the destination had the message.
        """
        by_time: dict[datetime, list[int]] = {}
        for c, at, _ in sends:
            by_time.setdefault(at, []).append(c.id)
        marked: set[int] = set()
        m = OutboxMessage
        for at, message_ids in by_time.items():  # one statement per distinct time: few per batch or page
            marked.update(
                s.scalars(
                    update(m).where(m.id.in_(message_ids), m.sent_at.is_(None)).values(sent_at=at).returning(m.id)
                )
            )
        events.extend(self.event(c, "SENT", now, detail=detail) for c, _, detail in sends if c.id in marked)
        for c, _, _ in sends:
            if c.id in marked:
                _log.info(
                    "%s %s %s sent to %s",
                    c.kind,
                    c.mke,
                    c.mcn,
                    self.destination,
                    extra={"kind": c.kind, "mke": c.mke, "mcn": c.mcn, "state": "SENT", "request_id": c.request_id},
                )
        return marked

    def _mine(self, *claims: Claim) -> list[object]:
        """The rows of ``claims`` (all of one claim's batch) while that claim still holds them."""
        return [
            OutboxMessage.id.in_([c.id for c in claims]),
            OutboxMessage.lease_owner == claims[0].lease,
            OutboxMessage.state.in_((OutboxState.QUEUED.value, OutboxState.SENT.value)),
        ]

    def _retry_or_die(self, s: Session, c: Claim, why: str, now: datetime, events: list[Event]) -> None:
        if self.policy.exhausted(c.attempts):
            self._die(s, c, f"gave up after {c.attempts} attempts: {why}", now, events)
            return
        _log.warning("%s %s %s: attempt %d failed (%s); trying again later", c.kind, c.mke, c.mcn, c.attempts, why)
        # Each failed attempt is audited with its reason: a message's history of attempts (the console's
        # message page) is its audit events.
        events.append(self.event(c, f"FAILED (attempt {c.attempts})", now, detail=f"MCN {c.mcn}: {why}"[:200]))
        s.execute(
            update(OutboxMessage)
            .where(*self._mine(c))
            .values(
                next_attempt_at=now + self.policy.delay(c.attempts, self.rng),
                lease_owner=None,
                lease_expires_at=None,
                last_error=why[:200],
                updated_at=now,
            )
        )

    def _put_back(self, s: Session, c: Claim, why: str, now: datetime) -> None:
        """A claimed message that was never sent: due again shortly, the claim's attempt given back."""
        s.execute(
            update(OutboxMessage)
            .where(*self._mine(c))
            .values(
                attempts=OutboxMessage.attempts - 1,
                next_attempt_at=now + self.policy.base_delay,
                lease_owner=None,
                lease_expires_at=None,
                last_error=why[:200],
                updated_at=now,
            )
        )

    def _die(self, s: Session, c: Claim, why: str, now: datetime, events: list[Event]) -> None:
        _log.error("%s %s %s is DEAD: %s (an administrator can requeue it)", c.kind, c.mke, c.mcn, why)
        result = s.execute(
            update(OutboxMessage)
            .where(*self._mine(c))
            .values(
                state=OutboxState.DEAD.value,
                lease_owner=None,
                lease_expires_at=None,
                last_error=why[:200],
                updated_at=now,
            )
        )
        if result.rowcount:  # type: ignore[attr-defined]
            events.append(self.event(c, "DEAD", now, detail=f"MCN {c.mcn}: {why}"[:200]))

    # ---------------------------------------------------------------------------------- settling

    def settle(self, s: Session, answered: list[tuple[Any, bool]], now: datetime) -> None:
        """Answered messages (rows with an ``id``; accepted or not) ACCEPTED or REJECTED, in id order
        (as every claim takes row locks), unless already finished."""
        if not answered:
            return
        table = OutboxMessage.__table__
        s.execute(
            update(table)
            # (not_in would expand into a list, which executemany cannot take)
            .where(table.c.id == bindparam("b_id"), *(table.c.state != state for state in FINISHED_STATES))
            .values(
                state=bindparam("b_state"),
                answered_at=now,
                lease_owner=None,
                lease_expires_at=None,
                last_error=None,
                updated_at=now,
            ),  # fmt: skip
            [
                {"b_id": m.id, "b_state": (OutboxState.ACCEPTED if accepted else OutboxState.REJECTED).value}
                for m, accepted in sorted(answered, key=lambda pair: pair[0].id)
            ],
        )

    def supersede_behind(self, s: Session, order_id: int, order_seq: int, now: datetime) -> None:
        """What waits behind a message of the same key (order) that will never go: SUPERSEDED."""
        m = OutboxMessage
        s.execute(
            update(m)
            .where(
                m.kind == self.kind,
                m.order_id == order_id,
                m.order_seq > order_seq,
                m.state == OutboxState.QUEUED.value,
            )
            .values(state=OutboxState.SUPERSEDED.value, updated_at=now)
        )

    def event(
        self, c: Claim, outcome: str, now: datetime, operation: str | None = None, detail: str | None = None
    ) -> Event:
        """The audit event of something that happened to a message (the sender as the actor)."""
        return Event(
            at=now,
            username=SENDER_ACCOUNT,
            org_ori=c.sender_ori,
            operation=operation or f"{c.kind} {c.mke}",
            outcome=outcome[:40],
            target=c.target or c.mcn,
            client_address=self.owner[:64],
            detail=detail or f"MCN {c.mcn}",
            category=self.category,
        )


def _attempt(c: Claim) -> str:
    return f"MCN {c.mcn}" + (f", attempt {c.attempts}" if c.attempts > 1 else "")
