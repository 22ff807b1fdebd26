"""The mock court over real HTTP: one ``ccpor-hub mock-court serve`` (two gunicorn workers) for the
module, called with zeep from the WSDL it serves, as the hub will call a court."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree
from zeep.plugins import HistoryPlugin
from zeep.wsse.username import UsernameToken

from hub import ns
from hub.contract import Dsp917, dsp917_sample, dsp917_wsdl_path, validate_dsp917
from hub.runner import CourtServer
from mocks.court.faults import Faults
from mocks.court.store import CourtStore, PasswordType, Received

pytestmark = pytest.mark.functional

PASSWORD = "the court's response password"  # noqa: S105 - a test court's
USER = "ccpor-hub"
ANSWER = "DSP917_Business_Response.xml"
ERROR = "DSP917_Error_Business_Response.xml"
_SOAP = f"{{{ns.SOAP11_ENV}}}"


@pytest.fixture(scope="module")
def court(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourtServer]:
    server = CourtServer(tmp_path_factory.mktemp("court"), PASSWORD).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def store(court: CourtServer) -> Iterator[CourtStore]:
    opened = CourtStore.existing(court.database_url)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def no_faults(store: CourtStore) -> Iterator[None]:
    yield
    store.clear_faults()


@pytest.fixture(scope="module")
def hub(court: CourtServer) -> Iterator[zeep.Client]:
    """The hub's side: zeep from the served WSDL, the raw answers kept (``hub.history``)."""
    with requests.Session() as session:
        client = zeep.Client(court.wsdl, transport=zeep.Transport(session=session), plugins=[HistoryPlugin()])
        yield client


def token(password: str = PASSWORD, user: str = USER, digest: bool = True, **more: object) -> UsernameToken:
    return UsernameToken(user, password, use_digest=digest, **more)


def message(name: str = ANSWER, fresh: bool = True) -> etree._Element:
    """An official sample; ``fresh``: with new DocumentId, CorrelationId and ISBTransactionId, so that
    what a test finds in the ledger is its own."""
    root = etree.fromstring(dsp917_sample(name))
    if fresh:
        header = root.find(f"{{{ns.ISB_HEADER}}}ISBCommonServiceHeader")
        for name_ in ("DocumentId", "CorrelationId", "ISBTransactionId"):
            header.find(name_).text = f"{name_[:3].upper()}-{uuid.uuid4().hex[:12]}"
    return root


def _fields(hub: zeep.Client, element: etree._Element) -> dict[str, object]:
    parsed = hub.get_element(Dsp917.RESP_INPUT.tag).parse(element, hub.wsdl.types)
    return {name: parsed[name] for name in parsed}


def notify(hub: zeep.Client, element: etree._Element, wsse: UsernameToken | None = None) -> object:
    """The typed call: zeep builds Notify from the message (parsed by its own types) and reads the answer."""
    hub.wsse = wsse or token()
    return hub.service.Notify(**_fields(hub, element))


def post(hub: zeep.Client, element: etree._Element, wsse: UsernameToken | None = None, edit=None) -> requests.Response:
    """Notify as zeep builds it (``edit`` may change the envelope first), the answer as it came."""
    hub.wsse = wsse or token()
    envelope = hub.create_message(hub.service, "Notify", **_fields(hub, element))
    if edit:
        edit(envelope)
    address = hub.service._binding_options["address"]
    return hub.transport.post_xml(address, envelope, {"Content-Type": "text/xml; charset=utf-8"})


def fault_code(answer: requests.Response) -> str:
    return etree.fromstring(answer.content).find(f"{_SOAP}Body/{_SOAP}Fault").findtext("faultcode").split(":")[-1]


def header_of(element: etree._Element, name: str) -> str:
    return element.find(f"{{{ns.ISB_HEADER}}}ISBCommonServiceHeader").findtext(name)


def last_received(store: CourtStore, element: etree._Element) -> list[Received]:
    return [r for r in store.received() if r.correlation_id == header_of(element, "CorrelationId")]


def test_the_served_wsdl_is_the_official_one_at_the_court_s_address(court, hub):
    served = requests.get(court.wsdl, timeout=10).content
    official = dsp917_wsdl_path("DSP917CAJUDResp").read_bytes()
    assert served == official.replace(b"https://localhost:25301", court.url.split("/portal")[0].encode())
    assert hub.service._binding_options["address"] == court.url
    assert [op for op in hub.service._binding._operations] == ["Notify"]


