from __future__ import annotations

from datetime import date, timedelta

from hub.orders.document import OrderDocument
from hub.orders.rules import check
from tests.support.orders import order, order_element

TODAY = date(2026, 11, 22)


def problems(active: bool = True, **overrides) -> dict[str, str]:
    # The order's dates relative to the pinned TODAY, not to the real calendar (order()'s default):
    # a default issued ten days before today fails as "in the future" once today passes TODAY + 10.
    dates = {
        "CourtOrderIssuingDate": TODAY - timedelta(days=10),
        "CourtOrderExpirationDate": TODAY + timedelta(days=1085),
    }
    doc = OrderDocument(order_element(order(**{**dates, **overrides})))
    out: dict[str, str] = {}
    for v in check(doc, active=active, today=TODAY, path="/o"):
        key = v.path.rsplit("/", 1)[-1]
        out[key] = f"{out[key]} | {v.message}" if key in out else v.message
    return out


def test_complete_order_passes():
    assert problems() == {}


def test_form_and_clets_code_must_agree():
    assert "carries CLETS order type TCH" in problems(CourtOrderFormCode="CH-110")["ord:ProtectionOrderTypeCode"]


def test_expiration_rules():
    issued = TODAY - timedelta(days=3)
    assert (
        "before issue"
        in problems(CourtOrderIssuingDate=issued, CourtOrderExpirationDate=issued - timedelta(days=1))[
            "ord:CourtOrderExpirationDate"
        ]
    )
    epo = problems(
        CourtOrderFormCode="EPO-001",
        ProtectionOrderTypeCode="EPO",
        CourtOrderIssuingDate=issued,
        CourtOrderExpirationDate=issued + timedelta(days=8),
    )
    assert "last at most 7 days" in epo["ord:CourtOrderExpirationDate"]
    both = problems(CourtOrderNonExpiringIndicator=True)
    assert "not both" in both["ord:CourtOrderNonExpiringIndicator"]
    neither = problems(CourtOrderExpirationDate=None)
    assert "needs CourtOrderExpirationDate" in neither["ord:CourtOrderExpirationDate"]
    assert problems(active=False, CourtOrderExpirationDate=None) == {}  # a draft may leave it open
    criminal = problems(
        CourtOrderFormCode="CR-160",
        ProtectionOrderTypeCode="CPO",
        CourtOrderExpirationDate=None,
        CourtOrderNonExpiringIndicator=True,
    )
    assert criminal == {}


def test_dates_in_the_future_and_condition_text():
    assert (
        "future"
        in problems(
            CourtOrderIssuingDate=TODAY + timedelta(days=1), CourtOrderExpirationDate=TODAY + timedelta(days=30)
        )["ord:CourtOrderIssuingDate"]
    )
    mis = problems(ProtectionOrderCondition={"ProtectionOrderConditionCode": ["08"]})
    assert "08" in mis["ord:ProtectionOrderConditionText"]


def test_document_reference_names_exactly_one_thing():
    got = problems(DocumentReference=[{"ImageId": "IMG0000000001", "QuickAttachId": "QAT0000000001"}])
    assert "exactly one" in got["ord:DocumentReference[1]"]


def test_county_code_of_court_ori_must_exist():
    court = {"OrganizationORIIdentification": "CA000015J"}
    assert "county code 00" in problems(CourtOrderIssuingCourt=court)["ord:OrganizationORIIdentification"]
