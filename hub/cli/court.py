"""``ccpor-hub mock-court serve | ledger | faults``: the mock court's DSP917 business-response
service under gunicorn, what it received and refused, and the faults it injects (kept in its
database, so they change while it runs)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from hub.cli.common import Exit, court_settings
from hub.cli.processes import add_tls_arguments, gunicorn, set_public_url, with_tls

if TYPE_CHECKING:
    from mocks.court.store import CourtStore


def register(sub: argparse._SubParsersAction) -> None:
    court = sub.add_parser(
        "mock-court", help="the mock court's DSP917 response service: serve it, read its ledger, inject faults"
    )
    actions = court.add_subparsers(dest="action", required=True)
    serve = actions.add_parser("serve", help="serve DSP917CAJUDResp Notify under gunicorn")
    serve.add_argument("--bind", default="127.0.0.1:8091")
    serve.add_argument("--workers", type=int, default=2)
    add_tls_arguments(serve)  # a court's service is https; with --client-ca it requires the hub's certificate
    serve.set_defaults(func=mock_court_serve)
    ledger = actions.add_parser("ledger", help="the business responses received (in order) and the calls refused")
    ledger.add_argument("--json", action="store_true", help="as JSON: {received: [...], refused: [...]}")
    ledger.set_defaults(func=mock_court_ledger)
    faults = actions.add_parser("faults", help="show the injected faults; with options, change them first")
    state = faults.add_mutually_exclusive_group()
    state.add_argument("--down", action="store_true", default=None, help="answer every call HTTP 503")
    state.add_argument("--up", dest="down", action="store_false", default=None, help="take calls again")
    faults.add_argument("--latency-ms", type=int, help="hold every call this many milliseconds")
    faults.add_argument("--fail-next", type=int, help="fail the next N calls with HTTP 500")
    faults.add_argument("--error-rate", type=float, help="fail this share of calls (0..1) with HTTP 500")
    faults.add_argument("--clear", action="store_true", help="no faults (before any other option)")
    faults.set_defaults(func=mock_court_faults)


def _store() -> CourtStore:
    from mocks.court.store import CourtStore, NoCourtDatabase

    try:
        return CourtStore.existing(court_settings().resolved_database_url)
    except NoCourtDatabase as err:
        raise Exit(str(err)) from err


def mock_court_serve(args: argparse.Namespace) -> int:
    from mocks.court import server

    server.prepare(court_settings())  # SettingError (no password) -> exit 2, before any worker starts
    set_public_url("CCPOR_COURT_PUBLIC_URL", args.bind, tls=bool(args.tls_cert))
    argv = with_tls(gunicorn(args.bind, args.workers, "mocks.court.server:wsgi_app()"), args)
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with gunicorn, our own argv
    return 0  # pragma: no cover


def _plain(value: Any) -> Any:
    """A ledger row's field as JSON has it (times as ISO 8601)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def mock_court_ledger(args: argparse.Namespace) -> int:
    store = _store()
    try:
        received, refused = store.received(), store.refused()
    finally:
        store.close()
    if args.json:
        rows = {
            "received": [{k: _plain(v) for k, v in asdict(r).items()} for r in received],
            "refused": [{k: _plain(v) for k, v in asdict(r).items()} for r in refused],
        }
        print(json.dumps(rows, indent=1))
        return 0
    for r in received:
        said = f"{r.error_code} {r.error_text}" if r.errors else f"order {r.order_id} FCN {r.control_number or '-'}"
        ids = f"{r.document_id or '-'} {r.correlation_id or '-'}"
        print(f"{r.id:5} {r.received_at:%Y-%m-%dT%H:%M:%SZ} {ids} {said}{' DUPLICATE' if r.duplicate else ''}")
    for f in refused:
        print(f"refused {f.refused_at:%Y-%m-%dT%H:%M:%SZ} {f.code} {f.reason}")
    print(f"{len(received)} received, {len(refused)} refused")
    return 0


def mock_court_faults(args: argparse.Namespace) -> int:
    store = _store()
    try:
        if args.clear:
            store.clear_faults()
        try:
            plan = store.set_faults(
                down=args.down, latency_ms=args.latency_ms, fail_next=args.fail_next, error_rate=args.error_rate
            )
        except ValueError as err:
            raise Exit(str(err), status=2) from err
    finally:
        store.close()
    print(
        f"down: {'yes' if plan.down else 'no'}, latency: {plan.latency_ms} ms, fail-next: {plan.fail_next}, "
        f"error rate: {plan.error_rate}"
    )
    return 0
