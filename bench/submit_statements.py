"""Every SQL statement (and, on PostgreSQL, every client-server round trip) of one SubmitOrder.

    .venv/bin/python bench/submit_statements.py [--database-url URL] [--calls N] [--keyed] [--carpos]
                                                [--timing M]

Runs the hub's whole WSGI application in-process (as tests/property does) on a fresh database:
one warm-up call (the password check and the prepared statements are per process), then ``N``
SubmitOrder calls, each a different order, and lists the statements of the last one with the hub
function that issued each. ``--keyed`` gives the orders a SourceSystemName/SourceMessageID (the
idempotency path), ``--carpos`` sets SubmitToCarposIndicator. On PostgreSQL the driver's wire
protocol is traced too (libpq's trace of every message the client sends), so round trips that
never reach SQLAlchemy's events -- BEGIN, COMMIT, the pool's liveness ping -- are counted as well:
one round trip is one Sync (extended protocol) or one simple Query the client sends.

``--timing M`` then times M more calls one after another: the CPU this process spent per call (on
SQLite the database's work included; not on PostgreSQL) and the wall time. CPU time is the
steadier figure on a machine others share.

``--callgrind`` (with ``--timing M``, under valgrind) counts the instructions of those M calls
alone, the one figure that does not move with the machine's load (docs/PERFORMANCE.md)::

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/submit.cg \
        .venv/bin/python bench/submit_statements.py --calls 100 --timing 100 --callgrind

valgrind's "Collected" line is then the instructions of the M calls; the script prints the
count per call. Instrumentation is switched on and off around them with ``callgrind_control``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.loadgen import fresh_database  # noqa: E402
from hub import masterkey  # noqa: E402
from hub.accounts.service import add_user  # noqa: E402
from hub.api.app import Services, create_app  # noqa: E402
from hub.codes import Role  # noqa: E402
from hub.db import migrate  # noqa: E402
from hub.settings import Settings  # noqa: E402
from tests.support.orders import envelope, order  # noqa: E402
from tests.support.statements import RoundTrips, recorded  # noqa: E402
from tests.support.wsgi import post  # noqa: E402

PASSWORD = "benchmark passphrase 1"  # noqa: S105 - throwaway benchmark account


def submit(app: Any, body: bytes) -> None:
    status, content = post(app, body)
    if not status.startswith("200") or b"SubmitOrderResponse" not in content:
        raise RuntimeError(f"{status}: {content[:600]!r}")


def submit_body(i: int, tag: str, *, keyed: bool, carpos: bool) -> bytes:
    extra: dict[str, Any] = {"CaseDocketID": f"{tag}{i:08d}"}
    if keyed:
        extra |= {"SourceSystemName": "BENCH-DMS", "SourceMessageID": f"{tag}-{i}"}
    params: list[tuple[Any, ...]] = [("Order", order(**extra))]
    if carpos:
        params.append(("SubmitToCarposIndicator", "true"))
    return envelope("SubmitOrder", params, username="bench", password=PASSWORD)


def callgrind(switch: str) -> int:
    """Switch callgrind's instrumentation of this process on or off; off returns the instructions
    counted while it was on (read just before, as callgrind reports nothing once it is off)."""
    pid = str(os.getpid())
    counted = 0
    if switch == "off":
        totals = subprocess.run(["callgrind_control", "-e", pid], check=True, capture_output=True, text=True)  # noqa: S603, S607
        # "Totals: Ir" then one "Th N <count>" line per thread
        counted = sum(
            int(line.split()[2].replace(",", ""))
            for line in totals.stdout.splitlines()
            if line.strip().startswith("Th ")
        )
    subprocess.run(["callgrind_control", "--instr", switch, pid], check=True, capture_output=True)  # noqa: S603, S607
    return counted


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database-url", default="", help="a PostgreSQL server: a fresh database is made there")
    p.add_argument("--calls", type=int, default=3)
    p.add_argument("--keyed", action="store_true")
    p.add_argument("--carpos", action="store_true")
    p.add_argument("--sql", action="store_true", help="print each statement's text too")
    p.add_argument("--timing", type=int, default=0, help="then time this many more calls (CPU and wall per call)")
    p.add_argument("--callgrind", action="store_true", help="count the timed calls' instructions (under valgrind)")
    args = p.parse_args()

    data = Path(tempfile.mkdtemp(prefix="ccpor-stmts-"))
    url, drop = fresh_database(data, args.database_url)
    try:
        migrate.upgrade(url)
        masterkey.create(data / "master.key")
        services = Services.build(Settings(data_dir=data, database_url=url, dev_password_text_over_http=True))
        with services.db.unit_of_work() as s:
            add_user(s, "bench", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
        app = create_app(services)
        tag = f"S{os.getpid()}"
        submit(app, submit_body(0, tag, keyed=args.keyed, carpos=args.carpos))  # warm-up: scrypt, caches

        engines = (services.db.engine, services.db.read_engine)
        wire = RoundTrips(services.db.engine, data) if url.startswith("postgresql") else None
        with recorded(*engines) as statements:
            for i in range(1, args.calls + 1):
                statements.clear()
                mark = wire.mark() if wire else 0
                submit(app, submit_body(i, tag, keyed=args.keyed, carpos=args.carpos))
        print(f"{url.split(':')[0]}: {len(statements)} statements through SQLAlchemy in the last SubmitOrder")
        for n, st in enumerate(statements, 1):
            kind = "executemany" if st.many else "execute"
            print(f"{n:3d}. {st.caller:52s} {kind:11s} {st.sql if args.sql else st.sql[:70]}")
        if wire is not None:
            trips = wire.since(mark)
            print(f"wire: {len(trips)} round trips (client Sync or Query messages)")
            for trip in trips:
                print("   ", trip[:100])
            wire.close()
        if args.timing:
            timed = [submit_body(i, f"{tag}T", keyed=args.keyed, carpos=args.carpos) for i in range(args.timing)]
            if args.callgrind:
                callgrind("on")
            cpu, wall = time.process_time(), time.perf_counter()
            for body in timed:
                submit(app, body)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if args.callgrind:
                print(f"callgrind: {callgrind('off') / args.timing / 1e6:.3f} M instructions per call")
            per_call = f"{cpu / args.timing * 1000:.2f} ms CPU and {wall / args.timing * 1000:.2f} ms wall per call"
            print(f"timing: {args.timing} calls, {per_call}")
        services.db.dispose()
    finally:
        if drop is not None:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
