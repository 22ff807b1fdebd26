"""The CARPOS exchange: sealing cost, drain rate through the real switch, submit -> ACCEPTED latency.

    make bench-carpos          (or: .venv/bin/python bench/carpos_bench.py [--part seal|drain|latency|all]
                                     [--messages N] [--rate R] [--seconds S] [--database-url URL])

seal     per message, in this process: the hub's Channel.seal (encrypt + sign; once with content keys
         reused as in service, once with a new RSA-OAEP-wrapped key per message, as the command does)
         and DOJ's Channel.open (verify + decrypt), next to sealing the same envelope with the xmlsec1
         command (one --encrypt and one --sign run per message, as a script would).
drain    N EPOs (each its own case and restrained person) committed at once into a hub database
         with the gateway (``ccpor-hub gateway``) and the mock switch (``ccpor-hub mock-doj``, 2
         gunicorn workers) running; time from the commit until DOJ has accepted every one:
         messages/s, and the CPU each process spent. A message not accepted in time fails the run.
latency  the hub (``ccpor-hub serve``, 2 workers), the switch and the gateway; SubmitOrder with
         SubmitToCarposIndicator at a steady R orders/s for S seconds (open loop, new connection
         each); per order, the time from the client sending it to DOJ's answer being recorded
         (answered_at): p50/p99, an order never answered counting as infinitely late; also from
         the commit (the outbox row's created_at).

Results are merged into bench/results/carpos.json (a part not run keeps its last figures). All
processes share the machine's two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.loadgen import LOOPBACK, _one, cpu_seconds, fresh_database, process_tree  # noqa: E402
from gateway import keys  # noqa: E402
from gateway.sealing import POLICY, Channel  # noqa: E402
from hub import ids, masterkey  # noqa: E402
from hub.accounts.service import add_user, principal_of  # noqa: E402
from hub.carpos import envelope  # noqa: E402
from hub.carpos.envelope import Header, MessageKey, Transmission  # noqa: E402
from hub.carpos.outbox import CarposForwarding  # noqa: E402
from hub.codes import Role  # noqa: E402
from hub.db import migrate  # noqa: E402
from hub.db.engine import Database  # noqa: E402
from hub.db.models import OutboxMessage  # noqa: E402
from hub.orders.service import OrderService  # noqa: E402
from hub.runner import GatewayProcess, HubServer, SwitchServer, carpos_environment  # noqa: E402
from tests.support import xmlsec1  # noqa: E402
from tests.support.orders import envelope as soap_envelope  # noqa: E402
from tests.support.orders import order, order_element  # noqa: E402

PASSWORD = "benchmark passphrase 1"  # noqa: S105 - throwaway benchmark account
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TEXT = (
    "EPO.ORI/CA019015J.OCA/CCP0000000042.NAM/MOUSE,MICKEY.SEX/M.RAC/W.DOB/19800517.HGT/510.WGT/180.EYE/BRO."
    "HAI/BLK.PNO/24FL000123.OTC/OAH.ISD/20261112.EXP/20291111.CTI/CA019015J.PPN/DUCK,DAISY.PPB/19820102."
    "PCO/01.PCO/04.PCO/05.BRD/Y"
)


def bench_order(i: int) -> dict[str, object]:
    """The i-th benchmark order: its own case and its own restrained person (born on another day),
    as in a real day's orders -- not thousands of orders against one person, which would make the
    switch's conflict check (active orders for the same NAM and DOB) scan them all each time."""
    o = order(CaseDocketID=f"24FL{i:07d}")
    person = dict(o["ProtectionOrderRestrictedPerson"])
    person["PersonBirthDate"] = date(1950, 1, 1) + timedelta(days=i % 18000)
    o["ProtectionOrderRestrictedPerson"] = person
    return o


def ms(seconds: float, n: int) -> float:
    return round(seconds / n * 1000, 3)


