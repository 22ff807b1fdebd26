"""The DMS adapter's batch lifecycle in-process, against a stand-in for the orders service that
keeps what a hub keeps (idempotent SubmitOrder by SourceMessageID, images per order, quick
attaches): the cases a real process can hit only by chance, made certain -- a death while a batch
is filed, two instances on one state, a re-export, a refused document fixed and dropped again,
symbolic links, a held batch removed. tests/functional/test_dms_adapter.py runs the real hub."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any

import pytest

from adapters.dms import adapter as dms_adapter
from adapters.dms import sample
from adapters.dms.adapter import DmsAdapter, DmsSection
from adapters.framework.hubclient import HubSection, Transient
from adapters.framework.state import AlreadyRunning


class FakeHub:
    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.by_message: dict[str, str] = {}
        self.quick: list[NS] = []
        self.ids = itertools.count(1)
        self.down = False

    def call(self, operation: str, **a: Any) -> Any:
        if self.down:
            raise Transient("ConnectionError: the hub is down")
        return getattr(self, operation)(**a)

    def SubmitOrder(self, Order: dict[str, Any], SubmitToCarposIndicator: bool = False) -> NS:  # noqa: N802, N803
        known = self.by_message.get(Order["SourceMessageID"])
        if known:
            return NS(OrderId=known, Version=1, OrderStatus="ACTIVE", DuplicateIndicator=True)
        order_id = f"CCP{next(self.ids):010d}"
        self.by_message[Order["SourceMessageID"]] = order_id
        self.orders[order_id] = {"order": Order, "images": []}
        return NS(OrderId=order_id, Version=1, OrderStatus="ACTIVE", DuplicateIndicator=False)

    def AttachImage(self, OrderId: str, Document: dict[str, Any]) -> NS:  # noqa: N802, N803
        self.orders[OrderId]["images"].append(hashlib.sha256(Document["Base64BinaryObject"]).hexdigest())
        return NS(ImageId=f"IMG{next(self.ids):010d}")

    def GetOrder(self, OrderId: str) -> NS:  # noqa: N802, N803
        return NS(Image=[NS(SHA256=sha) for sha in self.orders[OrderId]["images"]])

    def AddQuickAttach(self, QuickAttach: dict[str, Any]) -> NS:  # noqa: N802, N803
        sha = hashlib.sha256(QuickAttach["Document"]["Base64BinaryObject"]).hexdigest()
        qa = NS(
            QuickAttachId=f"QAT{next(self.ids):010d}",
            CaseDocketID=QuickAttach["CaseDocketID"],
            ImageInfo=NS(SHA256=sha),
        )
        self.quick.append(qa)
        return qa

    def SearchQuickAttach(self, Criteria: dict[str, str], PageNumber: int) -> NS:  # noqa: N802, N803
        return NS(Item=[q for q in self.quick if q.CaseDocketID == Criteria["CaseDocketID"]], NextPageNumber=None)

    def close(self) -> None:
        pass

    def images(self, case: str) -> list[int]:
        return [len(o["images"]) for o in self.orders.values() if o["order"]["CaseDocketID"] == case]


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


def _adapter(tmp_path: Path, hub: FakeHub, **more: Any) -> DmsAdapter:
    section = DmsSection(inbox=tmp_path / "inbox", court_ori="CA019015J", trigger_file="READY", **more)
    made = DmsAdapter(HubSection(url="http://127.0.0.1:1", username="u", password_file=tmp_path / "p"), section)
    made.client = hub  # type: ignore[assignment]
    return made


def test_a_death_while_a_batch_is_filed_is_finished_by_the_next_start(
    tmp_path: Path, hub: FakeHub, monkeypatch
) -> None:
    docs = [(sample.record(f"26FL-F{n}"), f"{n}.pdf", sample.pdf(f"F{n}")) for n in (1, 2)]
    sample.kofax_batch(tmp_path / "inbox" / "B", docs)
    first = _adapter(tmp_path, hub)
    moved = []

    def dies_after_one(source: Path, target: Path) -> None:
        if moved:
            raise SystemExit("killed")  # not an Exception: nothing in the adapter catches it, as with kill -9
        moved.append(source)
        source.rename(target)

    monkeypatch.setattr(dms_adapter, "_move", dies_after_one)
    with pytest.raises(SystemExit):
        first.round()
    first.close()
    monkeypatch.undo()
    assert (tmp_path / "inbox" / "B" / "index.xml").exists()  # half filed
    again = _adapter(tmp_path, hub)
    again.round()
    again.close()
    assert not (tmp_path / "inbox" / "B").exists()
    assert sorted(p.name for p in (tmp_path / "done" / "B").iterdir()) == [
        "1.pdf",
        "2.pdf",
        "READY",
        "index.xml",
        "receipt.txt",
    ]
    assert [hub.images(f"26FL-F{n}") for n in (1, 2)] == [[1], [1]]


def test_a_second_instance_on_the_same_state_is_refused(tmp_path: Path, hub: FakeHub) -> None:
    running = _adapter(tmp_path, hub)
    with pytest.raises(AlreadyRunning, match="another adapter"):
        _adapter(tmp_path, hub)
    running.close()
    _adapter(tmp_path, hub).close()  # free again once it stopped


def test_a_re_export_with_re_rendered_scans_is_already_imported(tmp_path: Path, hub: FakeHub) -> None:
    record = sample.record("26FL-RE1")
    sample.kofax_batch(tmp_path / "inbox" / "B1", [(record, "1.pdf", sample.pdf("first render"))])
    adapter = _adapter(tmp_path, hub)
    adapter.round()
    sample.kofax_batch(tmp_path / "inbox" / "B1-again", [(record, "1.pdf", sample.pdf("second render"))])
    adapter.round()
    adapter.close()
    assert hub.images("26FL-RE1") == [1]
    assert (tmp_path / "error" / "B1-again" / "ALREADY_IMPORTED.txt").is_file()


def test_a_refused_document_fixed_and_dropped_again_is_sent(tmp_path: Path, hub: FakeHub) -> None:
    record = sample.record("26FL-FIX1")
    sample.kofax_batch(tmp_path / "inbox" / "B", [(record, "1.pdf", sample.pdf("x")[:-8])])  # truncated
    adapter = _adapter(tmp_path, hub)
    adapter.round()
    assert "truncated PDF" in (tmp_path / "error" / "B" / "1.pdf.reason.txt").read_text(encoding="utf-8")
    assert hub.images("26FL-FIX1") == []
    sample.kofax_batch(tmp_path / "inbox" / "B", [(record, "1.pdf", sample.pdf("rescanned"))])  # same name, same index
    adapter.round()
    adapter.close()
    assert hub.images("26FL-FIX1") == [1] and (tmp_path / "done" / "B.2" / "1.pdf").is_file()


def test_an_order_whose_image_was_refused_gets_the_fixed_image_not_a_second_order(tmp_path: Path, hub: FakeHub) -> None:
    record = sample.record("26FL-IMG1")
    sample.kofax_batch(tmp_path / "inbox" / "B", [(record, "1.pdf", sample.pdf("ok"))])
    refusing = hub.AttachImage

    def refuse_once(OrderId: str, Document: dict[str, Any]) -> NS:  # noqa: N803
        from adapters.framework.hubclient import Permanent

        hub.AttachImage = refusing  # type: ignore[method-assign]
        raise Permanent("Client.ImageRejected", "the image has too many bytes")

    hub.AttachImage = refuse_once  # type: ignore[method-assign]
    adapter = _adapter(tmp_path, hub)
    adapter.round()
    assert hub.images("26FL-IMG1") == [0]
    sample.kofax_batch(tmp_path / "inbox" / "B2", [(record, "1.pdf", sample.pdf("smaller"))])
    adapter.round()
    adapter.close()
    assert hub.images("26FL-IMG1") == [1]  # the same order, now with its image


def test_symbolic_links_are_not_followed_out_of_the_inbox(tmp_path: Path, hub: FakeHub) -> None:
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(sample.pdf("outside"))
    folder = sample.kofax_batch(tmp_path / "inbox" / "B", [(sample.record("26FL-SYM1"), "1.pdf", None)])
    (folder / "1.pdf").symlink_to(outside)
    elsewhere = sample.kofax_batch(tmp_path / "elsewhere", [(sample.record("26FL-SYM2"), "1.pdf", sample.pdf("e"))])
    (tmp_path / "inbox" / "LINKED").symlink_to(elsewhere)
    adapter = _adapter(tmp_path, hub)
    adapter.round()
    adapter.close()
    assert hub.images("26FL-SYM1") == [] and hub.images("26FL-SYM2") == []
    assert "not a plain file" in (tmp_path / "error" / "B" / "1.pdf.reason.txt").read_text(encoding="utf-8")
    assert outside.read_bytes() == sample.pdf("outside") and (elsewhere / "1.pdf").is_file()


def test_a_held_batch_that_is_removed_is_held_no_longer(tmp_path: Path, hub: FakeHub) -> None:
    folder = sample.kofax_batch(tmp_path / "inbox" / "H", [(sample.record("26FL-H1"), "1.pdf", None)])
    adapter = _adapter(tmp_path, hub)
    adapter.round()
    assert dms_adapter.status_text(adapter.state).count("held batch H") == 1
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()
    adapter.round()
    assert "held batch" not in dms_adapter.status_text(adapter.state)
    adapter.close()


def test_the_hub_down_leaves_the_document_waiting_and_up_again_sends_it_once(tmp_path: Path, hub: FakeHub) -> None:
    sample.kofax_batch(tmp_path / "inbox" / "B", [(sample.record("26FL-DN1"), "1.pdf", sample.pdf("dn"))])
    adapter = _adapter(tmp_path, hub, retry_first_seconds=0.001, retry_most_seconds=0.001)
    hub.down = True
    adapter.round()
    assert "waiting: 1" in dms_adapter.status_text(adapter.state)
    hub.down = False
    import time

    deadline = time.monotonic() + 5
    while (tmp_path / "inbox" / "B").exists() and time.monotonic() < deadline:
        adapter.round()  # each round is the product's own; the 1 ms backoff runs out between them
    adapter.close()
    assert hub.images("26FL-DN1") == [1]


def test_two_documents_with_the_same_index_fields_are_an_index_error(tmp_path: Path, hub: FakeHub) -> None:
    record = sample.record("26FL-TWICE")
    sample.kofax_batch(
        tmp_path / "inbox" / "B", [(record, "1.pdf", sample.pdf("a")), (record, "2.pdf", sample.pdf("b"))]
    )
    adapter = _adapter(tmp_path, hub)
    adapter.round()
    adapter.close()
    assert "the same index fields as document 1" in (tmp_path / "error" / "B" / "INDEX_ERROR.txt").read_text(
        encoding="utf-8"
    )
    assert hub.orders == {}


def test_a_new_batch_dropped_under_the_name_of_one_cut_short_while_filed_is_its_own(
    tmp_path: Path, hub: FakeHub, monkeypatch
) -> None:
    sample.kofax_batch(tmp_path / "inbox" / "B", [(sample.record("26FL-OLD"), "1.pdf", sample.pdf("old"))])
    first = _adapter(tmp_path, hub)
    monkeypatch.setattr(dms_adapter, "_move", lambda source, target: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        first.round()
    first.close()
    monkeypatch.undo()
    for leftover in (tmp_path / "inbox" / "B").iterdir():  # the station re-exports B with another order
        leftover.unlink()
    sample.kofax_batch(tmp_path / "inbox" / "B", [(sample.record("26FL-NEW"), "1.pdf", sample.pdf("new"))])
    again = _adapter(tmp_path, hub)
    again.round()
    again.close()
    assert hub.images("26FL-NEW") == [1] and hub.images("26FL-OLD") == [1]
    receipt = (tmp_path / "done" / "B.2" / "receipt.txt").read_text(encoding="utf-8")  # done/B: the first's
    assert (tmp_path / "done" / "B.2" / "1.pdf").read_bytes() == sample.pdf("new") and "SENT" in receipt


def test_a_second_instance_started_from_the_command_line_exits_2(tmp_path: Path, hub: FakeHub, capsys) -> None:
    from hub.cli import main

    running = _adapter(tmp_path, hub)
    config = tmp_path / "dms.toml"
    config.write_text(
        f'[hub]\nurl = "http://127.0.0.1:1"\nusername = "u"\npassword_file = "p"\n'
        f'[dms]\ninbox = "{tmp_path / "inbox"}"\ncourt_ori = "CA019015J"\ntrigger_file = "READY"\n',
        encoding="utf-8",
    )
    assert main(["adapter", "dms", str(config), "--once"]) == 2
    assert "another adapter" in capsys.readouterr().err
    running.close()
