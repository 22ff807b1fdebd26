"""The orders service over HTTP with zeep, against the real server (gunicorn, 2 workers)."""

from __future__ import annotations

import base64
import os
import re
import time
from datetime import date
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree

from hub.clock import COURTS
from tests.support.orders import order, proof, restrained, tiny_pdf, tiny_tiff

pytestmark = pytest.mark.functional


def fault_code(excinfo: pytest.ExceptionInfo[zeep.exceptions.Fault]) -> str:
    return excinfo.value.code.split(":")[-1]


def violations(excinfo: pytest.ExceptionInfo[zeep.exceptions.Fault]) -> list[tuple[str, str]]:
    detail = excinfo.value.detail
    return [(v.findtext("{*}Path"), v.findtext("{*}Message")) for v in detail.iter("{*}Violation")]


def test_submit_get_with_history_over_http(hub):
    c = hub.client()
    receipt = c.service.SubmitOrder(Order=order(SourceSystemName="DMS", SourceMessageID="F-1"))
    assert receipt.OrderStatus == "ACTIVE" and receipt.Version == 1 and not receipt.DuplicateIndicator
    again = c.service.SubmitOrder(Order=order(SourceSystemName="DMS", SourceMessageID="F-1"))
    assert again.DuplicateIndicator and again.OrderId == receipt.OrderId
    record = c.service.GetOrder(OrderId=receipt.OrderId, IncludeHistory=True)
    assert record.Order.ProtectionOrderRestrictedPerson.PersonName.PersonSurName == "MOUSE"
    assert [h.ActionText for h in record.History] == ["SUBMIT"] and record.History[0].ActorName == "clerk"


def test_full_lifecycle_and_conflict(hub):
    c = hub.client()
    draft = c.service.SaveDraft(
        Order={"CourtOrderIssuingCourt": {"OrganizationORIIdentification": "CA019015J"}, "CaseDocketID": "24FL-DRAFT-1"}
    )
    assert draft.OrderStatus == "DRAFT"
    active = c.service.SubmitOrder(Order=order(CaseDocketID="24FL-DRAFT-1"), OrderId=draft.OrderId, Version=1)
    assert (active.OrderStatus, active.Version) == ("ACTIVE", 2)
    with pytest.raises(zeep.exceptions.Fault) as stale:
        c.service.ModifyOrder(OrderId=draft.OrderId, Version=1, Order=order(CaseDocketID="24FL-DRAFT-1"))
    assert fault_code(stale) == "Client.Conflict"
    served = c.service.ServeOrder(
        OrderId=draft.OrderId,
        Version=2,
        ProofOfService=proof("PERSONAL"),
    )
    assert served.ServedIndicator and served.Version == 3
    clone = c.service.CloneOrder(OrderId=draft.OrderId)
    assert clone.OrderStatus == "DRAFT"
    cancelled = c.service.CancelOrder(OrderId=draft.OrderId, Version=3, CancelReasonCode="TERMINATED-BY-COURT")
    assert cancelled.OrderStatus == "CANCELLED"
    with pytest.raises(zeep.exceptions.Fault) as illegal:
        c.service.ServeOrder(
            OrderId=draft.OrderId,
            Version=4,
            ProofOfService=proof("MAIL"),
        )
    assert fault_code(illegal) == "Client.InvalidState"


def test_rule_violations_come_back_with_paths(hub):
    with pytest.raises(zeep.exceptions.Fault) as f:
        hub.client().service.SubmitOrder(Order=order(CourtOrderFormCode="EPO-001", ProtectionOrderTypeCode="EPO"))
    assert fault_code(f) == "Client.ValidationError"
    paths = [p for p, _ in violations(f)]
    assert "/svc:SubmitOrder/svc:Order/ord:CourtOrderExpirationDate" in paths  # 3 years > EPO's 7 days


