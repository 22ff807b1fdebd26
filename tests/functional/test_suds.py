"""A second, independent SOAP toolkit (suds-community) against the same WSDL."""

from __future__ import annotations

import pytest
from suds.client import Client
from suds.wsse import Security, UsernameToken

from tests.conftest import PASSWORD

pytestmark = pytest.mark.functional


def suds_client(hub, user: str = "clerk") -> Client:
    client = Client(hub.server.wsdl, cache=None)
    security = Security()
    security.tokens.append(UsernameToken(user, PASSWORD))
    client.set_options(wsse=security)
    return client


def test_suds_submits_searches_and_reads_an_order(hub):
    c = suds_client(hub)
    order = c.factory.create("{urn:ca:courts:ccpor:order:1}ProtectionOrderType")
    order.CourtOrderFormCode = "CH-130"
    order.ProtectionOrderTypeCode = "CHO"
    order.CourtOrderIssuingCourt.OrganizationORIIdentification = "CA019015J"
    order.CaseDocketID = "24CH-SUDS-1"
    order.CourtOrderIssuingDate = "2026-01-05"
    order.CourtOrderExpirationDate = "2029-01-05"
    person = order.ProtectionOrderRestrictedPerson
    person.PersonName.PersonGivenName = "SUE"
    person.PersonName.PersonSurName = "SUDSWORTH"
    person.PersonBirthDate = "1975-03-04"
    person.PersonSexCode = "F"
    person.PersonRaceCode = "W"
    protected = c.factory.create("{urn:ca:courts:ccpor:order:1}ProtectedPersonType")
    protected.PersonName.PersonSurName = "VICTIMSON"
    order.ProtectionOrderProtectedPerson = [protected]
    order.ProtectionOrderCondition.ProtectionOrderConditionCode = ["01", "07"]
    order.ProtectionOrderBradyIndicator = "U"
    # suds sends every element of the factory object; empty optional ones are removed here.
    for empty in (
        "CourtOrderIssuingTime",
        "CourtOrderExpirationTime",
        "CourtOrderNonExpiringIndicator",
        "SealedIndicator",
        "ProofOfService",
        "DocumentReference",
        "SourceSystemName",
        "SourceMessageID",
    ):
        delattr(order, empty)
    receipt = c.service.SubmitOrder(Order=order)
    assert receipt.OrderStatus == "ACTIVE"
    found = c.service.SearchOrders(Criteria={"PersonSurName": "SUDS%"})
    assert found.TotalCount == 1 and found.Item[0].OrderId == receipt.OrderId
    record = c.service.GetOrder(OrderId=receipt.OrderId)
    assert record.Order.ProtectionOrderRestrictedPerson.PersonName.PersonSurName == "SUDSWORTH"
