"""``ccpor-hub carpos encode | carpos seal``: an order document as CARPOS would receive it, for
partners' and DOJ's interop checks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from hub.cli.common import Exit, master_key, settings, warn

if TYPE_CHECKING:
    from hub.carpos.codec import Transaction


def register(sub: argparse._SubParsersAction) -> None:
    carpos_cmd = sub.add_parser("carpos", help="CARPOS messages").add_subparsers(dest="carpos_command", required=True)
    enc = carpos_cmd.add_parser("encode", help="print the CARPOS text of an order document (ACTIVE profile)")
    seal_cmd = carpos_cmd.add_parser("seal", help="write the signed, encrypted transmission of an order document")
    seal_cmd.add_argument("--out", required=True, help="where to write the sealed tx:Transmission")
    seal_cmd.add_argument("--mcn", help="its message control number (default: OCA-001)")
    for cmd, func in ((enc, encode), (seal_cmd, seal)):
        cmd.add_argument("order", help="an order XML file (prf:ActiveOrder, or any element with the order's children)")
        cmd.add_argument("--mke", default="EPO", choices=["EPO", "MPO", "SPO", "CPO", "XPO"])
        cmd.add_argument("--ori", help="the sending agency's ORI (default: the issuing court's)")
        cmd.add_argument("--oca", default="CCP0000000000", help="the hub's order id (OCA)")
        cmd.add_argument("--fcn", help="the CARPOS file control number (MPO, SPO, CPO, XPO)")
        cmd.set_defaults(func=func)


def encode(args: argparse.Namespace) -> int:
    """The CARPOS text of an order document (a partner's interop check), or why CARPOS would reject it."""
    from hub.carpos import codec

    print(codec.encode(_transaction(args)))
    return 0


def seal(args: argparse.Namespace) -> int:
    """The signed, encrypted transmission of an order document, for partners and interop checks."""
    from gateway import keys
    from gateway.scheduler import hub_channel
    from hub.carpos import codec
    from hub.carpos.envelope import Header, MessageKey, Transmission
    from hub.clock import utcnow

    config = settings()
    tx = _transaction(args)
    try:
        channel, warnings = hub_channel(config, master_key())
    except keys.KeyFileError as err:
        raise Exit(str(err)) from err
    for warning in warnings:
        warn(warning)
    now = utcnow()
    mcn = args.mcn or f"{args.oca}-001"
    header = Header(mcn, tx.get("ORI") or "", config.doj_ori, MessageKey(tx.mke.value), now, now, args.oca)
    Path(args.out).write_bytes(channel.seal(Transmission(header, (codec.encode(tx),))))
    print(f"wrote {args.out}: {tx.mke.value} {mcn}, encrypted to DOJ ({config.resolved_doj_cert_file}), "
          f"signed by the hub ({config.resolved_hub_cert_file})")  # fmt: skip
    return 0


def _transaction(args: argparse.Namespace) -> Transaction:
    """The CARPOS transaction of the order document in ``args.order``; stop (exit 1) with the
    reasons (unreadable, not an ACTIVE order, or what CARPOS would reject)."""
    from hub import xmlsafe
    from hub.carpos import codec
    from hub.contract import validate_order_profile
    from hub.errors import HubError
    from hub.orders.document import OrderDocument

    config = settings()
    limits = xmlsafe.XmlLimits(config.max_request_bytes, config.max_xml_depth, config.max_xml_elements)
    try:
        root = xmlsafe.parse(Path(args.order).read_bytes(), limits)
    except OSError as exc:
        raise Exit(f"cannot read {args.order}: {exc.strerror}") from exc
    except HubError as err:
        raise Exit(err.message) from err
    violations = validate_order_profile(root, active=True, path="/Order")
    if violations:
        raise Exit("\n".join(f"{v.path}: {v.message}" for v in violations))
    doc = OrderDocument(root)
    tx = codec.from_order(doc, mke=codec.Mke(args.mke), ori=args.ori or doc.court_ori, oca=args.oca, fcn=args.fcn)
    reasons = codec.problems(tx)
    if reasons:
        raise Exit("\n".join(reasons), prefix="")
    return tx