def test_roles_are_enforced_over_http(hub):
    receipt = hub.client().service.SubmitOrder(Order=order())
    with pytest.raises(zeep.exceptions.Fault) as f:
        hub.client("reader").service.CancelOrder(
            OrderId=receipt.OrderId, Version=1, CancelReasonCode="ENTERED-IN-ERROR"
        )
    assert fault_code(f) == "Client.Forbidden"
    with pytest.raises(zeep.exceptions.Fault) as f:
        hub.client("sd-clerk").service.CancelOrder(
            OrderId=receipt.OrderId, Version=1, CancelReasonCode="ENTERED-IN-ERROR"
        )
    assert fault_code(f) == "Client.Forbidden"
    with pytest.raises(zeep.exceptions.Fault) as f:
        hub.client("admin").service.GetOrder(OrderId=receipt.OrderId)
    assert fault_code(f) == "Client.Forbidden"
    with pytest.raises(zeep.exceptions.Fault) as f:
        hub.client("clerk", "wrong password!").service.GetOrder(OrderId=receipt.OrderId)
    assert fault_code(f) == "Client.Authentication"
    with pytest.raises(zeep.exceptions.Fault) as f:
        hub.client("nobody").service.GetOrder(OrderId=receipt.OrderId)
    assert fault_code(f) == "Client.Authentication" and "unknown user, wrong password" in f.value.message


def test_sealed_orders_are_redacted_for_non_sealed_roles(hub):
    from hub.accounts.service import add_user
    from hub.codes import Role
    from hub.db.engine import Database
    from tests.conftest import PASSWORD

    db = Database(hub.db_url)  # a court of its own (CA019099J), so a search by court finds only its order
    with db.unit_of_work() as s:
        add_user(s, "sealed-clerk-99", ori="CA019099J", role=Role.QUERY_UPDATE_SEALED, clets=False, password=PASSWORD)
    db.dispose()
    sealed_clerk = hub.client("sealed-clerk-99")
    sealed = sealed_clerk.service.SubmitOrder(
        Order=order(
            SealedIndicator=True,
            ProtectionOrderRestrictedPerson=restrained("SEALEDNAME"),
            CourtOrderIssuingCourt={"OrganizationORIIdentification": "CA019099J"},
        )
    )
    image = sealed_clerk.service.AttachImage(
        OrderId=sealed.OrderId, Document={"Base64BinaryObject": tiny_pdf("sealed")}
    )
    reader = hub.client("reader")
    stub = reader.service.GetOrder(OrderId=sealed.OrderId, IncludeHistory=True)
    assert stub.RedactedIndicator and stub.Order is None and not stub.History and not stub.Image
    # Searching on a detail (name, birth date, case) must not even tell that a sealed order matches.
    assert reader.service.SearchOrders(Criteria={"PersonSurName": "SEALEDNAME"}).TotalCount == 0
    assert reader.service.SearchOrders(Criteria={"PersonSurName": "SEALED%"}).TotalCount == 0
    assert (
        reader.service.SearchOrders(
            Criteria={"PersonBirthDate": date(1980, 5, 17), "PersonSurName": "SEAL%"}
        ).TotalCount
        == 0
    )
    # A search by court and status lists it, as the stub only.
    by_court = reader.service.SearchOrders(Criteria={"CourtORIIdentification": "CA019099J", "OrderStatus": "ACTIVE"})
    assert [i.OrderId for i in by_court.Item] == [sealed.OrderId]
    assert by_court.Item[0].RedactedIndicator and by_court.Item[0].CaseDocketID is None
    assert by_court.Item[0].RestrainedPersonName is None
    with pytest.raises(zeep.exceptions.Fault) as f:
        reader.service.GetImage(ImageId=image.ImageId)
    assert fault_code(f) == "Client.Forbidden"
    # a SEALED role from another organization sees everything (docs/SECURITY.md, sealed-order rule)
    sealed_reader = hub.client("sealed-reader")
    full = sealed_reader.service.GetOrder(OrderId=sealed.OrderId)
    assert not full.RedactedIndicator
    assert full.Order.ProtectionOrderRestrictedPerson.PersonName.PersonSurName == "SEALEDNAME"
    assert sealed_reader.service.SearchOrders(Criteria={"PersonSurName": "SEALEDNAME"}).TotalCount == 1
    assert sealed_reader.service.GetImage(ImageId=image.ImageId).Base64BinaryObject == tiny_pdf("sealed")


