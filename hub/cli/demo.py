"""``make demo``: a fresh hub on SQLite started the way an operator starts one -- ``ccpor-hub run
--mock-doj`` (hub, worker, mock DOJ switch) -- a scripted session of a court system, the
administrators' console, then a clean stop (in a terminal: after Enter, so the console can be
visited). Everything a partner does is done here with a real SOAP client (zeep) over HTTPS against
the real server (gunicorn, 2 workers; a development CA and server certificate made for the demo), as
production runs it: accounts are added with ``ccpor-hub users add``, people send PasswordText over
TLS, the court's system PasswordDigest: submit (to CARPOS too: the gateway seals each EPO, the
switch answers with an FCN), search with the guide's wildcards, attach and read back a signed-order
image, record service, see a validation fault, cancel; a CLETS-certified sheriff reads DOJ's answers
and queries CARPOS; Imperial's FACCTS sends a DSP917 notification (the official sample made current,
and as sent) and the mock court's response service gets the CCPOR order id, then DOJ's FCN, and the
error response of the held sample; the court's DMS adapter takes a Kofax scan batch to CARPOS and
the sheriff's RMS adapter completes a court's draft from the work queue; then an administrator
releases an edit lock, looks at the queue and reads the audit trail, signs in to the web console,
and ``ccpor-hub audit verify`` checks the chain.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import requests
import zeep
from lxml import etree
from zeep.wsse.username import UsernameToken

from hub import ns
from hub.clock import COURTS, utcnow
from hub.contract import dsp917_sample
from hub.db import migrate
from hub.runner import CourtServer, HubRun, Tls, carpos_environment, development_tls
from mocks.court.store import CourtStore
from mocks.doj import registry

DATA = Path("var/demo")
COURT = "CA019015J"  # a Los Angeles court
IMPERIAL = "CA013013J"  # Imperial's court (court number 13, as in DSP917's official sample): on FACCTS


def _order(case: str, surname: str, given: str) -> dict:
    issued = COURTS.today() - timedelta(days=1)
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


#: The DSP917 request's parts, by the prefixes of the official sample.
_DSP917 = {"r": ns.DSP917_REQ, "nc": ns.DSP917_NC, "h": ns.ISB_HEADER}
_DSP917_ORDER = (
    "r:ProductExchangePackage/r:ProductRelatedObjects/r:ProductRelatedActivities/r:CourtCase/r:CaseRestrainingOrder"
)


def dsp917_notification(correlation: str, order_identification: str, docket: str) -> etree._Element:
    """The official DSP917 sample request made into an order in force today (issued today, expiring
    within DV-110's limit, a stay-away the registry can hold), with its own ISB keys."""
    root = etree.fromstring(dsp917_sample("DSP917_Request.xml"))
    today = COURTS.date_of(utcnow())
    for path, value in (
        ("h:ISBCommonServiceHeader/CorrelationId", correlation),
        ("h:ISBCommonServiceHeader/ISBTransactionId", "1"),
        (f"{_DSP917_ORDER}/r:IssuedDate/nc:Date", today.isoformat()),
        (f"{_DSP917_ORDER}/nc:ExpirationDate/nc:Date", (today + timedelta(days=14)).isoformat()),
        (f"{_DSP917_ORDER}/r:ServedDate/nc:Date", today.isoformat()),
        (f"{_DSP917_ORDER}/r:YardsToStayAwayQuantity", "100"),
        (f"{_DSP917_ORDER}/nc:IdentificationID", order_identification),
        (f"{_DSP917_ORDER}/../nc:CaseDocketID", docket),
    ):
        (el,) = root.xpath(path, namespaces=_DSP917)
        el.text = value
    return root


def _dsp917_post(url: str, tls: Tls, message: etree._Element, username: str, password: str) -> str:
    """A court's ISB posting a notification to /ws/dsp917 (PasswordDigest): the receipt's Message."""
    envelope = etree.Element(ns.q(ns.SOAP11_ENV, "Envelope"), nsmap={"soapenv": ns.SOAP11_ENV})
    etree.SubElement(envelope, ns.q(ns.SOAP11_ENV, "Header"))
    etree.SubElement(envelope, ns.q(ns.SOAP11_ENV, "Body")).append(message)
    envelope, _ = UsernameToken(username, password, use_digest=True).apply(envelope, {})
    with requests.Session() as session:
        session.trust_env = False
        reply = session.post(
            f"{url}/ws/dsp917",
            data=etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"),
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": "/portal/isb/Schema/DSP917CAJUDReq/1.0.0",
            },
            verify=str(tls.ca),
            timeout=60,
        )
    answer = etree.fromstring(reply.content)
    return answer.findtext(f".//{{{ns.ISB_RESPONSE}}}Message") or answer.findtext(".//faultstring") or ""