def part_seal(work: Path, n: int) -> dict[str, object]:
    env = carpos_environment(work)
    key_dir = Path(env["CCPOR_CARPOS_KEY_DIR"])
    hub_master, doj_master = masterkey.load(work / "master.key"), masterkey.load(work / "doj" / "master.key")
    hub = keys.load_pair(key_dir / "hub.key", key_dir / "hub.pem", hub_master)
    doj = keys.load_pair(key_dir / "doj.key", key_dir / "doj.pem", doj_master)
    sender, receiver = Channel(hub, doj.certificate), Channel(doj, hub.certificate)
    transmissions = [
        Transmission(Header(f"CCP{i:010d}-001", "CA019015J", "CADOJ0000", MessageKey.EPO, NOW, NOW), (TEXT,))
        for i in range(n)
    ]
    sender.seal(transmissions[0])  # warm up (first content key, signxml imports)
    t0 = time.perf_counter()
    sealed = [sender.seal(t) for t in transmissions]
    seal_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for wire in sealed:
        receiver.open(wire)
    open_s = time.perf_counter() - t0
    # Like for like with the xmlsec1 command, which wraps a new content key for every message.
    fresh_keys = Channel(hub, doj.certificate, policy=dataclasses.replace(POLICY, content_key_uses=1))
    t0 = time.perf_counter()
    for t in transmissions:
        fresh_keys.seal(t)
    fresh_s = time.perf_counter() - t0
    out: dict[str, object] = {
        "messages": n,
        "envelope_bytes": len(sealed[0]),
        "hub_seal_ms": ms(seal_s, n),
        "hub_seal_new_key_each_ms": ms(fresh_s, n),
        "doj_open_ms": ms(open_s, n),
    }
    if not xmlsec1.XMLSEC1:
        out["xmlsec1_command_ms"] = None
        print("seal    xmlsec1 is not installed: no comparison with the command (apt-get install xmlsec1)")
    else:
        runs = max(10, n // 10)
        passphrase = keys._passphrase(hub_master).decode()
        t0 = time.perf_counter()
        for i, t in enumerate(transmissions[:runs]):
            xmlsec1.seal(
                etree.tostring(envelope.to_xml(t)),
                hub_key=key_dir / "hub.key",
                hub_cert=key_dir / "hub.pem",
                passphrase=passphrase,
                doj_cert=key_dir / "doj.pem",
                workdir=work / "xmlsec1" / str(i % 4),
            )
        out |= {"xmlsec1_command_ms": ms(time.perf_counter() - t0, runs), "xmlsec1_messages": runs}
    return out


def _accepted(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).where(OutboxMessage.state == "ACCEPTED")) or 0


def _states(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {
            state: int(n)
            for state, n in s.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state))
        }