def test_quick_attach_images_cannot_be_taken_or_leak_from_sealed_orders(hub):
    sealed_clerk, reader, other = hub.client("sealed-clerk"), hub.client("reader"), hub.client("clerk")
    qa = sealed_clerk.service.AddQuickAttach(
        QuickAttach={
            "CaseDocketID": "24QA-SEALED",
            "PersonSurName": "HIDDENQA",
            "Document": {"Base64BinaryObject": tiny_pdf("qa-sealed")},
        }
    )
    # its image is named through the quick attach, not by ImageId
    with pytest.raises(zeep.exceptions.Fault) as f:
        sealed_clerk.service.SubmitOrder(Order=order(DocumentReference=[{"ImageId": qa.ImageInfo.ImageId}]))
    assert fault_code(f) == "Client.ValidationError"
    sealed_order = sealed_clerk.service.SubmitOrder(
        Order=order(SealedIndicator=True, DocumentReference=[{"QuickAttachId": qa.QuickAttachId}])
    )
    # nobody converts it again, and the image stays with the sealed order
    with pytest.raises(zeep.exceptions.Fault) as f:
        other.service.SubmitOrder(Order=order(DocumentReference=[{"QuickAttachId": qa.QuickAttachId}]))
    assert fault_code(f) == "Client.ValidationError"
    with pytest.raises(zeep.exceptions.Fault) as f:
        reader.service.GetImage(ImageId=qa.ImageInfo.ImageId)
    assert fault_code(f) == "Client.Forbidden"
    # the converted quick attach is not listed to roles that may not see the sealed order
    assert reader.service.SearchQuickAttach(Criteria={"PersonSurName": "HIDDENQA"}).TotalCount == 0
    seen = sealed_clerk.service.SearchQuickAttach(Criteria={"PersonSurName": "HIDDENQA"})
    assert seen.TotalCount == 1 and seen.Item[0].ConvertedOrderId == sealed_order.OrderId


def test_empty_image_is_rejected_not_an_internal_error(hub):
    c = hub.client()
    receipt = c.service.SubmitOrder(Order=order())
    with pytest.raises(zeep.exceptions.Fault) as f:
        c.service.AttachImage(OrderId=receipt.OrderId, Document={"Base64BinaryObject": b""})
    assert fault_code(f) == "Client.ImageRejected" and "empty" in f.value.message


def test_dates_and_times_outside_the_contract_are_validation_faults(hub):
    from tests.conftest import PASSWORD
    from tests.support.orders import envelope

    for bad in (order(CourtOrderIssuingTime="24:00:00"), order(CourtOrderIssuingTime="10:00:00-08:00")):
        body = envelope("SubmitOrder", [("Order", bad)], username="clerk", password=PASSWORD)
        with requests.post(hub.endpoint, data=body, headers={"Content-Type": "text/xml"}, timeout=10) as resp:
            assert b"Client.ValidationError" in resp.content
    body = envelope("SubmitOrder", [("Order", order())], username="clerk", password=PASSWORD).replace(
        b"<ord:PersonBirthDate>1980-05-17", b"<ord:PersonBirthDate>-1980-05-17"
    )
    with requests.post(hub.endpoint, data=body, headers={"Content-Type": "text/xml"}, timeout=10) as resp:
        assert b"Client.ValidationError" in resp.content and b"PersonBirthDate" in resp.content


