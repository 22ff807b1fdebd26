"""``ccpor-hub etl load`` through hub.etl.load on SQLite and PostgreSQL: a sample with every kind of
bad record loads the good ones and reports each bad one (record, field, reason) with nothing
half-stored; expired orders load EXPIRED in one version; every record is audited; an interrupted
load resumes with nothing twice and nothing skipped; a batch loaded again, or its records in another
batch, make no new order; hostile and broken files are refused with a clear error."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hub import masterkey, ns
from hub.accounts.service import Principal
from hub.audit import AuditTrail
from hub.carpos.outbox import CarposForwarding
from hub.clock import COURTS
from hub.codes import OrderStatus, Role
from hub.db.engine import Database
from hub.db.models import AuditEvent, EtlLoad, Image, Order, OrderVersion, OutboxMessage
from hub.errors import HostileXml, MalformedRequest, ValidationError
from hub.etl.load import HistoricalLoad, Tally
from hub.etl.sample import SampleSpec, write_sample
from hub.images.service import ImageService
from hub.images.store import FileSystemImageStore
from hub.orders.service import OrderService
from tests.conftest import make_user
from tests.support.orders import ORD, order, render

HB = ns.HISTORICAL_BATCH


@pytest.fixture
def loader_for(db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    key = masterkey.create(tmp_path / "master.key")
    orders = OrderService(calendar=COURTS, forwarding=CarposForwarding())
    images = ImageService(FileSystemImageStore(tmp_path / "images"), 1_000_000, orders, orders.clock)
    audit = AuditTrail(key)
    who = make_user(db, "etl-la", role=Role.QUERY_UPDATE_SEALED)

    def make(batch_size: int = 50, progress=None, as_: Principal | None = None, **kw) -> HistoricalLoad:  # type: ignore[no-untyped-def]
        return HistoricalLoad(db, orders, images, audit, as_ or who, batch_size=batch_size, progress=progress, **kw)

    make.audit = audit  # type: ignore[attr-defined]
    return make


def _count(db: Database, model: type, *where) -> int:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _batch(path: Path, orders: list[dict], batch_id: str = "HAND-1", images: dict[int, str] | None = None) -> Path:
    root = etree.Element(f"{{{HB}}}HistoricalBatch", BatchId=batch_id, SourceSystemName="LEGACY", nsmap={"hb": HB})
    for number, data in enumerate(orders, start=1):
        record = etree.SubElement(root, f"{{{HB}}}Record", RecordId=f"{batch_id}-{number}")
        render(etree.SubElement(record, f"{{{HB}}}Order"), ORD, data)
        if images and number in images:
            etree.SubElement(record, f"{{{HB}}}ImageFile").text = images[number]
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def _rejects(tally: Tally) -> list[dict[str, str]]:
    assert tally.rejects_file is not None
    with tally.rejects_file.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_sample_loads_its_good_records_and_reports_every_bad_one(db: Database, tmp_path: Path, loader_for) -> None:  # type: ignore[no-untyped-def]
    batch = tmp_path / "in" / "batch.xml"
    batch.parent.mkdir()
    made = write_sample(batch, SampleSpec(records=240, bad_share=0.25, image_share=0.1, seed=5), COURTS)
    tally = loader_for().load(batch, rejects_dir=tmp_path / "rejects")
    assert tally.records == 240 and tally.rejected == made["bad"] > 20
    assert tally.loaded == 240 - made["bad"] == _count(db, Order)
    assert tally.expired == made["expired"] == _count(db, Order, Order.status == OrderStatus.EXPIRED.value)
    rows = _rejects(tally)
    rejected = {int(r["record"]) for r in rows}
    assert len(rejected) == made["bad"]
    reasons = " | ".join(f"{r['code']} {r['field']} {r['reason']}" for r in rows)
    for expected in (
        "ord:ProtectionOrderTypeCode",  # a form that contradicts its CLETS code
        "is in the future",
        "is before issue date",
        "ProtectionOrderRestrictedPerson",  # missing: the schema's complaint names what it expected
        "No such file",
        "Client.ImageRejected",
    ):
        assert expected in reasons, expected
    # nothing of a rejected record stays: its case number is nowhere, its scan not stored
    records = etree.parse(str(batch)).getroot().findall(f"{{{HB}}}Record")
    with db.read() as s:
        cases = set(s.scalars(select(Order.case_number)))
    assert cases == {r.findtext(f".//{{{ORD}}}CaseDocketID") for n, r in enumerate(records, 1) if n not in rejected}
    loaded_scans = sum(len(r.findall(f"{{{HB}}}ImageFile")) for n, r in enumerate(records, 1) if n not in rejected)
    assert _count(db, Image) == loaded_scans > 0
    # every record audited: one event each, the chain intact
    assert _count(db, AuditEvent, AuditEvent.operation == "LoadHistoricalOrder") == 240
    assert (
        _count(db, AuditEvent, AuditEvent.operation == "LoadHistoricalOrder", AuditEvent.outcome == "OK")
        == tally.loaded
    )
    with db.read() as s:
        assert not loader_for.audit.verify(s.connection()).problems


def test_expired_orders_load_expired_in_one_version_and_only_current_ones_go_to_carpos(
    db: Database, tmp_path: Path, loader_for
) -> None:  # type: ignore[no-untyped-def]
    today = COURTS.today()
    current = order(CaseDocketID="19FL000001")
    old_issue = today - timedelta(days=800)
    expired = order(
        CaseDocketID="19FL000002",
        CourtOrderIssuingDate=old_issue,
        CourtOrderExpirationDate=today - timedelta(days=1),  # its last day in force was yesterday
    )
    last_day = order(CaseDocketID="19FL000003", CourtOrderIssuingDate=old_issue, CourtOrderExpirationDate=today)
    tally = loader_for(to_carpos=True).load(_batch(tmp_path / "b.xml", [current, expired, last_day]))
    assert (tally.loaded, tally.expired, tally.rejected) == (3, 1, 0)
    with db.read() as s:
        status = dict(s.execute(select(Order.case_number, Order.status)).all())
        actions = list(s.scalars(select(OrderVersion.action)))
        queued = s.scalar(select(func.count()).select_from(OutboxMessage))
    assert status == {"19FL000001": "ACTIVE", "19FL000002": "EXPIRED", "19FL000003": "ACTIVE"}
    assert actions == ["LOAD"] * 3  # one version each, the same as its receipt
    assert queued == 2  # --to-carpos: the two in force, never the expired one


def test_an_interrupted_load_resumes_after_its_last_committed_record(db: Database, tmp_path: Path, loader_for) -> None:  # type: ignore[no-untyped-def]
    batch = tmp_path / "batch.xml"
    made = write_sample(batch, SampleSpec(records=230, bad_share=0.1, seed=11), COURTS)
    seen: list[int] = []

    def interrupt(tally: Tally, fraction: float) -> None:
        seen.append(tally.records)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        loader_for(progress=interrupt).load(batch)
    with db.read() as s:
        row = s.scalars(select(EtlLoad)).one()
        assert (row.status, row.records_done) == ("RUNNING", 100)
        assert row.loaded + row.rejected == 100 == _count(db, Order) + row.rejected
    tally = loader_for().load(batch, rejects_dir=tmp_path)
    assert tally.resumed_after == 100 and tally.records == 230
    assert tally.duplicates == 0  # the checkpoint, not the idempotent intake, kept them apart
    assert _count(db, Order) == 230 - made["bad"]
    assert len({r["record"] for r in _rejects(tally)}) == made["bad"]  # earlier runs' rejects too


def test_a_batch_loaded_again_or_its_records_in_another_batch_add_nothing(
    db: Database, tmp_path: Path, loader_for
) -> None:  # type: ignore[no-untyped-def]
    batch = tmp_path / "batch.xml"
    write_sample(batch, SampleSpec(records=60, bad_share=0, seed=3, batch_id="B-1"), COURTS)
    first = loader_for().load(batch)
    again = loader_for().load(batch)
    assert again.already_loaded and again.loaded == first.loaded == 60
    # the same records under another batch id: the orders' source ids are the same -> replays
    text = batch.read_bytes().replace(b'BatchId="B-1"', b'BatchId="B-2"')
    (tmp_path / "copy.xml").write_bytes(text)
    copy = loader_for().load(tmp_path / "copy.xml")
    assert (copy.loaded, copy.duplicates) == (0, 60)
    assert _count(db, Order) == 60


def test_an_order_of_another_court_is_refused_like_a_submission(db: Database, tmp_path: Path, loader_for) -> None:  # type: ignore[no-untyped-def]
    san_diego = order(
        CourtOrderIssuingCourt={"OrganizationORIIdentification": "CA037015J", "OrganizationName": "San Diego"}
    )
    tally = loader_for().load(_batch(tmp_path / "b.xml", [order(), san_diego]), rejects_dir=tmp_path)
    assert (tally.loaded, tally.rejected) == (1, 1)
    (row,) = _rejects(tally)
    assert row["record"] == "2" and row["code"] == "Client.Forbidden"


@pytest.mark.parametrize(
    "content, error",
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><hb:HistoricalBatch xmlns:hb="' + HB.encode() + b'"/>',
            HostileXml,
        ),
        (b"<Other/>", MalformedRequest),
        (b'<hb:HistoricalBatch xmlns:hb="' + HB.encode() + b'" BatchId="x"/>', Exception),
        (b"", MalformedRequest),
    ],
)
def test_hostile_or_broken_files_are_refused_and_store_nothing(
    db: Database, tmp_path: Path, loader_for, content: bytes, error: type[Exception]
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    with pytest.raises(error):
        loader_for().load(path)
    assert _count(db, EtlLoad) == 0 and _count(db, Order) == 0


def test_a_file_cut_short_keeps_what_was_committed_and_resumes_when_completed(
    db: Database, tmp_path: Path, loader_for
) -> None:  # type: ignore[no-untyped-def]
    batch = tmp_path / "batch.xml"
    write_sample(batch, SampleSpec(records=120, bad_share=0, seed=8), COURTS)
    whole = batch.read_bytes()
    batch.write_bytes(whole[: int(len(whole) * 0.6)])
    with pytest.raises(MalformedRequest, match="not well-formed"):
        loader_for().load(batch)
    kept = _count(db, Order)
    assert kept % 50 == 0 and kept > 0  # whole transactions only
    batch.write_bytes(whole)
    tally = loader_for().load(batch)
    assert tally.resumed_after == kept and _count(db, Order) == 120


def test_a_windows_1252_file_with_accented_names_loads(db: Database, tmp_path: Path, loader_for) -> None:  # type: ignore[no-untyped-def]
    from tests.support.orders import restrained

    path = _batch(tmp_path / "b.xml", [order(ProtectionOrderRestrictedPerson=restrained("MUÑOZ", "JOSÉ"))])
    text = path.read_bytes().decode("utf-8").replace("encoding='UTF-8'", "encoding='windows-1252'")
    path.write_bytes(text.encode("cp1252"))
    assert loader_for().load(path).loaded == 1
    with db.read() as s:
        stored = etree.fromstring(s.scalar(select(Order.document)).encode())
    person = stored.find(f"{{{ORD}}}ProtectionOrderRestrictedPerson/{{{ORD}}}PersonName")
    assert (person.findtext(f"{{{ORD}}}PersonSurName"), person.findtext(f"{{{ORD}}}PersonGivenName")) == (
        "MUÑOZ",
        "JOSÉ",
    )


@pytest.mark.parametrize("where", ["../outside.pdf", "/etc/hostname", "link/outside.pdf"])
def test_a_scan_outside_the_batch_directory_is_refused(db: Database, tmp_path: Path, loader_for, where: str) -> None:  # type: ignore[no-untyped-def]
    from tests.support.orders import tiny_pdf

    (tmp_path / "outside.pdf").write_bytes(tiny_pdf("outside"))
    batch_dir = tmp_path / "batch"
    batch_dir.mkdir()
    (batch_dir / "link").symlink_to(tmp_path)  # a directory inside that points out
    tally = loader_for().load(_batch(batch_dir / "b.xml", [order()], images={1: where}), rejects_dir=tmp_path)
    assert (tally.loaded, tally.rejected) == (0, 1)
    (row,) = _rejects(tally)
    assert row["field"] == "/hb:Record/hb:ImageFile" and "outside" in row["reason"]
    assert _count(db, Order) == 0 and _count(db, Image) == 0


def test_the_monthly_volume_report_counts_the_loaded_orders(db: Database, tmp_path: Path, loader_for) -> None:  # type: ignore[no-untyped-def]
    from hub.clock import utcnow
    from hub.reports.monthly import Month, monthly

    tally = loader_for().load(_batch(tmp_path / "b.xml", [order(), order()]))
    today = COURTS.today()
    with db.read() as s:
        volume = monthly(s, Month(today.year, today.month), utcnow(), court="CA019015J").tables[0]
    column = volume.columns.index("Historical orders loaded")
    assert volume.rows[0][column] == tally.loaded == 2


def _interrupted_after_first_transaction(loader_for, batch: Path) -> None:  # type: ignore[no-untyped-def]
    def interrupt(tally: Tally, fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        loader_for(progress=interrupt).load(batch)


def test_a_file_changed_between_runs_is_refused_not_silently_skipped(db: Database, tmp_path: Path, loader_for) -> None:  # type: ignore[no-untyped-def]
    batch = _batch(tmp_path / "b.xml", [order() for _ in range(120)])
    _interrupted_after_first_transaction(loader_for, batch)
    root = etree.parse(str(batch)).getroot()
    root.remove(root[1])  # an operator deletes record 2 before running again
    batch.write_bytes(etree.tostring(root))
    with pytest.raises(ValidationError, match="the file changed since the interrupted run"):
        loader_for().load(batch)
    shorter = _batch(tmp_path / "b.xml", [order() for _ in range(30)])  # fewer records than were settled
    with pytest.raises(ValidationError, match="it has 30 records, the run had settled 50"):
        loader_for().load(shorter)
    assert _count(db, Order) == 50


def test_a_finished_batch_offered_again_with_other_content_is_refused(db: Database, tmp_path: Path, loader_for) -> None:  # type: ignore[no-untyped-def]
    loader_for().load(_batch(tmp_path / "b.xml", [order(), order()]))
    with pytest.raises(ValidationError, match="a changed batch is loaded under a new BatchId"):
        loader_for().load(_batch(tmp_path / "b.xml", [order(), order(), order()]))
    assert _count(db, Order) == 2


def test_the_rejects_of_an_earlier_run_are_reported_after_a_clean_resume(
    db: Database, tmp_path: Path, loader_for
) -> None:  # type: ignore[no-untyped-def]
    orders = [order() for _ in range(80)]
    orders[3] = order(CourtOrderFormCode="DV-110")  # contradicts its CLETS code OAH: in the first transaction
    batch = _batch(tmp_path / "b.xml", orders)
    _interrupted_after_first_transaction(loader_for, batch)
    tally = loader_for().load(batch, rejects_dir=tmp_path / "rejects")
    assert (tally.loaded, tally.rejected, tally.resumed_after) == (79, 1, 50)  # the batch's counts, both runs
    assert {r["record"] for r in _rejects(tally)} == {"4"}  # one row per violation it has


def test_a_utf16_batch_with_escaped_text_loads(db: Database, tmp_path: Path, loader_for) -> None:  # type: ignore[no-untyped-def]
    from tests.support.orders import restrained

    path = _batch(tmp_path / "b.xml", [order(ProtectionOrderRestrictedPerson=restrained("O'NEIL", "ANN"))])
    text = path.read_bytes().decode("utf-8").replace("encoding='UTF-8'", "encoding='UTF-16'")
    text = text.replace("<OrganizationName>LA Superior Court", "<OrganizationName>LA Superior Court &amp; Annex")
    text = text.replace(":OrganizationName>LA Superior Court<", ":OrganizationName>LA Superior Court &amp; Annex<")
    assert "&amp;" in text
    path.write_bytes(text.encode("utf-16"))
    assert loader_for().load(path).loaded == 1


@pytest.mark.parametrize("kind", ["fifo", "loop", "directory"])
def test_a_scan_that_is_not_a_regular_file_is_a_reject_not_a_hang(
    db: Database, tmp_path: Path, loader_for, kind: str
) -> None:  # type: ignore[no-untyped-def]
    import os

    batch_dir = tmp_path / "batch"
    batch_dir.mkdir()
    target = batch_dir / "scan.pdf"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "loop":
        target.symlink_to(batch_dir / "scan.pdf")
    else:
        target.mkdir()
    tally = loader_for().load(_batch(batch_dir / "b.xml", [order()], images={1: "scan.pdf"}), rejects_dir=tmp_path)
    assert (tally.loaded, tally.rejected) == (0, 1)
    assert _rejects(tally)[0]["field"] == "/hb:Record/hb:ImageFile"


def test_at_23_30_pacific_an_order_on_its_last_day_loads_active(db: Database, tmp_path: Path) -> None:
    """The expiry rule takes California's date: at 23:30 Pacific on December 3 (07:30 UTC on the 4th)
    an order expiring on the 3rd is still in force; one that expired on the 2nd is EXPIRED."""
    from datetime import UTC, date, datetime

    clock = lambda: datetime(2026, 12, 4, 7, 30, tzinfo=UTC)  # noqa: E731
    orders = OrderService(clock, COURTS, forwarding=CarposForwarding())
    images = ImageService(FileSystemImageStore(tmp_path / "images"), 1_000_000, orders, clock)
    who = make_user(db, "etl-pacific", role=Role.QUERY_UPDATE_SEALED)
    loader = HistoricalLoad(db, orders, images, AuditTrail(masterkey.create(tmp_path / "master.key")), who, clock=clock)
    issued = date(2026, 1, 5)
    batch = [
        order(CaseDocketID="26FL000001", CourtOrderIssuingDate=issued, CourtOrderExpirationDate=date(2026, 12, 3)),
        order(CaseDocketID="26FL000002", CourtOrderIssuingDate=issued, CourtOrderExpirationDate=date(2026, 12, 2)),
    ]
    assert loader.load(_batch(tmp_path / "b.xml", batch)).expired == 1
    with db.read() as s:
        status = dict(s.execute(select(Order.case_number, Order.status)).all())
    assert status == {"26FL000001": "ACTIVE", "26FL000002": "EXPIRED"}


def test_by_default_nothing_goes_to_carpos(db: Database, tmp_path: Path, loader_for) -> None:  # type: ignore[no-untyped-def]
    assert loader_for().load(_batch(tmp_path / "b.xml", [order(), order()])).loaded == 2
    assert _count(db, OutboxMessage) == 0


def _keyed(message: str, surname: str) -> dict:
    """An order with its own source message id (``LEGACY``/``message``), its restrained person named ``surname``."""
    from tests.support.orders import restrained

    return order(
        SourceSystemName="LEGACY", SourceMessageID=message, ProtectionOrderRestrictedPerson=restrained(surname)
    )


def _names_by_case(db: Database) -> dict[str, set[str]]:
    from hub.db.models import OrderParty

    with db.read() as s:
        rows = s.execute(select(Order.case_number, OrderParty.surname_key).join(OrderParty)).all()
    found: dict[str, set[str]] = {}
    for case, surname in rows:
        found.setdefault(case, set()).add(surname)
    return found


def test_held_orders_written_together_keep_every_answer_a_record_at_a_time_gives(
    db: Database, tmp_path: Path, loader_for
) -> None:  # type: ignore[no-untyped-def]
    """Plain records are held and written a batch at a time; a record with a scan is written at once,
    the held ones first. Repeats inside a transaction, repeats of an earlier batch (plain or with a
    scan) and new records interleave: each gets the answer it would get alone."""
    from tests.support.orders import tiny_pdf

    loader_for().load(_batch(tmp_path / "early.xml", [_keyed("P", "EARLYP"), _keyed("Q", "EARLYQ")], "EARLY"))
    with db.read() as s:
        early = dict(s.execute(select(Order.case_number, Order.id)).all())
    (tmp_path / "c.pdf").write_bytes(tiny_pdf("c"))
    (tmp_path / "q.pdf").write_bytes(tiny_pdf("q"))
    records = [
        _keyed("A", "ALPHA"),  # 1 new
        _keyed("B", "BRAVO"),  # 2 new
        _keyed("A", "ALPHA"),  # 3 a repeat of 1, both held in one transaction
        _keyed("C", "CHARLIE"),  # 4 new, with a scan: written at once, 1 and 2 before it
        _keyed("D", "DELTA"),  # 5 new, held after the write
        _keyed("P", "EARLYP"),  # 6 loaded by the earlier batch, held: found when written
        _keyed("Q", "EARLYQ"),  # 7 loaded earlier, with a scan: a duplicate, its scan not kept
        _keyed("E", "ECHO"),  # 8 new
        _keyed("A", "ALPHA"),  # 9 a repeat of 1 from an earlier transaction
    ]
    tally = loader_for(batch_size=4).load(_batch(tmp_path / "b.xml", records, "MIXED", images={4: "c.pdf", 7: "q.pdf"}))
    assert (tally.records, tally.loaded, tally.duplicates, tally.rejected) == (9, 5, 4, 0)
    assert _count(db, Order) == 7 and _count(db, Image) == 1
    with db.read() as s:
        by_case = dict(s.execute(select(Order.case_number, Order.id)).all())
        image_case = s.scalar(select(Order.case_number).join(Image, Image.order_id == Order.id))
        targets = dict(
            s.execute(
                select(AuditEvent.detail, AuditEvent.target).where(
                    AuditEvent.operation == "LoadHistoricalOrder", AuditEvent.detail.like("batch MIXED %")
                )
            ).all()
        )
        seqs = list(
            s.scalars(select(AuditEvent.detail).where(AuditEvent.detail.like("batch MIXED %")).order_by(AuditEvent.seq))
        )
    cases = [r["CaseDocketID"] for r in records]
    assert image_case == cases[3]  # the scan went to its own order, not a held one's
    assert {case: by_case[case] for case in early} == early
    assert set(by_case) == set(early) | {cases[i] for i in (0, 1, 3, 4, 7)}
    # every order's names rows are its own document's
    names = _names_by_case(db)
    surnames = ["ALPHA", "BRAVO", "ALPHA", "CHARLIE", "DELTA", "EARLYP", "EARLYQ", "ECHO", "ALPHA"]
    for case, surname in zip(cases, surnames, strict=True):
        if case in by_case:
            assert surname in names[case], case
    # a repeat's audit event names the order first made for its message id
    from hub import ids

    def target(number: int) -> str:
        return next(t for d, t in targets.items() if d.startswith(f"batch MIXED record {number} "))

    first_a = ids.public(ids.ORDER, by_case[cases[0]])
    assert target(3) == target(9) == first_a
    early_p = next(case for case in early if "EARLYP" in names[case])
    assert target(6) == ids.public(ids.ORDER, early[early_p])
    assert [d.split()[3] for d in seqs] == [str(n) for n in range(1, 10)]  # events in record order
    with db.read() as s:
        assert not loader_for.audit.verify(s.connection()).problems


def test_a_message_id_a_submission_used_is_refused_when_the_held_rows_are_written(
    db: Database, tmp_path: Path, loader_for
) -> None:  # type: ignore[no-untyped-def]
    from tests.support.orders import order_element

    clerk = make_user(db, "la-clerk")
    service = OrderService(calendar=COURTS, forwarding=CarposForwarding())
    with db.unit_of_work() as s:
        service.submit(s, clerk, order_element(_keyed("USED", "SUBMITTED")))
    records = [_keyed("NEW", "NEWONE"), _keyed("USED", "LOADED"), _keyed("USED", "LOADED")]
    tally = loader_for().load(_batch(tmp_path / "b.xml", records), rejects_dir=tmp_path)
    assert (tally.loaded, tally.duplicates, tally.rejected) == (1, 0, 2)
    rows = _rejects(tally)
    assert {r["record"] for r in rows} == {"2", "3"}
    assert all(r["code"] == "Client.Conflict" and "already used for SubmitOrder" in r["reason"] for r in rows)
    assert _count(db, Order) == 2  # the submission's and record 1's; nothing of 2 and 3
    assert "LOADED" not in {n for names in _names_by_case(db).values() for n in names}


def test_held_orders_are_looked_up_only_when_refused_and_a_refusal_that_is_no_repeat_is_raised(
    db: Database, tmp_path: Path, loader_for, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """New records are written without a look-up; a batch with a repeat is refused by the receipts'
    unique key, looked up and written without it; a refusal the look-up cannot explain (here: it is
    made to find nothing) is raised, and the transaction's records are not kept."""
    from hub.orders import records as order_records

    looked_up = order_records.PendingRows._drop_received
    calls: list[int] = []

    def counted(self, s):  # type: ignore[no-untyped-def]
        calls.append(len(self))
        return looked_up(self, s)

    monkeypatch.setattr(order_records.PendingRows, "_drop_received", counted)
    loader_for().load(_batch(tmp_path / "early.xml", [_keyed("X", "XRAY"), _keyed("Y", "YANKEE")], "EARLY"))
    assert calls == []  # nothing received before: no look-up
    tally = loader_for().load(_batch(tmp_path / "b.xml", [_keyed("X", "XRAY"), _keyed("Z", "ZULU")], "LATER"))
    assert calls == [2] and (tally.loaded, tally.duplicates) == (1, 1)
    monkeypatch.setattr(order_records.PendingRows, "_drop_received", lambda self, s: {})
    with pytest.raises(IntegrityError):
        loader_for().load(_batch(tmp_path / "c.xml", [_keyed("W", "WHISKEY"), _keyed("Y", "YANKEE")], "LAST"))
    assert _count(db, Order) == 3  # X, Y and Z: nothing of the refused transaction


