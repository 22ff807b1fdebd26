"""The historical load at scale: 1,000,000 records without images, on SQLite or PostgreSQL -- time,
rate and the loading process's peak RSS; then the same load killed with SIGKILL at ~50 % and run
again, which must end with exactly the batch's orders.

    make bench-etl    (or: .venv/bin/python bench/etl_bench.py [--records N] [--database-url URL] [--no-kill])

The batch is made once by ``ccpor-hub etl make-sample N --bad-share 0`` (every record good, so the
count to end with is N) and kept in bench/results/etl-sample-N.xml. Each run is ``ccpor-hub etl
load`` as an operator runs it (default batch size), on a fresh hub database (SQLite in a temporary
directory, or a new database on the given PostgreSQL server, dropped afterwards); the peak RSS is
the loading process's own (``wait4``). Goal (issue 14): <= 15 minutes and <= 500 MB on 2 cores, on
both databases. Writes bench/results/etl-<db>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.loadgen import fresh_database  # noqa: E402

CLI = str(Path(sys.executable).with_name("ccpor-hub"))
PASSWORD = "bench loading account password"  # noqa: S105 - a throwaway benchmark account


def _scalar(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one() or 0)
    finally:
        engine.dispose()


def _hub(work: Path, url: str) -> dict[str, str]:
    env = {**os.environ, "CCPOR_DATA_DIR": str(work), "CCPOR_DATABASE_URL": url}
    for args, stdin in (
        (("db", "upgrade"), ""),
        (("keys", "master"), ""),
        (("users", "add", "etl-la", "--org", "CA019015J", "--role", "QUERY_UPDATE_SEALED"), PASSWORD),
        (("users", "add", "admin", "--org", "CA019015J", "--role", "ADMINISTRATOR"), PASSWORD),
    ):
        subprocess.run([CLI, *args], input=stdin, text=True, env=env, check=True, capture_output=True)
    return env


def _load(env: dict[str, str], batch: Path, *, kill_at: int | None = None, url: str = "") -> dict[str, float]:
    """One ``etl load``: wall time and peak RSS; with ``kill_at``, SIGKILLed once the checkpoint passes it."""
    started = time.monotonic()
    log = Path(env["CCPOR_DATA_DIR"]) / "load.log"
    sink = log.open("wb")
    proc = subprocess.Popen([CLI, "etl", "load", str(batch), "--as", "etl-la"], env=env, stdout=sink, stderr=sink)
    if kill_at is not None:
        while proc.poll() is None:
            time.sleep(0.5)
            try:
                if _scalar(url, "select coalesce(max(records_done), 0) from etl_loads") >= kill_at:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            except sa.exc.OperationalError:
                continue
    _pid, status, usage = os.wait4(proc.pid, 0)
    sink.close()
    code = proc.returncode = os.waitstatus_to_exitcode(status)
    out = log.read_text()[-2000:]
    if kill_at is None and code != 0:
        raise SystemExit(f"etl load failed ({code}): {out}")
    return {
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": code,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server to make fresh databases on")
    parser.add_argument("--no-kill", action="store_true", help="skip the kill -9 and resume run")
    args = parser.parse_args()
    n = args.records
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    batch = results_dir / f"etl-sample-{n}.xml"
    if not batch.exists():
        subprocess.run(
            [CLI, "etl", "make-sample", str(n), "--out", str(batch), "--bad-share", "0", "--batch-id", f"BENCH-{n}"],
            check=True,
            env={**os.environ, "CCPOR_DATA_DIR": tempfile.mkdtemp()},
        )
    kind = "postgresql" if args.database_url else "sqlite"
    out: dict[str, object] = {"records": n, "database": kind, "file_mb": round(batch.stat().st_size / 1e6, 1)}
    runs = [("full", None)] + ([] if args.no_kill else [("killed at ~50 %", n // 2)])
    for name, kill_at in runs:
        work = Path(tempfile.mkdtemp(prefix="ccpor-etl-bench-"))
        url, drop = fresh_database(work, args.database_url)
        try:
            env = _hub(work, url)
            first = _load(env, batch, kill_at=kill_at, url=url)
            figures: dict[str, object] = {"load": first}
            if kill_at is not None:
                figures["checkpoint_at_kill"] = _scalar(url, "select records_done from etl_loads")
                figures["resume"] = _load(env, batch)
            orders = _scalar(url, "select count(*) from orders")
            figures["orders"] = orders
            figures["exactly_n"] = orders == n
            seconds = sum(float(r["seconds"]) for r in (figures["load"], figures.get("resume", {"seconds": 0})))  # type: ignore[index]
            figures["records_per_second"] = round(n / seconds, 1) if kill_at is None else None
            out[name] = figures
            print(f"{kind} {name}: {json.dumps(figures)}", flush=True)
        finally:
            if drop is not None:
                drop()
            shutil.rmtree(work, ignore_errors=True)  # ~7 GB of SQLite database at 1,000,000 records
    (results_dir / f"etl-{kind}.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