def _carpos_status(client: zeep.Client, order_id: str, timeout: float = 20.0) -> str:
    """The order's CARPOS status once DOJ answered (the CLETS user's GetOrder), polling briefly."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.service.GetOrder(OrderId=order_id).CarposStatus
        if status != "PENDING" or time.monotonic() > deadline:
            return str(status)
        time.sleep(0.05)


def _client(wsdl: str, tls: Tls, username: str, password: str, *, digest: bool = False) -> zeep.Client:
    """A partner's zeep client: HTTPS, the server's certificate checked against the demo's CA."""
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would replace the demo's CA
    session.verify = str(tls.ca)
    token = UsernameToken(username, password, use_digest=digest)
    return zeep.Client(wsdl, wsse=token, transport=zeep.Transport(session=session))


def _console(url: str, tls: Tls, username: str, password: str) -> None:
    """Sign in to the console as a browser does (the login form's token, then the session cookie) and
    print what its queue overview says."""
    import re

    with requests.Session() as web:
        web.trust_env, web.verify = False, str(tls.ca)
        form = web.get(f"{url}/console/login", timeout=10)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, "the sign-in page has no form token"
        signed = web.post(
            f"{url}/console/login",
            data={"csrf": csrf.group(1), "username": username, "password": password},
            timeout=10,
        )
        counts = re.findall(r'id="count-([A-Z]+)">(\d+)<', signed.text)
        print(f"  signed in as {username}: the queue overview says " + ", ".join(f"{n} {s}" for s, n in counts))
        print(f"  pages: {url}/console/ (queues), /messages, /locks, /users, /audit, /reports")


def _add_users(env: dict[str, str], passwords: dict[str, str]) -> None:
    """The demo's accounts, added as an operator does (``ccpor-hub users add``, audited)."""
    accounts = {
        "la-court-dms": [COURT, "QUERY_UPDATE", "--digest"],
        "la-sheriff": ["CA0190000", "QUERY_ONLY", "--clets"],
        "la-sheriff-rms": ["CA0190000", "QUERY_UPDATE", "--digest"],
        "la-court-clets": [COURT, "QUERY_ONLY", "--clets"],
        "jc-admin": [COURT, "ADMINISTRATOR"],
        "imperial-faccts": [IMPERIAL, "QUERY_UPDATE_SEALED", "--digest"],
    }
    cli = str(Path(sys.executable).with_name("ccpor-hub"))
    for name, (org, role, *flags) in accounts.items():
        subprocess.run(
            [cli, "users", "add", name, "--org", org, "--role", role, *flags],
            input=passwords[name] + "\n",
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )


def _until(condition, what: str, timeout: float = 60.0):  # noqa: ANN001, ANN202 - a demo helper
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the demo timed out waiting for {what}")
        time.sleep(0.1)
    return found


