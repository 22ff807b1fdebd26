"""/ws/admin over HTTP: account administration, order locks, the audit search; ADMINISTRATOR only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import zeep

from tests.conftest import PASSWORD
from tests.support.orders import order, proof

pytestmark = pytest.mark.functional

NEW_PASSWORD = "another long passphrase"  # noqa: S105 - test account


def fault_code(excinfo: pytest.ExceptionInfo[zeep.exceptions.Fault]) -> str:
    return excinfo.value.code.split(":")[-1]


def refused(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(zeep.exceptions.Fault) as f:
        call(*args, **kwargs)
    return fault_code(f), f.value.message


@pytest.mark.parametrize(
    ("operation", "args"),
    [
        ("ListUsers", {}),
        ("SaveUser", {"Username": "x-user", "OrganizationORIIdentification": "CA019015J"}),
        ("SetUserRoles", {"Username": "reader", "Role": "ADMINISTRATOR", "CletsCertifiedIndicator": True}),
        ("DisableUser", {"Username": "reader", "ReasonText": "r"}),
        ("UnlockUser", {"Username": "reader"}),
        ("EnableUser", {"Username": "reader", "ReasonText": "r"}),
        ("SearchLockedOrders", {}),
        ("UnlockOrder", {"OrderId": "CCP0000000001", "LockedDateTime": datetime.now(UTC), "ReasonText": "r"}),
        (
            "SearchAudit",
            {
                "Criteria": {
                    "FromDateTime": datetime(2026, 1, 1, tzinfo=UTC),
                    "ToDateTime": datetime(2026, 2, 1, tzinfo=UTC),
                }
            },
        ),
        ("ListQueue", {}),
        ("RequeueMessage", {"MessageControlNumber": "CCP0000000001-001", "ReasonText": "r"}),
    ],
)
@pytest.mark.parametrize("user", ["clerk", "sealed-clerk", "reader", "sealed-reader", "clets-clerk"])
def test_every_operation_is_for_administrators_only(hub, operation, args, user):
    client = hub.admin_client(user)
    code, message = refused(getattr(client.service, operation), **args)
    assert code == "Client.Forbidden" and "ADMINISTRATOR accounts only" in message


def test_account_lifecycle(hub):
    admin = hub.admin_client()
    name = f"dms-{datetime.now(UTC):%H%M%S%f}"
    created = admin.service.SaveUser(
        Username=name, OrganizationORIIdentification="CA019015J", Role="QUERY_ONLY", Password=PASSWORD
    )
    assert (created.Role, created.AccountStatus, created.PasswordDigestAllowedIndicator) == (
        "QUERY_ONLY",
        "ACTIVE",
        False,
    )
    user = hub.client(name)
    assert user.service.SearchOrders(Criteria={"PersonSurName": "NOBODY%"}).TotalCount == 0
    assert refused(user.service.SubmitOrder, Order=order())[0] == "Client.Forbidden"

    # Roles change only through SetUserRoles; then the same account may submit.
    assert (
        refused(admin.service.SaveUser, Username=name, OrganizationORIIdentification="CA019015J", Role="QUERY_UPDATE")[
            0
        ]
        == "Client.ValidationError"
    )
    changed = admin.service.SetUserRoles(Username=name, Role="QUERY_UPDATE", CletsCertifiedIndicator=True)
    assert (changed.Role, changed.CletsCertifiedIndicator) == ("QUERY_UPDATE", True)
    assert hub.client(name).service.SubmitOrder(Order=order()).OrderStatus == "ACTIVE"

    # A new password, with PasswordDigest allowed.
    admin.service.SaveUser(
        Username=name,
        OrganizationORIIdentification="CA019015J",
        Password=NEW_PASSWORD,
        PasswordDigestAllowedIndicator=True,
    )
    assert (
        refused(hub.client(name).service.SearchOrders, Criteria={"PersonSurName": "X%"})[0] == "Client.Authentication"
    )
    assert hub.client(name, NEW_PASSWORD, digest=True).service.SearchOrders(Criteria={"PersonSurName": "X%"})

    listed = admin.service.ListUsers(Criteria={"OrganizationORIIdentification": "CA019015J", "Role": "QUERY_UPDATE"})
    assert name in [u.Username for u in listed.User] and all(u.Role == "QUERY_UPDATE" for u in listed.User)

    disabled = admin.service.DisableUser(Username=name, ReasonText="left the court")
    assert disabled.AccountStatus == "DISABLED"
    code, message = refused(hub.client(name, NEW_PASSWORD).service.SearchOrders, Criteria={"PersonSurName": "X%"})
    assert code == "Client.Authentication" and "not active" in message  # and no more than that
    # Releasing a lockout does not undo a deliberate disable; enabling is its own action, with a reason.
    code, message = refused(admin.service.UnlockUser, Username=name)
    assert code == "Client.InvalidState" and "EnableUser" in message
    disabled_now = admin.service.ListUsers(
        Criteria={"OrganizationORIIdentification": "CA019015J", "AccountStatus": "DISABLED"}
    )
    assert name in [u.Username for u in disabled_now.User]
    assert refused(hub.client(name, NEW_PASSWORD).service.SearchOrders, Criteria={"PersonSurName": "X%"})[0] == (
        "Client.Authentication"
    )
    assert admin.service.EnableUser(Username=name, ReasonText="back from leave").AccountStatus == "ACTIVE"
    assert hub.client(name, NEW_PASSWORD).service.SearchOrders(Criteria={"PersonSurName": "X%"}).TotalCount >= 0
    assert refused(admin.service.EnableUser, Username=name, ReasonText="twice")[0] == "Client.InvalidState"
    assert admin.service.UnlockUser(Username=name).AccountStatus == "ACTIVE"  # an active account: count reset

    # Administrators cannot lock themselves out.
    assert refused(admin.service.DisableUser, Username="admin", ReasonText="oops")[0] == "Client.Forbidden"
    assert (
        refused(admin.service.SetUserRoles, Username="admin", Role="QUERY_ONLY", CletsCertifiedIndicator=False)[0]
        == "Client.Forbidden"
    )
    assert refused(admin.service.UnlockUser, Username="no-such-user")[0] == "Client.NotFound"

    # Every change is in the audit trail, with what changed and never the password.
    events = admin.service.SearchAudit(
        Criteria={
            "FromDateTime": datetime.now(UTC) - timedelta(hours=1),
            "ToDateTime": datetime.now(UTC) + timedelta(hours=1),
            "Target": name,
            "Category": "ADMIN",
        }
    )
    details = [(e.Operation, e.Outcome, e.Detail) for e in reversed(events.Event)]
    assert [d[0] for d in details][:4] == ["SaveUser", "SaveUser", "SetUserRoles", "SaveUser"]
    assert details[0] == ("SaveUser", "OK", "created QUERY_ONLY in CA019015J")
    assert details[1][1] == "Client.ValidationError"
    assert ("DisableUser", "OK", "disabled: left the court") in details
    assert ("EnableUser", "OK", "enabled: back from leave") in details
    assert [d[:2] for d in details if d[0] == "UnlockUser"] == [
        ("UnlockUser", "Client.InvalidState"),
        ("UnlockUser", "OK"),
    ]
    assert all(PASSWORD not in d[2] and NEW_PASSWORD not in d[2] for d in details)
    assert all(e.ClientAddress == "127.0.0.1" and e.Username == "admin" for e in events.Event)


def test_order_locks_block_others_until_released_or_unlocked(hub):
    clerk, colleague = hub.client("clerk"), hub.client("sealed-clerk")  # same court
    receipt = clerk.service.SubmitOrder(Order=order())
    lock = clerk.service.LockOrder(OrderId=receipt.OrderId)
    assert lock.LockedByName == "clerk" and lock.LockExpiresDateTime - lock.LockedDateTime == timedelta(minutes=30)
    code, message = refused(colleague.service.ServeOrder, OrderId=receipt.OrderId, Version=1, ProofOfService=proof())
    assert code == "Client.InvalidState" and "locked for editing by clerk (CA019015J)" in message
    assert refused(colleague.service.LockOrder, OrderId=receipt.OrderId)[0] == "Client.InvalidState"
    assert refused(colleague.service.ReleaseOrder, OrderId=receipt.OrderId)[0] == "Client.InvalidState"
    assert colleague.service.GetOrder(OrderId=receipt.OrderId).Version == 1  # reading is never blocked
    served = clerk.service.ServeOrder(OrderId=receipt.OrderId, Version=1, ProofOfService=proof())  # the holder may
    assert served.Version == 2
    renewed = clerk.service.LockOrder(OrderId=receipt.OrderId)
    assert renewed.LockedDateTime == lock.LockedDateTime  # a renewal keeps the lock's identity

    admin = hub.admin_client()
    listed = admin.service.SearchLockedOrders(CountyCode="19")
    mine = [entry for entry in listed.Lock if entry.OrderId == receipt.OrderId]
    assert len(mine) == 1 and mine[0].LockedByName == "clerk"
    stale = mine[0].LockedDateTime - timedelta(seconds=1)
    code, _ = refused(admin.service.UnlockOrder, OrderId=receipt.OrderId, LockedDateTime=stale, ReasonText="stuck")
    assert code == "Client.Conflict"  # not the lock the administrator looked at: nothing removed
    assert refused(colleague.service.LockOrder, OrderId=receipt.OrderId)[0] == "Client.InvalidState"
    assert (
        admin.service.UnlockOrder(OrderId=receipt.OrderId, LockedDateTime=mine[0].LockedDateTime, ReasonText="stuck")
        == receipt.OrderId
    )
    assert receipt.OrderId not in [e.OrderId for e in admin.service.SearchLockedOrders().Lock]
    # The former holder's stale change still meets the version check; the colleague proceeds.
    assert refused(clerk.service.ServeOrder, OrderId=receipt.OrderId, Version=1, ProofOfService=proof())[0] == (
        "Client.Conflict"
    )
    assert colleague.service.ServeOrder(OrderId=receipt.OrderId, Version=2, ProofOfService=proof()).Version == 3
    assert refused(admin.service.UnlockOrder, OrderId=receipt.OrderId, LockedDateTime=stale, ReasonText="again")[0] == (
        "Client.Conflict"
    )


def test_the_county_sheriff_completes_a_court_order_but_cannot_cancel_it(hub):
    court = hub.client("clerk")  # Los Angeles court CA019015J
    draft = court.service.SaveDraft(Order=order(CaseDocketID="24FL-SHARED"))
    la_sheriff, sd_sheriff = hub.client("la-deputy"), hub.client("sd-deputy")
    assert la_sheriff.service.GetOrder(OrderId=draft.OrderId).OrderStatus == "DRAFT"  # the court's draft
    assert refused(sd_sheriff.service.GetOrder, OrderId=draft.OrderId)[0] == "Client.NotFound"
    active = la_sheriff.service.SubmitOrder(Order=order(CaseDocketID="24FL-SHARED"), OrderId=draft.OrderId, Version=1)
    assert active.OrderStatus == "ACTIVE"
    served = la_sheriff.service.ServeOrder(OrderId=draft.OrderId, Version=active.Version, ProofOfService=proof())
    history = court.service.GetOrder(OrderId=draft.OrderId, IncludeHistory=True).History
    assert [(h.ActionText, h.ActorName) for h in history][-2:] == [("SUBMIT", "la-deputy"), ("SERVE", "la-deputy")]
    code, message = refused(
        la_sheriff.service.CancelOrder,
        OrderId=draft.OrderId,
        Version=served.Version,
        CancelReasonCode="OTHER",
        CancelReasonText="x",
    )
    assert code == "Client.Forbidden" and "only the court" in message
    code, _ = refused(
        sd_sheriff.service.ServeOrder, OrderId=draft.OrderId, Version=served.Version, ProofOfService=proof()
    )
    assert code == "Client.Forbidden"
    assert (
        court.service.CancelOrder(
            OrderId=draft.OrderId, Version=served.Version, CancelReasonCode="ENTERED-IN-ERROR"
        ).OrderStatus
        == "CANCELLED"
    )


def test_passwords_sent_to_the_admin_service_never_reach_the_log_or_the_audit(hub):
    from tests.support.audit import events_after, head

    admin = hub.admin_client()
    start = head(hub.db_url)
    too_short, good = "Sh0rtSecret", "a perfectly fine long secret"  # noqa: S105 - test values
    code, _ = refused(
        admin.service.SaveUser,
        Username="pw-probe",
        OrganizationORIIdentification="CA019015J",
        Role="QUERY_ONLY",
        Password=too_short,
    )
    assert code == "Client.ValidationError"
    admin.service.SaveUser(
        Username="pw-probe",
        OrganizationORIIdentification="CA019015J",
        Role="QUERY_ONLY",
        Password=good,
        PasswordDigestAllowedIndicator=True,
    )
    log = hub.server.log.read_text()
    audit = " ".join(str(v) for e in events_after(hub.db_url, start) for v in e)
    for secret in (too_short, good):
        assert secret not in log and secret not in audit


def test_shared_entry_follows_the_owning_court_s_county_not_the_document(hub):
    court = hub.client("clerk")  # Los Angeles court
    orange = {"OrganizationORIIdentification": "CA030015J", "OrganizationName": "Orange Superior Court"}
    case = f"24FL-CTY-{id(hub) % 100000}"  # the sheriff may not change the case number either
    draft = court.service.SaveDraft(
        Order=order(CaseDocketID=case, CourtOrderIssuingCourt=orange)
    )  # a working copy names Orange
    orange_sheriff = hub.client("or-deputy")
    code, _ = refused(orange_sheriff.service.GetOrder, OrderId=draft.OrderId)
    assert code == "Client.NotFound"  # the document names Orange; the draft is still LA's
    la_sheriff = hub.client("la-deputy")
    code, message = refused(
        la_sheriff.service.ModifyOrder, OrderId=draft.OrderId, Version=1, Order=order(CaseDocketID=case)
    )
    assert code == "Client.Forbidden" and "cannot change its issuing court" in message
    kept = la_sheriff.service.ModifyOrder(
        OrderId=draft.OrderId, Version=1, Order=order(CaseDocketID=case, CourtOrderIssuingCourt=orange)
    )
    assert kept.Version == 2 and kept.OrderStatus == "DRAFT"
    # Completing it would enter the LA court's order under Orange's ORI: no one may.
    code, message = refused(
        la_sheriff.service.SubmitOrder,
        Order=order(CaseDocketID=case, CourtOrderIssuingCourt=orange),
        OrderId=draft.OrderId,
        Version=2,
    )
    assert code == "Client.Forbidden" and "a court enters its own orders" in message
    completed = court.service.SubmitOrder(Order=order(), OrderId=draft.OrderId, Version=2)
    assert completed.OrderStatus == "ACTIVE"


def test_the_court_cancels_despite_a_sheriff_s_lock_and_drafts_stay_with_their_court(hub):
    court, la_sheriff = hub.client("clerk"), hub.client("la-deputy")
    receipt = court.service.SubmitOrder(Order=order())
    la_sheriff.service.LockOrder(OrderId=receipt.OrderId)
    assert refused(hub.client("sealed-clerk").service.ServeOrder, OrderId=receipt.OrderId, Version=1,
                   ProofOfService=proof())[0] == "Client.InvalidState"  # fmt: skip
    cancelled = court.service.CancelOrder(OrderId=receipt.OrderId, Version=1, CancelReasonCode="TERMINATED-BY-COURT")
    assert cancelled.OrderStatus == "CANCELLED"
    assert receipt.OrderId not in [e.OrderId for e in hub.admin_client().service.SearchLockedOrders().Lock]
    draft = court.service.SaveDraft(Order=order())
    assert refused(la_sheriff.service.CloneOrder, OrderId=draft.OrderId)[0] == "Client.Forbidden"
