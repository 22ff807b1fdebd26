"""The DMS adapter end to end, as separate processes: the real hub, the mock DOJ switch and the
CARPOS gateway on one database, and ``ccpor-hub adapter dms CONFIG`` watching a drop folder.

Files in -- orders and images out, CARPOS accepted; bad records in error/ with their reason;
a missing image holds its batch; the same batch twice is reported, not sent twice; kill -9 and
the hub going down and up lose nothing and duplicate nothing; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import zeep

from adapters.dms import sample
from hub.runner import cli_path
from tests.conftest import PASSWORD
from tests.functional.conftest import DIGEST_USER, PartnerWorld, partner_world
from tests.support.adapters import AdapterProcess
from tests.support.waiting import until

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PartnerWorld]:
    with partner_world(tmp_path_factory.mktemp("dms-hub")) as started:
        yield started


class Adapter(AdapterProcess):
    """One drop folder and its adapter process (``ccpor-hub adapter dms CONFIG``)."""

    def __init__(self, world: PartnerWorld, root: Path, layout: str = "kofax-xml", **dms: object) -> None:
        self.root = root
        self.inbox = root / "inbox"
        self.inbox.mkdir(parents=True)
        (root / "secret").write_text(PASSWORD + "\n", encoding="utf-8")
        settings = {
            "inbox": "inbox",
            "court_ori": "CA019015J",
            "layout": layout,
            "trigger_file": "READY",
            "poll_seconds": 0.2,
            "retry_first_seconds": 0.2,
            "retry_most_seconds": 1.0,
            "submit_to_carpos": True,
        } | dms
        lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())
        self.config = root / "dms.toml"
        self.config.write_text(
            textwrap.dedent(f"""
            [hub]
            url = "{world.hub.url}"
            username = "{DIGEST_USER}"
            password_file = "secret"
            timeout_seconds = 20

            [dms]
            """)
            + lines
            + "\n",
            encoding="utf-8",
        )
        super().__init__("dms", self.config, root / "adapter.log")

    def filed(self, batch: str) -> Path:
        return until(
            lambda: (self.root / "done" / batch / "receipt.txt").is_file() and self.root / "done" / batch,
            f"batch {batch} filed",
            timeout=60,
        )


@pytest.fixture(scope="module")
def adapter(world: PartnerWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Adapter]:
    running = Adapter(world, tmp_path_factory.mktemp("dms-court"), max_image_bytes=8_000_000).start()
    yield running
    running.stop()


def _orders(clerk: zeep.Client, case_number: str) -> list[object]:
    return list(clerk.service.SearchOrders(Criteria={"CaseDocketID": case_number}).Item or [])


def test_a_kofax_batch_becomes_orders_with_images_and_reaches_carpos(world: PartnerWorld, adapter: Adapter) -> None:
    scan = sample.tiff(pages=5, marker="K1", width=2550, height=3300)  # five letter pages at 300 dpi, ~5 MB
    good = sample.record("26FL-K1-001", "MUÑOZ")
    incomplete = sample.record("26FL-K1-002", "LATER", RestrainedRace="", Conditions="")
    invalid = sample.record("26FL-K1-003", "BADRACE", RestrainedRace="Z")
    sample.kofax_batch(
        adapter.inbox / "K1",
        [
            (good, "0001.tif", scan),
            (incomplete, "0002.pdf", sample.pdf("K1-2")),
            (invalid, "0003.pdf", sample.pdf("K1-3")),
        ],
    )
    done = adapter.filed("K1")
    assert not (adapter.inbox / "K1").exists()
    # the complete record: an order with its multi-page TIFF, entered in CARPOS
    clerk = world.client()
    (found,) = _orders(clerk, "26FL-K1-001")
    record = clerk.service.GetOrder(OrderId=found.OrderId)
    assert record.Order.ProtectionOrderRestrictedPerson.PersonName.PersonSurName == "MUÑOZ"
    assert [i.SHA256.lower() for i in record.Image] == [hashlib.sha256(scan).hexdigest()]
    assert record.Order.SourceSystemName == "DMS" and record.Order.SourceMessageID.startswith("D")
    until(lambda: clerk.service.GetOrder(OrderId=found.OrderId).CarposStatus == "ACCEPTED", "CARPOS accepted", 60)
    # the incomplete one: a quick attach for a clerk, not an order
    assert _orders(clerk, "26FL-K1-002") == []
    qa = clerk.service.SearchQuickAttach(Criteria={"CaseDocketID": "26FL-K1-002"}).Item
    assert [q.PersonSurName for q in qa] == ["LATER"] and qa[0].ImageInfo.DocumentFileName == "0002.pdf"
    # the invalid one: nothing stored, its image in error/ with the hub's fault and the violation's path
    assert _orders(clerk, "26FL-K1-003") == []
    reason = (adapter.root / "error" / "K1" / "0003.pdf.reason.txt").read_text(encoding="utf-8")
    assert "Client.ValidationError" in reason and "PersonRaceCode" in reason
    assert (adapter.root / "error" / "K1" / "0003.pdf").read_bytes() == sample.pdf("K1-3")
    receipt = (done / "receipt.txt").read_text(encoding="utf-8")
    assert f"1\t0001.tif\tSENT\t{found.OrderId} image" in receipt and "QUICK_ATTACH" in receipt
    assert (done / "0001.tif").read_bytes() == scan and (done / "index.xml").is_file()
    status = adapter.status()
    assert "sent: 2" in status.splitlines()[0] and "failed: 1" in status.splitlines()[0]
    assert "Client.ValidationError" in status


def test_an_onbase_dip_batch_in_windows_1252_and_one_in_the_wrong_encoding(
    world: PartnerWorld, adapter: Adapter
) -> None:
    dip = Adapter(world, adapter.root.parent / f"{adapter.root.name}-dip", layout="onbase-dip").start()
    try:
        sample.dip_batch(dip.inbox / "D1", [(sample.record("26FL-D1-001", "PEÑA"), "0001.pdf", sample.pdf("D1"))])
        dip.filed("D1")
        clerk = world.client()
        (found,) = _orders(clerk, "26FL-D1-001")
        assert (
            clerk.service.GetOrder(OrderId=found.OrderId).Order.ProtectionOrderRestrictedPerson.PersonName.PersonSurName
            == "PEÑA"
        )
    finally:
        assert dip.stop() == 0
    # the same bytes read by an adapter configured for UTF-8: the batch goes to error/ naming the byte
    utf8 = Adapter(world, adapter.root.parent / f"{adapter.root.name}-utf8", layout="onbase-dip", encoding="utf-8")
    utf8.start()
    try:
        sample.dip_batch(utf8.inbox / "D2", [(sample.record("26FL-D2-001", "PEÑA"), "0001.pdf", sample.pdf("D2"))])
        reason = until(
            lambda: (
                (utf8.root / "error" / "D2" / "INDEX_ERROR.txt").is_file()
                and (utf8.root / "error" / "D2" / "INDEX_ERROR.txt").read_text(encoding="utf-8")
            ),
            "index error",
        )
        assert (
            "byte 0xD1 is not utf-8" in reason and 'dms.encoding = "cp1252"' in reason and "index.txt line 7:" in reason
        )  # RestrainedLastName
        assert _orders(world.client(), "26FL-D2-001") == []
    finally:
        utf8.stop()


def test_a_batch_whose_image_is_missing_is_held_until_it_arrives(world: PartnerWorld, adapter: Adapter) -> None:
    first, second = sample.record("26FL-H1-001"), sample.record("26FL-H1-002")
    sample.kofax_batch(adapter.inbox / "H1", [(first, "0001.pdf", sample.pdf("H1-1")), (second, "0002.pdf", None)])
    until(lambda: "held batch H1: held: image 0002.pdf of document 2" in adapter.status(), "the batch held")
    clerk = world.client()
    assert _orders(clerk, "26FL-H1-001") == []  # not half-submitted
    assert (adapter.inbox / "H1" / "0001.pdf").is_file()
    (adapter.inbox / "H1" / "0002.pdf").write_bytes(sample.pdf("H1-2"))
    adapter.filed("H1")
    assert len(_orders(clerk, "26FL-H1-001")) == 1 and len(_orders(clerk, "26FL-H1-002")) == 1
    assert "held batch" not in adapter.status()


def test_the_same_batch_dropped_twice_is_reported_as_already_imported(world: PartnerWorld, adapter: Adapter) -> None:
    documents = [(sample.record("26FL-T1-001"), "0001.pdf", sample.pdf("T1"))]
    sample.kofax_batch(adapter.inbox / "T1", documents)
    adapter.filed("T1")
    sample.kofax_batch(adapter.inbox / "T1", documents)  # the same name and index
    again = until(lambda: (adapter.root / "error" / "T1" / "ALREADY_IMPORTED.txt").is_file(), "reported")
    assert again and not (adapter.inbox / "T1").exists()
    sample.kofax_batch(adapter.inbox / "T1-COPY", documents)  # re-exported under another name
    until(lambda: (adapter.root / "error" / "T1-COPY" / "ALREADY_IMPORTED.txt").is_file(), "reported again")
    assert len(_orders(world.client(), "26FL-T1-001")) == 1
    assert [e["batch"] for e in adapter.events("batch.already_imported")] == ["T1", "T1-COPY"]


@pytest.mark.parametrize(
    "fields, image, code, says",
    [
        ({"CaseNumbr": "26FL-B1"}, sample.pdf("B1"), "Adapter.InvalidRecord", "CaseNumbr: not one of the order fields"),
        (
            {"IssueDate": "13/45/2026"},
            sample.pdf("B2"),
            "Adapter.InvalidRecord",
            "IssueDate: not a date",
        ),
        ({}, b"\xff\xd8\xff\xe0 a JPEG", "Adapter.ImageRejected", "is not a PDF or TIFF"),
        ({}, sample.pdf("B4")[:-8], "Adapter.ImageRejected", "truncated PDF"),
        ({}, b"%PDF-1.4\n" + b"0" * 8_000_000 + b"%%EOF\n", "Adapter.ImageRejected", "the limit is 8000000"),
        ({"CourtORI": "CA037015J"}, sample.pdf("B6"), "Client.Forbidden", ""),
    ],
    ids=["unknown-field", "bad-date", "jpeg", "truncated-pdf", "too-large", "another-courts-order"],
)
def test_a_bad_record_goes_to_error_with_its_reason_and_nothing_is_stored(
    world: PartnerWorld,
    adapter: Adapter,
    fields: dict[str, str],
    image: bytes,
    code: str,
    says: str,
    request: pytest.FixtureRequest,
) -> None:
    batch = f"B-{request.node.callspec.id}"
    case = f"26FL-{request.node.callspec.id.upper()[:12]}"
    bad = sample.record(case, **fields)
    neighbour = sample.record(f"{case}-OK")
    sample.kofax_batch(adapter.inbox / batch, [(bad, "0001.pdf", image), (neighbour, "0002.pdf", sample.pdf(batch))])
    adapter.filed(batch)
    reason = (adapter.root / "error" / batch / "0001.pdf.reason.txt").read_text(encoding="utf-8")
    assert code in reason and says in reason
    clerk = world.client()
    assert _orders(clerk, case) == [] and not clerk.service.SearchQuickAttach(Criteria={"CaseDocketID": case}).Item
    assert len(_orders(clerk, f"{case}-OK")) == 1  # its neighbour went in
    log = adapter.log.read_text(encoding="utf-8")  # codes and paths only: no value of the index
    assert "MOUSE" not in log and "05/17/1980" not in log and "13/45/2026" not in log


@pytest.mark.parametrize(
    "index, says",
    [
        (b"<ImportSession><Batches><Batch", "not well-formed XML"),
        (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><ImportSession/>', "DOCTYPE or ENTITY"),
        (b"<Import/>", "the root element is Import, not ImportSession"),
        (
            b"<ImportSession><Batches><Batch><Documents><Document><Pages/></Document></Documents></Batch></Batches>"
            b"</ImportSession>",
            "0 Page elements",
        ),
    ],
    ids=["truncated", "entities", "wrong-root", "no-image"],
)
def test_an_unreadable_index_sends_the_batch_to_error_and_nothing_is_sent(
    adapter: Adapter, index: bytes, says: str, request: pytest.FixtureRequest
) -> None:
    folder = adapter.inbox / f"X-{request.node.callspec.id}"
    folder.mkdir()
    (folder / "0001.pdf").write_bytes(sample.pdf(folder.name))
    (folder / "index.xml").write_bytes(index)
    (folder / "READY").write_bytes(b"")
    reason = until(lambda: (adapter.root / "error" / folder.name / "INDEX_ERROR.txt").is_file(), "filed to error/")
    assert reason
    text = (adapter.root / "error" / folder.name / "INDEX_ERROR.txt").read_text(encoding="utf-8")
    assert "Adapter.IndexError" in text and says in text
    assert (adapter.root / "error" / folder.name / "0001.pdf").is_file()


def test_the_hub_down_then_up_loses_nothing(world: PartnerWorld, adapter: Adapter) -> None:
    world.hub.stop()
    try:
        sample.kofax_batch(
            adapter.inbox / "DOWN",
            [(sample.record(f"26FL-DN-{n:03d}"), f"{n:04d}.pdf", sample.pdf(f"DN{n}")) for n in (1, 2)],
        )
        until(lambda: any(e.get("batch") == "DOWN" for e in adapter.events("hub.unavailable")), "the outage seen")
        status = adapter.status()
        assert "waiting: " in status and "next retry:" in status
    finally:
        world.hub.start()
    adapter.filed("DOWN")
    clerk = world.client()
    assert [len(_orders(clerk, f"26FL-DN-{n:03d}")) for n in (1, 2)] == [1, 1]


def test_kill_9_in_the_middle_of_a_batch_loses_nothing_and_sends_nothing_twice(
    world: PartnerWorld, adapter: Adapter
) -> None:
    crash = Adapter(world, adapter.root.parent / f"{adapter.root.name}-kill").start()
    count = 24
    documents = [
        (
            sample.record(f"26FL-KL-{n:03d}") if n % 4 else sample.record(f"26FL-KL-{n:03d}", Brady=""),
            f"{n:04d}.pdf",
            sample.pdf(f"KL{n}"),
        )
        for n in range(1, count + 1)
    ]
    sample.kofax_batch(crash.inbox / "KILL", documents)
    until(lambda: len(crash.events("document.sent")) >= 6, "six documents sent")
    crash.kill()
    crash.start()
    crash.filed("KILL")
    assert crash.stop() == 0
    clerk = world.client()
    for n in range(1, count + 1):
        case = f"26FL-KL-{n:03d}"
        if n % 4:
            (found,) = _orders(clerk, case)
            assert len(clerk.service.GetOrder(OrderId=found.OrderId).Image) == 1, case
        else:  # incomplete (no Brady): exactly one quick attach
            assert _orders(clerk, case) == []
            assert len(clerk.service.SearchQuickAttach(Criteria={"CaseDocketID": case}).Item) == 1, case
    receipt = (crash.root / "done" / "KILL" / "receipt.txt").read_text(encoding="utf-8").splitlines()
    assert len(receipt) == count + 1 and all("\tSENT\t" in line for line in receipt[1:])


def test_sigterm_stops_it_cleanly(adapter: Adapter) -> None:
    until(lambda: adapter.events("started"), "the adapter started")
    assert adapter.stop() == 0
    assert adapter.events()[-1]["event"] == "stopped"
    adapter.start()  # for any test after this one


def test_a_wrong_configuration_stops_the_start_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "dms.toml"
    config.write_text('[hub]\nurl = "ftp://x"\n[dms]\ninbox = "in"\ncourt_ori = "CA019015J"\n', encoding="utf-8")
    done = subprocess.run([cli_path(), "adapter", "dms", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "hub.url: must start with https://" in done.stderr
    config.write_text(
        '[hub]\nurl = "https://hub"\nusername = "u"\npassword_file = "p"\n[dms]\ninbox = "in"\n'
        'court_ori = "CA019015J"\npoll_secs = 1\n',
        encoding="utf-8",
    )
    done = subprocess.run([cli_path(), "adapter", "dms", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "dms.poll_secs: unknown key" in done.stderr
    assert not os.path.exists(tmp_path / "in")


def test_a_resend_after_a_crash_that_followed_the_call_finds_what_the_hub_already_has(
    world: PartnerWorld, adapter: Adapter
) -> None:
    """The crash kill -9 can only sometimes hit, made certain: both documents' calls reached the
    hub, then the adapter died before recording the answers (their records WAITING with an attempt).
    The resend finds the order's image and the quick attach by their SHA-256: nothing twice."""
    import sqlite3

    documents = [
        (sample.record("26FL-RS-001"), "0001.pdf", sample.pdf("RS1")),
        (sample.record("26FL-RS-002", Brady=""), "0002.pdf", sample.pdf("RS2")),
    ]
    sample.kofax_batch(adapter.inbox / "RS", documents)
    adapter.filed("RS")
    state = sqlite3.connect(adapter.root / "ccpor-dms-state.sqlite", isolation_level=None, timeout=30)
    changed = state.execute(
        "UPDATE records SET status = 'WAITING', outcome = '', next_attempt_at = 0 "
        "WHERE kind = 'document' AND batch LIKE 'batch:RS:%'"
    ).rowcount
    state.execute("DELETE FROM records WHERE kind = 'batch' AND batch = 'RS'")
    state.close()
    assert changed == 2
    sample.kofax_batch(adapter.inbox / "RS", documents)
    until(lambda: (adapter.root / "done" / "RS.2" / "receipt.txt").is_file(), "filed again")
    clerk = world.client()
    (found,) = _orders(clerk, "26FL-RS-001")
    assert len(clerk.service.GetOrder(OrderId=found.OrderId).Image) == 1
    assert len(clerk.service.SearchQuickAttach(Criteria={"CaseDocketID": "26FL-RS-002"}).Item) == 1
    receipt = (adapter.root / "done" / "RS.2" / "receipt.txt").read_text(encoding="utf-8")
    assert "(imported before)" in receipt
