"""The attack corpus against a running hub: time per case and the server's memory.

    make bench-attacks         (or: .venv/bin/python bench/attack_bench.py [--rounds N])

Starts the hub (gunicorn, 2 workers, fresh SQLite database) and posts every case of
tests/support/attacks.py to every endpoint, ``--rounds`` times over (default 5), one at a time.
Reports the slowest and median answer per case, the whole run's time, and the server's process-tree
RSS before, at peak and after, which shows whether hostile input makes memory grow. Results go to
bench/results/attacks.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import LOOPBACK, process_tree, rss_kib  # noqa: E402
from bench.submit_bench import PeakMemory  # noqa: E402
from hub.runner import HubServer  # noqa: E402
from tests.functional.conftest import _start_db  # noqa: E402
from tests.support.attacks import TARGETS, corpus  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    data = Path(tempfile.mkdtemp(prefix="ccpor-attack-bench-"))
    hub = HubServer(data, _start_db(data), **LOOPBACK).start()
    assert hub.proc is not None
    times: dict[str, list[float]] = {}
    try:
        with requests.Session() as http:
            http.trust_env = False
            http.get(f"{hub.url}/health", timeout=10)
            before = rss_kib(process_tree(hub.proc.pid))
            sampler = PeakMemory(hub.proc.pid)
            sampler.start()
            started = time.perf_counter()
            for _ in range(args.rounds):
                for target in TARGETS:
                    for name, (body, headers, expected) in corpus(target, "http://127.0.0.1:9").items():
                        t0 = time.perf_counter()
                        resp = http.post(
                            f"{hub.url}{target.path}",
                            data=body,
                            headers=headers or {"Content-Type": "text/xml; charset=utf-8"},
                            timeout=60,
                        )
                        times.setdefault(f"{target.name}: {name}", []).append((time.perf_counter() - t0) * 1000)
                        if expected.encode() not in resp.content:
                            print(f"{target.name}: {name}: expected {expected}, got HTTP {resp.status_code}")
                            return 1
            total = time.perf_counter() - started
            sampler.done.set()
            sampler.join()
            after = rss_kib(process_tree(hub.proc.pid))
    finally:
        hub.stop()
    slowest = sorted(((max(v), k) for k, v in times.items()), reverse=True)
    report = {
        "cases_per_round": len(times),
        "rounds": args.rounds,
        "total_seconds": round(total, 2),
        "slowest_ms": [{"case": k, "max_ms": round(ms, 1)} for ms, k in slowest[:8]],
        "median_of_case_medians_ms": round(statistics.median(statistics.median(v) for v in times.values()), 2),
        "rss_mib": {
            "before": round(before / 1024, 1),
            "peak": round(sampler.peak_kib / 1024, 1),
            "after": round(after / 1024, 1),
        },
    }
    print(json.dumps(report, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "attacks.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
