"""``ccpor-hub dsp917 court | courts``: the courts that send DSP917 notifications -- whether the hub
enters their orders in CARPOS, and where their business responses go (docs/OPERATIONS.md)."""

from __future__ import annotations

import argparse
import sys

from hub.cli.common import Exit, database, in_transaction, master_key


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("dsp917", help="courts on DSP917 (FACCTS, CCMS): CARPOS entry, business responses")
    d = d.add_subparsers(dest="dsp917_command", required=True)
    court = d.add_parser("court", help="set one court's DSP917 settings (what is not given stays); audited")
    court.add_argument("ori", help="the court's ORI (its account's organization)")
    carpos = court.add_mutually_exclusive_group()
    carpos.add_argument("--carpos", dest="carpos", action="store_true", default=None,
                        help="the hub enters the court's orders in CARPOS")  # fmt: skip
    carpos.add_argument("--no-carpos", dest="carpos", action="store_false",
                        help="the court's orders stay in the registry only")  # fmt: skip
    court.add_argument("--response-url", help="the court's DSP917CAJUDResp service ('' : no business responses)")
    court.add_argument("--username", help="the UsernameToken the hub sends to it")
    court.add_argument(
        "--password-stdin", action="store_true", help="read the response service's password from stdin (kept sealed)"
    )
    court.set_defaults(func=set_court)
    courts = d.add_parser("courts", help="list the courts' DSP917 settings (never a password)")
    courts.add_argument("--json", action="store_true")
    courts.set_defaults(func=list_courts)


def set_court(args: argparse.Namespace) -> int:
    from hub.clock import utcnow
    from hub.dsp917 import courts

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if args.password_stdin and not password:
        raise Exit("--password-stdin: no password on stdin")
    key = master_key()

    def work(session) -> str:  # type: ignore[no-untyped-def]
        done = courts.configure(
            session,
            key,
            args.ori,
            utcnow(),
            carpos=args.carpos,
            response_url=args.response_url,
            username=args.username,
            password=password,
        )
        return _line(done)

    return in_transaction("dsp917 court", args.ori, work)


def _line(c) -> str:  # type: ignore[no-untyped-def]
    return (
        f"{c.ori}: CARPOS {'on' if c.carpos else 'off'}; business responses "
        + (f"to {c.response_url} as {c.response_username or '(no user)'}{', password set' if c.has_password else ''}"
           if c.response_url else "off")
    )  # fmt: skip


def list_courts(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from hub.dsp917 import courts

    db = database()
    try:
        with db.read() as session:
            found = courts.listed(session)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps([dataclasses.asdict(c) for c in found], indent=1))
    else:
        for c in found:
            print(_line(c))
    return 0
