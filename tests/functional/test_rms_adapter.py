"""The RMS adapter end to end over mutual TLS, as separate processes: the real hub (HTTPS, client
certificates required), the mock DOJ switch and the CARPOS gateway, and ``ccpor-hub adapter rms
CONFIG`` for the Los Angeles Sheriff, whose certificate is its account.

The court saves drafts; the adapter hands them to the RMS folder (order XML and images); the RMS's
completed fields come back and the adapter submits them to CARPOS; a bad completion goes to error/
with the hub's violations; a completion of a version the court changed is refused and the new
version handed out; an officer's request fetches an order and its image; the hub going down and a
resend after a crash change nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from adapters.dms import sample
from tests.functional.conftest import PartnerWorld, partner_world
from tests.support.adapters import AdapterProcess
from tests.support.certs import make_tls
from tests.support.orders import order
from tests.support.waiting import until

pytestmark = pytest.mark.functional
COURT = {"OrganizationORIIdentification": "CA019015J"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PartnerWorld]:
    data_dir = tmp_path_factory.mktemp("rms-hub")
    tls = make_tls(data_dir, mutual=True)
    # the sheriff's RMS certificate is the Los Angeles Sheriff's account
    with partner_world(data_dir, tls, certificates={"la-deputy": tls.client_cert}) as started:
        yield started


class Rms(AdapterProcess):
    def __init__(self, world: PartnerWorld, root: Path) -> None:
        self.root = root
        self.config = root / "rms.toml"
        settings = {"folder": "exchange", "court_ori": "CA019015J", "poll_seconds": 0.2, "stable_seconds": 0.3,
                    "retry_first_seconds": 0.2, "retry_most_seconds": 1.0}  # fmt: skip
        self.config.write_text(
            textwrap.dedent(f"""
            [hub]
            url = "{world.hub.url}"
            auth = "certificate"
            client_cert = "{world.tls.client_cert}"
            client_key = "{world.tls.client_key}"
            ca_file = "{world.tls.ca}"
            timeout_seconds = 20

            [rms]
            """)
            + "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())
            + "\n",
            encoding="utf-8",
        )
        self.folder = root / "exchange"
        super().__init__("rms", self.config, root / "rms.log")

    def drop(self, place: str, name: str, text: str) -> Path:
        """As an RMS should: written under another name, then renamed into place."""
        (self.folder / place).mkdir(parents=True, exist_ok=True)
        temporary = self.folder / place / f".{name}.tmp"
        temporary.write_text(text, encoding="cp1252")
        os.replace(temporary, self.folder / place / name)
        return self.folder / place / name

    def handed_out(self, order_id: str, version: int = 1) -> etree._Element:
        path = self.folder / "out" / f"{order_id}.xml"

        def ready() -> list[etree._Element]:
            record = etree.fromstring(path.read_bytes()) if path.exists() else None
            return [record] if record is not None and record.findtext("{*}Version") == str(version) else []

        return until(ready, f"{order_id} v{version} handed out", timeout=60)[0]

    def filed(self, place: str, name: str) -> str:
        note = self.folder / place / (name + (".receipt.txt" if place == "done" else ".reason.txt"))
        until(note.exists, f"{name} filed to {place}/", timeout=60)
        return note.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rms(world: PartnerWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rms]:
    running = Rms(world, tmp_path_factory.mktemp("rms-sheriff")).start()
    yield running
    assert running.stop() == 0


def _draft(world: PartnerWorld, case: str, **more: object) -> str:
    basics = order(CaseDocketID=case, CourtOrderIssuingCourt=COURT, ProtectionOrderCondition=None,
                   ProtectionOrderBradyIndicator=None, **more)  # fmt: skip
    return world.client("clerk").service.SaveDraft(Order=basics).OrderId


COMPLETION = "OrderId: {id}\r\nVersion: {version}\r\nConditions: 01,04\r\nStayAwayYards: 100\r\nBrady: Y\r\n"


def test_the_court_draft_is_handed_out_completed_by_the_rms_and_reaches_carpos(world: PartnerWorld, rms: Rms) -> None:
    draft = _draft(world, "26RMS0001")
    scan = sample.tiff(pages=2, marker="rms")
    world.client("clerk").service.AttachImage(OrderId=draft, Document={"Base64BinaryObject": scan})
    record = rms.handed_out(draft, version=2)  # the image attached made version 2
    assert record.findtext("{*}Order/{*}CaseDocketID") == "26RMS0001" and record.findtext("{*}OrderStatus") == "DRAFT"
    image_id = record.findtext("{*}Image/{*}ImageId")
    assert (rms.folder / "out" / f"{draft}-{image_id}.tif").read_bytes() == scan
    rms.drop("in", f"{draft}.txt", COMPLETION.format(id=draft, version=2))
    receipt = rms.filed("done", f"{draft}.txt")
    assert f"{draft} version 3 ACTIVE" in receipt
    clerk = world.client("clets-clerk")
    completed = clerk.service.GetOrder(OrderId=draft, IncludeHistory=True)
    assert completed.Order.ProtectionOrderBradyIndicator == "Y" and completed.Order.SourceSystemName == "RMS"
    assert completed.History[-1].ActorName == "la-deputy"
    until(lambda: clerk.service.GetOrder(OrderId=draft).CarposStatus == "ACCEPTED", "CARPOS accepted", 60)
    deputy_queue = [i.OrderId for i in world.client("la-deputy").service.ListAwaitingCompletion().Item]
    assert draft not in deputy_queue


def test_a_bad_completion_goes_to_error_with_the_violation_and_the_draft_stays(world: PartnerWorld, rms: Rms) -> None:
    draft = _draft(world, "26RMS0002")
    rms.handed_out(draft)
    rms.drop("in", f"{draft}.txt", COMPLETION.format(id=draft, version=1).replace("Brady: Y", "Brady: X"))
    reason = rms.filed("error", f"{draft}.txt")
    assert "Client.ValidationError" in reason and "ProtectionOrderBradyIndicator" in reason
    assert world.client("clerk").service.GetOrder(OrderId=draft).OrderStatus == "DRAFT"
    rms.drop("in", "junk.txt", "this is not a field line\r\n")
    assert "expected 'Field: value'" in rms.filed("error", "junk.txt")


def test_a_completion_of_a_version_the_court_changed_is_refused_and_the_new_one_handed_out(
    world: PartnerWorld, rms: Rms
) -> None:
    draft = _draft(world, "26RMS0003")
    rms.handed_out(draft)
    changed = order(CaseDocketID="26RMS0003", CourtOrderIssuingCourt=COURT, ProtectionOrderCondition=None,
                    ProtectionOrderBradyIndicator=None, ProtectionOrderRestrictedPerson=None)  # fmt: skip
    world.client("clerk").service.ModifyOrder(OrderId=draft, Version=1, Order=changed)
    rms.drop("in", f"{draft}.txt", COMPLETION.format(id=draft, version=1))
    assert "Adapter.OrderChanged" in rms.filed("error", f"{draft}.txt")
    rms.handed_out(draft, version=2)
    assert world.client("clerk").service.GetOrder(OrderId=draft).OrderStatus == "DRAFT"


def test_an_officers_request_fetches_the_order_and_its_image(world: PartnerWorld, rms: Rms) -> None:
    clerk = world.client("clerk")
    active = clerk.service.SubmitOrder(Order=order(CaseDocketID="26RMS-OFFICER")).OrderId
    clerk.service.AttachImage(OrderId=active, Document={"Base64BinaryObject": sample.pdf("officer")})
    rms.drop("requests", "q1.txt", "CaseNumber: 26RMS-OFFICER\r\n")
    assert f"fetched: {active}" in rms.filed("done", "q1.txt")
    fetched = etree.fromstring((rms.folder / "fetched" / f"{active}.xml").read_bytes())
    image_id = fetched.findtext("{*}Image/{*}ImageId")
    assert (rms.folder / "fetched" / f"{active}-{image_id}.pdf").read_bytes() == sample.pdf("officer")
    rms.drop("requests", "q2.txt", "OrderId: CCP9999999999\r\n")
    assert "Client.NotFound" in rms.filed("error", "q2.txt")


def test_the_hub_down_then_up_and_a_resend_after_a_crash_submit_once(world: PartnerWorld, rms: Rms) -> None:
    draft = _draft(world, "26RMS0005")
    rms.handed_out(draft)
    world.hub.stop()
    try:
        rms.drop("in", f"{draft}.txt", COMPLETION.format(id=draft, version=1))
        until(lambda: rms.events("hub.unavailable"), "the outage seen")
    finally:
        world.hub.start()
    assert "version 2 ACTIVE" in rms.filed("done", f"{draft}.txt")
    # the crash after the call reached the hub, made certain: the record back to WAITING with an attempt
    state = sqlite3.connect(rms.folder / "ccpor-rms-state.sqlite", isolation_level=None, timeout=30)
    assert state.execute("UPDATE records SET status = 'WAITING' WHERE key LIKE ?", (f"in:{draft}:v1:%",)).rowcount == 1
    state.close()
    rms.drop("in", f"{draft}.txt", COMPLETION.format(id=draft, version=1))
    until(lambda: (rms.folder / "done" / f"{draft}.2.txt.receipt.txt").exists(), "the resend filed")
    assert "(submitted before)" in (rms.folder / "done" / f"{draft}.2.txt.receipt.txt").read_text(encoding="utf-8")
    history = world.client("clerk").service.GetOrder(OrderId=draft, IncludeHistory=True).History
    assert [h.ActionText for h in history].count("SUBMIT") == 1


def test_a_completion_may_not_touch_the_courts_record_and_a_corrected_one_is_taken(
    world: PartnerWorld, rms: Rms
) -> None:
    draft = _draft(world, "26RMS0006")
    rms.handed_out(draft)
    rms.drop("in", f"{draft}.txt", COMPLETION.format(id=draft, version=1) + "Sealed: N\r\nCaseNumber: 99XX1\r\n")
    reason = rms.filed("error", f"{draft}.txt")
    assert "CaseNumber: a sheriff completes the CARPOS fields" in reason
    rms.drop("in", f"{draft}.txt", COMPLETION.format(id=draft, version=1).replace("Brady: Y", "Brady: X"))
    until(lambda: (rms.folder / "error" / f"{draft}.2.txt.reason.txt").exists(), "the bad Brady refused")
    rms.drop("in", f"{draft}.txt", COMPLETION.format(id=draft, version=1))  # corrected: the same version again
    assert "version 2 ACTIVE" in rms.filed("done", f"{draft}.txt")
    record = world.client("clerk").service.GetOrder(OrderId=draft)
    assert record.Order.CaseDocketID == "26RMS0006" and record.Order.ProtectionOrderBradyIndicator == "Y"
    rms.drop("in", "odd.txt", "OrderId: CCP0000000001\r\nVersion: \xb2\r\n")  # cp1252 0xB2 is a superscript two
    assert "OrderId: and Version:" in rms.filed("error", "odd.txt")


def test_an_order_that_leaves_the_queue_leaves_out(world: PartnerWorld, rms: Rms) -> None:
    draft = _draft(world, "26RMS0007")
    rms.handed_out(draft)
    world.client("clerk").service.SubmitOrder(
        Order=order(CaseDocketID="26RMS0007", CourtOrderIssuingCourt=COURT), OrderId=draft, Version=1
    )  # the court completed it itself
    until(lambda: not (rms.folder / "out" / f"{draft}.xml").exists(), "its copy taken out of out/")
    assert any(e.get("order") == draft for e in rms.events("order.withdrawn"))


def test_one_order_the_hub_cannot_serve_does_not_hold_the_others_back(world: PartnerWorld, rms: Rms) -> None:
    import hashlib

    broken, fine = _draft(world, "26RMS0008"), _draft(world, "26RMS0009")
    scan = sample.pdf("to be damaged")
    world.client("clerk").service.AttachImage(OrderId=broken, Document={"Base64BinaryObject": scan})
    sha = hashlib.sha256(scan).hexdigest()
    (stored,) = [p for p in (world.root / "images").rglob("*") if p.is_file() and p.name.startswith(sha[:16])]
    stored.write_bytes(b"%PDF-1.4 damaged on the hub's disk %%EOF")  # GetImage: Server.IntegrityFailure
    rms.handed_out(fine)
    until(lambda: any(e.get("order") == broken for e in rms.events("order.not_handed_out")), "the broken one logged")
    assert not (rms.folder / "out" / f"{broken}.xml").exists()
