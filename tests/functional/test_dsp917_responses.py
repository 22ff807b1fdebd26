"""DSP917's response side end to end, every part a real process: a court's notification posted to the
hub, the gateway delivering the business responses to the mock court (``ccpor-hub mock-court``)
-- the CCPOR order id at once, DOJ's FCN once the mock switch accepts the order -- and every
response delivered once, in order, across the court's service being down for a while."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from hub import masterkey, ns
from hub.carpos.clets import CletsVault
from hub.contract import Dsp917, validate_dsp917
from hub.db.engine import Database
from hub.db.models import OutboxMessage
from hub.runner import CourtServer, cli_path
from mocks.court.store import CourtStore
from tests.functional.test_dsp917 import _r, notifications, receipt, stored_order
from tests.support.dsp917 import ORDER_PATH, current, put, sample, with_ids
from tests.support.waiting import until

pytestmark = pytest.mark.functional

COURT_ORI = "CA013013J"
PASSWORD = "the court's response password"  # noqa: S105 - a test court's
RESP = {"r": ns.DSP917_RESP, "nc": ns.DSP917_RESP_NC}


@pytest.fixture(scope="module")
def court(carpos, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CourtServer, CourtStore]]:
    server = CourtServer(tmp_path_factory.mktemp("court"), PASSWORD).start()
    store = CourtStore.existing(server.database_url)
    # The operator's command: the hub enters Imperial's orders in CARPOS and answers its service.
    done = subprocess.run(  # noqa: S603 - our own CLI
        [cli_path(), "dsp917", "court", COURT_ORI, "--carpos", "--response-url", server.url,
         "--username", "ccpor-hub", "--password-stdin"],
        input=PASSWORD + "\n", env=carpos.env | {"CCPOR_DATABASE_URL": carpos.running.db_url},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"business responses to {server.url} as ccpor-hub, password set" in done.stdout
    assert PASSWORD not in done.stdout
    try:
        yield server, store
    finally:
        store.clear_faults()
        store.close()
        server.stop()


def responses_for(store: CourtStore, correlation: str, count: int) -> list:  # type: ignore[type-arg]
    return until(
        lambda: (
            (found := [r for r in store.received() if r.correlation_id == correlation])
            and len(found) >= count
            and found
        ),
        f"{count} business response(s) for {correlation}",
        timeout=60,
    )


def official(xml: str) -> etree._Element:
    root = etree.fromstring(xml.encode())
    assert validate_dsp917(root, Dsp917.RESP_INPUT) == []
    return root


def test_the_court_gets_its_ccpor_order_id_then_dojs_fcn(carpos, court):
    _, store = court
    answer = receipt(carpos.running, current("RESP-1", "440000000001", "RESP0001"))
    assert "is ACTIVE" in _r(answer, "Message")
    first, second = responses_for(store, "RESP-1", 2)[:2]
    (row,) = notifications(carpos.running, "RESP-1")
    order_id = f"CCP{row.order_id:010d}"
    assert first.order_id == order_id and first.control_number is None and first.order_type == "TRO"
    assert second.order_id == order_id and second.control_number and len(second.control_number) == 13
    for received in (first, second):
        root = official(received.xml)
        header = root.find(ns.q(ns.ISB_HEADER, "ISBCommonServiceHeader"))
        assert header.findtext("CorrelationId") == "RESP-1" and header.findtext("CourtCd") == "13"
        assert header.findtext("ISBTransactionId") == "1" and header.findtext("DocumentType") == "DSP917_RESP"
        assert received.password_type.name == "DIGEST"
    assert (first.document_id, second.document_id) == (f"{order_id}-R001", f"{order_id}-R002")
    assert not any(r.duplicate for r in store.received())
    # The FCN the court got is the one DOJ gave the order (kept sealed on it).
    order, *_ = stored_order(carpos.running, row.order_id)
    vault = CletsVault.of(masterkey.load(Path(carpos.env["CCPOR_DATA_DIR"]) / "master.key"))
    assert vault.open_fcn(order.id, order.carpos_fcn_sealed) == second.control_number


def test_a_held_order_gets_the_error_response_naming_each_rule(carpos, court):
    _, store = court
    receipt(carpos.running, with_ids(sample(), "RESP-HELD", "7"))
    (held,) = responses_for(store, "RESP-HELD", 1)
    assert held.order_id is None and held.control_number is None
    codes = official(held.xml).xpath("//r:ErrorInformationMessageCode/text()", namespaces=RESP)
    texts = official(held.xml).xpath("//r:ErrorInformationMessageText/text()", namespaces=RESP)
    assert set(codes) == {"450100"}
    assert texts[0].startswith("The order is stored in CCPOR as a draft") and "CCPOR order CCP" in texts[0]
    assert any("DV-110 orders last at most" in t for t in texts)
    assert all(len(t) <= 250 for t in texts)


def test_the_courts_service_down_for_a_while_every_response_once_in_order(carpos, court):
    _, store = court
    store.set_faults(down=True)
    receipt(carpos.running, current("RESP-DOWN-A", "440000000002", "RESP0002"))
    change = current("RESP-DOWN-U", "440000000002", "RESP0002")
    put(change, f"{ORDER_PATH}/r:AddUpdateCancelText", "U")
    receipt(carpos.running, change)
    db = Database(carpos.running.db_url)
    try:

        def tried() -> list[OutboxMessage]:
            with db.read() as s:
                rows = s.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.kind == "DSP917", OutboxMessage.attempts > 0, OutboxMessage.state == "QUEUED"
                    )
                ).all()
                return [r.last_error for r in rows if r.last_error]

        errors = until(tried, "a business response retried while the court is down", timeout=60)
        assert any("503" in e for e in errors), errors
        assert [r for r in store.received() if r.correlation_id.startswith("RESP-DOWN")] == []
    finally:
        db.dispose()
    store.set_faults(down=False)
    got = responses_for(store, "RESP-DOWN-A", 2) + responses_for(store, "RESP-DOWN-U", 1)
    mine = [r for r in store.received() if r.correlation_id.startswith("RESP-DOWN")]
    numbers = [r.document_id for r in mine]
    assert len(numbers) == len(set(numbers)), "every response delivered once"
    assert numbers == sorted(numbers), "in the order's own order"
    assert {r.correlation_id for r in got} == {"RESP-DOWN-A", "RESP-DOWN-U"}
    (row,) = notifications(carpos.running, "RESP-DOWN-U")
    order, *_ = stored_order(carpos.running, row.order_id)
    assert order.status == "ACTIVE"
    # The administrators' queue views show the business responses beside the CARPOS messages.
    listed = carpos.running.admin_client().service.ListQueue(Kind="DSP917")
    shown = {m.MessageControlNumber: m for m in listed.Message}
    assert set(numbers) <= set(shown) and {m.Kind for m in listed.Message} == {"DSP917"}
    assert all(shown[n].State == "ACCEPTED" for n in numbers)
    assert any(shown[n].AttemptCount > 1 for n in numbers)  # tried while the court was down
    cli = subprocess.run(  # noqa: S603 - our own CLI
        [cli_path(), "queue", "ls", "--kind", "DSP917", "--json"],
        env=carpos.env | {"CCPOR_DATABASE_URL": carpos.running.db_url}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert set(numbers) <= {m["mcn"] for m in json.loads(cli.stdout)["messages"]}


def _configure(carpos, *args: str, password: str | None = None) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run(  # noqa: S603 - our own CLI
        [cli_path(), "dsp917", "court", COURT_ORI, *args, *(["--password-stdin"] if password else [])],
        input=(password or "") + "\n", env=carpos.env | {"CCPOR_DATABASE_URL": carpos.running.db_url},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_court_refusing_the_response_makes_it_dead_and_a_requeue_delivers_it(carpos, court):
    _, store = court
    _configure(carpos, password="not the court's password")  # noqa: S106 - a wrong one, on purpose
    try:
        receipt(carpos.running, current("RESP-DEAD", "440000000003", "RESP0003"))
        db = Database(carpos.running.db_url)
        try:

            def dead() -> list[tuple[str, str | None]]:
                with db.read() as s:
                    return list(
                        s.execute(
                            select(OutboxMessage.mcn, OutboxMessage.last_error).where(
                                OutboxMessage.kind == "DSP917", OutboxMessage.state == "DEAD"
                            )
                        )
                    )

            ((mcn, why),) = until(dead, "the refused response DEAD", timeout=60)
        finally:
            db.dispose()
        assert "Client.Authentication" in (why or "")
        assert any(r.code == "Client.Authentication" for r in store.refused())
    finally:
        _configure(carpos, password=PASSWORD)
    requeued = subprocess.run(  # noqa: S603 - our own CLI
        [cli_path(), "queue", "requeue", mcn],
        env=carpos.env | {"CCPOR_DATABASE_URL": carpos.running.db_url}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert requeued.returncode == 0, requeued.stderr
    (delivered, *_) = responses_for(store, "RESP-DEAD", 1)
    assert delivered.document_id == mcn
