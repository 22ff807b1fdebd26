"""``ccpor-hub audit verify | audit purge``: the hash-chained audit trail."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from hub.cli.common import Exit, database, in_transaction, master_key, settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

BROKEN = 3  # the exit status of a broken chain


def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    verify_cmd = audit.add_parser("verify", help="check the hash chain; exit 3 if it is broken")
    verify_cmd.add_argument(
        "--anchor", help="SEQ:MAC, a head printed by an earlier verify and kept outside the database"
    )
    verify_cmd.set_defaults(func=verify)
    purge_cmd = audit.add_parser("purge", help="delete events older than the retention period (a chain prefix)")
    purge_cmd.add_argument("--older-than-days", type=int, help="default: CCPOR_AUDIT_RETENTION_DAYS (365)")
    purge_cmd.set_defaults(func=purge)


def verify(args: argparse.Namespace) -> int:
    from hub.audit import AuditTrail

    anchor = None
    if args.anchor:
        seq, _, mac = args.anchor.partition(":")
        if not seq.isdigit() or len(mac) != 64:
            raise Exit("--anchor takes SEQ:MAC as printed by an earlier 'audit verify'", status=2)
        anchor = (int(seq), mac)
    trail = AuditTrail(master_key())
    db = database()
    try:
        with db.read() as session:
            result = trail.verify(session.connection(), anchor=anchor)
    finally:
        db.dispose()
    span = f"events {result.base_seq + 1}..{result.head_seq}"
    if result.ok:
        print(f"audit chain intact: {result.checked} events checked ({span})")
        if result.legacy:
            print(f"note: events 1..{result.base_seq} predate the chain (migration 0005); the next event seals the row")
        if result.anchor_purged:
            print(f"note: the anchored event is older than the chain's base ({result.base_seq}, purged by retention)")
        # Keep this line outside the database (SIEM, ticket, WORM storage): '--anchor' checks it later.
        print(f"head: {result.head_seq}:{result.head_mac}")
        return 0
    print(f"audit chain BROKEN ({span}, {result.checked} events read):", file=sys.stderr)
    for seq, what in result.problems:
        print(f"  event {seq}: {what}", file=sys.stderr)
    if result.more:
        print(f"  ... and {result.more} more", file=sys.stderr)
    return BROKEN


def purge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from hub.audit import MIN_AUDIT_RETENTION_DAYS, AuditTrail
    from hub.clock import utcnow

    days = settings().audit_retention_days if args.older_than_days is None else args.older_than_days
    if days < MIN_AUDIT_RETENTION_DAYS:
        raise Exit(f"audit events are kept at least {MIN_AUDIT_RETENTION_DAYS} days (CJIS AU-11)", status=2)
    before = utcnow() - timedelta(days=days)
    trail = AuditTrail(master_key())

    def work(session: Session) -> str:
        count, base = trail.purge(session.connection(), before)
        return f"purged {count} audit event(s) older than {days} days; the chain now starts after event {base}"

    return in_transaction("audit purge", "", work)
