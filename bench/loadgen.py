"""A small closed-loop HTTP load generator: N concurrent clients POST prepared bodies.

Load comes from prepared request bytes, not from a SOAP client (zeep tops out near 250 calls/s
on its own). One asyncio process drives all connections so the generator costs little CPU next to
the server; a new connection per request matches gunicorn's sync workers (no keep-alive).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

#: The benchmarks call the hub with PasswordText over plain HTTP on loopback, as every earlier figure
#: in docs/PERFORMANCE.md did, through the development setting (TLS would add its own cost to every
#: figure; bench-auth compares the authentication modes).
LOOPBACK = {"CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP": "1"}


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]

    def summary(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "per_second": round(self.rate, 1),
            "p50_ms": round(self.pct(50), 2),
            "p95_ms": round(self.pct(95), 2),
            "p99_ms": round(self.pct(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2),
        }


async def _one(host: str, port: int, path: str, body: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    writer.write(head + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    status = int(data.split(b" ", 2)[1]) if data else 0
    return status, data


async def _run(url: str, bodies: Sequence[bytes], concurrency: int, ok: bytes) -> Result:
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            status, data = await _one(host, port, path, body)
            latencies.append((time.perf_counter() - t0) * 1000)
            if status != 200 or ok not in data:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(len(bodies), errors, time.perf_counter() - start, latencies)


def run(url: str, bodies: Sequence[bytes], concurrency: int = 8, ok: bytes = b"Response") -> Result:
    return asyncio.run(_run(url, bodies, concurrency, ok))


def rss_kib(pids: Sequence[int]) -> int:
    """Resident memory of the given processes now, in KiB (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def process_tree(root: int) -> list[int]:
    """``root`` and its children (gunicorn master and workers)."""
    pids = [root]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == root:
                        pids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return pids


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU the given processes have used so far, in seconds (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except FileNotFoundError:
            pass
    return total


def in_fresh_database(prefix: str, url: str, bench: Callable[[Path, str], int]) -> int:
    """Run ``bench(work, database_url)`` in a new temporary directory on a fresh, migrated hub
    database (see fresh_database), dropped afterwards; bench's exit status."""
    from hub.db import migrate

    work = Path(tempfile.mkdtemp(prefix=prefix))
    database_url, drop = fresh_database(work, url)
    try:
        migrate.upgrade(database_url)
        return bench(work, database_url)
    finally:
        if drop is not None:
            drop()


def fresh_database(work: Path, url: str | None) -> tuple[str, Callable[[], None] | None]:
    """A fresh hub database: SQLite in ``work``, or a new database on the PostgreSQL server of
    ``url`` (never the one ``url`` names: benchmarks must not fill a database others use); its URL
    and the function that drops it (None for SQLite)."""
    work.mkdir(parents=True, exist_ok=True)
    if not url:
        return f"sqlite:///{work / 'hub.db'}", None
    import sqlalchemy as sa

    name = f"ccpor_bench_{os.getpid()}_{int(time.time())}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False), drop