def test_a_second_refusal_while_writing_held_orders_is_looked_up_again(
    db: Database, tmp_path: Path, loader_for, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Another writer's receipt for a held message id lands between the look-up and the next try
    (here: made to land there): the unique key refuses the rows again, the look-up runs again, and
    the rest is written -- each repeat answered with the order its receipt names."""
    from hub import ids
    from hub.db.models import IntakeReceipt
    from hub.orders import records as order_records

    loader_for().load(_batch(tmp_path / "early.xml", [_keyed("X", "XRAY")], "EARLY"))
    with db.read() as s:
        first = s.scalars(select(IntakeReceipt).where(IntakeReceipt.source_message_id == "X")).one()
        row = {c.name: getattr(first, c.name) for c in IntakeReceipt.__table__.columns if c.name != "id"}
    looked_up = order_records.PendingRows._drop_received
    calls: list[int] = []

    def another_writer_meanwhile(self, s):  # type: ignore[no-untyped-def]
        calls.append(len(self))
        found = looked_up(self, s)
        if len(calls) == 1:  # Z's receipt, naming X's order, lands now
            s.execute(IntakeReceipt.__table__.insert().values(row | {"source_message_id": "Z"}))
        return found

    monkeypatch.setattr(order_records.PendingRows, "_drop_received", another_writer_meanwhile)
    records = [_keyed("X", "XRAY"), _keyed("Z", "ZULU"), _keyed("W", "WHISKEY")]
    tally = loader_for().load(_batch(tmp_path / "b.xml", records, "LATER"))
    assert calls == [3, 2]  # refused by X, looked up; refused by Z, looked up again; W written
    assert (tally.loaded, tally.duplicates, tally.rejected) == (1, 2, 0)
    assert _count(db, Order) == 2
    with db.read() as s:
        targets = dict(
            s.execute(select(AuditEvent.detail, AuditEvent.target).where(AuditEvent.detail.like("batch LATER %"))).all()
        )
    x_order = ids.public(ids.ORDER, first.order_id)
    assert sorted(t for d, t in targets.items() if " record 1 " in d or " record 2 " in d) == [x_order, x_order]


def test_orders_keep_the_records_order_of_ids_with_scans_in_between(db: Database, tmp_path: Path, loader_for) -> None:  # type: ignore[no-untyped-def]
    """A held order's id is taken when it is written, so one with a scan written in between (the
    held ones first) does not take an id out of the records' order."""
    from tests.support.orders import tiny_pdf

    (tmp_path / "s.pdf").write_bytes(tiny_pdf("s"))
    records = [order() for _ in range(6)]
    loader_for(batch_size=4).load(_batch(tmp_path / "b.xml", records, images={2: "s.pdf", 5: "s.pdf"}))
    with db.read() as s:
        by_id = list(s.scalars(select(Order.case_number).order_by(Order.id)))
        ids_ = list(s.scalars(select(Order.id).order_by(Order.id)))
    assert by_id == [r["CaseDocketID"] for r in records]
    assert ids_ == list(range(ids_[0], ids_[0] + 6))  # no id taken for nothing


def test_a_refused_copy_says_where_not_what(
    db: Database, tmp_path: Path, loader_for, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL's COPY refusing a held row (here: a name key made longer than its column) is
    raised as SQLAlchemy raises a statement's, naming the table, column and SQLSTATE -- never the
    row's values, which the server's own message quotes."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's path; SQLite does not enforce the column's length")
    from sqlalchemy.exc import DatabaseError

    from hub.orders import records as order_records

    monkeypatch.setattr(order_records, "name_key", lambda text: "SECRETNAME" * 30)
    with pytest.raises(DatabaseError) as refused:
        loader_for().load(_batch(tmp_path / "b.xml", [order()]))
    said = str(refused.value)
    assert "COPY orders refused: SQLSTATE 22001" in said and "row 1, column case_number_key" in said
    assert "SECRETNAME" not in said and refused.value.__cause__ is None and refused.value.__suppress_context__
    assert _count(db, Order) == 0
