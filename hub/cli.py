"""``ccpor-hub``: the command line for operators and developers.

ccpor-hub db upgrade | db check
ccpor-hub keys master [--path FILE]
ccpor-hub users add NAME --org ORI --role ROLE [--clets]     (password on stdin)
ccpor-hub users unlock NAME | users set-cert NAME CERT.pem
ccpor-hub audit verify [--anchor SEQ:MAC] | audit purge [--older-than-days N]
ccpor-hub carpos encode ORDER.xml [--mke EPO|MPO|SPO|CPO|XPO] [--ori ORI] [--oca ID] [--fcn FCN]
ccpor-hub serve [--bind HOST:PORT] [--workers N]
ccpor-hub orders expire
ccpor-hub wsdl [--service orders|admin] [--out FILE]
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
        unlock(session, args.name)
        return f"{args.name} is active again; its failed-logon count is reset"

    return _in_transaction("users unlock", args.name, work)


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


def _serve(args: argparse.Namespace) -> int:
    _master_key()  # fail here, with a message, rather than in every gunicorn worker
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        args.bind,
        "--workers",
        str(args.workers),
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
        "hub.server:wsgi_app()",
    ]
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
    from datetime import UTC, datetime

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
    with db.unit_of_work() as session:
        expired = OrderService().expire_due(session, system, datetime.now(UTC).date())
    print(f"{len(expired)} order(s) expired" + (": " + ", ".join(expired) if expired else ""))
    return 0


def _system_account(db: object) -> int:
    from sqlalchemy import select

    from hub.db.models import Account

    with db.unit_of_work() as session:  # type: ignore[attr-defined]
        first = session.scalar(select(Account.id).where(Account.role == Role.ADMINISTRATOR.value).limit(1))
    if first is None:
        raise SystemExit("create an ADMINISTRATOR account first: expiry is recorded in its name")
    return int(first)


def _carpos_encode(args: argparse.Namespace) -> int:
    """The CARPOS text of an order document (a partner's interop check), or why CARPOS would reject it."""
    from gateway import carpos
    from hub import xmlsafe
    from hub.contract import validate_order_profile
    from hub.errors import HubError
    from hub.orders.document import OrderDocument

    settings = load()
    limits = xmlsafe.XmlLimits(settings.max_request_bytes, settings.max_xml_depth, settings.max_xml_elements)
    try:
        root = xmlsafe.parse(Path(args.order).read_bytes(), limits)
    except OSError as exc:
        print(f"error: cannot read {args.order}: {exc.strerror}", file=sys.stderr)
        return 1
    except HubError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    violations = validate_order_profile(root, active=True, path="/Order")
    if violations:
        for v in violations:
            print(f"error: {v.path}: {v.message}", file=sys.stderr)
        return 1
    tx = carpos.from_order(
        OrderDocument(root), mke=carpos.Mke(args.mke), ori=args.ori or OrderDocument(root).court_ori, oca=args.oca,
        fcn=args.fcn,
    )  # fmt: skip
    reasons = carpos.problems(tx)
    if reasons:
        for reason in reasons:
            print(reason, file=sys.stderr)
        return 1
    print(carpos.encode(tx))
    return 0


def _wsdl(args: argparse.Namespace) -> int:
    from hub.api.app import SERVICES, service_wsdl

    (spec,) = [s for s in SERVICES if s.path == f"/ws/{args.service}"]
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
    cert = users.add_parser("set-cert", help="identify an account by its mutual-TLS client certificate")
    cert.add_argument("name")
    cert.add_argument("pem", help="the client certificate, PEM")
    cert.set_defaults(func=_users_set_cert)

    keys = sub.add_parser("keys", help="keys").add_subparsers(dest="keys_command", required=True)
    master = keys.add_parser("master", help="create the master key file (never overwrites one)")
    master.add_argument("--path", help="where to write it (default: the CCPOR_MASTER_KEY_FILE setting)")
    master.set_defaults(func=_keys_master)

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
    enc.add_argument("order", help="an order XML file (prf:ActiveOrder, or any element with the order's children)")
    enc.add_argument("--mke", default="EPO", choices=["EPO", "MPO", "SPO", "CPO", "XPO"])
    enc.add_argument("--ori", help="the sending agency's ORI (default: the issuing court's)")
    enc.add_argument("--oca", default="CCP0000000000", help="the hub's order id (OCA)")
    enc.add_argument("--fcn", help="the CARPOS file control number (MPO, SPO, CPO, XPO)")
    enc.set_defaults(func=_carpos_encode)

    wsdl = sub.add_parser("wsdl", help="print (or --out FILE) a service's WSDL generated from the XSDs")
    wsdl.add_argument("--service", choices=["orders", "admin"], default="orders")
    wsdl.add_argument("--out")
    wsdl.set_defaults(func=_wsdl)

    sub.add_parser("demo", help="run the scripted demo against a fresh hub").set_defaults(func=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
