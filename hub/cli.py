"""``ccpor-hub``: the command line for operators and developers.

ccpor-hub db upgrade | db check
ccpor-hub keys master [--path FILE]
ccpor-hub users add NAME --org ORI --role ROLE [--clets]     (password on stdin)
ccpor-hub users unlock NAME | users enable NAME --reason TEXT | users set-cert NAME CERT.pem
ccpor-hub audit verify [--anchor SEQ:MAC] | audit purge [--older-than-days N]
ccpor-hub carpos encode ORDER.xml [--mke EPO|MPO|SPO|CPO|XPO] [--ori ORI] [--oca ID] [--fcn FCN]
ccpor-hub carpos seal ORDER.xml --out FILE [same options] [--mcn MCN]
ccpor-hub keys init DIR [--bits N] [--days N]
ccpor-hub serve [--bind HOST:PORT] [--workers N]
ccpor-hub gateway
ccpor-hub mock-doj [serve [--bind HOST:PORT] [--workers N] | ledger [--json] | notice ORI FCN TEXT]
ccpor-hub queue ls [--state S] [--json] | queue show ID | queue requeue ID | queue purge-dead --older-than DAYS
ccpor-hub orders expire
ccpor-hub wsdl [--service orders|admin|carpos|switch] [--out FILE]
ccpor-hub demo
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hub.codes import Role
from hub.settings import load

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.masterkey import MasterKey


def _db_upgrade(args: argparse.Namespace) -> int:
    from hub.db import migrate

    settings = load()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    print(f"database is at the newest schema ({_safe_url(settings.resolved_database_url)})")
    return 0


def _db_check(args: argparse.Namespace) -> int:
    from hub.db import migrate

    migrate.check(load().resolved_database_url)
    print("models and migrations agree")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _master_key() -> MasterKey:
    """The configured master key, or exit 1 with the reason (missing, unreadable, too open)."""
    from hub import masterkey

    try:
        return masterkey.load(load().resolved_master_key_file)
    except masterkey.MasterKeyError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from err


def _in_transaction(operation: str, target: str, work: Callable[[Session], str]) -> int:
    """Run an operator's ``work`` in one unit of work, audited as an ADMIN event in the same
    transaction; print its message or the error."""
    import getpass
    from datetime import UTC, datetime

    from hub.audit import ADMIN, AuditTrail, Event
    from hub.db.engine import Database
    from hub.errors import HubError

    trail = AuditTrail(_master_key())
    db = Database(load().resolved_database_url)

    def record(session: Session, outcome: str, detail: str) -> None:
        event = Event(
            at=datetime.now(UTC),
            username=f"cli:{getpass.getuser()}",
            org_ori="",
            operation=operation,
            outcome=outcome,
            target=target,
            client_address="local",
            detail=detail,
            category=ADMIN,
        )
        trail.record(session.connection(), event)

    try:
        with db.unit_of_work() as session:
            message = work(session)
            record(session, "OK", message)
    except HubError as err:
        with db.unit_of_work() as session:  # a refused action is audited too, on its own
            record(session, err.code, err.message)
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(message)
    return 0


def _users_add(args: argparse.Namespace) -> int:
    from hub.accounts.service import ACCOUNT_SECRETS, add_user

    password = sys.stdin.readline().rstrip("\n")
    sealer = _master_key().sealer(ACCOUNT_SECRETS) if args.digest else None

    def work(session: Session) -> str:
        role = Role(args.role)
        account = add_user(
            session, args.name, ori=args.org, role=role, clets=args.clets, password=password, digest_sealer=sealer
        )
        extras = (", CLETS certified" if args.clets else "") + (", PasswordDigest allowed" if args.digest else "")
        return f"created {account.username} ({account.role}{extras}) in {args.org}"

    return _in_transaction("users add", args.name, work)


def _users_unlock(args: argparse.Namespace) -> int:
    from hub.accounts.service import unlock

    def work(session: Session) -> str:
        _, what = unlock(session, args.name)
        return f"{args.name}: {what}"

    return _in_transaction("users unlock", args.name, work)


def _users_enable(args: argparse.Namespace) -> int:
    from hub.accounts.admin import enable

    def work(session: Session) -> str:
        _, what = enable(session, args.name, args.reason)
        return f"{args.name}: {what}"

    return _in_transaction("users enable", args.name, work)


def _users_set_cert(args: argparse.Namespace) -> int:
    from hub.accounts.service import register_certificate

    try:
        pem = Path(args.pem).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.pem}: {exc.strerror}", file=sys.stderr)
        return 1

    def work(session: Session) -> str:
        fingerprint = register_certificate(session, args.name, pem)
        return f"{args.name} is identified over mutual TLS by certificate sha256:{fingerprint}"

    return _in_transaction("users set-cert", args.name, work)


def _keys_master(args: argparse.Namespace) -> int:
    from hub import masterkey

    path = Path(args.path) if args.path else load().resolved_master_key_file
    try:
        key = masterkey.create(path)
    except FileExistsError:
        print(f"error: {path} exists; a master key is never overwritten (see docs/OPERATIONS.md)", file=sys.stderr)
        return 1
    print(f"wrote a new master key to {path} (mode 0600, key id {key.key_id}); back it up apart from the database")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from hub.audit import AuditTrail
    from hub.db.engine import Database

    anchor = None
    if args.anchor:
        seq, _, mac = args.anchor.partition(":")
        if not seq.isdigit() or len(mac) != 64:
            print("error: --anchor takes SEQ:MAC as printed by an earlier 'audit verify'", file=sys.stderr)
            return 2
        anchor = (int(seq), mac)
    trail = AuditTrail(_master_key())
    db = Database(load().resolved_database_url)
    try:
        with db.read() as session:
            result = trail.verify(session.connection(), anchor=anchor)
    finally:
        db.dispose()
    span = f"events {result.base_seq + 1}..{result.head_seq}"
    if result.ok:
        print(f"audit chain intact: {result.checked} events checked ({span})")
        if result.legacy:
            print(f"note: events 1..{result.base_seq} predate the chain (migration 0005); the next event seals the row")
        if result.anchor_purged:
            print(f"note: the anchored event is older than the chain's base ({result.base_seq}, purged by retention)")
        # Keep this line outside the database (SIEM, ticket, WORM storage): '--anchor' checks it later.
        print(f"head: {result.head_seq}:{result.head_mac}")
        return 0
    print(f"audit chain BROKEN ({span}, {result.checked} events read):", file=sys.stderr)
    for seq, what in result.problems:
        print(f"  event {seq}: {what}", file=sys.stderr)
    if result.more:
        print(f"  ... and {result.more} more", file=sys.stderr)
    return 3


def _audit_purge(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from hub.audit import MIN_AUDIT_RETENTION_DAYS, AuditTrail

    settings = load()
    days = settings.audit_retention_days if args.older_than_days is None else args.older_than_days
    if days < MIN_AUDIT_RETENTION_DAYS:
        print(f"error: audit events are kept at least {MIN_AUDIT_RETENTION_DAYS} days (CJIS AU-11)", file=sys.stderr)
        return 2
    before = datetime.now(UTC) - timedelta(days=days)
    trail = AuditTrail(_master_key())

    def work(session: Session) -> str:
        count, base = trail.purge(session.connection(), before)
        return f"purged {count} audit event(s) older than {days} days; the chain now starts after event {base}"

    return _in_transaction("audit purge", "", work)


def _public_url(variable: str, bind: str, tls: bool) -> None:
    """Default ``variable`` (the address the served WSDLs give) to the bound address, checked; an
    unroutable one (0.0.0.0, ::) is kept but named in a warning: set the variable to the real name."""
    from hub.soap.wsdl import public_base

    url = os.environ.get(variable) or f"{'https' if tls else 'http'}://{bind}"
    try:
        os.environ[variable] = public_base(url, variable)
    except ValueError as err:
        raise _Exit(f"{err} (or bind to HOST:PORT)") from err
    if any(f"//{host}" in url for host in ("0.0.0.0", "[::]")):  # noqa: S104 - naming it, not binding it
        print(f"warning: the WSDLs will give {url} as the hub's address: set {variable}", file=sys.stderr)


def _serve(args: argparse.Namespace) -> int:
    _master_key()  # fail here, with a message, rather than in every gunicorn worker
    _public_url("CCPOR_PUBLIC_URL", args.bind, bool(args.tls_cert))
    argv = _gunicorn(args.bind, args.workers, "hub.server:wsgi_app()")
    if args.tls_cert or args.tls_key or args.client_ca:
        if not (args.tls_cert and args.tls_key):
            print("error: --tls-cert and --tls-key go together", file=sys.stderr)
            return 2
        argv[-1:-1] = ["--certfile", args.tls_cert, "--keyfile", args.tls_key]
        if args.client_ca:
            # Mutual TLS: a client without a certificate from this CA is refused at the handshake
            # (ssl.CERT_REQUIRED == 2). Mapping the certificate to an account is issue 3's next step.
            argv[-1:-1] = ["--ca-certs", args.client_ca, "--cert-reqs", "2", "--do-handshake-on-connect"]
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with gunicorn, our own argv
    return 0  # pragma: no cover


def _orders_expire(args: argparse.Namespace) -> int:
    from hub.accounts.service import Principal
    from hub.db.engine import Database
    from hub.orders.service import OrderService

    db = Database(load().resolved_database_url)
    system = Principal(
        account_id=_system_account(db),
        username="ccpor-hub",
        organization_id=0,
        ori="CA0000000",
        county_code="00",
        role=Role.ADMINISTRATOR,
        clets_certified=False,
    )
    db.dispose()

    def work(session: Session) -> str:
        expired = OrderService(calendar=load().calendar).expire_due(session, system)
        return f"{len(expired)} order(s) expired" + (": " + ", ".join(expired) if expired else "")

    return _in_transaction("orders expire", "", work)  # the expiries and their ADMIN event, one transaction


def _system_account(db: object) -> int:
    from sqlalchemy import select

    from hub.db.models import Account

    with db.unit_of_work() as session:  # type: ignore[attr-defined]
        first = session.scalar(select(Account.id).where(Account.role == Role.ADMINISTRATOR.value).limit(1))
    if first is None:
        raise SystemExit("create an ADMINISTRATOR account first: expiry is recorded in its name")
    return int(first)


def _carpos_transaction(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The CARPOS transaction of the order document in ``args.order``; exit 1 with the reasons
    (unreadable, not an ACTIVE order, or what CARPOS would reject)."""
    from hub import xmlsafe
    from hub.carpos import codec
    from hub.contract import validate_order_profile
    from hub.errors import HubError
    from hub.orders.document import OrderDocument

    settings = load()
    limits = xmlsafe.XmlLimits(settings.max_request_bytes, settings.max_xml_depth, settings.max_xml_elements)
    try:
        root = xmlsafe.parse(Path(args.order).read_bytes(), limits)
    except OSError as exc:
        raise _Exit(f"cannot read {args.order}: {exc.strerror}") from exc
    except HubError as err:
        raise _Exit(err.message) from err
    violations = validate_order_profile(root, active=True, path="/Order")
    if violations:
        raise _Exit("\n".join(f"{v.path}: {v.message}" for v in violations))
    doc = OrderDocument(root)
    tx = codec.from_order(doc, mke=codec.Mke(args.mke), ori=args.ori or doc.court_ori, oca=args.oca, fcn=args.fcn)
    reasons = codec.problems(tx)
    if reasons:
        raise _Exit("\n".join(reasons), prefix="")
    return tx


