"""``ccpor-hub etl``: load a court's historical orders (``load``), make realistic sample batches
(``make-sample``), and list the loads with their checkpoints (``status``). The format:
xsd/ccpor-historical-batch.xsd and docs/ETL.md."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.cli.common import Exit, database, in_transaction, master_key, settings

if TYPE_CHECKING:
    from hub.etl.load import Tally


def register(sub: argparse._SubParsersAction) -> None:
    etl = sub.add_parser("etl", help="historical loads: a court's years of orders into the registry")
    etl = etl.add_subparsers(dest="etl_command", required=True)
    load = etl.add_parser("load", help="load batch files (a file, or every *.xml of a directory); resumable")
    load.add_argument("source", help="a batch file, or a directory of them (loaded in name order)")
    load.add_argument("--as", dest="username", required=True, help="the court's account the orders are entered as")
    load.add_argument("--to-carpos", action="store_true", help="also enter them in CARPOS (default: registry only)")
    load.add_argument("--batch-size", type=int, default=500, help="records per transaction (default 500)")
    load.add_argument("--rejects-dir", default=None, help="where each batch's rejects CSV goes (default: beside it)")
    load.set_defaults(func=load_command)
    sample = etl.add_parser("make-sample", help="write a realistic sample batch (some records deliberately bad)")
    sample.add_argument("records", type=int, help="how many records")
    sample.add_argument("--out", required=True, help="the batch file to write (scans go beside it)")
    sample.add_argument("--court", default="CA019015J", help="the issuing court's ORI (default CA019015J)")
    sample.add_argument("--batch-id", default=None, help="the batch's id (default: SAMPLE-<records>-<seed>)")
    sample.add_argument("--bad-share", type=float, default=0.02, help="share of bad records (default 0.02)")
    sample.add_argument("--image-share", type=float, default=0.0, help="share of records with a scan (default 0)")
    sample.add_argument("--seed", type=int, default=917, help="random seed (the same seed, the same file)")
    sample.set_defaults(func=make_sample)
    status = etl.add_parser("status", help="the loads: batch, status, checkpoint and counts")
    status.set_defaults(func=status_command)


def load_command(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hub.accounts.service import principal_of
    from hub.api.app import Services
    from hub.codes import AccountStatus
    from hub.db.models import Account
    from hub.errors import HubError
    from hub.etl.load import HistoricalLoad

    master_key()  # every record is audited: without the key, refuse before anything is read
    source = Path(args.source)
    files = sorted(source.glob("*.xml")) if source.is_dir() else [source]
    if not files or not all(f.is_file() for f in files):
        raise Exit(f"{source}: no batch file there", status=2)
    if args.batch_size < 1:
        raise Exit("--batch-size must be at least 1", status=2)
    services = Services.build(settings())
    try:
        with services.db.read() as s:
            account = s.scalars(select(Account).where(Account.username == args.username)).one_or_none()
            if account is None or account.status != AccountStatus.ACTIVE.value:
                raise Exit(f"--as {args.username}: no such ACTIVE account", status=2)
            who = principal_of(account)
        loader = HistoricalLoad(
            services.db,
            services.orders,
            services.images,
            services.audit,
            who,
            to_carpos=args.to_carpos,
            batch_size=args.batch_size,
            progress=Progress(),
        )
        lines = []
        target = str(source)
        _record_run(services, "STARTED", target, f"as {args.username}: {len(files)} file(s)")
        for path in files:
            rejects = Path(args.rejects_dir) if args.rejects_dir else path.parent
            try:
                tally = loader.load(path, rejects_dir=rejects)
            except KeyboardInterrupt:
                _record_run(services, "INTERRUPTED", target, f"{path}: interrupted")
                raise Exit(
                    f"{path}: interrupted; the records committed so far stay loaded -- run the same "
                    "command again to resume after them",
                    status=130,
                ) from None
            except HubError as err:
                found = "".join(f"\n  {v.path}: {v.message}" for v in err.violations)
                _record_run(services, err.code, target, f"{path}: {err.message}")
                raise Exit(f"{path}: {err.message}{found}") from err
            except Exception as exc:
                _record_run(services, "Server.Internal", target, f"{path}: {type(exc).__name__}")
                raise
            lines.append(f"{path}: {summary(tally)}")
    finally:
        services.db.dispose()
    listing = "\n".join(lines)
    return in_transaction("etl load", str(source), lambda _s: listing)


def _record_run(services: Any, outcome: str, target: str, detail: str) -> None:
    """An audit event of the operator's run beside the records' own: when it starts (so even a run
    killed with -9 leaves one) and when it fails or is interrupted (success: ``in_transaction``)."""
    from hub.audit import ADMIN, Event
    from hub.clock import utcnow
    from hub.jobs import cli_user

    with services.db.unit_of_work() as s:
        event = Event(
            at=utcnow(),
            username=cli_user(),
            org_ori="",
            operation="etl load",
            outcome=outcome,
            target=target[:200],
            client_address="local",
            detail=detail[:500],
            category=ADMIN,
        )
        services.audit.record(s.connection(), event)


def summary(tally: Tally) -> str:
    if tally.already_loaded:
        return f"batch {tally.batch_id} was already loaded ({tally.loaded} orders, {tally.rejected} rejected)"
    resumed = f", resumed after record {tally.resumed_after}" if tally.resumed_after else ""
    return (
        f"batch {tally.batch_id}: {tally.records} records{resumed}; {tally.loaded} loaded "
        f"({tally.expired} as EXPIRED), {tally.duplicates} already there, {tally.rejected} rejected"
        + (f" -- see {tally.rejects_file}" if tally.rejected and tally.rejects_file else "")
    )


class Progress:
    """Count, rate and ETA: a bar redrawn in place on a terminal, else a plain line every
    ``every`` seconds (a log, a pipe)."""

    def __init__(self, stream: object = None, every: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, tally: Tally, fraction: float) -> None:
        now = time.monotonic()
        done = tally.loaded + tally.duplicates + tally.rejected
        if not self.tty and fraction < 1.0 and now - self.last < self.every:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed
        eta = elapsed * (1 - fraction) / fraction if 0 < fraction < 1 else 0.0
        text = (
            f"{done:,} records ({tally.loaded:,} loaded, {tally.rejected:,} rejected) "
            f"{rate:,.0f}/s  {fraction:6.1%}  ETA {_clock(eta)}"
        )
        write = self.stream.write  # type: ignore[attr-defined]
        if self.tty:
            width = 24
            filled = int(width * fraction)
            write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}" + ("\n" if fraction >= 1.0 else ""))
        else:
            write(f"etl: {text}\n")
        self.stream.flush()  # type: ignore[attr-defined]


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"


def make_sample(args: argparse.Namespace) -> int:
    from hub.etl.sample import SampleSpec, write_sample

    if args.records < 0 or not 0 <= args.bad_share <= 1 or not 0 <= args.image_share <= 1:
        raise Exit("records must be >= 0 and the shares between 0 and 1", status=2)
    spec = SampleSpec(
        records=args.records,
        court=args.court,
        batch_id=args.batch_id or f"SAMPLE-{args.records}-{args.seed}",
        bad_share=args.bad_share,
        image_share=args.image_share,
        seed=args.seed,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = write_sample(out, spec, settings().calendar)
    print(
        f"wrote {out}: batch {spec.batch_id}, {counts['records']} records, {counts['bad']} deliberately bad, "
        f"{counts['with_image']} with a scan, {counts['expired']} expired"
    )
    return 0


def status_command(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hub.db.models import EtlLoad, Organization

    db = database()
    try:
        with db.read() as s:
            rows = s.execute(
                select(EtlLoad, Organization.ori)
                .join(Organization, Organization.id == EtlLoad.organization_id)
                .order_by(EtlLoad.started_at)
            ).all()
    finally:
        db.dispose()
    print("court      batch                    status   records  loaded  duplicates  rejected  expired  updated")
    for load, ori in rows:
        print(
            f"{ori:10} {load.batch_id[:24]:24} {load.status:8} {load.records_done:8} {load.loaded:7} "
            f"{load.duplicates:11} {load.rejected:9} {load.expired:8}  {load.updated_at:%Y-%m-%d %H:%M}"
        )
    return 0
