"""The county sheriff's shared-entry work queue (ListAwaitingCompletion) over HTTP, on both databases:
which orders await completion (docs/SECURITY.md, "Shared entry"), oldest first and paged, and who
may ask."""

from __future__ import annotations

import pytest
import zeep

from hub.accounts.service import add_user
from hub.codes import Role
from hub.db.engine import Database
from tests.conftest import PASSWORD
from tests.support.orders import order

pytestmark = pytest.mark.functional

COURT = "CA019077J"  # a Los Angeles court of this module's own, so its queue holds only what is made here


@pytest.fixture(scope="module")
def accounts(hub):
    db = Database(hub.db_url)
    with db.unit_of_work() as s:
        add_user(s, "wq-clerk", ori=COURT, role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
        add_user(s, "wq-sealed-clerk", ori=COURT, role=Role.QUERY_UPDATE_SEALED, clets=False, password=PASSWORD)
        add_user(s, "wq-sealed-deputy", ori="CA0190000", role=Role.QUERY_UPDATE_SEALED, clets=False, password=PASSWORD)
    db.dispose()


def _draft(client: zeep.Client, case: str, **more) -> str:
    court = {"OrganizationORIIdentification": COURT}
    return client.service.SaveDraft(Order=order(CaseDocketID=case, CourtOrderIssuingCourt=court, **more)).OrderId


def _hold(hub, public_id: str) -> None:
    from datetime import UTC, datetime

    from hub import ids
    from hub.db.models import Dsp917Order, Order

    db = Database(hub.db_url)
    with db.unit_of_work() as s:
        order = s.get(Order, ids.parse(ids.ORDER, public_id))
        now = datetime.now(UTC)
        s.add(Dsp917Order(organization_id=order.owner_org_id, case_docket_id=order.case_number,
                          order_identification="RO-1", order_id=order.id, held="the expiration date is past",
                          created_at=now, updated_at=now))  # fmt: skip
    db.dispose()


def _queue(client: zeep.Client, court: str | None = COURT) -> list[str]:
    ids, page = [], 1
    while page:
        result = client.service.ListAwaitingCompletion(CourtORIIdentification=court, PageNumber=page)
        assert result.PageSize == 25 and len(result.Item) <= 25
        ids += [item.OrderId for item in result.Item]
        page = result.NextPageNumber
    return ids


def _fault(call, **arguments) -> str:
    with pytest.raises(zeep.exceptions.Fault) as refused:
        call(**arguments)
    return refused.value.code.split(":")[-1]


def test_the_queue_lists_the_countys_court_drafts_oldest_first_and_completing_one_takes_it_off(hub, accounts):
    clerk, sealed_clerk = hub.client("wq-clerk"), hub.client("wq-sealed-clerk")
    drafts = [_draft(clerk, f"26WQ{n:04d}") for n in range(27)]  # more than a page
    sealed = _draft(sealed_clerk, "26WQ-SEALED", SealedIndicator=True)
    court = {"OrganizationORIIdentification": COURT}
    active = clerk.service.SubmitOrder(Order=order(CaseDocketID="26WQ-ACTIVE", CourtOrderIssuingCourt=court)).OrderId
    san_diego = hub.client("sd-clerk").service.SaveDraft(Order=order(CaseDocketID="26WQ-SD")).OrderId
    held = _draft(clerk, "26WQ-HELD")
    _hold(hub, held)  # as a DSP917 notification the rules refused leaves it: the court's to correct
    deputy = hub.client("la-deputy")
    assert _queue(deputy) == drafts  # oldest first, across two pages; not the sealed one, not the ACTIVE one
    everything = _queue(deputy, None)  # the whole county: the other LA courts' drafts too, never San Diego's
    assert [i for i in everything if i in drafts] == drafts and san_diego not in everything and active not in everything
    assert _queue(hub.client("wq-sealed-deputy")) == [*drafts, sealed]  # a SEALED role sees the sealed draft
    assert _queue(hub.client("sd-deputy")) == []  # another county's sheriff: nothing of Los Angeles
    # completing one: the existing SubmitOrder with the draft's id, under shared entry -- it leaves the queue
    receipt = deputy.service.SubmitOrder(
        Order=order(CaseDocketID="26WQ0000", CourtOrderIssuingCourt=court), OrderId=drafts[0], Version=1
    )
    assert receipt.OrderStatus == "ACTIVE"
    assert _queue(deputy) == drafts[1:]
    first = deputy.service.ListAwaitingCompletion(CourtORIIdentification=COURT).Item[0]
    assert (first.OrderId, first.OrderStatus, first.CaseDocketID, first.CourtORIIdentification) == (
        drafts[1],
        "DRAFT",
        "26WQ0001",
        COURT,
    )


@pytest.mark.parametrize("user", ["clerk", "wq-clerk", "sealed-reader", "admin", "reader"])
def test_only_a_county_sheriff_with_an_update_role_may_ask(hub, accounts, user):
    # courts of every role, an administrator, and the LA sheriff's QUERY_ONLY_SEALED account
    assert _fault(hub.client(user).service.ListAwaitingCompletion) == "Client.Forbidden"


def test_the_sheriff_completes_the_carpos_fields_but_not_the_courts_record(hub, accounts):
    """Shared entry: issuing court, case number and sealing stay the court's; a held draft waits for it."""
    court = {"OrganizationORIIdentification": COURT}
    clerk, deputy = hub.client("wq-clerk"), hub.client("wq-sealed-deputy")
    draft = _draft(clerk, "26WQ-KEEP")
    for change, says in (
        ({"CaseDocketID": "26WQ-OTHER"}, "cannot change its case number"),
        ({"CaseDocketID": "26WQ-KEEP", "SealedIndicator": True}, "cannot change its sealing"),
    ):
        with pytest.raises(zeep.exceptions.Fault) as refused:
            deputy.service.SubmitOrder(Order=order(CourtOrderIssuingCourt=court, **change), OrderId=draft, Version=1)
        assert refused.value.code.endswith("Client.Forbidden") and says in refused.value.message
    held = _draft(clerk, "26WQ-HELD2")
    _hold(hub, held)
    with pytest.raises(zeep.exceptions.Fault) as refused:
        deputy.service.SubmitOrder(
            Order=order(CaseDocketID="26WQ-HELD2", CourtOrderIssuingCourt=court), OrderId=held, Version=1
        )
    assert (
        refused.value.code.endswith("Client.InvalidState")
        and "held for its court's correction" in refused.value.message
    )
    done = deputy.service.SubmitOrder(
        Order=order(CaseDocketID="26WQ-KEEP", CourtOrderIssuingCourt=court), OrderId=draft, Version=1
    )
    assert done.OrderStatus == "ACTIVE"
