"""``ccpor-hub``: the command line for operators and developers, and the composition root.

Each command group is a module that adds its part of the argparse tree (``register``, in
:func:`parser`'s order) and runs its commands; :mod:`hub.cli.common` holds what they share. Only
this package may import the gateway and the mock systems (docs/ARCHITECTURE.md, "Layers"), and a
command imports what it needs when it runs, so ``ccpor-hub --help`` loads none of it.

The commands, what they do and when to run them: docs/OPERATIONS.md, "Commands" (the one
reference); ``ccpor-hub COMMAND --help`` for the options.
"""

from __future__ import annotations

import argparse
import sys

from hub.cli import (
    adapter,
    audit,
    carpos,
    court,
    db,
    dsp917,
    etl,
    keys,
    orders,
    processes,
    queue,
    report,
    run,
    users,
    wsdl,
)
from hub.cli.common import Exit, settings, switch_settings
from hub.settings import SettingError


def _demo(args: argparse.Namespace) -> int:
    from hub.cli import demo  # zeep, requests and the mock switch: loaded only when the demo runs

    settings(), switch_settings()  # the processes it starts read the same environment: refuse a wrong setting here
    return demo.main()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ccpor-hub", description="CCPOR Phase II integration hub")
    sub = p.add_subparsers(dest="command", required=True)
    for register in (
        db.register,
        users.register,
        keys.register,
        audit.register,
        run.register,
        processes.register_serve,
        orders.register,
        carpos.register,
        dsp917.register,
        processes.register_gateway,
        processes.register_mock_doj,
        court.register,
        queue.register,
        report.register,
        etl.register,
        adapter.register,
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
    except SettingError as err:  # a variable of the wrong kind: the operator's to fix, like a wrong argument
        print(f"error: {err}", file=sys.stderr)
        return 2