def test_images_round_trip_pdf_and_tiff_and_refuse_others(hub):
    c = hub.client()
    receipt = c.service.SubmitOrder(Order=order())
    pdf = c.service.AttachImage(
        OrderId=receipt.OrderId, Document={"DocumentFileName": "order.tif", "Base64BinaryObject": tiny_pdf("a")}
    )
    assert pdf.MediaType == "application/pdf"  # by content, not by the name
    tif = c.service.AttachImage(OrderId=receipt.OrderId, Document={"Base64BinaryObject": tiny_tiff()})
    assert tif.MediaType == "image/tiff"
    got = c.service.GetImage(ImageId=tif.ImageId)
    assert got.Base64BinaryObject == tiny_tiff() and got.ImageInfo.SHA256 == tif.SHA256
    with pytest.raises(zeep.exceptions.Fault) as f:
        c.service.AttachImage(
            OrderId=receipt.OrderId,
            Document={"DocumentFileName": "scan.pdf", "Base64BinaryObject": b"\xff\xd8\xff\xe0JFIF"},
        )
    assert fault_code(f) == "Client.ImageRejected" and "JPEG" in f.value.message
    record = c.service.GetOrder(OrderId=receipt.OrderId)
    assert {i.ImageId for i in record.Image} == {pdf.ImageId, tif.ImageId} and record.Version == 3


def test_tampered_image_fails_its_integrity_check(hub):
    c = hub.client()
    receipt = c.service.SubmitOrder(Order=order())
    info = c.service.AttachImage(OrderId=receipt.OrderId, Document={"Base64BinaryObject": tiny_pdf("tamper")})
    stored = Path(hub.server.env["CCPOR_DATA_DIR"]) / "images" / info.SHA256[:2] / info.SHA256[2:4] / info.SHA256
    stored.write_bytes(stored.read_bytes().replace(b"tamper", b"TAMPER"))
    with pytest.raises(zeep.exceptions.Fault) as f:
        c.service.GetImage(ImageId=info.ImageId)
    assert fault_code(f) == "Server.IntegrityFailure"


def test_quick_attach_is_county_scoped_and_converts_into_an_order(hub):
    c = hub.client()
    qa = c.service.AddQuickAttach(
        QuickAttach={
            "CaseDocketID": "24QA0001",
            "PersonSurName": "GEESE",
            "Document": {"Base64BinaryObject": tiny_pdf("qa")},
        }
    )
    assert qa.QuickAttachStatus == "PENDING" and qa.CountyCode == "19"
    assert hub.client("reader").service.SearchQuickAttach(Criteria={"CaseDocketID": "24QA%"}).TotalCount >= 1
    assert hub.client("sd-clerk").service.SearchQuickAttach(Criteria={"CaseDocketID": "24QA%"}).TotalCount == 0
    receipt = c.service.SubmitOrder(Order=order(DocumentReference=[{"QuickAttachId": qa.QuickAttachId}]))
    record = c.service.GetOrder(OrderId=receipt.OrderId)
    assert [i.ImageId for i in record.Image] == [qa.ImageInfo.ImageId]
    after = c.service.SearchQuickAttach(Criteria={"CaseDocketID": "24QA0001"})
    assert after.Item[0].QuickAttachStatus == "CONVERTED" and after.Item[0].ConvertedOrderId == receipt.OrderId
    with pytest.raises(zeep.exceptions.Fault) as f:
        c.service.SubmitOrder(Order=order(DocumentReference=[{"QuickAttachId": qa.QuickAttachId}]))
    assert fault_code(f) == "Client.ValidationError" and "already converted" in violations(f)[0][1]