def _adapter_config(folder: Path, server: HubRun, tls: Tls, account: str, password: str, section: str) -> Path:
    """An adapter's TOML file as a court's IT writes it (docs/ADAPTERS.md), its password beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "password"
    with os.fdopen(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
        out.write(password + "\n")  # mode 0600 from its first byte; thrown away with var/demo
    hub = f'[hub]\nurl = "{server.url}"\nusername = "{account}"\npassword_file = "password"\nca_file = "{tls.ca}"\n'
    config = folder / "adapter.toml"
    config.write_text(hub + "\n" + section, encoding="utf-8")
    return config


def _partner_adapters(server: HubRun, tls: Tls, court: zeep.Client, passwords: dict[str, str]) -> None:
    """The DMS adapter takes a scan batch to CARPOS; the sheriff's RMS adapter completes a court draft."""
    from adapters.dms import sample

    cli = str(Path(sys.executable).with_name("ccpor-hub"))
    step("the court's scan station drops a Kofax batch; the DMS adapter (a process of its own, zeep over the WSDL)")
    dms_dir = (DATA / "dms").resolve()
    config = _adapter_config(
        dms_dir, server, tls, "la-court-dms", passwords["la-court-dms"],
        f'[dms]\ninbox = "inbox"\ncourt_ori = "{COURT}"\ntrigger_file = "READY"\npoll_seconds = 0.5\n'
        'source_system = "LA-KOFAX"\nsubmit_to_carpos = true\n',
    )  # fmt: skip
    batch = [
        (sample.record("24FL-SCAN-1", "DUCK", RestrainedFirstName="DONALD"), "0001.tif", sample.tiff(3, "demo")),
        (sample.record("24FL-SCAN-2", "NGUYEN", RestrainedRace="", Conditions=""), "0002.pdf", PDF),
    ]
    sample.kofax_batch(dms_dir / "inbox" / "LA-DEMO-001", batch)
    with open(dms_dir / "adapter.log", "wb") as log:
        dms = subprocess.Popen([cli, "adapter", "dms", str(config)], stdout=log, stderr=log)  # noqa: S603
    try:
        receipt = _until(lambda: (dms_dir / "done" / "LA-DEMO-001" / "receipt.txt").is_file(), "the batch filed")
        assert receipt
        for line in (dms_dir / "done" / "LA-DEMO-001" / "receipt.txt").read_text(encoding="utf-8").splitlines()[1:]:
            print("  " + line.replace("\t", "  "))
        order_id = court.service.SearchOrders(Criteria={"CaseDocketID": "24FL-SCAN-1"}).Item[0].OrderId
        clets = _client(server.wsdl, tls, "la-court-clets", passwords["la-court-clets"])
        print(f"  {order_id} (3-page TIFF attached): DOJ answered {_carpos_status(clets, order_id)}")
        print(f"  the incomplete record is a quick attach for a clerk; {dms_dir / 'done'} holds the filed batch")
    finally:
        dms.terminate()
        dms.wait(timeout=30)
    step("shared entry: the court saves the basics as a draft; the Los Angeles Sheriff's RMS completes it")
    basics = _order("24FL-SHARED-1", "MOUSE", "MINNIE")
    for missing in ("ProtectionOrderCondition", "ProtectionOrderBradyIndicator"):
        basics.pop(missing)
    draft = court.service.SaveDraft(Order=basics).OrderId
    rms_dir = (DATA / "rms").resolve()
    config = _adapter_config(
        rms_dir, server, tls, "la-sheriff-rms", passwords["la-sheriff-rms"],
        '[rms]\nfolder = "exchange"\npoll_seconds = 0.5\nstable_seconds = 0.5\n',
    )  # fmt: skip
    with open(rms_dir / "adapter.log", "wb") as log:
        rms = subprocess.Popen([cli, "adapter", "rms", str(config)], stdout=log, stderr=log)  # noqa: S603
    try:
        exchange = rms_dir / "exchange"
        _until(lambda: (exchange / "out" / f"{draft}.xml").is_file(), "the draft handed out")
        print(f"  ListAwaitingCompletion -> {exchange / 'out' / (draft + '.xml')} (the order as GetOrder answers it)")
        completion = f"OrderId: {draft}\r\nVersion: 1\r\nConditions: 01,04,05\r\nStayAwayYards: 100\r\nBrady: Y\r\n"
        (exchange / "in" / f".{draft}.tmp").write_text(completion, encoding="cp1252")
        os.replace(exchange / "in" / f".{draft}.tmp", exchange / "in" / f"{draft}.txt")
        print(f"  the RMS writes {exchange / 'in' / (draft + '.txt')}: the CARPOS fields it completed")
        note = exchange / "done" / f"{draft}.txt.receipt.txt"
        _until(note.is_file, "the completion submitted")
        print(f"  submitted by the sheriff: {note.read_text(encoding='utf-8').strip()}")
        clets = _client(server.wsdl, tls, "la-court-clets", passwords["la-court-clets"])
        sheriff_rms = _client(server.wsdl, tls, "la-sheriff-rms", passwords["la-sheriff-rms"], digest=True)
        queue = [i.OrderId for i in sheriff_rms.service.ListAwaitingCompletion().Item]
        where = "still in" if draft in queue else "no longer in"
        print(f"  {draft}: DOJ answered {_carpos_status(clets, draft)}; it is {where} the sheriff's queue")
    finally:
        rms.terminate()
        rms.wait(timeout=30)


