"""``ccpor-hub queue ls | show | requeue | purge-dead``: the outbox, every kind of message the hub
sends (CARPOS today; the same list and requeue are on ``/ws/admin``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from hub.cli.common import Exit, database, in_transaction

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def register(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser("queue", help="the outbox: every kind of message the hub sends (CARPOS)")
    q = q.add_subparsers(dest="queue_command", required=True)
    ls = q.add_parser("ls", help="list messages, newest first (50 a page)")
    ls.add_argument("--state", help="QUEUED, SENT, ACCEPTED, REJECTED, DEAD or SUPERSEDED")
    ls.add_argument("--kind", help="only this kind of message (CARPOS)")
    ls.add_argument("--page", type=int, default=1)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_messages)
    show_cmd = q.add_parser("show", help="one message, by its number or MCN (JSON)")
    show_cmd.add_argument("id")
    show_cmd.set_defaults(func=show)
    requeue_cmd = q.add_parser("requeue", help="send a DEAD message again (or a waiting one now); audited")
    requeue_cmd.add_argument("id")
    requeue_cmd.set_defaults(func=requeue)
    purge_dead_cmd = q.add_parser("purge-dead", help="delete dead messages older than N days; audited")
    purge_dead_cmd.add_argument("--older-than", type=int, required=True, metavar="DAYS")
    purge_dead_cmd.set_defaults(func=purge_dead)


def list_messages(args: argparse.Namespace) -> int:
    import json

    from hub.api.app import OUTBOX_KINDS
    from hub.db.models import OutboxMessage
    from hub.errors import HubError
    from hub.orders.search import paginate
    from hub.outbox import queue

    db = database()
    try:
        with db.read() as session:
            state = queue.state_of(args.state, "--state")
            kind = queue.kind_of(args.kind, OUTBOX_KINDS, "--kind")
            query = queue.list_query(state, kind)
            page = paginate(session, query, args.page, 50, OutboxMessage.id.desc())
            found = [queue.entry(m) for m in page.items]
            summary = queue.counts(session, kind)
    except HubError as err:
        raise Exit(err.message) from err
    finally:
        db.dispose()
    if args.json:
        print(json.dumps({"total": page.total, "page": page.number, "last_page": page.last,
                          "counts": summary, "messages": [e.as_dict() for e in found]}, indent=1))  # fmt: skip
        return 0
    print("  ".join(f"{k} {v}" for k, v in sorted(summary.items())) or "the queue is empty")
    for e in found:
        due = f"next {e.next_attempt_at:%H:%M:%S}" if e.state in ("QUEUED", "SENT") else ""
        print(f"{e.id:>7} {e.kind:8} {e.mcn:20} {e.mke} {e.state:10} x{e.attempts:<3} {e.order_id or '-':14} {due}"
              f" {e.last_error or ''}".rstrip())  # fmt: skip
    print(f"page {page.number} of {page.last} ({page.total} message(s))")
    return 0


def show(args: argparse.Namespace) -> int:
    import json

    from hub.errors import HubError
    from hub.outbox import queue

    db = database()
    try:
        with db.read() as session:
            print(json.dumps(queue.entry(queue.find(session, args.id)).as_dict(), indent=1))
    except HubError as err:
        raise Exit(err.message) from err
    finally:
        db.dispose()
    return 0


def requeue(args: argparse.Namespace) -> int:
    from hub.api.app import OUTBOX_KINDS
    from hub.clock import utcnow
    from hub.outbox import queue

    now = utcnow()
    return in_transaction("queue requeue", args.id, lambda s: queue.requeue(s, args.id, now, OUTBOX_KINDS)[1])


def purge_dead(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from hub.api.app import OUTBOX_KINDS
    from hub.clock import utcnow
    from hub.outbox import queue

    now = utcnow()
    days = args.older_than

    def purge(session: Session) -> str:
        count, kept = queue.purge_dead(session, timedelta(days=days), now, OUTBOX_KINDS)
        note = f"; kept {', '.join(kept)}: their orders need them (requeue them)" if kept else ""
        return f"purged {count} dead message(s) older than {days} days{note}"

    return in_transaction("queue purge-dead", "", purge)
