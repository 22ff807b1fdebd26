"""The memory one image costs a hub worker: peak RSS growth of AttachImage and GetImage of a
20 MB scan (base64 inline), and what stays after the call.

    make bench-image-memory   (or: .venv/bin/python bench/image_memory_bench.py [--mb 20]
                               [--store database --database-url postgresql+psycopg://postgres@127.0.0.1/test])

One hub (`ccpor-hub serve`, gunicorn, ONE worker, a fresh SQLite database -- or PostgreSQL one). For each call the
worker's peak RSS (``VmHWM``) is reset through ``/proc/PID/clear_refs`` (Linux), the call is made
over HTTP, and the growth is ``VmHWM - VmRSS before``; "kept" is ``VmRSS after - VmRSS before``,
read once the worker has answered a ``/healthz`` sent after the call (so it has closed the call's answer).
Each call runs three times and the last is reported (the first ones warm up imports and caches).
The goal (issue 14): growth <= 4x the image size, nothing kept. Results: bench/results/image_memory.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.loadgen import LOOPBACK, in_fresh_database  # noqa: E402
from hub.accounts.service import add_user  # noqa: E402
from hub.codes import Role  # noqa: E402
from hub.db.engine import Database  # noqa: E402
from hub.runner import HubServer  # noqa: E402
from tests.conftest import PASSWORD  # noqa: E402
from tests.support.orders import SVC, envelope, order  # noqa: E402

MB = 1_000_000


def _kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    assert found, field
    return int(found.group(1)) * 1024


def _worker(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, f"expected one gunicorn worker, found {children}"
    return int(children[0])


def _measured(pid: int, call, settle) -> dict[str, int]:  # type: ignore[no-untyped-def]
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _kib(pid, "VmRSS")
    call()
    settle()  # the one sync worker answers this only after it has closed the call's answer
    return {"growth": _kib(pid, "VmHWM") - before, "kept": _kib(pid, "VmRSS") - before}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=20.0, help="image size in MB (default 20)")
    parser.add_argument("--store", choices=("filesystem", "database"), default="filesystem")
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server to make a fresh database on (default: SQLite); --store database needs one",
    )
    args = parser.parse_args()
    if args.store == "database" and not args.database_url:
        parser.error("--store database keeps images in PostgreSQL: give --database-url postgresql+psycopg://...")
    return in_fresh_database("ccpor-imgmem-", args.database_url, lambda work, url: _bench(args, work, url))


def _bench(args: argparse.Namespace, data: Path, url: str) -> int:
    size = int(args.mb * MB)
    hub = HubServer(data, url, workers=1, CCPOR_IMAGE_STORE=args.store, CCPOR_MAX_IMAGE_BYTES=str(size), **LOOPBACK)
    db = Database(url)
    with db.unit_of_work() as s:
        add_user(s, "bench", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
    db.dispose()
    hub.start()
    endpoint = f"{hub.url}/ws/orders"
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    body = envelope("SubmitOrder", [("Order", order(CaseDocketID="24FLIMGMEM"))], username="bench", password=PASSWORD)
    answer = requests.post(endpoint, data=body, headers=headers, timeout=60)
    order_id = re.search(rb"<(?:\w+:)?OrderId>([^<]+)<", answer.content).group(1).decode()  # type: ignore[union-attr]
    scan = b"%PDF-1.4\n" + os.urandom(size - 16) + b"\n%%EOF\n"
    upload = envelope(
        "AttachImage",
        [("OrderId", order_id), ("Document", {"Base64BinaryObject": base64.b64encode(scan).decode()}, SVC)],
        username="bench",
        password=PASSWORD,
    )
    image_ids: list[str] = []

    def attach() -> None:
        r = requests.post(endpoint, data=upload, headers=headers, timeout=300)
        assert r.status_code == 200, r.text[:500]
        image_ids.append(re.search(rb"<(?:\w+:)?ImageId>([^<]+)<", r.content).group(1).decode())  # type: ignore[union-attr]

    def download() -> None:
        get = envelope("GetImage", [("ImageId", image_ids[-1])], username="bench", password=PASSWORD)
        r = requests.post(endpoint, data=get, headers=headers, timeout=300)
        assert r.status_code == 200 and len(r.content) > size, r.text[:500]

    try:
        pid = _worker(hub.proc.pid)  # type: ignore[union-attr]
        results = {}
        for name, call in (("AttachImage", attach), ("GetImage", download)):
            for _ in range(3):
                figures = _measured(pid, call, lambda: requests.get(f"{hub.url}/healthz", timeout=60))
            results[name] = {
                **figures,
                "growth_x_image": round(figures["growth"] / size, 2),
                "kept_x_image": round(figures["kept"] / size, 2),
            }
    finally:
        hub.stop()
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    out = {"image_bytes": size, "store": args.store, "database": database, "worker_rss_growth": results}
    path = ROOT / "bench" / "results" / "image_memory.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    for name, r in results.items():
        print(
            f"{name:12} {size / MB:.0f} MB image: peak RSS growth {r['growth'] / MB:.1f} MB"
            f" ({r['growth_x_image']}x), kept after the call {r['kept'] / MB:.1f} MB ({r['kept_x_image']}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