def step(text: str) -> None:
    print(f"\n== {text}")


def main() -> int:
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    url = f"sqlite:///{(DATA / 'ccpor.db').resolve()}"
    step(f"migrating a fresh SQLite database at {DATA / 'ccpor.db'}")
    migrate.upgrade(url)
    names = (
        "la-court-dms",
        "la-court-clets",
        "la-sheriff",
        "la-sheriff-rms",
        "jc-admin",
        "imperial-faccts",
        "court-service",
    )
    passwords = {name: secrets.token_urlsafe(18) for name in names}
    step("making the demo's keys: a master key, a development CA, the hub's and DOJ's CARPOS key pairs")
    env = carpos_environment(DATA.resolve())  # ccpor-hub keys master + ccpor-hub keys init var/demo/carpos-keys
    env |= {"CCPOR_DATABASE_URL": url, "CCPOR_GATEWAY_POLL_SECONDS": "0.5", "CCPOR_DOJ_SEED_RECORDS": "200"}
    print(f"  {DATA / 'carpos-keys'}: ca.pem, hub.pem + hub.key, doj.pem + doj.key (keys encrypted under master keys)")
    tls = development_tls(DATA.resolve() / "tls", days=1)
    print(f"  {DATA / 'tls'}: a development CA and the hub's TLS certificate for 127.0.0.1 (thrown away with the demo)")
    step("adding the accounts (ccpor-hub users add, each audited)")
    _add_users({"CCPOR_DATA_DIR": str(DATA.resolve()), "CCPOR_DATABASE_URL": url}, passwords)
    print(
        "accounts: la-court-dms (QUERY_UPDATE, court CA019015J, PasswordDigest), la-court-clets (QUERY_ONLY, CLETS,"
        " the court's), la-sheriff (QUERY_ONLY, CLETS, CA0190000), jc-admin (ADMINISTRATOR), imperial-faccts"
        " (Imperial's FACCTS, CA013013J, PasswordDigest), la-sheriff-rms (the sheriff's RMS adapter, QUERY_UPDATE,"
        " PasswordDigest here; mutual TLS in production); passwords generated, held by this demo process and,"
        " for the two adapters, in their password files (mode 0600) under var/demo"
    )

    step("starting it all with ccpor-hub run --mock-doj: the hub (HTTPS), the worker (gateway and jobs), the switch")
    server = HubRun(DATA.resolve(), env, tls).start()
    print(f"  hub {server.url}; switch {env['CCPOR_DOJ_URL']} (its database seeded with 200 other agencies' orders)")
    court_service = CourtServer(DATA.resolve() / "court", passwords["court-service"]).start()
    try:
        # The court system proves itself with PasswordDigest (nonce + created), the sheriff with PasswordText.
        court = _client(server.wsdl, tls, "la-court-dms", passwords["la-court-dms"], digest=True)
        sheriff = _client(server.wsdl, tls, "la-sheriff", passwords["la-sheriff"])
        print(f"WSDL: {server.wsdl}")

        step("court DMS submits three orders (SubmitOrder), entering them in CARPOS (SubmitToCarposIndicator)")
        receipts = [
            court.service.SubmitOrder(Order=_order(f"24FL00{n}", surname, given), SubmitToCarposIndicator=True)
            for n, (surname, given) in enumerate([("MOUSE", "MICKEY"), ("MOOSE", "MORRIS"), ("GEESE", "GARY")], start=1)
        ]
        for r in receipts:
            print(f"  {r.OrderId} version {r.Version} {r.OrderStatus}")
        carpos_wsdl = f"{server.url}/ws/carpos?wsdl"
        clets = _client(carpos_wsdl, tls, "la-court-clets", passwords["la-court-clets"])
        carpos = _client(carpos_wsdl, tls, "la-sheriff", passwords["la-sheriff"])
        step("the gateway seals each EPO (AES-256-GCM + RSA-OAEP, RSA-SHA256 signature); DOJ answers with FCNs")
        started = time.monotonic()
        for r in receipts:
            status = _carpos_status(sheriff, r.OrderId)
            print(f"  {r.OrderId}: CARPOS {status} after {time.monotonic() - started:.2f}s")
        step("the court's CLETS-certified clerk reads DOJ's answers (ListCarposMessages)")
        answers = clets.service.ListCarposMessages(Criteria={"NeedsActionOnlyIndicator": False})
        for m in sorted(answers.Message, key=lambda m: m.OrderId):
            print(f"  {m.OrderId} {m.MessageKey} -> {m.Kind} FCN {m.FileControlNumber}   ({m.CarposText[0]})")
        try:
            dms = _client(carpos_wsdl, tls, "la-court-dms", passwords["la-court-dms"], digest=True)
            dms.service.ListCarposMessages()
        except zeep.exceptions.Fault as fault:
            print(f"  the court's DMS account is not CLETS certified: {fault.code.split(':')[-1]}: {fault.message}")
        again = court.service.SubmitOrder(Order=_order("24FL001", "MOUSE", "MICKEY"))
        print(
            f"  resubmitting message DEMO-24FL001: same receipt {again.OrderId}, duplicate={again.DuplicateIndicator}"
        )

        step("Imperial's FACCTS is a DSP917 court: the operator points the hub at its response service")
        done = subprocess.run(
            [str(Path(sys.executable).with_name("ccpor-hub")), "dsp917", "court", IMPERIAL, "--carpos",
             "--response-url", court_service.url, "--username", "ccpor-hub", "--password-stdin"],
            input=passwords["court-service"] + "\n", env={**os.environ, **env},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        print(f"  {done.stdout.strip()}")
        step("FACCTS sends a DSP917 notification (the official sample, made current) to /ws/dsp917")
        faccts = ("imperial-faccts", passwords["imperial-faccts"])
        notification = dsp917_notification("130000217093", "130000008814", "00003236")
        print(f"  ISB receipt: {_dsp917_post(server.url, tls, notification, *faccts)}")
        held = etree.fromstring(dsp917_sample("DSP917_Request.xml"))  # the official sample exactly as sent
        print(f"  the official sample as sent: {_dsp917_post(server.url, tls, held, *faccts)[:160]}...")
        step("the court's service gets its business responses: the CCPOR order id at once, the FCN once DOJ accepts")
        store = CourtStore.existing(court_service.database_url)
        try:
            for _ in range(300):
                received = store.received()
                if sum(1 for r in received if r.correlation_id == "130000217093") >= 2 and len(received) >= 3:
                    break
                time.sleep(0.1)
            for r in received:
                said = f"FCN {r.control_number}" if r.control_number else (r.error_code or "")
                print(f"  {r.document_id:22} CorrelationId {r.correlation_id}: {r.order_id or '-'} {said}")
        finally:
            store.close()

        _partner_adapters(server, tls, court, passwords)

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
            "CourtOrderServiceDate": COURTS.today(),
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

        step("the CLETS-certified sheriff queries CARPOS for a person CCPOR never saw (QueryCarpos)")
        fields = registry.seed_records(200, 1)[42][3]
        surname, given = dict(fields)["NAM"].split(",")
        dob = dict(fields)["DOB"]
        asked = carpos.service.QueryCarpos(
            Query={
                "PersonSurName": surname,
                "PersonGivenName": given,
                "PersonBirthDate": date(int(dob[:4]), int(dob[4:6]), int(dob[6:])),
            }
        )
        print(f"  {asked.MessageControlNumber} is {asked.QueryStatus}: the hub answers at once, DOJ in its own time")
        for _ in range(60):  # the client asks again until DOJ's answer is in (GetCarposQueryResult)
            time.sleep(0.5)
            found = carpos.service.GetCarposQueryResult(MessageControlNumber=asked.MessageControlNumber)
            if found.QueryStatus != "PENDING":
                break
        n = len(found.Record)
        print(f"  GetCarposQueryResult {found.MessageControlNumber}: {found.QueryStatus}, {n} record{'s' * (n != 1)}")
        for r in found.Record[:3]:
            print(
                f"  {found.QueryStatus}: FCN {r.FileControlNumber} {r.RestrainedPersonName} {r.ProtectionOrderTypeCode}"
                f" entered by {r.EnteringAgencyORIIdentification} ({r.AgencyCaseIdentification}),"
                f" expires {r.CourtOrderExpirationDate}"
            )

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
        admin = _client(f"{server.url}/ws/admin?wsdl", tls, "jc-admin", passwords["jc-admin"])
        for held in admin.service.SearchLockedOrders(CountyCode="19").Lock:
            admin.service.UnlockOrder(
                OrderId=held.OrderId, LockedDateTime=held.LockedDateTime, ReasonText="demo: clerk went home"
            )
            print(f"  UnlockOrder {held.OrderId} (held by {held.LockedByName})")

        step("the administrator looks at the queue (ListQueue): CARPOS messages and business responses, states only")
        for _ in range(100):  # the SPO and the XPO the demo caused are on their way
            q = admin.service.ListQueue()
            if not any(c.State in ("QUEUED", "SENT") for c in q.StateCount):
                break
            time.sleep(0.1)
        print("  " + ", ".join(f"{c.State} {c.Count}" for c in q.StateCount))
        for m in q.Message[:6]:
            print(f"  {m.MessageControlNumber:18} {m.MessageKey} {m.State:9} attempts {m.AttemptCount}")

        step("the administrator reads the audit trail (SearchAudit, newest first)")
        now = utcnow()
        events = admin.service.SearchAudit(
            Criteria={"FromDateTime": now - timedelta(hours=1), "ToDateTime": now + timedelta(minutes=1)}
        )
        for e in events.Event[:8]:
            print(
                f"  #{e.Sequence:<3} {e.Category:6} {e.Username:13} {e.Operation:18} {e.Target or '-':14} {e.Outcome}"
                + (f" -- {e.Detail}" if e.Detail else "")
            )
        print(f"  ... {events.TotalCount} events in all")
        for client in (court, sheriff, admin, carpos, clets):
            client.transport.session.close()

        step("the administrator's web console: sign in at /console (a browser does the same)")
        _console(server.url, tls, "jc-admin", passwords["jc-admin"])
        if sys.stdin.isatty():
            print(
                f"\n  Open {server.url}/console in a browser (it will warn about the demo's own CA, {tls.ca}) and"
                f" sign in as jc-admin with {passwords['jc-admin']} -- a throwaway demo account."
            )
            input("  Press Enter to stop the demo. ")
    finally:
        step("stopping ccpor-hub run (SIGTERM: it stops the hub, the worker and the switch, gracefully) and the court")
        court_service.stop()
        code = server.stop()
        print(f"  ccpor-hub run exited with status {code}")
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
        "Run it yourself: ccpor-hub keys master; ccpor-hub users add NAME --org ORI --role ADMINISTRATOR;"
        " ccpor-hub run --mock-doj --tls-cert CERT --tls-key KEY; then open /console (README, 'First ten minutes')"
    )
    return 0 if code == 0 and verify.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
