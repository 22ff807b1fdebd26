"""``ccpor-hub etl`` as an operator runs it, as separate processes: a sample made and loaded with
its rejects CSV and a progress line; killed with SIGKILL mid-load and run again -> exactly the
batch's good records, each audited once; and constant memory -- the peak RSS of a 100,000-record
load (the loading process's own, from wait4) no more than ~10 % above a 10,000-record load's."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, empty_database

CLI = str(Path(sys.executable).with_name("ccpor-hub"))

pytestmark = pytest.mark.functional


def _env(data: Path, url: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "CCPOR_DATA_DIR": str(data), "CCPOR_DATABASE_URL": url}


def _run(env: dict[str, str], *args: str, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=env)


def _hub(data: Path, url: str) -> dict[str, str]:
    """A migrated hub with its master key, the court's loading account and an administrator."""
    env = _env(data, url)
    for args, stdin in (
        (("db", "upgrade"), ""),
        (("keys", "master"), ""),
        (("users", "add", "etl-la", "--org", "CA019015J", "--role", "QUERY_UPDATE_SEALED"), PASSWORD),
        (("users", "add", "admin", "--org", "CA019015J", "--role", "ADMINISTRATOR"), PASSWORD),
    ):
        done = _run(env, *args, stdin=stdin)
        assert done.returncode == 0, done.stderr
    return env


def _scalar(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    with empty_database(request.param, tmp_path) as url:
        yield _hub(tmp_path, url), url


def _sample(env: dict[str, str], out: Path, records: int, *extra: str) -> dict[str, int]:
    done = _run(env, "etl", "make-sample", str(records), "--out", str(out), *extra)
    assert done.returncode == 0, done.stderr
    # "wrote F: batch B, N records, K deliberately bad, ..."
    words = done.stdout.replace(",", "").split()
    return {"records": int(words[words.index("records") - 1]), "bad": int(words[words.index("deliberately") - 1])}


def test_a_sample_loads_with_its_rejects_report_and_a_second_load_says_so(hub_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, url = hub_env
    made = _sample(env, tmp_path / "in" / "batch.xml", 400, "--bad-share", "0.1", "--image-share", "0.05")
    done = _run(env, "etl", "load", str(tmp_path / "in"), "--as", "etl-la", "--rejects-dir", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert f"{400 - made['bad']} loaded" in done.stdout and f"{made['bad']} rejected" in done.stdout
    assert "etl: 400 records" in done.stderr and "/s" in done.stderr  # not a terminal: plain progress lines
    (report,) = (tmp_path / "out").glob("*.rejects.csv")
    with report.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len({r["record"] for r in rows}) == made["bad"] and all(r["field"] and r["reason"] for r in rows)
    assert _scalar(url, "select count(*) from orders") == 400 - made["bad"]
    again = _run(env, "etl", "load", str(tmp_path / "in" / "batch.xml"), "--as", "etl-la")
    assert not list(Path.cwd().glob("*.rejects.csv"))  # nothing written where the command was run
    assert again.returncode == 0 and "was already loaded" in again.stdout
    status = _run(env, "etl", "status")
    assert "DONE" in status.stdout and "SAMPLE-400-917" in status.stdout
    # the operator's runs are audited besides each record: when each starts, and how it ended
    runs = "select count(*) from audit_events where operation = 'etl load' and outcome = '{}'"
    assert (_scalar(url, runs.format("STARTED")), _scalar(url, runs.format("OK"))) == (2, 2)


def test_a_load_killed_mid_batch_resumes_to_exactly_the_batch(hub_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, url = hub_env
    batch = tmp_path / "batch.xml"
    made = _sample(env, batch, 3000, "--bad-share", "0.05")
    load = [CLI, "etl", "load", str(batch), "--as", "etl-la", "--batch-size", "100", "--rejects-dir", str(tmp_path)]
    proc = subprocess.Popen(load, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    done = 0
    while done < 1000 and proc.poll() is None and time.monotonic() < deadline:  # polling the checkpoint
        time.sleep(0.05)
        try:
            done = _scalar(url, "select coalesce(max(records_done), 0) from etl_loads")
        except sa.exc.OperationalError:  # SQLite busy or the table not yet there
            continue
    assert proc.poll() is None, "the load ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = _scalar(url, "select records_done from etl_loads")
    assert 1000 <= kept < 3000 and kept % 100 == 0
    finished = _run(env, *load[1:])
    assert finished.returncode == 0, finished.stderr
    assert f"resumed after record {kept}" in finished.stdout
    assert _scalar(url, "select count(*) from orders") == 3000 - made["bad"]
    assert _scalar(url, "select count(distinct case_number) from orders") == 3000 - made["bad"]
    assert _scalar(url, "select count(*) from audit_events where operation = 'LoadHistoricalOrder'") == 3000
    assert _scalar(url, "select count(distinct record_number) from etl_rejects") == made["bad"]
    runs = "select outcome from audit_events where operation = 'etl load' order by seq"
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(sa.text(runs))] == ["STARTED", "STARTED", "OK"]  # the killed one too
    engine.dispose()


def _peak_rss_kib(env: dict[str, str], log: Path, *args: str) -> int:
    with log.open("wb") as out:
        proc = subprocess.Popen([CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    assert proc.returncode == 0, log.read_text()[-2000:]
    return usage.ru_maxrss  # KiB on Linux: this process's own peak


def test_memory_stays_flat_from_ten_thousand_to_a_hundred_thousand_records(tmp_path: Path) -> None:
    peaks = {}
    for records in (10_000, 100_000):
        data = tmp_path / str(records)
        data.mkdir()
        env = _hub(data, f"sqlite:///{data / 'hub.db'}")
        _sample(env, data / "batch.xml", records, "--bad-share", "0.01")
        peaks[records] = _peak_rss_kib(env, data / "load.log", "etl", "load", str(data / "batch.xml"), "--as", "etl-la")
    assert peaks[100_000] <= peaks[10_000] * 1.10, peaks
