"""``ccpor-hub adapter``: the partner adapters, each a long-running process of its own that talks
to the hub only over its published WSDL (adapters/, docs/ADAPTERS.md). The hub's own settings are
not read: an adapter runs on the court's machine with nothing but its configuration file.

    ccpor-hub adapter dms CONFIG           # watch the drop folder until SIGTERM
    ccpor-hub adapter dms CONFIG --once    # one round: what is complete now, then exit
    ccpor-hub adapter dms CONFIG status    # sent / failed / waiting, last success, held batches
    ccpor-hub adapter rms CONFIG [status] [--once]   # a sheriff RMS completing its courts' drafts
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hub.cli.common import Exit


def register(sub: argparse._SubParsersAction) -> None:
    adapter = sub.add_parser("adapter", help="run a partner adapter (a court's DMS drop folder, a sheriff's RMS)")
    kinds = adapter.add_subparsers(dest="adapter_kind", required=True)
    for kind, what in (
        ("dms", "a court's scan exports (Kofax XML, OnBase DIP) into orders and images"),
        ("rms", "a sheriff's RMS completing its courts' drafts and fetching orders (shared entry)"),
    ):
        one = kinds.add_parser(kind, help=what)
        one.add_argument("config", help="the adapter's TOML file (docs/ADAPTERS.md)")
        one.add_argument("action", nargs="?", choices=("run", "status"), default="run", help="run (default) or status")
        one.add_argument("--once", action="store_true", help="one round, then exit (for a scheduler)")
        one.set_defaults(func=_run, module=f"adapters.{kind}.adapter")


def _run(args: argparse.Namespace) -> int:
    import importlib

    from adapters.framework.config import ConfigError
    from adapters.framework.state import AlreadyRunning

    adapter = importlib.import_module(args.module)

    try:
        if args.action == "status":
            print(adapter.status(Path(args.config)))
            return 0
        return adapter.run(Path(args.config), once=args.once)
    except (ConfigError, AlreadyRunning) as err:
        raise Exit(str(err), status=2) from err
