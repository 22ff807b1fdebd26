"""``ccpor-hub worker``: two real worker processes on one database fire the same job every second;
each run happens exactly once (one audit event and one job_runs row per slot), and the worker that
lost a slot says so. On SQLite and on PostgreSQL."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub import masterkey
from hub.accounts.service import add_user
from hub.codes import Role
from hub.db import migrate
from hub.db.engine import Database
from hub.db.models import AuditEvent, JobRun
from hub.runner import WorkerProcess
from tests.conftest import PASSWORD, empty_database
from tests.support.waiting import until

pytestmark = pytest.mark.functional


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub_database(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    with empty_database(request.param, tmp_path) as url:
        migrate.upgrade(url)
        masterkey.create(tmp_path / "master.key")
        db = Database(url)
        with db.unit_of_work() as s:
            add_user(s, "admin", ori="CA019015J", role=Role.ADMINISTRATOR, clets=False, password=PASSWORD)
        yield db, {"CCPOR_DATA_DIR": str(tmp_path), "CCPOR_DATABASE_URL": url}
        db.dispose()


def test_two_workers_run_each_job_run_once(hub_database):
    db, env = hub_database
    every_second = {"CCPOR_JOB_EXPIRE_ORDERS": "every 1 s"}
    workers = [WorkerProcess(env, f"worker-{n}", "--only", "expire-orders", **every_second) for n in (1, 2)]
    try:
        for worker in workers:
            worker.start()

        def finished() -> int:
            for worker in workers:
                worker.died()
            with db.read() as s:
                return s.scalar(select(func.count()).select_from(JobRun).where(JobRun.finished_at.is_not(None))) or 0

        until(lambda: finished() >= 6, "six finished runs of expire-orders", timeout=60)
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0]  # SIGTERM: a clean stop
    with db.read() as s:
        runs = s.execute(select(JobRun.slot, JobRun.owner, JobRun.outcome)).all()
        audited = s.scalars(select(AuditEvent.target).where(AuditEvent.operation == "orders expire")).all()
    slots = Counter(run.slot.isoformat() for run in runs)
    assert max(slots.values()) == 1
    assert Counter(audited) == Counter(run.slot.isoformat() for run in runs if run.outcome)  # each run audited once
    assert all(run.outcome == "OK: 0 order(s) expired" for run in runs if run.outcome)
    logs = [worker.log.read_text() for worker in workers]
    ran = sum(text.count(": OK: 0 order(s) expired") for text in logs)
    skipped = sum(text.count(": run by another worker") for text in logs)
    assert ran == len(audited)
    assert skipped >= 1  # both fired the same slots; the loser of each claim skipped it


def test_worker_check_says_whether_a_worker_could_run_here(hub_database):
    """``worker --check``, an orchestrator's exec probe: ready for the jobs on a migrated database
    with its master key; not ready for the CARPOS exchange without its keys and a reachable switch,
    naming each."""
    import json
    import subprocess
    import sys

    _, env = hub_database
    cli = str(Path(sys.executable).with_name("ccpor-hub"))
    environment = {"PATH": "/usr/bin:/bin", **env, "CCPOR_DOJ_URL": "http://127.0.0.1:9/doj/switch"}
    jobs = subprocess.run([cli, "worker", "--check", "--only", "expire-orders,monthly-reports"],
                          capture_output=True, text=True, timeout=60, env=environment)  # fmt: skip
    assert jobs.returncode == 0, jobs.stdout + jobs.stderr
    assert json.loads(jobs.stdout) == {"ready": True, "database": "ok", "migrations": "ok", "master_key": "loaded"}
    exchange = subprocess.run([cli, "worker", "--check"], capture_output=True, text=True, timeout=60, env=environment)
    found = json.loads(exchange.stdout)
    assert exchange.returncode == 1 and found["ready"] is False and found["database"] == "ok"
    assert "keys init" in found["carpos_keys"] and "127.0.0.1:9 does not accept connections" in found["doj_switch"]
