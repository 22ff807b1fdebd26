"""``make demo``: a fresh hub on SQLite, a scripted session of a court system, then a clean stop.

Everything a partner does is done here with a real SOAP client (zeep) over HTTP against the real
server (gunicorn, 2 workers): submit, search with the guide's wildcards, attach and read back a
signed-order image, record service, see a validation fault, cancel; then an administrator releases
an edit lock and reads the audit trail, and ``ccpor-hub audit verify`` checks the chain.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import zeep
from zeep.wsse.username import UsernameToken

from hub import masterkey
from hub.accounts.service import ACCOUNT_SECRETS, add_user
from hub.codes import Role
from hub.db import migrate
from hub.db.engine import Database
from hub.runner import HubServer

DATA = Path("var/demo")
COURT = "CA019015J"  # a Los Angeles court


def _order(case: str, surname: str, given: str) -> dict:
    issued = date.today() - timedelta(days=1)
    return {
        "CourtOrderFormCode": "DV-130",
        "ProtectionOrderTypeCode": "OAH",
        "CourtOrderIssuingCourt": {"OrganizationORIIdentification": COURT, "OrganizationName": "Superior Court of LA"},
        "CaseDocketID": case,
        "CourtOrderIssuingDate": issued,
        "CourtOrderExpirationDate": issued + timedelta(days=3 * 365),
        "ProtectionOrderRestrictedPerson": {
            "PersonName": {"PersonGivenName": given, "PersonSurName": surname},
            "PersonBirthDate": date(1984, 2, 29),
            "PersonSexCode": "M",
            "PersonRaceCode": "W",
            "PersonHeightText": "510",
            "PersonWeightMeasure": 175,
            "PersonEyeColorCode": "BRO",
            "PersonHairColorCode": "BLK",
        },
        "ProtectionOrderProtectedPerson": [{"PersonName": {"PersonGivenName": "DAISY", "PersonSurName": "DUCK"}}],
        "ProtectionOrderCondition": {
            "ProtectionOrderConditionCode": ["01", "04", "05", "07"],
            "StayAwayDistanceMeasure": 100,
            "FirearmRelinquishmentIndicator": True,
        },
        "ProtectionOrderBradyIndicator": "Y",
        "SourceSystemName": "DEMO-DMS",
        "SourceMessageID": f"DEMO-{case}",
    }


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def step(text: str) -> None:
    print(f"\n== {text}")


def main() -> int:
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    url = f"sqlite:///{(DATA / 'ccpor.db').resolve()}"
    step(f"migrating a fresh SQLite database at {DATA / 'ccpor.db'}")
    migrate.upgrade(url)
    passwords = {name: secrets.token_urlsafe(18) for name in ("la-court-dms", "la-sheriff", "jc-admin")}
    server = HubServer(DATA.resolve(), url)  # creates the demo's master key (var/demo/master.key)
    key = masterkey.load(DATA / "master.key")
    db = Database(url)
    with db.unit_of_work() as s:
        add_user(s, "la-court-dms", ori=COURT, role=Role.QUERY_UPDATE, clets=False, password=passwords["la-court-dms"],
                 digest_sealer=key.sealer(ACCOUNT_SECRETS))  # fmt: skip
        add_user(s, "la-sheriff", ori="CA0190000", role=Role.QUERY_ONLY, clets=True, password=passwords["la-sheriff"])
        add_user(s, "jc-admin", ori=COURT, role=Role.ADMINISTRATOR, clets=False, password=passwords["jc-admin"])
    db.dispose()
    print(
        "accounts: la-court-dms (QUERY_UPDATE, court CA019015J, PasswordDigest), la-sheriff (QUERY_ONLY, CLETS,"
        " CA0190000), jc-admin (ADMINISTRATOR); passwords generated, held only by this demo process"
    )

    step("starting the hub: ccpor-hub serve (gunicorn, 2 workers)")
    server.start()
    try:
        # The court system proves itself with PasswordDigest (nonce + created), the sheriff with PasswordText.
        court = zeep.Client(server.wsdl, wsse=UsernameToken("la-court-dms", passwords["la-court-dms"], use_digest=True))
        sheriff = zeep.Client(server.wsdl, wsse=UsernameToken("la-sheriff", passwords["la-sheriff"]))
        print(f"WSDL: {server.wsdl}")

        step("court DMS submits three orders (SubmitOrder)")
        receipts = [
            court.service.SubmitOrder(Order=_order(f"24FL00{n}", surname, given))
            for n, (surname, given) in enumerate([("MOUSE", "MICKEY"), ("MOOSE", "MORRIS"), ("GEESE", "GARY")], start=1)
        ]
        for r in receipts:
            print(f"  {r.OrderId} version {r.Version} {r.OrderStatus}")
        again = court.service.SubmitOrder(Order=_order("24FL001", "MOUSE", "MICKEY"))
        print(
            f"  resubmitting message DEMO-24FL001: same receipt {again.OrderId}, duplicate={again.DuplicateIndicator}"
        )

        step("sheriff searches: 'M__SE%' (the guide: _ is a wildcard only with %) and '%SE'")
        for pattern in ("M__SE%", "%SE", "M__SE"):
            result = sheriff.service.SearchOrders(Criteria={"PersonSurName": pattern})
            names = ", ".join(i.RestrainedPersonName.PersonSurName for i in result.Item) or "(none)"
            print(f"  {pattern!r:10} -> {result.TotalCount} order(s): {names}")

        order_id = receipts[0].OrderId
        step(f"court attaches the signed order image to {order_id} (AttachImage) and the sheriff reads it")
        info = court.service.AttachImage(
            OrderId=order_id, Document={"DocumentFileName": "dv130.pdf", "Base64BinaryObject": PDF}
        )
        image = sheriff.service.GetImage(ImageId=info.ImageId)
        print(
            f"  {info.ImageId}: {info.MediaType}, {info.SizeBytes} bytes, SHA-256 {info.SHA256[:16]}..."
            f" read back intact: {image.Base64BinaryObject == PDF}"
        )

        step("the sheriff records proof of service (ServeOrder) ... and is refused: QUERY_ONLY role")
        service = {
            "CourtOrderServiceDate": date.today(),
            "ServingAgencyORIIdentification": "CA0190000",
            "ServiceTypeCode": "PERSONAL",
        }
        try:
            sheriff.service.ServeOrder(
                OrderId=order_id,
                Version=2,
                ProofOfService=service,
            )
        except zeep.exceptions.Fault as fault:
            print(f"  fault {fault.code.split(':')[-1]}: {fault.message}")
        served = court.service.ServeOrder(
            OrderId=order_id,
            Version=2,
            ProofOfService=service,
        )
        print(f"  court records it: version {served.Version}, served={served.ServedIndicator}")

        step("an order CARPOS would reject is refused at intake, with every problem listed")
        bad = _order("24FL009", "DOE", "JOHN")
        bad["CourtOrderFormCode"] = "EPO-001"  # an EPO lasts 7 days, and its CLETS code is EPO
        del bad["SourceMessageID"]
        try:
            court.service.SubmitOrder(Order=bad)
        except zeep.exceptions.Fault as fault:
            print(f"  fault {fault.code.split(':')[-1]}: {fault.message}")
            for v in fault.detail.iter("{*}Violation"):
                print(f"    {v.findtext('{*}Path')}: {v.findtext('{*}Message')}")

        step(f"the court cancels {receipts[2].OrderId} (CancelOrder, entered in error)")
        cancelled = court.service.CancelOrder(
            OrderId=receipts[2].OrderId, Version=1, CancelReasonCode="ENTERED-IN-ERROR"
        )
        print(f"  {cancelled.OrderId} is {cancelled.OrderStatus} at version {cancelled.Version}")

        record = sheriff.service.GetOrder(OrderId=order_id, IncludeHistory=True)
        step(f"history of {order_id} (GetOrder with IncludeHistory)")
        for h in record.History:
            print(
                f"  v{h.Version} {h.ActionText:13} by {h.ActorName} ({h.ActorORIIdentification}) "
                f"at {h.ChangeDateTime:%Y-%m-%d %H:%M:%S}Z: {', '.join(h.ChangedElementText)[:70]}"
            )
        step(f"the court locks {receipts[1].OrderId} for editing; the administrator finds and releases it")
        lock = court.service.LockOrder(OrderId=receipts[1].OrderId)
        print(f"  locked by {lock.LockedByName} until {lock.LockExpiresDateTime:%H:%M:%S}Z")
        admin = zeep.Client(f"{server.url}/ws/admin?wsdl", wsse=UsernameToken("jc-admin", passwords["jc-admin"]))
        for held in admin.service.SearchLockedOrders(CountyCode="19").Lock:
            admin.service.UnlockOrder(
                OrderId=held.OrderId, LockedDateTime=held.LockedDateTime, ReasonText="demo: clerk went home"
            )
            print(f"  UnlockOrder {held.OrderId} (held by {held.LockedByName})")

        step("the administrator reads the audit trail (SearchAudit, newest first)")
        now = datetime.now(UTC)
        events = admin.service.SearchAudit(
            Criteria={"FromDateTime": now - timedelta(hours=1), "ToDateTime": now + timedelta(minutes=1)}
        )
        for e in events.Event[:8]:
            print(
                f"  #{e.Sequence:<3} {e.Category:6} {e.Username:13} {e.Operation:18} {e.Target or '-':14} {e.Outcome}"
                + (f" -- {e.Detail}" if e.Detail else "")
            )
        print(f"  ... {events.TotalCount} events in all")
        for client in (court, sheriff, admin):
            client.transport.session.close()
    finally:
        step("stopping the hub (SIGTERM, graceful)")
        code = server.stop()
        print(f"  hub exited with status {code}")
    step("ccpor-hub audit verify: the hash chain over every event is intact")
    verify = subprocess.run(
        [str(Path(sys.executable).with_name("ccpor-hub")), "audit", "verify"],
        env={**os.environ, "CCPOR_DATA_DIR": str(DATA.resolve()), "CCPOR_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"  {(verify.stdout or verify.stderr).strip()}")
    print(f"\nThe WSDL was served at {server.wsdl}; the contract is in wsdl/ and xsd/.")
    print(
        "Run it yourself: ccpor-hub keys master; ccpor-hub db upgrade; ccpor-hub users add NAME --org ORI --role ROLE;"
        " ccpor-hub serve"
    )
    return 0 if code == 0 and verify.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
