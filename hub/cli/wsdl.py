"""``ccpor-hub wsdl``: a service's WSDL generated from the XSDs (``make wsdl`` writes them to wsdl/)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    wsdl_cmd = sub.add_parser("wsdl", help="print (or --out FILE) a service's WSDL generated from the XSDs")
    wsdl_cmd.add_argument("--service", choices=["orders", "admin", "carpos", "switch"], default="orders")
    wsdl_cmd.add_argument("--out")
    wsdl_cmd.set_defaults(func=wsdl)


def wsdl(args: argparse.Namespace) -> int:
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
