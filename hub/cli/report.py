"""``ccpor-hub report monthly --month YYYY-MM [--court ORI] --out DIR``: the five monthly reports
(hub.reports) as CSV files and one HTML page with charts; audited."""

from __future__ import annotations

import argparse

from hub.cli.common import Exit, database, in_transaction, master_key, settings


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("report", help="the monthly reports (CSV and an HTML page with charts)")
    r = r.add_subparsers(dest="report_command", required=True)
    m = r.add_parser("monthly", help="the five monthly reports of a California calendar month; audited")
    m.add_argument("--month", help="YYYY-MM (default: last month, by the courts' calendar)")
    m.add_argument("--court", help="one court's ORI (default: statewide, every court and the total)")
    m.add_argument("--out", required=True, help="the directory to write them into (created if need be)")
    m.set_defaults(func=monthly)


def monthly(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hub.clock import utcnow
    from hub.reports import render
    from hub.reports.monthly import Month, monthly

    master_key()  # the run is audited: without the key, refuse before anything is read or written
    calendar = settings().calendar
    now = utcnow()
    try:
        month = Month.parse(args.month) if args.month else Month.before(calendar.date_of(now))
    except ValueError as err:
        raise Exit(f"--month: {err}", status=2) from err
    court = args.court.strip().upper() if args.court else None
    db = database()
    try:
        with db.read() as session:  # a read: the reports never hold SQLite's write lock
            reports = monthly(session, month, now, court=court, calendar=calendar)
    finally:
        db.dispose()
    paths = render.write(reports, Path(args.out))
    listing = "\n".join(str(p) for p in paths)
    return in_transaction("report monthly", f"{month} {court or 'statewide'}", lambda _s: f"wrote\n{listing}")
