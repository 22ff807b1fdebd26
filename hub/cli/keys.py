"""``ccpor-hub keys master | init | wrap``: the hub's master key, a development set of CARPOS key pairs,
and a private key from a PKI wrapped under the master key (as every key at rest is)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hub.cli.common import Exit, master_key, settings, switch_settings


def register(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="keys").add_subparsers(dest="keys_command", required=True)
    master = keys.add_parser("master", help="create the master key file (never overwrites one)")
    master.add_argument("--path", help="where to write it (default: the CCPOR_MASTER_KEY_FILE setting)")
    master.set_defaults(func=create_master)
    init_cmd = keys.add_parser("init", help="create a development CA and the hub's and DOJ's CARPOS key pairs in DIR")
    init_cmd.add_argument("dir")
    init_cmd.add_argument("--bits", type=int, default=2048, choices=[2048, 3072, 4096])
    init_cmd.add_argument("--days", type=int, default=825, help="certificate lifetime")
    init_cmd.set_defaults(func=init)
    wrap = keys.add_parser(
        "wrap", help="write a private key given in the clear (PEM, on stdin) to OUT, encrypted under the master key"
    )
    wrap.add_argument("out", help="the file to write (mode 0600; never overwritten)")
    wrap.set_defaults(func=wrap_key)


def create_master(args: argparse.Namespace) -> int:
    from hub import masterkey

    path = Path(args.path) if args.path else settings().resolved_master_key_file
    try:
        key = masterkey.create(path)
    except FileExistsError as exc:
        raise Exit(f"{path} exists; a master key is never overwritten (see docs/OPERATIONS.md)") from exc
    print(f"wrote a new master key to {path} (mode 0600, key id {key.key_id}); back it up apart from the database")
    return 0


def init(args: argparse.Namespace) -> int:
    from gateway import keys
    from hub import masterkey

    hub_master = master_key()
    doj_key_file = switch_settings().resolved_master_key_file
    doj_master = masterkey.load(doj_key_file) if doj_key_file.exists() else masterkey.create(doj_key_file)
    try:
        made = keys.init(Path(args.dir), hub_master, doj_master, bits=args.bits, days=args.days)
    except FileExistsError as exc:
        raise Exit(f"{exc} exist(s): keys are never replaced in place; choose a new directory") from exc
    print(f"wrote a development CA and CARPOS key pairs to {args.dir} ({args.bits}-bit RSA, {args.days} days):")
    print(f"  {made.ca}  the development CA (its key was not kept)")
    print(f"  {made.hub_cert}, {made.hub_key}  the hub's (key encrypted under {settings().resolved_master_key_file})")
    print(f"  {made.doj_cert}, {made.doj_key}  the mock DOJ switch's (key encrypted under {doj_key_file})")
    print("point CCPOR_CARPOS_KEY_DIR at the directory (or set CCPOR_HUB_KEY_FILE and the others)")
    return 0


def wrap_key(args: argparse.Namespace) -> int:
    import sys

    from gateway import keys

    out = Path(args.out)
    try:
        kind = keys.wrap_private_key(sys.stdin.buffer.read(), out, master_key())
    except FileExistsError as exc:
        raise Exit(f"{out} exists: keys are never replaced in place") from exc
    except keys.KeyFileError as exc:
        raise Exit(str(exc)) from exc
    print(f"wrote {out}: the {kind} key encrypted under {settings().resolved_master_key_file} (mode 0600)")
    return 0