def part_drain(work: Path, n: int, database_url: str | None, gateways: int = 1) -> dict[str, object]:
    url, drop = fresh_database(work, database_url)
    migrate.upgrade(url)
    db = Database(url)
    with db.unit_of_work() as s:
        clerk = principal_of(
            add_user(s, "bench", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
        )
    env = {**carpos_environment(work), "CCPOR_DATABASE_URL": url, "CCPOR_DOJ_SEED_RECORDS": "0"}
    switch = SwitchServer(env).start()
    started = [GatewayProcess(env, name=f"gateway-{i}").start() for i in range(gateways)]
    pids = [g.proc.pid for g in started]  # type: ignore[union-attr]
    try:
        service = OrderService(forwarding=CarposForwarding())
        from hub.carpos.doorbell import install_ringer

        install_ringer(db)
        with db.unit_of_work() as s:  # one commit: every message becomes visible at once
            for i in range(n):
                service.submit(s, clerk, order_element(bench_order(i)), carpos_requested=True)
            cpu_before = {
                "gateway": cpu_seconds(pids),
                "switch": cpu_seconds(process_tree(switch.proc.pid)),  # type: ignore[union-attr]
            }
        t0 = time.perf_counter()  # committed: the doorbell rang
        deadline = t0 + max(120.0, n / 10)
        while _accepted(db) < n and time.perf_counter() < deadline:
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
        unfinished = _states(db) if _accepted(db) < n else None
        cpu = {
            "gateway_cpu_s": round(cpu_seconds(pids) - cpu_before["gateway"], 2),
            "switch_cpu_s": round(cpu_seconds(process_tree(switch.proc.pid)) - cpu_before["switch"], 2),  # type: ignore[union-attr]
        }
    finally:
        for gateway in started:
            gateway.stop()
        switch.stop()
        db.dispose()
        if drop:
            drop()  # type: ignore[operator]
    return {
        "database": make_url(url).get_backend_name(),
        "gateway_processes": gateways,
        "messages": n,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(n / elapsed, 1),
        **cpu,
        "cpu_ms_per_message": round((cpu["gateway_cpu_s"] + cpu["switch_cpu_s"]) / n * 1000, 2),
        **({"NOT_ALL_ACCEPTED": unfinished} if unfinished else {}),
    }


_ORDER_ID = re.compile(rb"OrderId>(CCP[0-9]{10})<")


async def _steady(url: str, bodies: list[bytes], rate: float) -> tuple[int, dict[str, datetime]]:
    """Send ``bodies`` at ``rate`` per second; (failed submits, when each accepted order was due to go)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    start, wall_start, errors, tasks = time.perf_counter(), datetime.now(UTC), 0, []
    submitted: dict[str, datetime] = {}

    async def one(body: bytes, due: datetime) -> None:
        nonlocal errors
        status, data = await _one(parts.hostname or "127.0.0.1", parts.port or 80, parts.path, body)
        found = _ORDER_ID.search(data)
        if status != 200 or b"SubmitOrderResponse" not in data or not found:
            errors += 1
        else:
            submitted[found.group(1).decode()] = due

    for i, body in enumerate(bodies):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # the load's own schedule (open loop), not a synchronization
        # Timed from when it was due (open loop): a load generator that falls behind does not hide it.
        tasks.append(asyncio.create_task(one(body, wall_start + timedelta(seconds=i / rate))))
    await asyncio.gather(*tasks)
    return errors, submitted


def part_latency(
    work: Path, rate: float, seconds: float, database_url: str | None, hub_workers: int = 2
) -> dict[str, object]:
    url, drop = fresh_database(work, database_url)
    migrate.upgrade(url)
    db = Database(url)
    with db.unit_of_work() as s:
        add_user(s, "bench", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
    env = {**carpos_environment(work), "CCPOR_DATABASE_URL": url, "CCPOR_DOJ_SEED_RECORDS": "0"}
    switch = SwitchServer(env).start()
    server = HubServer(
        work, url, workers=hub_workers, **LOOPBACK, **{k: v for k, v in env.items() if k != "CCPOR_DATA_DIR"}
    ).start()
    gateway = GatewayProcess(env).start()
    n = int(rate * seconds)
    bodies = [
        soap_envelope(
            "SubmitOrder",
            [("Order", bench_order(i)), ("SubmitToCarposIndicator", True)],
            username="bench",
            password=PASSWORD,
        )
        for i in range(n)
    ]
    processes = {
        "hub": lambda: process_tree(server.proc.pid),  # type: ignore[union-attr]
        "gateway": lambda: [gateway.proc.pid],  # type: ignore[union-attr]
        "switch": lambda: process_tree(switch.proc.pid),  # type: ignore[union-attr]
        "load": lambda: [os.getpid()],
    }
    try:
        before = {name: cpu_seconds(pids()) for name, pids in processes.items()}
        errors, submitted = asyncio.run(_steady(f"{server.url}/ws/orders", bodies, rate))
        deadline = time.monotonic() + 120
        while _accepted(db) < n - errors and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu = {f"{name}_cpu_ms_per_order": round((cpu_seconds(pids()) - before[name]) / n * 1000, 2)
               for name, pids in processes.items()}  # fmt: skip
        m = OutboxMessage
        with db.read() as s:
            rows = s.execute(select(m.order_id, m.created_at, m.sent_at, m.answered_at, m.state)).all()
    finally:
        gateway.stop()
        server.stop()
        switch.stop()
        db.dispose()
        if drop:
            drop()  # type: ignore[operator]
    # From the client's (scheduled) send to DOJ's answer recorded; an order submitted but never answered (or a
    # submit that failed) counts as infinitely late, so it shows in the percentiles instead of vanishing.
    answered = {ids.public(ids.ORDER, r.order_id): r.answered_at for r in rows if r.answered_at}
    latencies = sorted(
        [(answered[o] - sent).total_seconds() if o in answered else math.inf for o, sent in submitted.items()]
        + [math.inf] * errors
    )
    from_commit = sorted((r.answered_at - r.created_at).total_seconds() for r in rows if r.answered_at)
    waits = sorted((r.sent_at - r.created_at).total_seconds() for r in rows if r.sent_at)

    def pct(p: float, data: list[float] = latencies) -> float | None:
        return round(data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))], 3) if data else None

    return {
        "database": make_url(url).get_backend_name(),
        "rate_per_s": rate,
        "hub_workers": hub_workers,
        "orders": n,
        "submit_errors": errors,
        "accepted": sum(1 for r in rows if r.state == "ACCEPTED"),
        "unanswered": sum(1 for x in latencies if x == math.inf),
        "p50_s": pct(50),
        "p99_s": pct(99),
        "from_commit_p50_s": pct(50, from_commit),
        "from_commit_p99_s": pct(99, from_commit),
        "until_sent_p50_s": pct(50, waits),
        "until_sent_p99_s": pct(99, waits),
        "max_s": round(latencies[-1], 3),
        "mean_s": round(statistics.fmean(latencies), 3),
        **cpu,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["seal", "drain", "latency", "all"], default="all")
    p.add_argument("--messages", type=int, default=2000, help="drain: EPOs; seal: envelopes")
    p.add_argument("--rate", type=float, default=50.0, help="latency: orders per second")
    p.add_argument("--seconds", type=float, default=20.0, help="latency: how long the load lasts")
    p.add_argument("--database-url", help="a PostgreSQL server (a fresh database is made there), else SQLite")
    p.add_argument("--gateways", type=int, default=1, help="drain: gateway processes on the one database")
    p.add_argument("--hub-workers", type=int, default=2, help="latency: gunicorn workers of the hub")
    args = p.parse_args()
    results: dict[str, object] = {}
    when = {"when": datetime.now(UTC).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory(prefix="ccpor-carpos-bench-") as tmp:
        work = Path(tmp)
        if args.part in ("seal", "all"):
            results["seal"] = when | part_seal(work / "seal", min(args.messages, 500))
            print("seal   ", json.dumps(results["seal"]))
        if args.part in ("drain", "all"):
            results["drain"] = when | part_drain(work / "drain", args.messages, args.database_url, args.gateways)
            print("drain  ", json.dumps(results["drain"]))
        if args.part in ("latency", "all"):
            results["latency"] = when | part_latency(
                work / "latency", args.rate, args.seconds, args.database_url, args.hub_workers
            )
            print("latency", json.dumps(results["latency"]))
    out = ROOT / "bench" / "results" / "carpos.json"
    out.parent.mkdir(exist_ok=True)
    kept = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps(kept | results, indent=1))  # the parts not run this time keep their last figures
    return 0


if __name__ == "__main__":
    sys.exit(main())