class _Exit(Exception):
    """Stop a command with exit status 1 and this message on stderr."""

    def __init__(self, message: str, prefix: str = "error: ") -> None:
        super().__init__(message)
        self.text = "\n".join(prefix + line for line in message.splitlines())


def _carpos_encode(args: argparse.Namespace) -> int:
    """The CARPOS text of an order document (a partner's interop check), or why CARPOS would reject it."""
    from hub.carpos import codec

    print(codec.encode(_carpos_transaction(args)))
    return 0


def _carpos_seal(args: argparse.Namespace) -> int:
    """The signed, encrypted transmission of an order document, for partners and interop checks."""
    from datetime import UTC, datetime

    from gateway import keys
    from gateway.scheduler import hub_channel
    from hub.carpos import codec
    from hub.carpos.envelope import Header, MessageKey, Transmission

    settings = load()
    tx = _carpos_transaction(args)
    try:
        channel, warnings = hub_channel(settings, _master_key())
    except keys.KeyFileError as err:
        raise _Exit(str(err)) from err
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    now = datetime.now(UTC)
    mcn = args.mcn or f"{args.oca}-001"
    header = Header(mcn, tx.get("ORI") or "", settings.doj_ori, MessageKey(tx.mke.value), now, now, args.oca)
    Path(args.out).write_bytes(channel.seal(Transmission(header, (codec.encode(tx),))))
    print(f"wrote {args.out}: {tx.mke.value} {mcn}, encrypted to DOJ ({settings.resolved_doj_cert_file}), "
          f"signed by the hub ({settings.resolved_hub_cert_file})")  # fmt: skip
    return 0