@pytest.mark.parametrize("name", [ANSWER, ERROR])
def test_an_official_sample_as_sent_is_received_answered_and_recorded(hub, store, name):
    sent = message(name, fresh=False)
    answer = notify(hub, sent)
    receipt = hub.plugins[0].last_received["envelope"].find(f"{_SOAP}Body")[0]
    assert validate_dsp917(receipt, Dsp917.RESP_OUTPUT) == []
    common = answer.ISBCommonResponseMessage
    assert common.Status == "Success" and common.Message.startswith("received as entry")
    assert common.CorrelationId == header_of(sent, "CorrelationId")
    assert common.ISBTransactionId == header_of(sent, "ISBTransactionId")
    assert common.DocumentId == (header_of(sent, "DocumentId") or None)
    stamp = hub.plugins[0].last_sent["envelope"].findtext(".//TimeStamp")  # as zeep wrote it
    assert receipt.findtext(f".//{{{ns.ISB_RESPONSE}}}TimeStamp") == stamp
    (row,) = last_received(store, sent)
    assert row.password_type is PasswordType.DIGEST and row.username == USER and not row.over_tls
    assert not row.duplicate
    assert validate_dsp917(etree.fromstring(row.xml), Dsp917.RESP_INPUT) == []
    if name == ANSWER:
        assert (row.order_id, row.control_number, row.order_type, row.errors) == (
            "120000005919",
            "555555555",
            "TRO",
            (),
        )
    else:
        assert row.document_id is None and row.order_id is None and row.error_code == "450000"
        assert row.error_text.startswith("Transaction cannot be processed")


def test_every_response_is_recorded_in_arrival_order_and_a_second_delivery_is_flagged(hub, store):
    before = len(store.received())
    sent = [message(ERROR if i % 2 else ANSWER) for i in range(4)]
    for element in sent:
        notify(hub, element)
    again = notify(hub, sent[1])
    assert "received before: recorded as a duplicate" in again.ISBCommonResponseMessage.Message
    rows = store.received()[before:]
    assert [r.document_id for r in rows] == [header_of(e, "DocumentId") for e in [*sent, sent[1]]]
    assert [r.duplicate for r in rows] == [False, False, False, False, True]
    assert [r.id for r in rows] == sorted(r.id for r in rows)


def test_an_invalid_payload_is_a_validation_fault_and_nothing_is_received(hub, store):
    sent = message()
    before = len(store.received())

    def without_order_id(envelope: etree._Element) -> None:
        order = envelope.find(f".//{{{ns.DSP917_RESP}}}OrderIdentification")
        order.getparent().remove(order)

    answer = post(hub, sent, edit=without_order_id)
    assert answer.status_code == 500 and fault_code(answer) == "Client.ValidationError"
    violations = etree.fromstring(answer.content).findall(f".//{{{ns.ORDERS_SERVICE}}}Violation")
    assert violations and "OrderIdentification" in etree.tostring(violations[0]).decode()
    assert len(store.received()) == before
    assert store.refused()[-1].code == "Client.ValidationError" and "OrderIdentification" in store.refused()[-1].reason


@pytest.mark.parametrize(
    "wsse",
    [token("not the password"), token(user="someone-else"), token("not the password", digest=False)],
    ids=["wrong-digest", "wrong-user", "wrong-text"],
)
def test_wrong_credentials_are_refused_and_recorded(hub, store, wsse):
    sent = message()
    with pytest.raises(zeep.exceptions.Fault) as refused:
        notify(hub, sent, wsse)
    assert refused.value.code.split(":")[-1] == "Client.Authentication"
    assert last_received(store, sent) == []
    last = store.refused()[-1]
    assert last.code == "Client.Authentication" and last.correlation_id == header_of(sent, "CorrelationId")


def test_password_text_is_taken_and_recorded_as_such(hub, store):
    sent = message()
    notify(hub, sent, token(digest=False))
    (row,) = last_received(store, sent)
    assert row.password_type is PasswordType.TEXT and not row.over_tls


def test_a_reused_nonce_or_a_stale_digest_is_refused(hub, store):
    created = datetime.now(UTC)
    notify(hub, message(), token(nonce=uuid.uuid4().hex, created=created))
    replayed = token(nonce=hub.wsse.nonce, created=created)
    with pytest.raises(zeep.exceptions.Fault, match="nonce was used before"):
        notify(hub, message(), replayed)
    with pytest.raises(zeep.exceptions.Fault, match="created more than 300 seconds ago"):
        notify(hub, message(), token(created=created - timedelta(minutes=10)))
    assert [r.code for r in store.refused()[-2:]] == ["Client.Authentication"] * 2


