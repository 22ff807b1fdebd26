"""DSP917: a court's notifications through /ws/dsp917, and their business responses to the court.

    make bench-dsp917          (or: .venv/bin/python bench/dsp917_bench.py [--notifications N] [--clients C])

Starts the hub (`ccpor-hub serve`, gunicorn, 2 workers) on a fresh SQLite database (or, with
--database-url postgresql+psycopg://..., a fresh database on that server, dropped after), and the
mock court (`ccpor-hub mock-court serve`). Imperial's FACCTS account posts N prepared notifications
-- the official sample made current, each its own case and ISB ids, with its inline PDF -- from C
concurrent clients (PasswordText on loopback, as bench-submit), every one entered ACTIVE with its
image and a business response queued in the same transaction. Then the gateway (`ccpor-hub
gateway`) is started and the time until the mock court has received all N responses is taken.
Prints notifications/s, p50/p95/p99, server CPU per notification, peak server memory, the
responses' delivery rate, and the same hub's SubmitOrder rate on the same run for comparison;
writes bench/results/dsp917-<database>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import LOOPBACK, in_fresh_database  # noqa: E402
from bench.submit_bench import bodies as submit_bodies  # noqa: E402
from bench.submit_bench import measure  # noqa: E402
from hub import masterkey  # noqa: E402
from hub.accounts.service import add_user  # noqa: E402
from hub.codes import Role  # noqa: E402
from hub.db.engine import Database  # noqa: E402
from hub.dsp917 import courts  # noqa: E402
from hub.runner import CourtServer, GatewayProcess, HubServer, SwitchServer, carpos_environment  # noqa: E402
from mocks.court.store import CourtStore  # noqa: E402
from tests.support.dsp917 import current, envelope_text  # noqa: E402

PASSWORD = "benchmark passphrase 1"  # noqa: S105 - throwaway benchmark accounts
COURT_PASSWORD = "benchmark court passphrase"  # noqa: S105 - the mock court's
IMPERIAL = "CA013013J"


def notifications(n: int, tag: str) -> list[bytes]:
    return [
        envelope_text(current(f"{tag}-{i}", f"{i:012d}", f"{tag}{i:08d}"), username="bench-faccts", password=PASSWORD)
        for i in range(n)
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--notifications", type=int, default=600)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--database-url", default="")
    args = p.parse_args()
    return in_fresh_database("ccpor-bench-dsp917-", args.database_url, lambda data, url: _bench(args, data, url))


def _bench(args: argparse.Namespace, data: Path, url: str) -> int:
    env = {**carpos_environment(data), "CCPOR_DATABASE_URL": url, "CCPOR_GATEWAY_POLL_SECONDS": "0.5"}
    court = CourtServer(data / "court", COURT_PASSWORD).start()
    db = Database(url)
    with db.unit_of_work() as s:
        add_user(s, "bench-faccts", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED, clets=False, password=PASSWORD)
        add_user(s, "bench", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
        courts.configure(
            s,
            masterkey.load(data / "master.key"),
            IMPERIAL,
            datetime.now(UTC),
            carpos=False,  # the business responses alone: bench-carpos measures the way to DOJ
            response_url=court.url,
            username="ccpor-hub",
            password=COURT_PASSWORD,
        )
    db.dispose()
    tag = f"D{os.getpid()}"
    warm, load = notifications(100, f"W{tag}"), notifications(args.notifications, f"L{tag}")
    print(f"prepared {len(load)} DSP917 notifications of ~{sum(map(len, load)) // len(load)} bytes (inline PDF)")
    submit_warm, submit_load = submit_bodies(200, f"SW{tag}"), submit_bodies(args.notifications, f"SL{tag}")

    hub = HubServer(data, url, **LOOPBACK, **{k: v for k, v in env.items() if k != "CCPOR_DATA_DIR"}).start()
    switch = gateway = None
    store = CourtStore.existing(court.database_url)
    try:
        assert hub.proc is not None
        result, figures = measure(f"{hub.url}/ws/dsp917", hub.proc.pid, warm, load, args.clients, url, ok=b"is ACTIVE")
        submit, submit_figures = measure(
            f"{hub.url}/ws/orders", hub.proc.pid, submit_warm, submit_load, args.clients, url
        )
        expected = len(warm) + len(load)
        switch = SwitchServer(env).start()
        t0 = time.perf_counter()
        gateway = GatewayProcess(env).start()
        while len(store.received()) < expected:  # the court's ledger: the measurement itself
            gateway.died()
            if time.perf_counter() - t0 > 600:
                raise RuntimeError(f"only {len(store.received())} of {expected} responses in 600 s")
            time.sleep(0.2)
        delivery = time.perf_counter() - t0
    finally:
        store.close()
        for process in (gateway, switch, hub, court):
            if process is not None:
                process.stop()
    report = {
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "clients": args.clients,
        "notify": result.summary() | figures,
        "submit_order_same_run": submit.summary() | submit_figures,
        "notify_over_submit": round(result.rate / submit.rate, 2),
        "responses": {
            "delivered": expected,
            "seconds_from_gateway_start": round(delivery, 1),
            "per_second": round(expected / delivery, 1),
        },
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"dsp917-{report['database']}.json").write_text(json.dumps(report, indent=2))
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
