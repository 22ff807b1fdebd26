"""The monthly reports over 1,000,000 orders: the time of each report, statewide, SQLite and PostgreSQL.

    make bench-report     (or: .venv/bin/python bench/report_bench.py [--orders N] [--database-url URL] [--fresh])

Generates N orders (default 1,000,000) in 58 courts, entered over the 24 months before the report's
month with bulk INSERTs: each with its SUBMIT history row (its document, as the hub keeps it), a
fifth with a later MODIFY, SERVE or CANCEL row, a third sent to CARPOS (an outbox row, most
accepted after minutes to days, some rejected, dead or still waiting), a tenth with an image row.
Then times ``hub.reports.monthly.monthly`` for the last generated month, statewide (every court's
rows and the total) and for one court, in process on the reader connection, as the worker's job and
``ccpor-hub report monthly`` run it, and the HTML and CSV files' rendering. The database is kept
between runs of the same size (bench/results/report-*.db, or the given PostgreSQL database) unless
--fresh. Writes bench/results/report-<db>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.search_bench import GIVEN, document  # noqa: E402
from hub.accounts.service import add_user  # noqa: E402
from hub.clock import COURTS  # noqa: E402
from hub.codes import Role  # noqa: E402
from hub.db import migrate  # noqa: E402
from hub.db.engine import Database  # noqa: E402
from hub.db.models import Image, Order, OrderVersion, OutboxMessage  # noqa: E402
from hub.reports import render  # noqa: E402
from hub.reports.monthly import Month, monthly  # noqa: E402

PASSWORD = "benchmark passphrase 1"  # noqa: S105 - throwaway benchmark account
MONTH = Month(2026, 11)
FORMS = [("DV-130", "OAH"), ("DV-110", "TRO"), ("CH-130", "CHO"), ("CR-160", "CPO"), ("EA-130", "EAR")]


def generate(url: str, n: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    migrate.upgrade(url)
    db = Database(url)
    with db.unit_of_work() as s:
        account = add_user(s, "bench", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
        org_id, account_id = account.organization_id, account.id
    end = COURTS.start_of(MONTH.next_first)
    span = (end - COURTS.start_of(date(2024, 12, 1))).total_seconds()
    batch, start, vid, mid = 20000, time.perf_counter(), 0, 0
    for first in range(0, n, batch):
        with db.engine.begin() as conn:
            orders, versions, outbox, images = [], [], [], []
            for oid in range(first + 1, first + min(batch, n - first) + 1):
                created = end - timedelta(seconds=rng.random() * span)
                county = rng.randint(1, 58)
                court = f"CA0{county:02d}015J"
                form, otc = rng.choice(FORMS)
                issued = COURTS.date_of(created) - timedelta(days=rng.randint(0, 3))
                expires = issued + timedelta(days=rng.randint(20, 1800))
                case = f"{issued.year % 100:02d}FL{oid:07d}"
                name = (rng.choice(GIVEN), rng.choice(GIVEN))
                doc = document(form, otc, court, case, issued, expires, name, date(1980, 1, 1), name)
                later = rng.random()
                action = "MODIFY" if later < 0.1 else "SERVE" if later < 0.15 else "CANCEL" if later < 0.2 else None
                status = "CANCELLED" if action == "CANCEL" else "ACTIVE" if expires >= end.date() else "EXPIRED"
                version = 2 if action else 1
                orders.append(dict(
                    id=oid, status=status, version=version, sealed=False, served=action == "SERVE",
                    owner_org_id=org_id, court_ori=court, county_code=f"{county:02d}", case_number=case,
                    case_number_key=case, form_code=form, order_type_code=otc, issue_date=issued,
                    expiration_date=expires, non_expiring=False, carpos_requested=later > 0.66, document=doc,
                    created_by_id=account_id, created_at=created, updated_at=created,
                ))  # fmt: skip
                actor = dict(
                    actor_id=account_id, actor_name=f"clerk-{county:02d}-{rng.randint(1, 12)}", actor_ori=court
                )
                vid += 1
                versions.append(dict(id=vid, order_id=oid, version=1, action="SUBMIT", status="ACTIVE",
                                     document=doc, changed="", at=created, **actor))  # fmt: skip
                if action:
                    vid += 1
                    at = min(created + timedelta(days=rng.randint(1, 60)), end + timedelta(days=20))
                    versions.append(dict(id=vid, order_id=oid, version=2, action=action,
                                         status="CANCELLED" if action == "CANCEL" else "ACTIVE",
                                         document=doc, changed="", at=at, **actor))  # fmt: skip
                if later > 0.66:
                    mid += 1
                    fate = rng.random()
                    state = (
                        "ACCEPTED" if fate < 0.9 else "REJECTED" if fate < 0.95 else "DEAD" if fate < 0.97 else "SENT"
                    )
                    answered = (
                        created + timedelta(minutes=rng.expovariate(1 / 90))
                        if state in ("ACCEPTED", "REJECTED")
                        else None
                    )
                    outbox.append(dict(
                        id=mid, kind="CARPOS", order_id=oid, order_seq=1, order_version=1, mke="EPO",
                        mcn=f"CCP{oid:010d}-001", sender_ori=court, requested_by_id=account_id, state=state,
                        attempts=1, next_attempt_at=created, sent_at=created if state != "DEAD" else None,
                        answered_at=answered, created_at=created, updated_at=answered or created,
                    ))  # fmt: skip
                if rng.random() < 0.1:
                    images.append(dict(sha256=f"{oid:064x}", media_type="application/pdf", size_bytes=250_000,
                                       order_id=oid, owner_org_id=org_id, uploaded_by_id=account_id,
                                       created_at=created))  # fmt: skip
            conn.execute(sa.insert(Order.__table__), orders)
            conn.execute(sa.insert(OrderVersion.__table__), versions)
            if outbox:
                conn.execute(sa.insert(OutboxMessage.__table__), outbox)
            if images:
                conn.execute(sa.insert(Image.__table__), images)
        done = first + len(orders)
        if done % 200000 == 0 or done == n:
            print(f"  {done:,} orders ({time.perf_counter() - start:.0f} s)", flush=True)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "postgresql":
            for table, count in (("orders", n), ("order_versions", vid), ("outbox", mid)):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"), {"n": count})
            conn.execute(sa.text("VACUUM ANALYZE"))
        else:
            conn.execute(sa.text("ANALYZE"))
    db.dispose()


def _orders_in(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("orders"):
                return 0
            return int(conn.execute(sa.text("SELECT count(*) FROM orders")).scalar() or 0)
    finally:
        engine.dispose()


def timed(db: Database, court: str | None) -> tuple[float, object]:
    t0 = time.perf_counter()
    with db.read() as s:
        reports = monthly(s, MONTH, datetime.now(UTC), court=court)
    return time.perf_counter() - t0, reports


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--orders", type=int, default=1_000_000)
    p.add_argument("--database-url", default="")
    p.add_argument("--fresh", action="store_true")
    args = p.parse_args()
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    if args.database_url:
        url, kind = args.database_url, "postgresql"
        count = _orders_in(url)
        if count not in (0, args.orders):
            raise SystemExit(f"{url} holds {count:,} orders, not {args.orders:,}: give an empty database (it is kept)")
    else:
        path = results / f"report-{args.orders}.db"
        if args.fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        url, kind = f"sqlite:///{path}", "sqlite"
        count = _orders_in(url) if path.exists() else 0
    if count != args.orders:
        print(f"generating {args.orders:,} orders in {url.split('@')[-1]}")
        generate(url, args.orders)
    db = Database(url)
    try:
        timed(db, "CA019015J")  # warm: the statement caches, the first pages
        figures: dict[str, object] = {
            "database": kind,
            "orders": args.orders,
            "month": str(MONTH),
            "cpus": os.cpu_count(),
        }
        statewide_s, reports = timed(db, None)
        court_s, _ = timed(db, "CA019015J")
        t0 = time.perf_counter()
        written = render.write(reports, Path(tempfile.mkdtemp(prefix="ccpor-report-")))  # type: ignore[arg-type]
        figures |= {
            "statewide_seconds": round(statewide_s, 2),
            "one_court_seconds": round(court_s, 2),
            "render_seconds": round(time.perf_counter() - t0, 2),
            "files": len(written),
            "rows": {t.name: len(t.rows) for t in reports.tables},  # type: ignore[attr-defined]
        }
    finally:
        db.dispose()
    print(json.dumps(figures, indent=2))
    (results / f"report-{kind}.json").write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
