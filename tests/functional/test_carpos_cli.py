"""The operators' CARPOS commands: queue ls/show/requeue/purge-dead (and /ws/admin's ListQueue and
RequeueMessage), the gateway's start-up checks of its keys, the switch's ledger."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
import zeep
from sqlalchemy import select, update

from gateway import keys
from hub import masterkey
from hub.carpos.outbox import CarposForwarding
from hub.codes import Role
from hub.db import migrate
from hub.db.engine import Database
from hub.db.models import AuditEvent, Order, OutboxMessage
from hub.orders.service import OrderService
from hub.runner import carpos_environment
from tests.conftest import make_user
from tests.functional.test_cli import CLI
from tests.functional.test_soap_orders import fault_code
from tests.support.orders import order, order_element

pytestmark = pytest.mark.functional


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", **env}
    )


@pytest.fixture
def hub_db(tmp_path: Path) -> tuple[dict[str, str], Database]:
    env = carpos_environment(tmp_path)
    url = f"sqlite:///{tmp_path / 'ccpor.db'}"
    migrate.upgrade(url)
    env["CCPOR_DATABASE_URL"] = url
    db = Database(url)
    clerk = make_user(db, "clerk", role=Role.QUERY_UPDATE)
    for i in range(3):
        with db.unit_of_work() as s:
            OrderService(forwarding=CarposForwarding()).submit(
                s, clerk, order_element(order(CaseDocketID=f"24FL{i}")), carpos_requested=True
            )
    yield env, db
    db.dispose()


def test_queue_ls_show_requeue_and_purge_dead(hub_db):
    env, db = hub_db
    with db.unit_of_work() as s:  # the first message gave up long ago
        s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.mcn == "CCP0000000001-001")
            .values(state="DEAD", attempts=12, last_error="gave up after 12 attempts: connection refused",
                    updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10))
        )  # fmt: skip
    listed = cli(env, "queue", "ls")
    assert listed.returncode == 0 and "DEAD 1  QUEUED 2" in listed.stdout and "connection refused" in listed.stdout
    as_json = json.loads(cli(env, "queue", "ls", "--state", "dead", "--json").stdout)
    assert as_json["total"] == 1 and as_json["messages"][0]["mcn"] == "CCP0000000001-001"
    assert as_json["messages"][0]["kind"] == "CARPOS" and " CARPOS   CCP0000000001-001    EPO DEAD" in listed.stdout
    assert json.loads(cli(env, "queue", "ls", "--kind", "carpos", "--json").stdout)["total"] == 3
    assert "unknown kind of message 'COURT'" in cli(env, "queue", "ls", "--kind", "COURT").stderr  # not this hub's
    shown = json.loads(cli(env, "queue", "show", "CCP0000000001-001").stdout)
    assert (shown["state"], shown["attempts"], shown["order_id"]) == ("DEAD", 12, "CCP0000000001")
    assert cli(env, "queue", "show", "CCP0000000099-001").returncode == 1
    assert "unknown queue state" in cli(env, "queue", "ls", "--state", "LOST").stderr
    requeued = cli(env, "queue", "requeue", "CCP0000000001-001")
    assert requeued.returncode == 0 and "requeued dead EPO CCP0000000001-001" in requeued.stdout
    assert json.loads(cli(env, "queue", "show", "1").stdout)["state"] == "QUEUED"
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    with db.unit_of_work() as s:
        for message_id in (2, 3):
            s.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(state="DEAD", updated_at=old))
        # Order 3 is on file with DOJ (it has an FCN); order 2 is not: its dead EPO is its only entry.
        s.execute(update(Order).where(Order.id == 3).values(carpos_fcn_sealed=b"sealed elsewhere"))
    assert "keeps at least a day" in cli(env, "queue", "purge-dead", "--older-than", "0").stderr
    purged = cli(env, "queue", "purge-dead", "--older-than", "7")
    assert purged.returncode == 0, purged.stderr
    assert "purged 1 dead message(s) older than 7 days; kept CCP0000000002-001" in purged.stdout
    with db.read() as s:
        assert s.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all() == [1, 2]
        assert s.scalar(select(Order.carpos_status).where(Order.id == 3)) == "ACCEPTED"
        audited = s.execute(
            select(AuditEvent.operation, AuditEvent.outcome)
            .where(AuditEvent.username.like("cli:%"))
            .order_by(AuditEvent.seq)
        ).all()
    assert [tuple(a) for a in audited] == [
        ("queue requeue", "OK"),
        ("queue purge-dead", "Client.ValidationError"),  # refusals are audited too
        ("queue purge-dead", "OK"),
    ]


def test_administrators_list_and_requeue_over_soap(hub, tmp_path):
    admin = hub.admin_client()
    court = hub.client()
    receipt = court.service.SubmitOrder(Order=order(), SubmitToCarposIndicator=True)
    queue = admin.service.ListQueue(State="QUEUED")
    mcn = f"{receipt.OrderId}-001"
    assert mcn in {m.MessageControlNumber for m in queue.Message}  # no gateway runs for this hub
    assert {m.Kind for m in queue.Message} == {"CARPOS"}
    assert mcn in {m.MessageControlNumber for m in admin.service.ListQueue(Kind="CARPOS").Message}
    assert any(c.State == "QUEUED" and c.Count >= 1 for c in queue.StateCount)
    with pytest.raises(zeep.exceptions.Fault) as refused:
        admin.service.RequeueMessage(MessageControlNumber="CCP0000000999-001", ReasonText="x")
    assert fault_code(refused) == "Client.NotFound"
    db = Database(hub.db_url)
    with db.unit_of_work() as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.mcn == mcn).values(state="DEAD", last_error="refused"))
    db.dispose()
    again = admin.service.RequeueMessage(MessageControlNumber=mcn, ReasonText="DOJ fixed its certificate")
    assert (again.State, again.AttemptCount, again.LastErrorText) == ("QUEUED", 0, None)
    with pytest.raises(zeep.exceptions.Fault) as unknown:
        admin.service.ListQueue(State="LOST")
    assert fault_code(unknown) == "Client.ValidationError"


def test_the_gateway_refuses_to_start_with_an_expired_certificate(tmp_path):
    env = carpos_environment(tmp_path)
    env["CCPOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'ccpor.db'}"
    migrate.upgrade(env["CCPOR_DATABASE_URL"])
    old = keys.init(
        tmp_path / "old-keys",
        masterkey.load(tmp_path / "master.key"),
        masterkey.load(tmp_path / "doj" / "master.key"),
        days=30,
        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=31),
    )
    stale = cli({**env, "CCPOR_HUB_KEY_FILE": str(old.hub_key), "CCPOR_HUB_CERT_FILE": str(old.hub_cert)}, "gateway")
    assert stale.returncode == 1 and "the hub certificate expired at" in stale.stderr
    pinned = cli({**env, "CCPOR_DOJ_CERT_FILE": str(old.doj_cert)}, "gateway")  # DOJ's certificate, as pinned
    assert pinned.returncode == 1 and "the DOJ certificate expired at" in pinned.stderr
    missing = cli({**env, "CCPOR_CARPOS_KEY_DIR": str(tmp_path / "nowhere")}, "gateway")
    assert missing.returncode == 1 and "keys init" in missing.stderr
    switch = cli({**env, "CCPOR_DOJ_CERT_FILE": str(old.doj_cert), "CCPOR_DOJ_KEY_FILE": str(old.doj_key)}, "mock-doj")
    assert switch.returncode == 1 and "the DOJ certificate expired at" in switch.stderr


def test_carpos_seal_needs_the_keys(tmp_path):
    env = {"CCPOR_DATA_DIR": str(tmp_path)}
    assert cli(env, "keys", "master").returncode == 0
    order_file = tmp_path / "order.xml"
    from lxml import etree

    order_file.write_bytes(
        etree.tostring(order_element(order(), tag="{urn:ca:courts:ccpor:order-profiles:1}ActiveOrder"))
    )
    out = cli(env, "carpos", "seal", str(order_file), "--out", str(tmp_path / "x.xml"))
    assert out.returncode == 1 and "keys init" in out.stderr and not (tmp_path / "x.xml").exists()
    assert cli(env, "keys", "init", str(tmp_path / "k")).returncode == 0
    again = cli(env, "keys", "init", str(tmp_path / "k"))
    assert again.returncode == 1 and "never replaced in place" in again.stderr


def test_the_mock_switch_s_ledger_before_the_switch_ever_ran_is_a_message_not_a_traceback(tmp_path):
    env = {"CCPOR_DATA_DIR": str(tmp_path), "CCPOR_DOJ_DATA_DIR": str(tmp_path / "never-started")}
    listed = cli(env, "mock-doj", "ledger")
    assert listed.returncode == 1 and "Traceback" not in listed.stderr
    assert "the mock switch has no ledger yet" in listed.stderr and "start it with ccpor-hub mock-doj" in listed.stderr
    assert not (tmp_path / "never-started").exists()  # a read makes nothing
