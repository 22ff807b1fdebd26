"""``ccpor-hub serve | gateway | mock-doj``: the long-running processes -- the hub under gunicorn,
the CARPOS gateway, and the mock DOJ switch (with its ledger and notices)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hub.cli.accesslog import ACCESS_FORMAT
from hub.cli.common import Exit, master_key, settings, switch_settings, warn


def register_serve(sub: argparse._SubParsersAction) -> None:
    serve_cmd = sub.add_parser("serve", help="run the hub under gunicorn")
    serve_cmd.add_argument("--bind", default="127.0.0.1:8080")
    serve_cmd.add_argument("--workers", type=int, default=2)
    add_tls_arguments(serve_cmd)
    serve_cmd.set_defaults(func=serve)


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tls-cert --tls-key [--client-ca]``: HTTPS, and mutual TLS, for a server under gunicorn."""
    parser.add_argument("--tls-cert", help="PEM certificate (chain) to serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--client-ca", help="PEM CA bundle: require client certificates issued by it")


def with_tls(argv: list[str], args: argparse.Namespace) -> list[str]:
    """gunicorn's ``argv`` serving HTTPS as :func:`add_tls_arguments`' options say (unchanged without them)."""
    if args.tls_cert or args.tls_key or args.client_ca:
        if not (args.tls_cert and args.tls_key):
            raise Exit("--tls-cert and --tls-key go together", status=2)
        argv[-1:-1] = ["--certfile", args.tls_cert, "--keyfile", args.tls_key]
        if args.client_ca:
            # Mutual TLS: a client without a certificate from this CA is refused at the handshake
            # (ssl.CERT_REQUIRED == 2).
            argv[-1:-1] = ["--ca-certs", args.client_ca, "--cert-reqs", "2", "--do-handshake-on-connect"]
    return argv


def register_gateway(sub: argparse._SubParsersAction) -> None:
    gateway_cmd = sub.add_parser(
        "gateway", help="run the CARPOS gateway (outbox -> DOJ switch -> answers) until SIGTERM"
    )
    gateway_cmd.set_defaults(func=gateway, parts=["carpos-exchange"])
    worker_cmd = sub.add_parser(
        "worker",
        help="run every scheduled job until SIGTERM: the CARPOS gateway, order expiry, the monthly reports, "
        "audit retention, queue housekeeping (any number of workers: each job run happens once)",
    )
    worker_cmd.add_argument(
        "--only",
        help="comma-separated parts to run (carpos-exchange, expire-orders, monthly-reports, audit-retention, "
        "housekeeping); default: all",
    )
    worker_cmd.add_argument(
        "--check",
        action="store_true",
        help="say whether a worker could run here now (database, schema, master key; for the CARPOS "
        "exchange its keys and the DOJ switch's port) as JSON, exit 0 ready or 1 not; starts nothing",
    )
    worker_cmd.set_defaults(func=gateway, parts=None)


def register_mock_doj(sub: argparse._SubParsersAction) -> None:
    mock = sub.add_parser("mock-doj", help="the mock DOJ switch: serve it, read its ledger, post a notice")
    mock.add_argument("action", nargs="?", default="serve", choices=["serve", "ledger", "notice"])
    mock.add_argument("words", nargs="*", help="notice: ORI FCN TEXT")
    mock.add_argument("--bind", default="127.0.0.1:8090")
    mock.add_argument("--workers", type=int, default=2)
    mock.add_argument("--json", action="store_true", help="ledger: as JSON")
    mock.set_defaults(func=mock_doj)


def count_into(root: Path, part: str) -> None:
    """Prometheus counts of this process and its children go to ``root/part`` (hub.metrics): set
    before prometheus_client is imported. ``hub`` (the gunicorn workers) is emptied, as a new server
    starts its counts afresh; ``worker`` keeps the files of the machine's running workers and drops
    those of workers gone."""
    directory = root / part
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in directory.glob("*.db"):
        pid = stale.stem.rsplit("_", 1)[-1]
        if part == "hub" or not (pid.isdigit() and Path(f"/proc/{pid}").exists()):
            stale.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def serve(args: argparse.Namespace) -> int:
    master_key()  # fail here, with a message, rather than in every gunicorn worker
    count_into(settings().resolved_metrics_dir, "hub")
    set_public_url("CCPOR_PUBLIC_URL", args.bind, bool(args.tls_cert))
    argv = with_tls(gunicorn(args.bind, args.workers, "hub.server:wsgi_app()"), args)
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with gunicorn, our own argv
    return 0  # pragma: no cover


