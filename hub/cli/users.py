"""``ccpor-hub users add | unlock | enable | set-cert``: accounts (the rest is on ``/ws/admin``).

Each change runs in one unit of work with its ADMIN audit event (``cli:<OS user>`` from ``local``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hub.cli.common import Exit, in_transaction, master_key
from hub.codes import Role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def register(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="accounts").add_subparsers(dest="users_command", required=True)
    add_cmd = users.add_parser("add", help="create an account; the password is read from stdin")
    add_cmd.add_argument("name")
    add_cmd.add_argument("--org", required=True, help="ORI of the court or agency (CA + county code + 4)")
    add_cmd.add_argument("--role", required=True, choices=[r.value for r in Role])
    add_cmd.add_argument("--clets", action="store_true", help="the user is CLETS certified")
    add_cmd.add_argument(
        "--digest", action="store_true", help="allow WS-Security PasswordDigest (keeps the password sealed)"
    )
    add_cmd.set_defaults(func=add)
    release = users.add_parser("unlock", help="release an account locked after failed logons (administrators)")
    release.add_argument("name")
    release.set_defaults(func=unlock)
    enable_cmd = users.add_parser("enable", help="re-enable a disabled account (administrators; a reason is required)")
    enable_cmd.add_argument("name")
    enable_cmd.add_argument("--reason", required=True, help="why (kept in the audit event)")
    enable_cmd.set_defaults(func=enable)
    cert = users.add_parser("set-cert", help="identify an account by its mutual-TLS client certificate")
    cert.add_argument("name")
    cert.add_argument("pem", help="the client certificate, PEM")
    cert.set_defaults(func=set_cert)


def add(args: argparse.Namespace) -> int:
    from hub.accounts.service import ACCOUNT_SECRETS, add_user

    password = sys.stdin.readline().rstrip("\n")
    sealer = master_key().sealer(ACCOUNT_SECRETS) if args.digest else None

    def work(session: Session) -> str:
        role = Role(args.role)
        account = add_user(
            session, args.name, ori=args.org, role=role, clets=args.clets, password=password, digest_sealer=sealer
        )
        extras = (", CLETS certified" if args.clets else "") + (", PasswordDigest allowed" if args.digest else "")
        return f"created {account.username} ({account.role}{extras}) in {args.org}"

    return in_transaction("users add", args.name, work)


def unlock(args: argparse.Namespace) -> int:
    from hub.accounts import service

    def work(session: Session) -> str:
        _, what = service.unlock(session, args.name)
        return f"{args.name}: {what}"

    return in_transaction("users unlock", args.name, work)


def enable(args: argparse.Namespace) -> int:
    from hub.accounts import admin

    def work(session: Session) -> str:
        _, what = admin.enable(session, args.name, args.reason)
        return f"{args.name}: {what}"

    return in_transaction("users enable", args.name, work)


def set_cert(args: argparse.Namespace) -> int:
    from hub.accounts.service import register_certificate

    try:
        pem = Path(args.pem).read_bytes()
    except OSError as exc:
        raise Exit(f"cannot read {args.pem}: {exc.strerror}") from exc

    def work(session: Session) -> str:
        fingerprint = register_certificate(session, args.name, pem)
        return f"{args.name} is identified over mutual TLS by certificate sha256:{fingerprint}"

    return in_transaction("users set-cert", args.name, work)