def _keys_init(args: argparse.Namespace) -> int:
    from gateway import keys
    from hub import masterkey
    from hub.settings import load_switch

    hub_master = _master_key()
    doj_key_file = load_switch().resolved_master_key_file
    doj_master = masterkey.load(doj_key_file) if doj_key_file.exists() else masterkey.create(doj_key_file)
    try:
        made = keys.init(Path(args.dir), hub_master, doj_master, bits=args.bits, days=args.days)
    except FileExistsError as exc:
        raise _Exit(f"{exc} exist(s): keys are never replaced in place; choose a new directory") from exc
    print(f"wrote a development CA and CARPOS key pairs to {args.dir} ({args.bits}-bit RSA, {args.days} days):")
    print(f"  {made.ca}  the development CA (its key was not kept)")
    print(f"  {made.hub_cert}, {made.hub_key}  the hub's (key encrypted under {load().resolved_master_key_file})")
    print(f"  {made.doj_cert}, {made.doj_key}  the mock DOJ switch's (key encrypted under {doj_key_file})")
    print("point CCPOR_CARPOS_KEY_DIR at the directory (or set CCPOR_HUB_KEY_FILE and the others)")
    return 0


def _gateway(args: argparse.Namespace) -> int:
    import logging

    from gateway import keys, scheduler
    from hub import masterkey

    # The level is for the hub's own loggers (DEBUG: one line per batch, with its timings). Libraries
    # stay at INFO or above: signxml's DEBUG lines print every canonicalized envelope, zeep's every
    # SOAP message -- megabytes a minute and a cost per message, for nothing an operator needs.
    level = os.environ.get("CCPOR_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")
    logging.getLogger("ccpor").setLevel(level)
    for noisy in ("apscheduler", "zeep", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return scheduler.run(load())
    except (keys.KeyFileError, masterkey.MasterKeyError) as err:
        raise _Exit(str(err)) from err


def _mock_doj(args: argparse.Namespace) -> int:
    from gateway import keys
    from hub import masterkey
    from hub.settings import load_switch
    from mocks.doj import server

    settings = load_switch()
    if args.action == "ledger":
        return _mock_doj_ledger(settings, args.json)
    if args.action == "notice":
        if len(args.words) < 3:
            raise _Exit("usage: ccpor-hub mock-doj notice ORI FCN TEXT...")
        switch = server.build(settings)
        print(switch.notice(args.words[0], args.words[1], " ".join(args.words[2:]).upper()))
        return 0
    try:
        for line in server.prepare(settings):
            print(line, file=sys.stderr)
    except (keys.KeyFileError, masterkey.MasterKeyError) as err:
        raise _Exit(str(err)) from err
    _public_url("CCPOR_DOJ_PUBLIC_URL", args.bind, tls=False)
    argv = _gunicorn(args.bind, args.workers, "mocks.doj.server:wsgi_app()")
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with gunicorn, our own argv
    return 0  # pragma: no cover


def _mock_doj_ledger(settings, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    import json

    from sqlalchemy import select

    from mocks.doj.models import LedgerEntry
    from mocks.doj.service import open_database

    db = open_database(settings.resolved_database_url)
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


def _queue(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime, timedelta

    from hub.carpos import queue
    from hub.db.engine import Database
    from hub.db.models import CarposMessage
    from hub.errors import HubError
    from hub.orders.search import paginate

    db = Database(load().resolved_database_url)
    try:
        if args.queue_command == "ls":
            with db.read() as session:
                state = queue.state_of(args.state, "--state")
                page = paginate(session, queue.list_query(state), args.page, 50, CarposMessage.id.desc())
                found = [queue.entry(m) for m in page.items]
                summary = queue.counts(session)
            if args.json:
                print(json.dumps({"total": page.total, "page": page.number, "last_page": page.last,
                                  "counts": summary, "messages": [e.as_dict() for e in found]}, indent=1))  # fmt: skip
                return 0
            print("  ".join(f"{k} {v}" for k, v in sorted(summary.items())) or "the queue is empty")
            for e in found:
                due = f"next {e.next_attempt_at:%H:%M:%S}" if e.state in ("QUEUED", "SENT") else ""
                print(f"{e.id:>7} {e.mcn:20} {e.mke} {e.state:10} x{e.attempts:<3} {e.order_id or '-':14} {due}"
                      f" {e.last_error or ''}".rstrip())  # fmt: skip
            print(f"page {page.number} of {page.last} ({page.total} message(s))")
            return 0
        if args.queue_command == "show":
            with db.read() as session:
                print(json.dumps(queue.entry(queue.find(session, args.id)).as_dict(), indent=1))
            return 0
    except HubError as err:
        raise _Exit(err.message) from err
    finally:
        db.dispose()
    now = datetime.now(UTC)
    if args.queue_command == "requeue":
        return _in_transaction("queue requeue", args.id, lambda s: queue.requeue(s, args.id, now)[1])
    days = args.older_than

    def purge(session: Session) -> str:
        count, kept = queue.purge_dead(session, timedelta(days=days), now)
        note = f"; kept {', '.join(kept)}: their orders need them (requeue them)" if kept else ""
        return f"purged {count} dead message(s) older than {days} days{note}"

    return _in_transaction("queue purge-dead", "", purge)


def _gunicorn(bind: str, workers: int, app: str) -> list[str]:
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
        '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
        # X-Forwarded-* only from the configured TLS-terminating proxies (gunicorn's default trusts loopback).
        "--forwarded-allow-ips",
        ",".join(load().trusted_proxies),
        app,
    ]


def _wsdl(args: argparse.Namespace) -> int:
    from hub.api.app import SERVICES
    from hub.soap.wsdl import service_wsdl
    from mocks.doj.service import SWITCH

    (spec,) = [s for s in (*SERVICES, SWITCH) if s.path in (f"/ws/{args.service}", f"/doj/{args.service}")]
    data = service_wsdl(spec)
    if args.out:
        with open(args.out, "wb") as fh:
            fh.write(data)
        print(f"wrote {args.out}")
    else:
        sys.stdout.buffer.write(data)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from hub import demo

    return demo.main()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ccpor-hub", description="CCPOR Phase II integration hub")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate the database to the newest schema").set_defaults(func=_db_upgrade)
    db.add_parser("check", help="fail if models and migrations disagree").set_defaults(func=_db_check)

    users = sub.add_parser("users", help="accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an account; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--org", required=True, help="ORI of the court or agency (CA + county code + 4)")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--clets", action="store_true", help="the user is CLETS certified")
    add.add_argument(
        "--digest", action="store_true", help="allow WS-Security PasswordDigest (keeps the password sealed)"
    )
    add.set_defaults(func=_users_add)
    release = users.add_parser("unlock", help="release an account locked after failed logons (administrators)")
    release.add_argument("name")
    release.set_defaults(func=_users_unlock)
    enable = users.add_parser("enable", help="re-enable a disabled account (administrators; a reason is required)")
    enable.add_argument("name")
    enable.add_argument("--reason", required=True, help="why (kept in the audit event)")
    enable.set_defaults(func=_users_enable)
    cert = users.add_parser("set-cert", help="identify an account by its mutual-TLS client certificate")
    cert.add_argument("name")
    cert.add_argument("pem", help="the client certificate, PEM")
    cert.set_defaults(func=_users_set_cert)

    keys = sub.add_parser("keys", help="keys").add_subparsers(dest="keys_command", required=True)
    master = keys.add_parser("master", help="create the master key file (never overwrites one)")
    master.add_argument("--path", help="where to write it (default: the CCPOR_MASTER_KEY_FILE setting)")
    master.set_defaults(func=_keys_master)
    init = keys.add_parser("init", help="create a development CA and the hub's and DOJ's CARPOS key pairs in DIR")
    init.add_argument("dir")
    init.add_argument("--bits", type=int, default=2048, choices=[2048, 3072, 4096])
    init.add_argument("--days", type=int, default=825, help="certificate lifetime")
    init.set_defaults(func=_keys_init)

    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="check the hash chain; exit 3 if it is broken")
    verify.add_argument("--anchor", help="SEQ:MAC, a head printed by an earlier verify and kept outside the database")
    verify.set_defaults(func=_audit_verify)
    purge = audit.add_parser("purge", help="delete events older than the retention period (a chain prefix)")
    purge.add_argument("--older-than-days", type=int, help="default: CCPOR_AUDIT_RETENTION_DAYS (365)")
    purge.set_defaults(func=_audit_purge)

    serve = sub.add_parser("serve", help="run the hub under gunicorn")
    serve.add_argument("--bind", default="127.0.0.1:8080")
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument("--tls-cert", help="PEM certificate (chain) to serve HTTPS")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument("--client-ca", help="PEM CA bundle: require client certificates issued by it")
    serve.set_defaults(func=_serve)

    orders = sub.add_parser("orders", help="order maintenance").add_subparsers(dest="orders_command", required=True)
    orders.add_parser("expire", help="mark ACTIVE orders past their expiration date EXPIRED").set_defaults(
        func=_orders_expire
    )

    carpos_cmd = sub.add_parser("carpos", help="CARPOS messages").add_subparsers(dest="carpos_command", required=True)
    enc = carpos_cmd.add_parser("encode", help="print the CARPOS text of an order document (ACTIVE profile)")
    seal = carpos_cmd.add_parser("seal", help="write the signed, encrypted transmission of an order document")
    seal.add_argument("--out", required=True, help="where to write the sealed tx:Transmission")
    seal.add_argument("--mcn", help="its message control number (default: OCA-001)")
    for cmd, func in ((enc, _carpos_encode), (seal, _carpos_seal)):
        cmd.add_argument("order", help="an order XML file (prf:ActiveOrder, or any element with the order's children)")
        cmd.add_argument("--mke", default="EPO", choices=["EPO", "MPO", "SPO", "CPO", "XPO"])
        cmd.add_argument("--ori", help="the sending agency's ORI (default: the issuing court's)")
        cmd.add_argument("--oca", default="CCP0000000000", help="the hub's order id (OCA)")
        cmd.add_argument("--fcn", help="the CARPOS file control number (MPO, SPO, CPO, XPO)")
        cmd.set_defaults(func=func)

    gateway = sub.add_parser("gateway", help="run the CARPOS gateway (outbox -> DOJ switch -> answers) until SIGTERM")
    gateway.set_defaults(func=_gateway)

    mock = sub.add_parser("mock-doj", help="the mock DOJ switch: serve it, read its ledger, post a notice")
    mock.add_argument("action", nargs="?", default="serve", choices=["serve", "ledger", "notice"])
    mock.add_argument("words", nargs="*", help="notice: ORI FCN TEXT")
    mock.add_argument("--bind", default="127.0.0.1:8090")
    mock.add_argument("--workers", type=int, default=2)
    mock.add_argument("--json", action="store_true", help="ledger: as JSON")
    mock.set_defaults(func=_mock_doj)

    q = sub.add_parser("queue", help="the CARPOS message queue").add_subparsers(dest="queue_command", required=True)
    ls = q.add_parser("ls", help="list messages, newest first (50 a page)")
    ls.add_argument("--state", help="QUEUED, SENT, ACCEPTED, REJECTED, DEAD or SUPERSEDED")
    ls.add_argument("--page", type=int, default=1)
    ls.add_argument("--json", action="store_true")
    show = q.add_parser("show", help="one message, by its number or MCN (JSON)")
    show.add_argument("id")
    requeue = q.add_parser("requeue", help="send a DEAD message again (or a waiting one now); audited")
    requeue.add_argument("id")
    purge_dead = q.add_parser("purge-dead", help="delete dead messages older than N days; audited")
    purge_dead.add_argument("--older-than", type=int, required=True, metavar="DAYS")
    for cmd in (ls, show, requeue, purge_dead):
        cmd.set_defaults(func=_queue)

    wsdl = sub.add_parser("wsdl", help="print (or --out FILE) a service's WSDL generated from the XSDs")
    wsdl.add_argument("--service", choices=["orders", "admin", "carpos", "switch"], default="orders")
    wsdl.add_argument("--out")
    wsdl.set_defaults(func=_wsdl)

    sub.add_parser("demo", help="run the scripted demo against a fresh hub").set_defaults(func=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except _Exit as stop:
        print(stop.text, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
