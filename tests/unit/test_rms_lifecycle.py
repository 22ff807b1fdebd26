"""The RMS adapter's completions in-process, against a stand-in for the orders service: the cases a
real process meets only by chance, made certain -- the court changing the draft between the
adapter's look and its SubmitOrder (the hub's Conflict), a Conflict that is not a change (looked
at again, retried), and a death between the hub's receipt and the file's filing (filed on the next
start, never submitted twice). tests/functional/test_rms_adapter.py runs the real hub."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any

import pytest

from adapters.framework.hubclient import HubSection, Transient
from adapters.framework.state import FAILED, SENT, WAITING
from adapters.rms.adapter import RmsAdapter, RmsSection
from tests.support.orders import COURT, order

DRAFT_ID = "CCP0000000042"
COMPLETION = "OrderId: {id}\r\nVersion: {version}\r\nConditions: 01,04\r\nStayAwayYards: 100\r\nBrady: Y\r\n"


class FakeHub:
    """GetOrder answers the draft at ``version`` (or what ``after_conflict`` makes it once SubmitOrder
    was refused); SubmitOrder is refused with ``Client.Conflict`` ``conflicts`` times, then takes it."""

    def __init__(self, conflicts: int = 0, after_conflict: tuple[str, int] | None = None) -> None:
        self.status, self.version = "DRAFT", 1
        self.conflicts, self.after_conflict = conflicts, after_conflict
        self.submitted: list[dict[str, Any]] = []

    def call(self, operation: str, **a: Any) -> Any:
        return getattr(self, operation)(**a)

    def GetOrder(self, OrderId: str, **_: Any) -> NS:  # noqa: N802, N803
        draft = order(CaseDocketID="26RMS9001", CourtOrderIssuingCourt={"OrganizationORIIdentification": COURT},
                      ProtectionOrderCondition=None, ProtectionOrderBradyIndicator=None)  # fmt: skip
        return NS(OrderId=OrderId, OrderStatus=self.status, Version=self.version, Order=draft)

    def SubmitOrder(self, Order: dict[str, Any], OrderId: str, Version: int, **_: Any) -> NS:  # noqa: N802, N803
        if self.conflicts:
            self.conflicts -= 1
            if self.after_conflict:
                self.status, self.version = self.after_conflict
            raise Transient("Client.Conflict: order changed meanwhile: read it again and retry")
        self.submitted.append(Order)
        self.status, self.version = "ACTIVE", Version + 1
        return NS(OrderId=OrderId, Version=self.version, OrderStatus="ACTIVE", DuplicateIndicator=False)

    def close(self) -> None:
        pass


def _adapter(tmp_path: Path, hub: FakeHub) -> RmsAdapter:
    section = RmsSection(folder=tmp_path / "exchange", retry_first_seconds=0.001, retry_most_seconds=0.001)
    made = RmsAdapter(HubSection(url="http://127.0.0.1:1", username="u", password_file=tmp_path / "p"), section)
    made.client = hub  # type: ignore[assignment]
    return made


def _completion(tmp_path: Path, version: int = 1) -> Path:
    path = tmp_path / "exchange" / "in" / f"{DRAFT_ID}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(COMPLETION.format(id=DRAFT_ID, version=version), encoding="cp1252")
    return path


def _state(adapter: RmsAdapter, prefix: str) -> list[Any]:
    return [r for r in adapter.state.records() if r.key.startswith(prefix)]


def test_the_court_changing_the_draft_between_look_and_submit_is_refused_and_handed_out_again(tmp_path: Path) -> None:
    hub = FakeHub(conflicts=1, after_conflict=("DRAFT", 2))
    adapter = _adapter(tmp_path, hub)
    adapter.state.waiting(f"out:{DRAFT_ID}", kind="handout")
    adapter.state.sent(f"out:{DRAFT_ID}", "v1")  # the RMS holds version 1
    path = _completion(tmp_path)
    adapter.completion(path)
    reason = (tmp_path / "exchange" / "error" / f"{DRAFT_ID}.txt.reason.txt").read_text(encoding="utf-8")
    assert "Adapter.OrderChanged" in reason and "DRAFT version 2 now" in reason
    assert not path.exists() and not hub.submitted
    assert not _state(adapter, "out:")  # handed out again at the next round, as version 2
    (record,) = _state(adapter, "in:")
    assert record.status == FAILED
    adapter.close()


def test_a_conflict_that_is_no_change_is_retried_and_submitted_once(tmp_path: Path) -> None:
    hub = FakeHub(conflicts=1)  # an edit lock released meanwhile, say: the draft is still version 1
    adapter = _adapter(tmp_path, hub)
    path = _completion(tmp_path)
    with pytest.raises(Transient, match="Client.Conflict"):
        adapter.completion(path)
    (record,) = _state(adapter, "in:")
    assert (record.status, record.attempts) == (WAITING, 1) and path.exists()
    adapter.state.db.execute("UPDATE records SET next_attempt_at = 0")  # the backoff is over
    adapter.completion(path)  # after an attempt the version check is the hub's: submitted now
    receipt = (tmp_path / "exchange" / "done" / f"{DRAFT_ID}.txt.receipt.txt").read_text(encoding="utf-8")
    assert f"{DRAFT_ID} version 2 ACTIVE" in receipt
    assert len(hub.submitted) == 1 and hub.submitted[0]["SourceMessageID"] == f"RMS-{DRAFT_ID}-v1"
    adapter.close()


def test_a_death_after_the_receipt_and_before_the_filing_is_filed_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = FakeHub()
    first = _adapter(tmp_path, hub)
    path = _completion(tmp_path)

    def dies(*_: Any) -> None:
        raise SystemExit("killed")  # not an Exception: nothing in the adapter catches it, as with kill -9

    monkeypatch.setattr(first, "_file", dies)
    with pytest.raises(SystemExit):
        first.completion(path)
    first.close()
    assert path.exists() and len(hub.submitted) == 1
    monkeypatch.undo()
    second = _adapter(tmp_path, hub)
    (record,) = _state(second, "in:")
    assert record.status == SENT
    second.completion(path)
    assert not path.exists() and len(hub.submitted) == 1  # filed from the state, not submitted again
    receipt = (tmp_path / "exchange" / "done" / f"{DRAFT_ID}.txt.receipt.txt").read_text(encoding="utf-8")
    assert f"{DRAFT_ID} version 2 ACTIVE" in receipt
    second.close()
