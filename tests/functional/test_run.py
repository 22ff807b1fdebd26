"""``ccpor-hub run --mock-doj``: one command starts the hub, the worker and the mock switch; an order
submitted to CARPOS reaches ACCEPTED through them; Ctrl-C (SIGINT to the process group) stops every
part cleanly; a part that dies takes the others down with a message. The run is started once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import zeep
from sqlalchemy import select
from zeep.wsse.username import UsernameToken

from hub import masterkey
from hub.accounts.service import add_user
from hub.codes import Role
from hub.db import migrate
from hub.db.engine import Database
from hub.db.models import Order
from hub.runner import free_port
from tests.conftest import PASSWORD
from tests.support.orders import order
from tests.support.waiting import until

pytestmark = pytest.mark.functional
CLI = str(Path(sys.executable).with_name("ccpor-hub"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


class Running:
    def __init__(self, data: Path, port: int, doj_port: int) -> None:
        self.data, self.url, self.out = data, f"http://127.0.0.1:{port}", data / "run.log"
        env = {**os.environ, "CCPOR_DATA_DIR": str(data), "CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP": "1",
               "CCPOR_GATEWAY_POLL_SECONDS": "0.5"}  # fmt: skip
        argv = [CLI, "run", "--mock-doj", "--bind", f"127.0.0.1:{port}", "--doj-port", str(doj_port)]
        with self.out.open("wb") as out:  # its own session: a signal to its group is a terminal's Ctrl-C
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
        ready = until(lambda: self._ready(), "ccpor-hub run's ready line", timeout=120)
        self.pids = {name: int(pid) for name, pid in re.findall(r"(mock DOJ switch|hub|worker) (\d+)", ready)}

    def _ready(self) -> str:
        if self.proc.poll() is not None:
            raise AssertionError(f"ccpor-hub run exited with {self.proc.returncode}:\n{self.out.read_text()[-3000:]}")
        lines = [line for line in self.out.read_text().splitlines() if line.startswith("ccpor-hub run: ")]
        return lines[0] if lines else ""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("run")
    masterkey.create(data / "master.key")
    url = f"sqlite:///{(data / 'ccpor.db').resolve()}"
    migrate.upgrade(url)  # `run` migrates too (a second upgrade is a no-op): the accounts need the tables first
    db = Database(url)
    with db.unit_of_work() as s:
        add_user(s, "clerk", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
    db.dispose()
    r = Running(data, free_port(), free_port())
    yield r
    if r.proc.poll() is None:
        r.proc.terminate()
    r.proc.wait(60)


def test_one_command_runs_the_hub_the_worker_and_the_switch_and_ctrl_c_stops_them(running):
    assert set(running.pids) == {"mock DOJ switch", "hub", "worker"}
    ready = requests.get(f"{running.url}/readyz", timeout=10)  # `run` migrated first: at this code's schema
    assert ready.status_code == 200 and ready.json()["ready"] is True
    client = zeep.Client(f"{running.url}/ws/orders?wsdl", wsse=UsernameToken("clerk", PASSWORD))
    receipt = client.service.SubmitOrder(Order=order(), SubmitToCarposIndicator=True)
    client.transport.session.close()
    db = Database(f"sqlite:///{(running.data / 'ccpor.db').resolve()}")

    def status() -> str | None:
        with db.read() as s:
            return s.scalar(select(Order.carpos_status).where(Order.id == int(receipt.OrderId[3:])))

    try:
        until(lambda: status() == "ACCEPTED", "the order's EPO accepted through the worker and the switch", 60)
    finally:
        db.dispose()
    os.killpg(running.proc.pid, signal.SIGINT)  # Ctrl-C: the terminal's process group, where only `run` is
    assert running.proc.wait(60) == 0
    until(lambda: not any(alive(pid) for pid in running.pids.values()), "every part gone", 30)
    stopped = running.out.read_text()
    assert "Handling signal: term" in stopped and "Handling signal: int" not in stopped  # gunicorn's graceful stop
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{running.url}/health", timeout=2)


def test_a_part_that_dies_stops_the_others(running):
    # A second run on the first one's data (stopped above): the worker is killed, run stops the rest.
    assert running.proc.poll() is not None
    again = Running(running.data, free_port(), free_port())
    try:
        os.kill(again.pids["worker"], signal.SIGKILL)
        assert again.proc.wait(60) == 1
        assert "the worker exited with status -9: every part was stopped" in again.out.read_text()
        until(lambda: not any(alive(pid) for pid in again.pids.values()), "every part gone", 30)
    finally:
        if again.proc.poll() is None:
            again.proc.terminate()
            again.proc.wait(60)


def test_no_part_outlives_a_run_killed_outright(running):
    """SIGKILL gives `run` no chance to stop anything: the kernel tells each part (PR_SET_PDEATHSIG)."""
    again = Running(running.data, free_port(), free_port())
    again.proc.kill()
    again.proc.wait(30)
    until(lambda: not any(alive(pid) for pid in again.pids.values()), "every part gone after run's SIGKILL", 60)
