"""SubmitOrder throughput and latency through the real server, next to a bare Spyne echo.

    make bench-submit          (or: .venv/bin/python bench/submit_bench.py [--orders N] [--clients C])

Starts the hub (`ccpor-hub serve`, gunicorn, 2 workers) on a fresh SQLite database, posts N
prepared, authenticated SubmitOrder envelopes (each a different order) from C concurrent
clients, then does the same against bench/echo_app.py (Spyne alone, same bindings, same payload,
2 gunicorn workers). Prints orders/s, p50/p95/p99 latency, the hub/echo ratio, peak server
memory and the server's CPU per request (user + system of the gunicorn master and workers, and on
PostgreSQL of the database's server processes serving the hub: steadier than the rate on a busy
machine), and writes them to bench/results/submit-<database>.json. Optional: --database-url
postgresql+psycopg://user@host/db for PostgreSQL: a fresh database is made on that server for
the run and dropped after it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import LOOPBACK, Result, cpu_seconds, in_fresh_database, process_tree, rss_kib, run  # noqa: E402
from hub.accounts.service import add_user  # noqa: E402
from hub.codes import Role  # noqa: E402
from hub.db.engine import Database  # noqa: E402
from hub.runner import HubServer, free_port  # noqa: E402
from tests.support.orders import envelope, order  # noqa: E402

PASSWORD = "benchmark passphrase 1"  # noqa: S105 - throwaway benchmark account


def bodies(n: int, tag: str) -> list[bytes]:
    return [
        envelope("SubmitOrder", [("Order", order(CaseDocketID=f"{tag}{i:08d}"))], username="bench", password=PASSWORD)
        for i in range(n)
    ]


class PeakMemory(threading.Thread):
    """Samples the server's process tree RSS every 50 ms until stopped."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid, self.peak_kib, self.done = root_pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak_kib = max(self.peak_kib, rss_kib(process_tree(self.root_pid)))


def database_pids(url: str) -> list[int]:
    """The PostgreSQL server processes connected to the database of ``url`` (on this machine), but
    not this one's connection; none for SQLite (it runs inside the workers)."""
    if not url.startswith("postgresql"):
        return []
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        ).scalars()
        found = [int(pid) for pid in pids]
    engine.dispose()
    return found


def measure(
    url: str,
    root_pid: int,
    warmup: list[bytes],
    load: list[bytes],
    clients: int,
    database_url: str = "",
    ok: bytes = b"Response",
) -> tuple[Result, dict[str, float]]:
    run(url, warmup, clients, ok=ok)
    servers, backends = process_tree(root_pid), database_pids(database_url)  # the pools are warm now
    cpu = cpu_seconds(servers), cpu_seconds(backends)
    sampler = PeakMemory(root_pid)
    sampler.start()
    result = run(url, load, clients, ok=ok)
    sampler.done.set()
    sampler.join()
    figures = {
        "peak_rss_mib": round(sampler.peak_kib / 1024, 1),
        "cpu_ms_per_request": round((cpu_seconds(servers) - cpu[0]) / len(load) * 1000, 2),
    }
    if backends:
        figures["db_cpu_ms_per_request"] = round((cpu_seconds(backends) - cpu[1]) / len(load) * 1000, 2)
    return result, figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--orders", type=int, default=4000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--database-url", default="")
    p.add_argument("--workers", type=int, default=2, help="the hub's gunicorn workers (the echo always has 2)")
    args = p.parse_args()

    return in_fresh_database("ccpor-bench-", args.database_url, lambda data, url: _bench(args, data, url))


def _bench(args: argparse.Namespace, data: Path, url: str) -> int:
    db = Database(url)
    with db.unit_of_work() as s:
        add_user(s, "bench", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
    db.dispose()
    warm, load = bodies(300, f"W{os.getpid()}"), bodies(args.orders, f"L{os.getpid()}")
    print(f"prepared {len(load)} SubmitOrder envelopes of ~{sum(map(len, load)) // len(load)} bytes")

    hub = HubServer(data, url, workers=args.workers, **LOOPBACK).start()
    try:
        assert hub.proc is not None
        hub_result, hub_figures = measure(f"{hub.url}/ws/orders", hub.proc.pid, warm, load, args.clients, url)
    finally:
        hub.stop()

    port = free_port()
    echo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--no-control-socket",
            "--chdir",
            str(ROOT),
            "bench.echo_app:wsgi_app()",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # readiness: the echo answers the first request
            try:
                run(f"http://127.0.0.1:{port}/", warm[:2], 1)
                break
            except OSError:
                time.sleep(0.1)
        echo_result, echo_figures = measure(f"http://127.0.0.1:{port}/", echo.pid, warm, load, args.clients)
    finally:
        echo.terminate()
        echo.wait(30)

    report = {
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "clients": args.clients,
        "hub_workers": args.workers,
        "hub": hub_result.summary() | hub_figures,
        "echo": echo_result.summary() | echo_figures,
        "hub_over_echo": round(hub_result.rate / echo_result.rate, 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"submit-{report['database']}.json").write_text(json.dumps(report, indent=2))
    return 0 if hub_result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