def test_search_rules_and_paging(hub):
    c = hub.client()
    for surname in ("MOUSEX", "MOOSEX", "MAJORSX", "CLEESEX", "GEESEX"):
        c.service.SubmitOrder(Order=order(ProtectionOrderRestrictedPerson=restrained(surname, "PAT")))

    def names(pattern: str) -> set[str]:
        res = c.service.SearchOrders(Criteria={"PersonSurName": pattern, "PersonGivenName": "PAT"})
        return {i.RestrainedPersonName.PersonSurName for i in res.Item}

    assert names("m%x") == {"MOUSEX", "MOOSEX", "MAJORSX"}
    assert names("%SEX") == {"MOUSEX", "MOOSEX", "CLEESEX", "GEESEX"}
    assert names("M__SEX") == set()  # no %: underscores are literal (names cannot hold them)
    assert names("MOUSEX") == {"MOUSEX"}  # no %: exact, not a prefix
    assert names("M__SE%") == {"MOUSEX", "MOOSEX"}
    assert names("M*") == set() and names("M?USEX") == set()
    for i in range(27):
        c.service.SubmitOrder(
            Order=order(
                ProtectionOrderRestrictedPerson=restrained("PAGER" + chr(65 + i // 26) + chr(65 + i % 26), "PAGE")
            )
        )
    first = c.service.SearchOrders(Criteria={"PersonSurName": "PAGER%"})
    assert (first.TotalCount, first.PageSize, len(first.Item), first.LastPageNumber, first.NextPageNumber) == (
        27,
        25,
        25,
        2,
        2,
    )
    last = c.service.SearchOrders(Criteria={"PersonSurName": "PAGER%"}, PageNumber=2)
    assert len(last.Item) == 2 and last.NextPageNumber is None
    assert not {i.OrderId for i in first.Item} & {i.OrderId for i in last.Item}


def test_search_by_protected_person_dob_case_and_court(hub):
    c = hub.client()
    r = c.service.SubmitOrder(
        Order=order(
            ProtectionOrderProtectedPerson=[
                {
                    "PersonName": {"PersonGivenName": "ZED", "PersonSurName": "PROTECTEDZ"},
                    "PersonBirthDate": date(1999, 9, 9),
                }
            ]
        )
    )
    by_role = c.service.SearchOrders(Criteria={"PersonSurName": "PROTECTEDZ", "PartyRoleCode": "PROTECTED"})
    assert [i.OrderId for i in by_role.Item] == [r.OrderId]
    assert (
        c.service.SearchOrders(Criteria={"PersonSurName": "PROTECTEDZ", "PartyRoleCode": "RESTRAINED"}).TotalCount == 0
    )
    by_dob = c.service.SearchOrders(Criteria={"PersonBirthDate": date(1999, 9, 9)})
    assert r.OrderId in {i.OrderId for i in by_dob.Item}
    record = c.service.GetOrder(OrderId=r.OrderId)
    by_case = c.service.SearchOrders(
        Criteria={
            "CaseDocketID": record.Order.CaseDocketID.lower(),
            "CountyCode": "19",
            "CourtORIIdentification": "CA019015J",
            "OrderStatus": "ACTIVE",
            "ProtectionOrderTypeCode": "OAH",
        }
    )
    assert [i.OrderId for i in by_case.Item] == [r.OrderId]


def test_responses_conform_to_the_published_schema(hub):
    """Raw response bodies validate against xsd/ccpor-orders-service.xsd."""
    from hub.contract import service_schema
    from tests.conftest import PASSWORD
    from tests.support.orders import envelope

    body = envelope("SubmitOrder", [("Order", order())], username="clerk", password=PASSWORD)
    with requests.post(hub.endpoint, data=body, headers={"Content-Type": "text/xml"}, timeout=10) as resp:
        content, status = resp.content, resp.status_code
    op = etree.fromstring(content).find(".//{urn:ca:courts:ccpor:orders:1}SubmitOrderResponse")
    assert status == 200 and service_schema().validate(op), service_schema().error_log
    order_id = op.findtext(".//{*}OrderId")
    with requests.post(
        hub.endpoint,
        data=envelope(
            "GetOrder", [("OrderId", order_id), ("IncludeHistory", True)], username="clerk", password=PASSWORD
        ),
        headers={"Content-Type": "text/xml"},
        timeout=10,
    ) as resp:
        content = resp.content
    op = etree.fromstring(content).find(".//{urn:ca:courts:ccpor:orders:1}GetOrderResponse")
    assert service_schema().validate(op), service_schema().error_log


def test_large_image_within_limit_is_accepted(hub):
    """A 12 MB scan: beyond Spyne's 2 MiB default and libxml2's 10 MB text-node cap."""
    c = hub.client(huge=True)
    receipt = c.service.SubmitOrder(Order=order())
    big = tiny_pdf("big")[:-6] + b"0" * (12 * 1000 * 1000) + b"\n%%EOF\n"
    info = c.service.AttachImage(OrderId=receipt.OrderId, Document={"Base64BinaryObject": big})
    assert info.SizeBytes == len(big)
    assert base64.b64encode(c.service.GetImage(ImageId=info.ImageId).Base64BinaryObject) == base64.b64encode(big)


def test_guessing_locks_the_account_until_an_administrator_releases_it(hub):
    import subprocess
    import sys
    from pathlib import Path

    for _ in range(5):
        with pytest.raises(zeep.exceptions.Fault) as f:
            hub.client("lockme", "not the password").service.SearchOrders(Criteria={"PersonSurName": "X%"})
        assert fault_code(f) == "Client.Authentication"
    with pytest.raises(zeep.exceptions.Fault) as f:
        hub.client("lockme").service.SearchOrders(Criteria={"PersonSurName": "X%"})  # right password, locked
    assert fault_code(f) == "Client.Authentication"
    cli = str(Path(sys.executable).with_name("ccpor-hub"))
    done = subprocess.run(
        [cli, "users", "unlock", "lockme"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "CCPOR_DATABASE_URL": hub.db_url,
            "CCPOR_DATA_DIR": hub.server.env["CCPOR_DATA_DIR"],
        },
    )
    assert done.returncode == 0 and "released from lockout" in done.stdout, done.stderr
    assert hub.client("lockme").service.SearchOrders(Criteria={"PersonSurName": "X%"}).TotalCount >= 0

    # An administrator's disable is not undone by an unlock; `users enable` is its own, audited, action.
    hub.admin_client().service.DisableUser(Username="lockme", ReasonText="transferred")
    env = {
        "PATH": "/usr/bin:/bin",
        "CCPOR_DATABASE_URL": hub.db_url,
        "CCPOR_DATA_DIR": hub.server.env["CCPOR_DATA_DIR"],
    }
    again = subprocess.run([cli, "users", "unlock", "lockme"], capture_output=True, text=True, timeout=60, env=env)
    assert again.returncode == 1 and "disabled, not locked out" in again.stderr
    with pytest.raises(zeep.exceptions.Fault):
        hub.client("lockme").service.SearchOrders(Criteria={"PersonSurName": "X%"})
    enable = [cli, "users", "enable", "lockme", "--reason", "came back"]
    enabled = subprocess.run(enable, capture_output=True, text=True, timeout=60, env=env)
    assert enabled.returncode == 0 and "enabled: came back" in enabled.stdout, enabled.stderr
    assert hub.client("lockme").service.SearchOrders(Criteria={"PersonSurName": "X%"}).TotalCount >= 0


def test_password_digest_over_http_and_a_replay_is_refused(hub):
    from tests.functional.conftest import DIGEST_USER

    client = hub.client(DIGEST_USER, digest=True)  # zeep writes wsu:Created with +00:00
    receipt = client.service.SubmitOrder(Order=order())
    assert receipt.OrderStatus == "ACTIVE"
    # Capture the next request's exact bytes, then send them again, as an eavesdropper would.
    message = client.create_message(client.service, "GetOrder", OrderId=receipt.OrderId)
    body = etree.tostring(message)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    with requests.Session() as http:
        http.trust_env = False
        first = http.post(hub.endpoint, data=body, headers=headers)
        assert first.status_code == 200 and receipt.OrderId.encode() in first.content
        again = http.post(hub.endpoint, data=body, headers=headers)
    assert again.status_code == 500 and b"Client.Authentication" in again.content
    assert b"nonce was used before" in again.content
    # A PasswordDigest for an account that has no sealed password is refused like a wrong password.
    with pytest.raises(zeep.exceptions.Fault) as f:
        hub.client("reader", digest=True).service.GetOrder(OrderId=receipt.OrderId)
    assert fault_code(f) == "Client.Authentication"


def test_submit_to_carpos_over_http(hub):
    from datetime import timedelta

    c, clets = hub.client(), hub.client("clets-clerk")
    receipt = c.service.SubmitOrder(Order=order(), SubmitToCarposIndicator=True)
    assert clets.service.GetOrder(OrderId=receipt.OrderId).CarposStatus == "PENDING"
    assert c.service.GetOrder(OrderId=receipt.OrderId).CarposStatus is None  # CLETS data: not for this clerk
    local = c.service.SubmitOrder(Order=order())
    assert clets.service.GetOrder(OrderId=local.OrderId).CarposStatus is None
    issued = COURTS.today() - timedelta(days=10)
    unborn = order(CourtOrderIssuingDate=issued)
    unborn["ProtectionOrderRestrictedPerson"]["PersonBirthDate"] = issued + timedelta(days=3)
    with pytest.raises(zeep.exceptions.Fault) as f:
        c.service.SubmitOrder(Order=unborn, SubmitToCarposIndicator=True)
    assert fault_code(f) == "Client.ValidationError" and "CARPOS would reject" in f.value.message
    assert violations(f) == [("/svc:SubmitOrder/svc:Order", "REJECT - INVALID DATE (DOB AFTER ISD)")]


def test_the_development_password_setting_is_announced_at_start(hub):
    # The shared test hub runs with CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP (tests/functional/conftest.py):
    # every worker says so, at WARNING, so it cannot go unnoticed in a production log.
    log = hub.server.log.read_text()
    assert log.count("WARNING ccpor.api DEVELOPMENT SETTING CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP is on") >= 2


def test_save_draft_over_an_active_order_is_invalid_state_over_http(hub):
    c = hub.client()
    receipt = c.service.SubmitOrder(Order=order())
    for operation in (c.service.SaveDraft, c.service.SubmitOrder):
        with pytest.raises(zeep.exceptions.Fault) as f:
            operation(Order=order(), OrderId=receipt.OrderId, Version=1)
        assert fault_code(f) == "Client.InvalidState" and "ModifyOrder" in f.value.message
    assert c.service.GetOrder(OrderId=receipt.OrderId).Version == 1


def test_every_request_has_an_access_log_line_without_its_credentials(hub):
    """hub.cli.accesslog: address, request line, status, bytes, time -- never a header or the body."""
    marker = f"/ws/orders?wsdl&probe={os.getpid()}"
    answer = requests.get(f"{hub.server.url}{marker}", headers={"Authorization": "Basic c2VjcmV0"}, timeout=10)
    assert answer.status_code == 200
    refused = requests.post(hub.endpoint, data=b"<not-soap", headers={"Content-Type": "text/xml"}, timeout=10)
    line = re.compile(rf'^127\.0\.0\.1 "GET {re.escape(marker)} HTTP/1\.1" 200 {len(answer.content)} \d+ms$', re.M)
    deadline = time.monotonic() + 10  # gunicorn writes the line after the answer was sent
    while not line.search(log := hub.server.log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert line.search(log), log[-2000:]
    assert re.search(rf'^127\.0\.0\.1 "POST /ws/orders HTTP/1\.1" {refused.status_code} \d+ \d+ms$', log, re.M)
    assert "c2VjcmV0" not in log
