"""``ccpor-hub``: the command line for operators and developers, and the composition root.

One module per command group builds its part of the argparse tree (``register``) and runs its
commands: :mod:`~hub.cli.db`, :mod:`~hub.cli.users`, :mod:`~hub.cli.keys`, :mod:`~hub.cli.audit`,
:mod:`~hub.cli.orders`, :mod:`~hub.cli.carpos`, :mod:`~hub.cli.queue`, :mod:`~hub.cli.processes`
(``serve``, ``gateway``, ``mock-doj``), :mod:`~hub.cli.wsdl` and :mod:`~hub.cli.demo` (the
scripted demo); :mod:`~hub.cli.common` holds what they share (settings, master key, database,
the audited unit of work, warnings, exit statuses). This package is the only part of the hub that
may import the gateway and the mock systems (docs/ARCHITECTURE.md, "Layers"), and every command
imports what it needs when it runs, so that ``ccpor-hub --help`` loads none of it.

The commands, what they do and when to run them: docs/OPERATIONS.md, "Commands";
``ccpor-hub COMMAND --help`` for the options.
"""

from __future__ import annotations

import argparse
import sys

from hub.cli import audit, carpos, db, keys, orders, processes, queue, users, wsdl
from hub.cli.common import Exit


def _demo(args: argparse.Namespace) -> int:
    from hub.cli import demo  # zeep, requests and the mock switch: loaded only when the demo runs

    return demo.main()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ccpor-hub", description="CCPOR Phase II integration hub")
    sub = p.add_subparsers(dest="command", required=True)
    for register in (
        db.register,
        users.register,
        keys.register,
        audit.register,
        processes.register_serve,
        orders.register,
        carpos.register,
        processes.register_gateway,
        processes.register_mock_doj,
        queue.register,
        wsdl.register,
    ):  # in this order in --help
        register(sub)
    sub.add_parser("demo", help="run the scripted demo against a fresh hub").set_defaults(func=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Exit as stop:
        print(stop.text, file=sys.stderr)
        return stop.status