def gateway(args: argparse.Namespace) -> int:
    """``gateway`` (the CARPOS exchange alone) and ``worker`` (everything scheduled, or ``--only``)."""
    import logging

    count_into(settings().resolved_metrics_dir, "worker")  # before the gateway's modules load prometheus_client

    from gateway import keys, scheduler
    from hub import logs, masterkey

    parts = args.parts or (
        [p.strip() for p in args.only.split(",") if p.strip()] if getattr(args, "only", None) else None
    )
    unknown = [p for p in parts or () if p not in scheduler.WORKER_PARTS]
    if unknown:
        choices = ", ".join(scheduler.WORKER_PARTS)
        raise Exit(f"--only: no such part: {', '.join(unknown)} (choose from {choices})", status=2)
    if getattr(args, "check", False):
        return _worker_check(parts or list(scheduler.WORKER_PARTS))
    # The level is for the hub's own loggers (DEBUG: one line per batch, with its timings). Libraries
    # stay at INFO or above: signxml's DEBUG lines print every canonicalized envelope, zeep's every
    # SOAP message -- megabytes a minute and a cost per message, for nothing an operator needs.
    logs.configure(settings().log_format)
    logging.getLogger("ccpor").setLevel(os.environ.get("CCPOR_LOG_LEVEL", "INFO").upper())
    for noisy in ("apscheduler", "zeep", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return scheduler.run_worker(settings(), parts)
    except (keys.KeyFileError, masterkey.MasterKeyError) as err:
        raise Exit(str(err)) from err


def _worker_check(parts: list[str]) -> int:
    """``worker --check``: the readiness of a worker on this machine (an orchestrator's exec probe)."""
    import socket
    from urllib.parse import urlsplit

    from gateway import keys, scheduler
    from hub import masterkey
    from hub.api.probes import readiness, verdict
    from hub.db import migrate
    from hub.db.engine import Database

    config = settings()
    try:
        key = masterkey.load(config.resolved_master_key_file)
    except masterkey.MasterKeyError:
        key = None
    db = Database(config.resolved_database_url)
    try:
        found = readiness(db, migrate.head(), key_loaded=key is not None)
    finally:
        db.dispose()
    if "carpos-exchange" in parts:
        try:
            if key is None:
                raise keys.KeyFileError("no master key")
            scheduler.hub_channel(config, key)
            found["carpos_keys"] = "ok"
        except keys.KeyFileError as err:
            found["carpos_keys"] = str(err)
        switch = urlsplit(config.doj_url)
        port = switch.port or (443 if switch.scheme == "https" else 80)
        try:
            socket.create_connection((switch.hostname or "", port), timeout=5).close()
            found["doj_switch"] = "ok"
        except OSError as err:
            found["doj_switch"] = f"{switch.hostname}:{port} does not accept connections ({err.strerror or err})"
    ready, line = verdict(found)
    print(line.decode(), end="")
    return 0 if ready else 1


def mock_doj(args: argparse.Namespace) -> int:
    from gateway import keys
    from hub import masterkey
    from mocks.doj import server

    switch_config = switch_settings()
    if args.action == "ledger":
        return _mock_doj_ledger(switch_config, args.json)
    if args.action == "notice":
        if len(args.words) < 3:
            raise Exit("usage: ccpor-hub mock-doj notice ORI FCN TEXT...")
        switch = server.build(switch_config)
        print(switch.notice(args.words[0], args.words[1], " ".join(args.words[2:]).upper()))
        return 0
    try:
        for line in server.prepare(switch_config):
            print(line, file=sys.stderr)
    except (keys.KeyFileError, masterkey.MasterKeyError) as err:
        raise Exit(str(err)) from err
    set_public_url("CCPOR_DOJ_PUBLIC_URL", args.bind, tls=False)
    argv = gunicorn(args.bind, args.workers, "mocks.doj.server:wsgi_app()")
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with gunicorn, our own argv
    return 0  # pragma: no cover


def _mock_doj_ledger(switch_config, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    import json

    from sqlalchemy import select
    from sqlalchemy.engine import make_url

    from mocks.doj.models import LedgerEntry
    from mocks.doj.service import open_database

    url = make_url(switch_config.resolved_database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        # A read: it makes no directory and no database; there is no ledger before the switch ran.
        raise Exit(
            f"the mock switch has no ledger yet ({url.database} does not exist): start it with ccpor-hub mock-doj"
        )
    db = open_database(switch_config.resolved_database_url)
    with db.read() as s:
        rows = s.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        entries = [
            {"mcn": e.mcn, "mke": e.mke, "sender_ori": e.sender_ori, "fcn": e.fcn, "result": e.result,
             "reason": e.reason, "times_received": e.times_received, "answer_mcn": e.answer_mcn}
            for e in rows
        ]  # fmt: skip
    db.dispose()
    if as_json:
        print(json.dumps(entries, indent=1))
        return 0
    for e in entries:
        print(f"{e['mcn']:20} {e['mke']} {e['result']} {e['fcn'] or '-':13} x{e['times_received']} {e['reason'] or ''}")
    print(f"{len(entries)} transaction(s)")
    return 0


def set_public_url(variable: str, bind: str, tls: bool) -> None:
    """Default ``variable`` (the address the served WSDLs give) to the bound address, checked; an
    unroutable one (0.0.0.0, ::) is kept but named in a warning: set the variable to the real name."""
    from hub.urls import public_base

    url = os.environ.get(variable) or f"{'https' if tls else 'http'}://{bind}"
    try:
        os.environ[variable] = public_base(url, variable)
    except ValueError as err:
        raise Exit(f"{err} (or bind to HOST:PORT)") from err
    if any(f"//{host}" in url for host in ("0.0.0.0", "[::]")):  # noqa: S104 - naming it, not binding it
        warn(f"the WSDLs will give {url} as the hub's address: set {variable}")


def gunicorn(bind: str, workers: int, app: str) -> list[str]:
    """The argv that runs ``app`` (a WSGI factory) under gunicorn as the hub runs every server."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        # gunicorn 27 opens a control socket under ~/.gunicorn by default; the hub has no use for it.
        "--no-control-socket",
        "--graceful-timeout",
        "30",
        "--timeout",
        "120",
        "--access-logfile",
        "-",
        # No request bodies or headers in the access log: they carry passwords and CJI.
        "--access-logformat",
        ACCESS_FORMAT,
        "--logger-class",
        "hub.cli.accesslog.AccessLogger",
        # X-Forwarded-* only from the configured TLS-terminating proxies (gunicorn's default trusts loopback).
        "--forwarded-allow-ips",
        ",".join(settings().trusted_proxies),
        app,
    ]