def test_a_court_that_is_down_answers_503_until_it_is_up_again(hub, store):
    sent = message()
    store.set_faults(down=True)
    for _ in range(2):  # every call, whichever worker takes it
        answer = post(hub, sent)
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
        assert fault_code(answer) == "Server.Unavailable"
    assert last_received(store, sent) == []
    assert store.set_faults(down=False) == Faults()
    assert post(hub, sent).status_code == 200 and len(last_received(store, sent)) == 1


def test_fail_next_fails_that_many_calls_then_takes_them_again(hub, store):
    store.set_faults(fail_next=2)
    sent = [message() for _ in range(3)]
    answers = [post(hub, element) for element in sent]
    assert [a.status_code for a in answers] == [500, 500, 200]
    assert [fault_code(a) for a in answers[:2]] == ["Server.InjectedFailure"] * 2
    assert [len(last_received(store, e)) for e in sent] == [0, 0, 1] and store.faults() == Faults()


def test_an_error_rate_of_one_fails_every_call(hub, store):
    store.set_faults(error_rate=1.0)
    assert [post(hub, message()).status_code for _ in range(3)] == [500] * 3


def test_latency_holds_every_call(hub, store):
    store.set_faults(latency_ms=400)
    started = time.monotonic()
    notify(hub, message())
    assert time.monotonic() - started >= 0.4


def _laughs(tail: bytes) -> bytes:
    entities = b"".join(b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, 10))
    return b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY l0 "lol">' + entities + b"]>" + tail


@pytest.mark.parametrize(
    "hostile",
    [
        lambda body: b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + body.replace(b"DSP917_RESP", b"&e;"),
        lambda body: _laughs(body.replace(b"DSP917_RESP", b"&l9;")),
        lambda body: body.replace(b"<soap-env:Body>", b"<soap-env:Body><?evil x?>"),
    ],
    ids=["external-entity", "billion-laughs", "processing-instruction"],
)
def test_hostile_xml_is_refused_and_the_court_keeps_serving(court, hub, store, hostile):
    sent = message()
    hub.wsse = token()
    envelope = hub.create_message(hub.service, "Notify", **_fields(hub, sent))
    body = hostile(etree.tostring(envelope))
    with requests.post(court.url, data=body, headers={"Content-Type": "text/xml"}, timeout=30) as answer:
        assert answer.status_code == 500 and fault_code(answer) == "Client.HostileXml"
    assert last_received(store, sent) == [] and store.refused()[-1].code == "Client.HostileXml"
    notify(hub, sent)  # the same message, well-formed, still goes in
    assert len(last_received(store, sent)) == 1


def cli_path(court: CourtServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        [court.argv[0], "mock-court", *args], env={**court.env, **env}, capture_output=True, text=True, timeout=60
    )


def test_the_command_line_changes_the_faults_and_prints_the_ledger(court, hub, store, tmp_path: Path):
    shown = cli_path(court, "faults", "--fail-next", "1", "--latency-ms", "5", "--down")
    assert shown.returncode == 0 and shown.stdout.startswith("down: yes, latency: 5 ms, fail-next: 1")
    assert store.faults() == Faults(down=True, latency_ms=5, fail_next=1)
    assert cli_path(court, "faults", "--clear").stdout.startswith(
        "down: no, latency: 0 ms, fail-next: 0, error rate: 0.0"
    )
    notify(hub, message())
    ledger = json.loads(cli_path(court, "ledger", "--json").stdout)
    assert [r["document_id"] for r in ledger["received"]] == [r.document_id for r in store.received()]
    assert ledger["received"][-1]["password_type"] == PasswordType.DIGEST
    assert [r["code"] for r in ledger["refused"]] == [r.code for r in store.refused()]
    elsewhere = {"CCPOR_COURT_DATA_DIR": str(tmp_path / "never-ran"), "CCPOR_COURT_DATABASE_URL": ""}
    missing = cli_path(court, "ledger", **elsewhere)
    assert missing.returncode == 1 and "no database yet" in missing.stderr and not (tmp_path / "never-ran").exists()


# ---------------------------------------------------------------------- a court that requires mutual TLS


@pytest.fixture(scope="module")
def tls_court(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CourtServer, Path]]:
    """The mock court over https requiring a client certificate from the development CA (as a court
    behind the branch's PKI would): the gateway's transport must present the hub's."""
    from hub.runner import development_tls

    directory = tmp_path_factory.mktemp("tls-court")
    tls = development_tls(directory / "tls", mutual=True)
    server = CourtServer(directory, PASSWORD, tls=tls).start()
    try:
        yield server, directory
    finally:
        server.stop()


def _gateway_identity(directory: Path):  # type: ignore[no-untyped-def]
    """The hub gateway's development client certificate, its key wrapped by ``ccpor-hub keys wrap``
    under a master key of its own (as an operator installs one from the court's PKI)."""
    import os
    import stat

    from gateway.keys import ClientIdentity
    from hub import masterkey
    from hub.runner import cli_path

    master_file = directory / "gateway-master.key"
    wrapped = directory / "ccpor-gateway.wrapped.key"
    if not wrapped.exists():
        masterkey.create(master_file)
        done = subprocess.run(  # noqa: S603 - our own CLI
            [cli_path(), "keys", "wrap", str(wrapped)],
            input=(directory / "tls" / "ccpor-gateway.key").read_bytes(),
            capture_output=True,
            timeout=60,
            env={**os.environ, "CCPOR_MASTER_KEY_FILE": str(master_file), "CCPOR_DATA_DIR": str(directory)},
        )
        assert done.returncode == 0, done.stderr
        assert b"BEGIN ENCRYPTED PRIVATE KEY" in wrapped.read_bytes()
        assert stat.S_IMODE(wrapped.stat().st_mode) == 0o600
    return ClientIdentity(directory / "tls" / "ccpor-gateway.pem", wrapped, masterkey.load(master_file))


def _court_envelope(element: etree._Element) -> bytes:
    """A business response as the gateway's CourtSender sends it (PasswordDigest)."""
    envelope = etree.Element(f"{_SOAP}Envelope", nsmap={"soapenv": ns.SOAP11_ENV})
    etree.SubElement(envelope, f"{_SOAP}Header")
    etree.SubElement(envelope, f"{_SOAP}Body").append(element)
    envelope, _ = token().apply(envelope, {})
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def test_the_gateway_presents_the_hubs_certificate_to_a_court_that_requires_one(tls_court):
    from gateway.court import CourtTransport

    court, directory = tls_court
    ca = str(directory / "tls" / "ca.pem")
    answer = message()
    transport = CourtTransport(timeout=10, ca_file=ca, client=_gateway_identity(directory))
    try:
        receipt = transport.post(court.url, _court_envelope(answer))
    finally:
        transport.close()
    assert receipt.status == "QUEUED", receipt.reason
    store = CourtStore.existing(court.database_url)
    try:
        assert len(last_received(store, answer)) == 1
        without = message()
        for client, trusted, why in (
            (None, ca, "TLS: |Connection"),
            (_gateway_identity(directory), None, "certificate is not trusted"),
        ):
            transport = CourtTransport(timeout=10, ca_file=trusted, client=client)
            try:
                refused = transport.post(court.url, _court_envelope(without))
            finally:
                transport.close()
            assert refused.failed and re.search(why, refused.reason or ""), refused.reason
        assert last_received(store, without) == []  # neither got through the handshake
    finally:
        store.close()


def test_a_client_key_in_the_clear_or_under_another_master_key_is_refused_at_start(tls_court, tmp_path):
    from gateway.court import CourtTransport
    from gateway.keys import ClientIdentity, KeyFileError
    from hub import masterkey

    _, directory = tls_court
    wrapped = _gateway_identity(directory)
    clear = ClientIdentity(wrapped.cert, directory / "tls" / "ccpor-gateway.key", wrapped.master)
    with pytest.raises(KeyFileError, match="not encrypted"):
        CourtTransport(client=clear)
    # A key in the clear with the words of an encrypted one beside it is still in the clear.
    disguised = tmp_path / "disguised.key"
    disguised.write_bytes(b"# -----BEGIN ENCRYPTED PRIVATE KEY----- (not really)\n" + clear.key.read_bytes())
    with pytest.raises(KeyFileError, match="not encrypted"):
        CourtTransport(client=ClientIdentity(wrapped.cert, disguised, wrapped.master))
    only_words = tmp_path / "words.key"
    only_words.write_bytes(b"ENCRYPTED PRIVATE KEY\n" + clear.key.read_bytes())
    with pytest.raises(KeyFileError, match="not encrypted"):
        CourtTransport(client=ClientIdentity(wrapped.cert, only_words, wrapped.master))
    other = ClientIdentity(wrapped.cert, wrapped.key, masterkey.create(tmp_path / "other.key"))
    with pytest.raises(KeyFileError, match="does not open with this master key"):
        CourtTransport(client=other)
