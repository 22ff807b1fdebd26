"""The fuzz sweep (issue 10): no input to any operation of any SOAP service gives a Server fault, a
bare HTTP error or a traceback in the log.

The services -- the hub's /ws/orders, /ws/admin and /ws/carpos and the mock DOJ switch's
/doj/switch -- run in-process (docs/DECISIONS.md 24) on one migrated SQLite database for the
module, with the switch and the CARPOS gateway in-process beside the hub (tests/support/codec.py).
The world is seeded through the services themselves: orders of every state (accepted and rejected
by CARPOS, draft, cancelled, served, sealed, locked, of another court), images, quick attaches,
DOJ's answers, a notice, a query. Requests then come from tests/support/xsdfuzz.py, for every
operation:

- ``test_schema_valid_requests``: what the operation's XSD allows, random and boundary values, with
  hints of ids that exist, belong to another organization, or do not exist; from accounts of every
  role (administrators, clerks, readers, CLETS-certified users, a sheriff, another county's court),
  by PasswordText, PasswordDigest and X.509 signature, and now and then from nobody;
- ``test_mutated_requests``: the same, then broken (removed, doubled, renamed elements, values of
  the wrong type, xsi:nil, comments inside a text);
- ``test_entry_point_mutations`` (per service): HTTP headers, encodings, the envelope, header blocks,
  security tokens and signatures;
- ``test_generated_requests_pass_the_hub_s_schema_check``: the generator keeps its promise;
- ``test_the_gateway_takes_in_what_the_sweep_left`` (last): the CARPOS gateway sends what the
  fuzzed calls queued and reads what the switch answered to the fuzzed transmissions.

Every answer must pass ``xsdfuzz.check_answer`` (SOAP 1.1, HTTP 200 with the operation's response
or a ``Client.*``/``VersionMismatch``/``MustUnderstand`` fault), and nothing may be logged at ERROR
or with a traceback. Writes accumulate in the module's database; that is part of the fuzzing.

``make test`` runs a bounded pass: ``EXAMPLES`` examples per operation and property, derandomized
(the same examples every run, so a red run is a regression, not a lucky draw). A deeper pass draws
fresh random examples::

    CCPOR_FUZZ_EXAMPLES=300 .venv/bin/python -m pytest -q tests/property/test_fuzz_services.py

(add ``CCPOR_FUZZ_DATABASE=postgresql`` to run the hub on a fresh PostgreSQL database instead).

``KNOWN_SERVER_FAULTS`` lists the failures found and not yet fixed, each with the issue item that
fixes it: a failing example that matches one is passed over (a hypothesis event names it), and
``test_known_server_fault_still_happens`` keeps each one's minimal reproduction as a strict xfail --
when the fix lands it XPASSes, and the entry moves to ``FIXED_SERVER_FAULTS``, whose reproductions
``test_a_server_fault_the_sweep_found_stays_fixed`` keeps answering well (issue 10's sweep found
ten, all fixed).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import select

from hub import ids, ns
from hub.accounts.service import ACCOUNT_SECRETS, add_user, register_certificate
from hub.api.app import ADMIN, CARPOS, ORDERS, Services, create_app
from hub.api.wsse import PASSWORD_DIGEST
from hub.api.wssig import sign_envelope
from hub.carpos import codec
from hub.carpos.envelope import Header, MessageKey, Transmission
from hub.carpos.envelope import from_xml as transmission_from_xml
from hub.codes import Role
from hub.contract import contract_dir, validate_request
from hub.db import migrate
from hub.db.models import CarposInboxMessage, Image, Order, OutboxMessage, QuickAttach
from hub.orders.document import OrderDocument
from hub.settings import Settings
from mocks.doj import registry
from mocks.doj.service import SWITCH
from mocks.doj.service import create_app as switch_app
from tests.conftest import PASSWORD, empty_database, make_user
from tests.support import xsdfuzz
from tests.support.carpos import DOJ_ORI, Exchange, KeySet, exchange
from tests.support.certs import self_signed
from tests.support.orders import envelope, order, order_element, proof, tiny_pdf, tiny_tiff

#: Examples per operation and property; set: a deeper, random pass.
EXAMPLES = int(os.environ.get("CCPOR_FUZZ_EXAMPLES") or 0)
#: The hub's database: sqlite (``make test``), or postgresql (at CCPOR_TEST_PG_URL) for a deeper pass.
DATABASE = os.environ.get("CCPOR_FUZZ_DATABASE") or "sqlite"
FUZZ = settings(
    max_examples=EXAMPLES or 6,
    derandomize=not EXAMPLES,
    database=None if not EXAMPLES else settings.default.database,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
#: The entry point's mutations are many kinds per service, not one operation each: four times as many.
FUZZ_ENTRY = settings(FUZZ, max_examples=4 * FUZZ.max_examples)

SOAP = ns.SOAP11_ENV
WSSE, WSU = ns.WSSE, ns.WSU
LA_COURT, SD_COURT, LA_SHERIFF, SD_SHERIFF = "CA019015J", "CA037015J", "CA0190000", "CA0370000"
ORIS = [LA_COURT, SD_COURT, LA_SHERIFF, SD_SHERIFF, "CA0300000", "CA0010000", "CA0590000", "CA058015J"]

#: (username, organization, role, CLETS-certified). Every fuzzing account; admin calls never name them.
ACCOUNTS = {
    "clerk": (LA_COURT, Role.QUERY_UPDATE, False),
    "sealed-clerk": (LA_COURT, Role.QUERY_UPDATE_SEALED, False),
    "reader": (LA_COURT, Role.QUERY_ONLY, False),
    "sealed-reader": (LA_SHERIFF, Role.QUERY_ONLY_SEALED, False),
    "la-deputy": (LA_SHERIFF, Role.QUERY_UPDATE, False),
    "sd-clerk": (SD_COURT, Role.QUERY_UPDATE, False),
    "admin": (LA_COURT, Role.ADMINISTRATOR, False),
    "clets-admin": (LA_COURT, Role.ADMINISTRATOR, True),
    "clets-clerk": (LA_COURT, Role.QUERY_UPDATE, True),
    "clets-reader": (LA_COURT, Role.QUERY_ONLY, True),
    "clets-sd-clerk": (SD_COURT, Role.QUERY_UPDATE, True),
    "lockme": (LA_COURT, Role.QUERY_UPDATE, False),  # only ever sent wrong passwords
}
DIGEST_USER, SIGNER = "digest-dms", "rms-signer"  # PasswordDigest; X.509 signatures (both Q&U, LA court)
#: The accounts administrators' calls change (disable, re-role, move, unlock).
VICTIMS = ["victim-a", "victim-b", "victim-c"]

#: (username, how it proves itself): "text", "digest", "signature", "wrong" password, "none".
Caller = tuple[str, str]
_ANONYMOUS: list[Caller] = [("", "none"), ("no-such-user", "text"), ("lockme", "wrong")]
CALLERS: dict[str, list[Caller]] = {
    "orders": [
        *[(u, "text") for u in ("clerk", "clerk", "sealed-clerk", "reader", "sealed-reader", "la-deputy")],
        *[(u, "text") for u in ("sd-clerk", "clets-clerk", "admin")],
        (DIGEST_USER, "digest"),
        (SIGNER, "signature"),
        *_ANONYMOUS,
    ],
    "admin": [("admin", "text"), ("admin", "text"), ("clets-admin", "text"), ("clerk", "text"), *_ANONYMOUS],
    "carpos": [
        *[(u, "text") for u in ("clets-clerk", "clets-clerk", "clets-reader", "clets-sd-clerk", "clets-admin")],
        ("clerk", "text"),
        *_ANONYMOUS,
    ],
    "switch": [("", "none")],  # the switch trusts the sealed transmissions, not the caller
}


@dataclass(frozen=True)
class Service:
    name: str
    path: str
    namespace: str
    xsd: str
    operations: tuple[str, ...]


SERVICES = [
    Service(name, spec.path, spec.namespace, spec.xsd, tuple(sorted(op.name for op in spec.bindings().operations())))
    for name, spec in (("orders", ORDERS), ("admin", ADMIN), ("carpos", CARPOS), ("switch", SWITCH))
]
BY_NAME = {s.name: s for s in SERVICES}
OPERATIONS = [pytest.param(s, op, id=f"{s.name}-{op}") for s in SERVICES for op in s.operations]


# ------------------------------------------------------------------------------------ the world


@dataclass(repr=False)
class World:
    """The hub's and the switch's applications, the seeded ids, the generators, the log."""

    hub: Services
    apps: dict[str, Any]
    keyset: KeySet
    carpos: Exchange
    signer_key: Any
    signer_cert: Any
    logs: xsdfuzz.LogCapture
    found: dict[str, list[str]] = field(default_factory=dict)
    instances: dict[str, xsdfuzz.SchemaInstances] = field(default_factory=dict)

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return "World(...)"

    def send(self, service: str, body: bytes, **environ: Any) -> xsdfuzz.Answer:
        return xsdfuzz.call(self.apps[service], BY_NAME[service].path, body, **environ)

    def ok(self, service: str, operation: str, params: list[tuple[Any, ...]], user: str = "clerk") -> etree._Element:
        """Call ``operation`` as ``user`` (seeding): its response element, which must not be a fault."""
        body = envelope(operation, params, username=user, password=PASSWORD, service=BY_NAME[service].namespace)
        answer = self.send(service, body)
        assert answer.fault is None, answer.describe()
        return answer.root

    def request(self, operation: etree._Element, caller: Caller) -> bytes:
        """A SOAP 1.1 envelope around ``operation`` with the caller's credentials."""
        env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP})
        username, how = caller
        if how in ("text", "wrong", "digest"):
            header = etree.SubElement(env, f"{{{SOAP}}}Header")
            header.append(username_token(username, PASSWORD if how != "wrong" else "not the password", how))
        etree.SubElement(env, f"{{{SOAP}}}Body").append(operation)
        if how == "signature":
            sign_envelope(env, self.signer_key, self.signer_cert)
        return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def username_token(username: str, password: str, how: str = "text", created: str | None = None) -> etree._Element:
    security = etree.Element(f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    token = etree.SubElement(security, f"{{{WSSE}}}UsernameToken")
    etree.SubElement(token, f"{{{WSSE}}}Username").text = username
    if how != "digest":
        etree.SubElement(token, f"{{{WSSE}}}Password").text = password
        return security
    nonce = os.urandom(16)  # fresh each call: a replayed nonce is refused (rightly, but not what we test)
    created = created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest())  # noqa: S324
    etree.SubElement(token, f"{{{WSSE}}}Password", Type=PASSWORD_DIGEST).text = digest.decode()
    etree.SubElement(token, f"{{{WSSE}}}Nonce").text = base64.b64encode(nonce).decode()
    etree.SubElement(token, f"{{{WSU}}}Created").text = created
    return security


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, keyset: KeySet) -> Iterator[World]:
    data = tmp_path_factory.mktemp("fuzz-hub")
    with empty_database(DATABASE, data) as url:
        if DATABASE == "sqlite":
            shutil.copy(sqlite_template, data / "hub.db")
        else:
            migrate.upgrade(url)
        yield from _world(data, url, keyset, tmp_path_factory.mktemp("fuzz-switch"))


def _world(data: Path, url: str, keyset: KeySet, switch_dir: Path) -> Iterator[World]:
    settings_ = Settings(
        data_dir=data,
        database_url=url,
        master_key_file=str(keyset.directory / "master.key"),  # the gateway's vault opens what the hub seals
        dev_password_text_over_http=True,  # PasswordText callers in-process, from loopback, as the test hubs
    )
    hub = Services.build(settings_)
    for name, (ori, role, clets) in ACCOUNTS.items():
        make_user(hub.db, name, ori=ori, role=role, clets=clets)
    for name in VICTIMS:
        make_user(hub.db, name)
    signer_key, signer_cert = self_signed("Fuzz RMS", rsa_bits=None)
    with hub.db.unit_of_work() as s:
        add_user(s, DIGEST_USER, ori=LA_COURT, role=Role.QUERY_UPDATE, clets=False, password=PASSWORD,
                 digest_sealer=hub.key.sealer(ACCOUNT_SECRETS))  # fmt: skip
        add_user(s, SIGNER, ori=LA_COURT, role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
        register_certificate(s, SIGNER, signer_cert.public_bytes(Encoding.PEM))
    doj = exchange(hub.db, keyset, switch_dir)
    with doj.switch.db.unit_of_work() as s:
        registry.seed(s, 20, 5, datetime.now(UTC))
    logs = xsdfuzz.LogCapture()
    w = World(
        hub=hub,
        apps={"orders": create_app(hub), "switch": switch_app(doj.switch, settings_)},
        keyset=keyset,
        carpos=doj,
        signer_key=signer_key,
        signer_cert=signer_cert,
        logs=logs,
    )
    w.apps["admin"] = w.apps["carpos"] = w.apps["orders"]
    with logs.installed():
        seed(w)
        w.instances = {
            s.name: xsdfuzz.SchemaInstances(contract_dir("xsd") / s.xsd, hints(w)) for s in SERVICES
        }  # fmt: skip
        assert not logs.problems(), logs.problems()
        yield w
    hub.db.dispose()
    doj.switch.db.dispose()


def seed(w: World) -> None:
    """Orders of every state and the CARPOS traffic around them, made through the services."""

    def submit(user: str = "clerk", carpos_: bool = False, **fields: Any) -> str:
        params: list[tuple[Any, ...]] = [("Order", order(**fields))]
        if carpos_:
            params.append(("SubmitToCarposIndicator", True))
        return w.ok("orders", "SubmitOrder", params, user).findtext(f".//{{{ns.ORDERS_SERVICE}}}OrderId")

    sd_court = {"OrganizationORIIdentification": SD_COURT, "OrganizationName": "San Diego Superior Court"}
    accepted = submit(carpos_=True, CaseDocketID="24FLFUZZ01")
    submit(carpos_=True, CaseDocketID="24FLFUZZ01")  # DOJ has it on file already: REJECTED
    submit("clets-sd-clerk", carpos_=True, CourtOrderIssuingCourt=sd_court)
    with_image = submit()
    w.ok("orders", "AttachImage", [("OrderId", with_image), ("Document", {"Base64BinaryObject": _b64(tiny_pdf("fuzz"))},
                                                           ns.ORDERS_SERVICE)])  # fmt: skip
    cancelled, served, locked = submit(), submit(), submit()
    w.ok("orders", "CancelOrder", [("OrderId", cancelled), ("Version", 1), ("CancelReasonCode", "ENTERED-IN-ERROR")])
    w.ok("orders", "ServeOrder", [("OrderId", served), ("Version", 1), ("ProofOfService", proof())])
    w.ok("orders", "LockOrder", [("OrderId", locked)])
    submit("sealed-clerk", SealedIndicator=True)
    sd_order = submit("sd-clerk", CourtOrderIssuingCourt=sd_court)
    w.ok("orders", "LockOrder", [("OrderId", sd_order)], "sd-clerk")
    draft = {"CourtOrderIssuingCourt": {"OrganizationORIIdentification": LA_COURT}, "CaseDocketID": "24FLDRAFT1"}
    w.ok("orders", "SaveDraft", [("Order", draft)])
    for user in ("clerk", "sd-clerk"):
        upload = {"CaseDocketID": "24FLQA0001", "PersonSurName": "MOUSE",
                  "Document": {"Base64BinaryObject": _b64(tiny_tiff())}}  # fmt: skip
        w.ok("orders", "AddQuickAttach", [("QuickAttach", upload, ns.ORDERS_SERVICE)], user)
    w.carpos.clock.now = datetime.now(UTC) + timedelta(seconds=1)
    w.carpos.run()
    fcn = w.carpos.fcn(accepted)
    assert fcn, "the seeded order was not accepted by the switch"
    w.carpos.switch.notice(LA_COURT, fcn, "RECORD REVIEWED BY DOJ", oca=accepted)
    query = {"PersonSurName": "MOUSE", "PersonGivenName": "MICKEY", "PersonBirthDate": date(1980, 5, 17)}
    w.ok("carpos", "QueryCarpos", [("Query", query, ns.CARPOS_SERVICE)], "clets-clerk")
    w.carpos.clock.now = datetime.now(UTC) + timedelta(seconds=1)
    w.carpos.run()

    with w.hub.db.read() as s:
        locked_at = s.scalars(select(Order.locked_at).where(Order.locked_at.is_not(None)))
        w.found = {
            "OrderId": [ids.public(ids.ORDER, i) for i in s.scalars(select(Order.id))],
            "ImageId": [ids.public(ids.IMAGE, i) for i in s.scalars(select(Image.id))],
            "QuickAttachId": [ids.public(ids.QUICK_ATTACH, i) for i in s.scalars(select(QuickAttach.id))],
            "MessageId": [ids.public(ids.CARPOS_MESSAGE, i) for i in s.scalars(select(CarposInboxMessage.id))],
            "MessageControlNumber": list(s.scalars(select(OutboxMessage.mcn))),
            "FileControlNumber": [fcn],
            "Rejected": [
                ids.public(ids.CARPOS_MESSAGE, i)
                for i in s.scalars(select(CarposInboxMessage.id).where(CarposInboxMessage.kind == "REJ"))
            ],
            "LockedDateTime": [t.isoformat() for t in locked_at],
            "CaseDocketID": sorted(set(s.scalars(select(Order.case_number)))),
        }
    kinds = {kind for kind, _, _ in w.carpos.inbox()}
    assert kinds >= {"ACK", "REJ", "NTC", "QRY"}, kinds
    assert len(w.found["LockedDateTime"]) == 2


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ------------------------------------------------------------------------------------ the hints


def _known(found: list[str], *strangers: str) -> st.SearchStrategy[str]:
    return st.sampled_from([*found, *strangers])


def _stamps(moment: datetime) -> list[str]:
    """One instant written the ways the services' svc:ZonedDateTimeType allows: in UTC (offset or Z)
    and in Pacific time. (Without a zone it is refused by the schema: the mutants send that.)"""
    pacific = moment.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles"))
    return [moment.isoformat(), moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), pacific.isoformat()]


def hints(w: World) -> xsdfuzz.Hints:
    """Values that reach deeper than random ones: ids that exist (of every kind, state and owner),
    ids of the right shape that do not, real images, times that bracket the seeded events."""
    f = w.found
    now = datetime.now(UTC)
    sd_court = {"OrganizationORIIdentification": SD_COURT}
    recent = st.sampled_from([now - timedelta(days=d) for d in (0, 1, 30, 366)] + [now + timedelta(days=1)])
    orders = st.one_of(
        st.builds(lambda case: order_element(order(CaseDocketID=case)), st.sampled_from(f["CaseDocketID"])),
        st.just(order_element(order(CourtOrderIssuingCourt=sd_court))),
        st.just(order_element(order(SealedIndicator=True))),
        st.sampled_from(f["ImageId"] + f["QuickAttachId"]).map(
            lambda ref: order_element(
                order(DocumentReference={"ImageId" if ref.startswith("IMG") else "QuickAttachId": ref})
            )
        ),
    )
    return {
        "OrderId": _known(f["OrderId"], "CCP0000000000", "CCP2147483647", "CCP2147483648", "CCP9999999999"),
        "ImageId": _known(f["ImageId"], "IMG0000000000", "IMG9999999999", f["OrderId"][0]),
        "QuickAttachId": _known(f["QuickAttachId"], "QAT0000000000"),
        "MessageId": _known(f["MessageId"], "CMS0000000000", "CMS2147483648"),
        "MessageControlNumber": _known(f["MessageControlNumber"], "CCP0000000001-999", "Q"),
        "FileControlNumber": _known(f["FileControlNumber"], "0000000000000", "9999999999999"),
        "Version": st.integers(1, 4).map(str),
        "Username": _known(VICTIMS, "no-such-user"),
        **{k: _known(ORIS) for k in ("OrganizationORIIdentification", "CourtORIIdentification")},
        **{k: _known(ORIS) for k in ("LockedByORIIdentification", "IssuingCourtORIIdentification")},
        "LockedDateTime": st.sampled_from(
            [t for s in f["LockedDateTime"] for t in _stamps(datetime.fromisoformat(s))]
        ),  # fmt: skip
        "FromDateTime": recent.flatmap(lambda t: st.sampled_from(_stamps(t - timedelta(days=1)))),
        "ToDateTime": recent.flatmap(lambda t: st.sampled_from(_stamps(t))),
        "Base64BinaryObject": st.sampled_from([_b64(tiny_pdf("hint")), _b64(tiny_tiff()), _b64(b"%PDF-1.4\n"), ""]),
        "Order": orders,
        "CaseDocketID": _known(f["CaseDocketID"]),
        "PersonSurName": st.sampled_from(["MOUSE", "DUCK", "Mouse", "O'MOUSE"]),
        "type:SearchPatternType": st.sampled_from(["M%", "M__SE%", "%SE", "M__SE", "mouse", "%", "_", "*", "24FL%"]),
        "PersonBirthDate": st.just("1980-05-17"),
        "SealedTransmission": sealed_transmissions(w),
    }


def carpos_lines(w: World) -> st.SearchStrategy[str]:
    """CARPOS text lines a sender might put in a transmission: real transactions and near misses."""
    fcn = w.found["FileControlNumber"][0]
    doc = OrderDocument(order_element(order()))
    epo = codec.encode(codec.from_order(doc, mke=codec.Mke.EPO, ori=LA_COURT, oca="CCP0000000901"))
    changes = [  # as the gateway sends them, and with an FCN DOJ never gave
        _line(mke, [("ORI", LA_COURT), ("OCA", "CCP0000000001"), ("FCN", f)])
        for mke in ("MPO", "SPO", "CPO", "XPO")
        for f in (fcn, "0190000000000")
    ]
    query = _line("QPO", [("ORI", LA_COURT), ("NAM", "MOUSE,MICKEY"), ("DOB", "19800517")])
    codes = ["ORI", "NAM", "DOB", "FCN", "OCA", "PNO", "CTI", "EXP", "ISD", "PCO", "SVD", "NCIC", ""]
    printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
    ncic_ish = st.builds(
        _line,
        st.sampled_from([m.value for m in codec.Mke] + ["ACK", "XXX", ""]),
        st.lists(st.tuples(st.sampled_from(codes), printable)),
    )
    return st.one_of(st.sampled_from([epo, query, *changes]), ncic_ish).filter(lambda t: 0 < len(t) <= 4000)


def _line(mke: str, pairs: list[tuple[str, str]]) -> str:
    """NCIC-style text as written by hand (``codec.encode`` refuses what CARPOS would reject)."""
    return ".".join([mke, *(f"{c}/{v}" for c, v in pairs)])


def sealed_transmissions(w: World) -> st.SearchStrategy[str]:
    """Base64 of sealed tx:Transmissions: generated from carpos-transmission.xsd (its header and
    lines, mostly addressed to DOJ), sealed with the hub's key as the gateway would seal them."""
    shapes = xsdfuzz.SchemaInstances(
        contract_dir("xsd") / "carpos-transmission.xsd",
        {
            "CarposText": carpos_lines(w),
            "SenderORI": _known([LA_COURT, SD_COURT, LA_SHERIFF]),
            "DestinationORI": _known([DOJ_ORI, DOJ_ORI, "CAFBI0000"]),
        },
    )
    now = datetime.now(UTC)

    def seal(element: etree._Element) -> str:
        try:
            t = transmission_from_xml(element)
        except Exception:  # noqa: BLE001 - odd header values the codec does not take: same lines, plain header
            lines = tuple(e.text or "" for e in element.iter("{*}CarposText"))
            t = Transmission(Header("FUZZ-1", LA_COURT, DOJ_ORI, MessageKey.EPO, now, now), lines)
        return _b64(w.keyset.hub_channel().seal(t))

    return shapes.element("Transmission").map(seal)


# -------------------------------------------------------------------------------- the properties


def examine(w: World, service: Service, operation: str | None, answer: xsdfuzz.Answer, request: bytes) -> None:
    """The property of every answer, and of the log it left; a known fault is passed over."""
    problems = w.logs.problems()
    try:
        xsdfuzz.check_answer(answer, operation, service.namespace)
        assert not problems, "\n".join(problems)
    except AssertionError:
        known = next((k for k in KNOWN_SERVER_FAULTS if k.matches(service.name, request, answer, problems)), None)
        if known is None:
            raise
        event(f"known Server fault, {known.item}: {known.what}")


def caller(service: Service) -> st.SearchStrategy[Caller]:
    return st.sampled_from(CALLERS[service.name])


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize(("service", "operation"), OPERATIONS)
def test_schema_valid_requests(world, service, operation, data):
    element = data.draw(world.instances[service.name].element(operation), label="operation")
    who = data.draw(caller(service), label="caller")
    send_and_examine(world, service, operation, element, who, f"as {who}", who[1])


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize(("service", "operation"), OPERATIONS)
def test_mutated_requests(world, service, operation, data):
    element = data.draw(world.instances[service.name].element(operation), label="operation")
    kind, mutant = data.draw(xsdfuzz.mutants(element), label="mutant")
    who = data.draw(caller(service), label="caller")
    send_and_examine(world, service, operation, mutant, who, f"({kind}) as {who}", kind)


def send_and_examine(world, service, operation, element, who, described: str, tally: str) -> None:  # type: ignore[no-untyped-def]
    """Send ``element`` as ``who`` and examine the answer (``described`` in the note, ``tally`` in the event)."""
    body = world.request(element, who)
    note(f"request {described}: {body.decode()}")
    world.logs.records.clear()
    answer = world.send(service.name, body)
    event(f"{tally}: {answer.fault_code or 'OK'}")
    examine(world, service, operation, answer, body)


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize(("service", "operation"), OPERATIONS)
def test_generated_requests_pass_the_hub_s_schema_check(world, service, operation, data):
    """The generator's promise, checked with the validator the hub uses (libxml2): what
    test_schema_valid_requests sends reaches the handlers, not just the schema check."""
    element = data.draw(world.instances[service.name].element(operation), label="operation")
    assert validate_request(element, service.xsd) == [], etree.tostring(element)


# ------------------------------------------------------------------------- the entry point itself

_CONTENT_TYPES = [
    "text/xml",
    "TEXT/XML; charset=UTF-8",
    "application/xml",
    "",
    "application/soap+xml; charset=utf-8",
    "multipart/related; boundary=x",
    "text/plain",
    "application/json",
    "text/xml; charset=latin-1",
    "text/xml; charset=nonsense",
    None,
]
_CONTENT_LENGTHS = ["", "abc", "-1", "0", "+5", " 12 ", "99999999999999999999", "1e3"]
_EXTREME_TIMES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2024-01-01T24:00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-01-01T00:00:00",
    "not a time",
    "",
    "2024-01-01T00:00:00.123456789Z",
    "+10000-01-01T00:00:00Z",
]


def _envelope_of(body: bytes) -> etree._Element:
    return etree.fromstring(body)


def _security(root: etree._Element) -> etree._Element:
    header = root.find(f"{{{SOAP}}}Header")
    if header is None:
        header = etree.Element(f"{{{SOAP}}}Header")
        root.insert(0, header)
    security = header.find(f"{{{WSSE}}}Security")
    if security is None:
        security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    return security


def _with_token(root: etree._Element, token: etree._Element) -> None:
    header = root.find(f"{{{SOAP}}}Header")
    if header is not None:
        root.remove(header)
    root.insert(0, etree.Element(f"{{{SOAP}}}Header"))
    root[0].append(token)


@st.composite
def entry_mutations(draw: st.DrawFn, w: World, service: Service) -> tuple[str, bytes, dict[str, Any]]:
    """(what, the request bytes, WSGI environ overrides): one structural change to a good request."""
    operation = draw(st.sampled_from(service.operations))
    element = draw(w.instances[service.name].element(operation))
    who = draw(caller(service))
    body = w.request(element, who)
    kind = draw(
        st.sampled_from(
            [
                "content-type",
                "content-length",
                "encoding",
                "envelope",
                "header-block",
                "token",
                "digest",
                "signature",
                "hostile",
            ]
        )  # fmt: skip
    )
    environ: dict[str, Any] = {}
    root = _envelope_of(body)
    if kind == "content-type":
        environ["CONTENT_TYPE"] = draw(st.sampled_from(_CONTENT_TYPES))
    elif kind == "content-length":
        value = draw(st.one_of(st.sampled_from(_CONTENT_LENGTHS), st.integers(0, len(body) + 10).map(str)))
        environ["CONTENT_LENGTH"] = value
    elif kind == "encoding":
        how = draw(st.sampled_from(["utf-16", "bom", "no-declaration", "latin-1", "leading-space", "trailing"]))
        if how == "utf-16":
            body = etree.tostring(root, xml_declaration=True, encoding="UTF-16")
        elif how == "bom":
            body = b"\xef\xbb\xbf" + body
        elif how == "no-declaration":
            body = etree.tostring(root)
        elif how == "latin-1":
            body = etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")
        elif how == "leading-space":
            body = b"\n  " + body
        else:
            body = body + draw(st.sampled_from([b"<extra/>", b"garbage", b"\x00", b"<!-- c -->", b"\n"]))
        return f"encoding {how}", body, environ
    elif kind == "envelope":
        how = draw(
            st.sampled_from(
                [
                    "soap12",
                    "no-namespace",
                    "no-body",
                    "empty-body",
                    "two-operations",
                    "text-body",
                    "two-bodies",
                    "header-after-body",
                    "two-headers",
                    "foreign-operation",
                    "body-attribute",
                    "encoding-style",
                ]
            )  # fmt: skip
        )
        body_el = root.find(f"{{{SOAP}}}Body")
        if how == "soap12":
            for el in root.iter(f"{{{SOAP}}}*"):
                el.tag = "{http://www.w3.org/2003/05/soap-envelope}" + etree.QName(el).localname
        elif how == "no-namespace":
            for el in root.iter(f"{{{SOAP}}}*"):
                el.tag = etree.QName(el).localname
        elif how == "no-body":
            root.remove(body_el)
        elif how == "empty-body":
            body_el[:] = []
        elif how == "two-operations":
            body_el.append(etree.fromstring(etree.tostring(body_el[0])))
        elif how == "text-body":
            body_el[:] = []
            body_el.text = "hello"
        elif how == "two-bodies":
            root.append(etree.fromstring(etree.tostring(body_el)))
        elif how == "header-after-body":
            header = root.find(f"{{{SOAP}}}Header")
            if header is not None:
                root.append(header)
        elif how == "two-headers":
            root.insert(0, etree.Element(f"{{{SOAP}}}Header"))
        elif how == "foreign-operation":
            other = draw(st.sampled_from([s for s in SERVICES if s is not service]))
            body_el[:] = [draw(w.instances[other.name].element(draw(st.sampled_from(other.operations))))]
        elif how == "body-attribute":
            body_el.set(f"{{{SOAP}}}mustUnderstand", "1")
        else:
            root.set(f"{{{SOAP}}}encodingStyle", "http://schemas.xmlsoap.org/soap/encoding/")
        kind = f"envelope {how}"
    elif kind == "header-block":
        header = root.find(f"{{{SOAP}}}Header")
        if header is None:
            header = etree.Element(f"{{{SOAP}}}Header")
            root.insert(0, header)
        block = draw(st.sampled_from(["unknown", "security"]))
        value = draw(st.sampled_from(["1", "true", "0", "false", "yes", " 1", ""]))
        if block == "unknown" or not len(header):
            etree.SubElement(header, "{urn:example:stranger}Routing").set(f"{{{SOAP}}}mustUnderstand", value)
        else:
            header[0].set(f"{{{SOAP}}}mustUnderstand", value)
            header[0].set(f"{{{SOAP}}}actor", draw(st.sampled_from(["", "http://schemas.xmlsoap.org/soap/actor/next"])))
        kind = f"header-block {block} mustUnderstand={value!r}"
    elif kind == "token":
        how = draw(
            st.sampled_from(
                [
                    "two-security",
                    "empty-security",
                    "stranger-in-security",
                    "two-tokens",
                    "no-username",
                    "no-password",
                    "empty-password",
                    "password-type",
                    "long-username",
                    "odd-username",
                    "username-attributes",
                ]
            )  # fmt: skip
        )
        security = _security(root)
        token = security.find(f"{{{WSSE}}}UsernameToken")
        if token is None:
            token = username_token("clerk", PASSWORD)[0]
            security.append(token)
        if how == "two-security":
            security.addnext(username_token("clerk", PASSWORD))
        elif how == "empty-security":
            security[:] = []
        elif how == "stranger-in-security":
            strangers = [
                f"{{{WSSE}}}SecurityTokenReference",
                "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion",
                "{http://www.w3.org/2001/04/xmlenc#}EncryptedKey",
            ]
            etree.SubElement(security, draw(st.sampled_from(strangers)))
        elif how == "two-tokens":
            security.append(etree.fromstring(etree.tostring(token)))
        elif how == "no-username":
            for el in token.findall(f"{{{WSSE}}}Username"):
                token.remove(el)
        elif how == "no-password":
            for el in token.findall(f"{{{WSSE}}}Password"):
                token.remove(el)
        elif how == "empty-password":
            for el in token.findall(f"{{{WSSE}}}Password"):
                el.text = draw(st.sampled_from(["", " ", None]))
        elif how == "password-type":
            for el in token.findall(f"{{{WSSE}}}Password"):
                el.set("Type", draw(st.sampled_from(["", "PasswordText", "#PasswordDigest", "urn:x"])))
        elif how == "long-username":
            token.find(f"{{{WSSE}}}Username").text = "a" * draw(st.sampled_from([65, 300, 20000]))
        elif how == "odd-username":
            token.find(f"{{{WSSE}}}Username").text = draw(st.sampled_from(xsdfuzz.ODD_TEXTS + ["clerk\n", " clerk "]))
        else:
            token.set(f"{{{WSU}}}Id", "UsernameToken-1")
        kind = f"token {how}"
    elif kind == "digest":
        how = draw(st.sampled_from(["created", "nonce", "encoding-type", "no-created", "wrong-digest"]))
        token_el = username_token(DIGEST_USER, PASSWORD, "digest")
        t = token_el[0]
        if how == "created":
            created = draw(st.sampled_from(_EXTREME_TIMES))
            token_el = username_token(DIGEST_USER, PASSWORD, "digest", created=created)
            kind = f"digest created={created!r}"
        elif how == "nonce":
            t.find(f"{{{WSSE}}}Nonce").text = draw(
                st.sampled_from(["", "!!!", "AAAA", _b64(b"x" * 200), " " + _b64(b"12345678")])
            )
        elif how == "encoding-type":
            t.find(f"{{{WSSE}}}Nonce").set("EncodingType", draw(st.sampled_from(["", "hex", "urn:x"])))
        elif how == "no-created":
            t.remove(t.find(f"{{{WSU}}}Created"))
        else:
            t.find(f"{{{WSSE}}}Password").text = _b64(b"0" * 20)
        _with_token(root, token_el)
        kind = kind if kind.startswith("digest created") else f"digest {how}"
    elif kind == "signature":
        how, root = draw(signature_mutations(w, root))
        kind = f"signature {how}"
    else:
        how = draw(st.sampled_from(["doctype", "entity", "pi", "deep", "wide", "cdata", "comment-first"]))
        text = etree.tostring(root).decode()
        if how == "doctype":
            body = b'<?xml version="1.0"?><!DOCTYPE x [<!ELEMENT x ANY>]>' + text.encode()
        elif how == "entity":
            body = b'<!DOCTYPE e [<!ENTITY a "aaaaaaaaaa">]>' + text.replace("</soap:Body>", "&a;</soap:Body>").encode()
        elif how == "pi":
            body = b"<?php evil ?>" + text.encode()
        elif how == "deep":
            depth = draw(st.sampled_from([39, 41, 200]))
            body = text.replace("</soap:Body>", "<a>" * depth + "</a>" * depth + "</soap:Body>").encode()
        elif how == "wide":
            body = text.replace("</soap:Body>", "<a/>" * 20001 + "</soap:Body>").encode()
        elif how == "cdata":
            body = text.replace("<soap:Body>", "<soap:Body><![CDATA[x]]>").encode()
        else:
            body = b"<!-- first -->" + text.encode()
        return f"hostile {how}", body, environ
    return kind, etree.tostring(root, xml_declaration=True, encoding="UTF-8"), environ


@st.composite
def signature_mutations(draw: st.DrawFn, w: World, root: etree._Element) -> tuple[str, etree._Element]:
    """A signed request made wrong in one way, or a Signature element that is no signature at all."""
    header = root.find(f"{{{SOAP}}}Header")
    if header is not None:
        root.remove(header)
    how = draw(
        st.sampled_from(
            [
                "tampered-body",
                "garbage-signature",
                "bad-token",
                "foreign-cert",
                "timestamp",
                "no-timestamp",
                "signature-value",
                "duplicate-id",
                "moved-body",
            ]
        )  # fmt: skip
    )
    if how == "garbage-signature":
        security = _security(root)
        sig = etree.SubElement(security, "{http://www.w3.org/2000/09/xmldsig#}Signature")
        for _ in range(draw(st.integers(0, 3))):
            etree.SubElement(sig, "{http://www.w3.org/2000/09/xmldsig#}" + draw(
                st.sampled_from(["SignedInfo", "SignatureValue", "KeyInfo", "Object", "Reference"])
            )).text = draw(st.sampled_from(["", "AAAA", "!!", "x" * 100]))  # fmt: skip
        return how, root
    signed = sign_envelope(root, w.signer_key, w.signer_cert)
    security = signed.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security")
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    if how == "tampered-body":
        leaf = [e for e in signed.find(f"{{{SOAP}}}Body").iter(etree.Element) if len(e) == 0][-1]
        leaf.text = (leaf.text or "") + "1"
    elif how == "bad-token":
        security.find(f"{{{WSSE}}}BinarySecurityToken").text = draw(
            st.sampled_from(["", "AAAA", "!!!", _b64(b"not a certificate"), _b64(os.urandom(600))])
        )
    elif how == "foreign-cert":
        _, stranger = self_signed("Stranger", rsa_bits=None)
        security.find(f"{{{WSSE}}}BinarySecurityToken").text = _b64(stranger.public_bytes(Encoding.DER))
    elif how == "timestamp":
        ts = security.find(f"{{{WSU}}}Timestamp")
        ts.find(f"{{{WSU}}}{draw(st.sampled_from(['Created', 'Expires']))}").text = draw(
            st.sampled_from(_EXTREME_TIMES)
        )
    elif how == "no-timestamp":
        security.remove(security.find(f"{{{WSU}}}Timestamp"))
    elif how == "signature-value":
        value = security.find(f"{ds}Signature/{ds}SignatureValue")
        value.text = draw(st.sampled_from(["", "AAAA", "!!!!", (value.text or "") + "=", " " + (value.text or "")]))
    elif how == "duplicate-id":
        body = signed.find(f"{{{SOAP}}}Body")
        copy_ = etree.fromstring(etree.tostring(body))
        security.append(copy_)
    else:  # the signed Body moved into the header, a new one in its place (signature wrapping)
        body = signed.find(f"{{{SOAP}}}Body")
        security.append(etree.fromstring(etree.tostring(body)))
        body[:] = [etree.fromstring(etree.tostring(body[0]))]
    return how, signed


@FUZZ_ENTRY
@given(data=st.data())
@pytest.mark.parametrize("service", SERVICES, ids=[s.name for s in SERVICES])
def test_entry_point_mutations(world, service, data):
    what, body, environ = data.draw(entry_mutations(world, service), label="mutation")
    note(f"request ({what}, environ {environ}): {body!r}")
    world.logs.records.clear()
    answer = world.send(service.name, body, **environ)
    event(f"{what.split(' ')[0]}: {answer.fault_code or 'OK'}")
    operation = None
    if answer.fault is None and answer.root is not None:
        operation = etree.QName(answer.root.find(f"{{{SOAP}}}Body")[0]).localname.removesuffix("Response")
    examine(world, service, operation, answer, body)


def test_the_gateway_takes_in_what_the_sweep_left(world):
    """After the sweep (this test runs last of the properties): the CARPOS gateway sends what the
    fuzzed calls queued (EPOs of valid orders, their changes, queries, resubmissions) and reads
    everything the switch mailed back, including its answers to the fuzzed transmissions -- with
    nothing logged at ERROR and no traceback."""
    world.logs.records.clear()
    world.carpos.clock.now = datetime.now(UTC) + timedelta(seconds=1)
    world.carpos.run(rounds=50)
    problems = [
        p for p in world.logs.problems() if not any(k.matches("gateway", b"", None, [p]) for k in KNOWN_SERVER_FAULTS)
    ]
    assert not problems, "\n".join(problems)
    sent = [state for _, mke, state, _ in world.carpos.messages() if mke != "QPO"]
    assert sent and "QUEUED" not in sent, sent  # the sweep's valid orders went to DOJ, and were answered


# --------------------------------------------------------------------------- known Server faults


@dataclass(frozen=True)
class KnownFault:
    """A Server fault (or bare 500, or logged traceback) the sweep found, to be fixed by ``item``.

    A failing example is this fault when it goes to one of ``services`` (and ``operations``, if
    named), ``applies`` holds for its request envelope, and one of ``symptoms`` is in the answer or
    the log. ``repro`` builds the minimal reproduction: (service, request bytes).
    """

    item: str
    what: str
    services: tuple[str, ...]
    operations: tuple[str, ...]
    applies: Callable[[etree._Element], bool]
    symptoms: tuple[str, ...]
    repro: Callable[[World], tuple[str, bytes]]

    def matches(self, service: str, request: bytes, answer: xsdfuzz.Answer | None, problems: list[str]) -> bool:
        """Is this failure (of a request to ``service``; or of the gateway: ``service`` "gateway",
        no request of its own) this known fault?"""
        seen = "\n".join([answer.describe() if answer else "", *problems])
        if service not in self.services or not any(symptom in seen for symptom in self.symptoms):
            return False
        if service == "gateway":
            return True
        try:
            root = etree.fromstring(request)
        except etree.XMLSyntaxError:
            return False
        body = root.find(f"{{{SOAP}}}Body")
        operation = etree.QName(body[0]).localname if body is not None and len(body) else None
        return (not self.operations or operation in self.operations) and self.applies(root)


def _texts(root: etree._Element, *names: str) -> list[str]:
    """The texts of the elements of ``root`` (header or body) with these local names, as sent."""
    return [e.text or "" for e in root.iter(etree.Element) if etree.QName(e).localname in names]


def _call(
    service: str, who: Caller, operation: str, params: list[tuple[Any, ...]]
) -> Callable[[World], tuple[str, bytes]]:
    """A reproduction: ``operation`` with ``params`` (as tests.support.orders.envelope takes them)."""

    def build(w: World) -> tuple[str, bytes]:
        body = envelope(operation, params, service=BY_NAME[service].namespace)
        return service, w.request(etree.fromstring(body).find(f"{{{SOAP}}}Body")[0], who)

    return build


def _digest_created(created: str) -> Callable[[World], tuple[str, bytes]]:
    def build(w: World) -> tuple[str, bytes]:
        env = etree.fromstring(envelope("GetOrder", [("OrderId", "CCP0000000001")]))
        env.insert(0, etree.Element(f"{{{SOAP}}}Header"))
        env[0].append(username_token(DIGEST_USER, PASSWORD, "digest", created=created))
        return "orders", etree.tostring(env)

    return build


def _signed_without_value(w: World) -> tuple[str, bytes]:
    """GetOrder signed by the registered signer, its SignatureValue then emptied (anyone who has seen
    one signed message has the certificate; no private key is needed)."""
    env = sign_envelope(etree.fromstring(envelope("GetOrder", [("OrderId", "CCP0000000001")])), w.signer_key,
                        w.signer_cert)  # fmt: skip
    env.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureValue").text = ""
    return "orders", etree.tostring(env)


def _long_mcn_transmission(w: World) -> tuple[str, bytes]:
    """A query sealed by the hub's key under a 21-character MCN (the schema allows 24)."""
    now = datetime.now(UTC)
    text = _line("QPO", [("ORI", LA_COURT), ("NAM", "MOUSE,MICKEY"), ("DOB", "19800517")])
    sealed = w.keyset.hub_channel().seal(
        Transmission(Header("Q" * 21, LA_COURT, DOJ_ORI, MessageKey.QPO, now, now), (text,))
    )
    return "switch", envelope("SubmitTransmissions", [("SealedTransmission", _b64(sealed))], service=SWITCH.namespace)


def _acknowledge_reject(w: World) -> tuple[str, bytes]:
    return _call(
        "carpos", ("clets-clerk", "text"), "AcknowledgeCarposMessage", [("MessageId", w.found["Rejected"][0])]
    )(w)


_ZONE = re.compile(r"(Z|[+-][0-9]{2}:[0-9]{2})$")
_DATE_TIMES = ("FromDateTime", "ToDateTime", "LockedDateTime")
#: What Spyne answers when decoding a request failed in a way it does not map (logged by no one).
_SPYNE_SERVER_FAULT = "<faultcode>soap11env:Server</faultcode><faultstring>Internal Error</faultstring>"
_AUDIT_SPAN = {"FromDateTime": "2026-01-01T00:00:00Z", "ToDateTime": "2026-01-02T00:00:00Z"}

#: Faults the sweep found and issue 10 fixed: each reproduction must stay answered well.
FIXED_SERVER_FAULTS: list[KnownFault] = [
    KnownFault(
        "issue 10 item 10",
        "SearchAudit with a FromDateTime or ToDateTime without a time zone",
        ("admin",),
        ("SearchAudit",),
        lambda root: any(not _ZONE.search(t.strip()) for t in _texts(root, "FromDateTime", "ToDateTime")),
        ("can't compare offset-naive and offset-aware datetimes", "naive datetime given to a UTC column"),
        _call(
            "admin",
            ("admin", "text"),
            "SearchAudit",
            [("Criteria", {k: v.rstrip("Z") for k, v in _AUDIT_SPAN.items()}, ns.ADMIN_SERVICE)],
        ),
    ),
    KnownFault(
        "issue 10 item 10 (every xs:dateTime the hub accepts, all three services)",
        "UnlockOrder with LockedDateTime at 24:00:00 (XSD 1.0's end of the day): bare HTTP 500",
        ("admin",),
        ("UnlockOrder",),
        lambda root: any("T24:00:00" in t for t in _texts(root, *_DATE_TIMES)),
        ("hour must be in 0..23", _SPYNE_SERVER_FAULT),
        _call(
            "admin",
            ("admin", "text"),
            "UnlockOrder",
            [("OrderId", "CCP0000000001"), ("LockedDateTime", "2026-01-01T24:00:00Z"), ("ReasonText", "stuck")],
        ),
    ),
    KnownFault(
        "issue 10 item 10 (every xs:dateTime the hub accepts, all three services)",
        "SearchAudit with ToDateTime at 24:00:00 (XSD 1.0's end of the day): bare HTTP 500",
        ("admin",),
        ("SearchAudit",),
        lambda root: any("T24:00:00" in t for t in _texts(root, *_DATE_TIMES)),
        ("hour must be in 0..23", _SPYNE_SERVER_FAULT),
        _call(
            "admin",
            ("admin", "text"),
            "SearchAudit",
            [("Criteria", _AUDIT_SPAN | {"ToDateTime": "2026-01-01T24:00:00Z"}, ns.ADMIN_SERVICE)],
        ),
    ),
    *[
        KnownFault(
            "issue 10 item 10 (every xs:dateTime the hub accepts, all three services)",
            f"{operation} with an xs:dateTime near year 1 or 9999 whose offset moves it out of range in UTC",
            ("admin",),
            (operation,),
            lambda root: any(t.strip().startswith(("0001-", "9999-")) for t in _texts(root, *_DATE_TIMES)),
            ("OverflowError: date value out of range",),
            _call("admin", ("admin", "text"), operation, params),
        )
        for operation, params in (
            (
                "UnlockOrder",
                [
                    ("OrderId", "CCP0000000001"),
                    ("LockedDateTime", "0001-01-01T00:00:00+14:00"),
                    ("ReasonText", "stuck"),
                ],
            ),
            (
                "SearchAudit",
                [
                    (
                        "Criteria",
                        {"FromDateTime": "9999-12-31T00:00:00Z", "ToDateTime": "9999-12-31T23:59:59-14:00"},
                        ns.ADMIN_SERVICE,
                    )
                ],
            ),
        )  # fmt: skip
    ],
    KnownFault(
        "issue 10 item 10 (every xs:dateTime the hub accepts, all three services)",
        "a PasswordDigest token whose wsu:Created is valid but outside Python's years once in UTC",
        ("orders", "admin", "carpos"),
        (),
        lambda root: any(t.strip().startswith(("0001-", "9999-")) for t in _texts(root, "Created")),
        ("OverflowError: date value out of range",),
        _digest_created("0001-01-01T00:00:00+14:00"),
    ),
    KnownFault(
        "issue 10 item 3 (anything the verifier cannot parse is Client.Authentication)",
        "a request signed with a registered certificate and an empty SignatureValue: bare 500",
        ("orders", "admin", "carpos"),
        (),
        lambda root: "" in _texts(root, "SignatureValue"),
        ("argument should be a bytes-like object or ASCII string, not 'NoneType'",),
        _signed_without_value,
    ),
    KnownFault(
        "not in issue 10 (found by the sweep)",
        "a base64Binary with a non-ASCII character passes libxml2's check, then Spyne's decoding raises: bare 500",
        ("orders", "switch"),
        ("AttachImage", "AddQuickAttach", "SubmitTransmissions"),
        lambda root: any(not t.isascii() for t in _texts(root, "Base64BinaryObject", "SealedTransmission")),
        ("string argument should contain only ASCII characters",),
        _call(
            "orders",
            ("", "none"),
            "AttachImage",
            [("OrderId", "CCP0000000001"), ("Document", {"Base64BinaryObject": "QUFB\u00e9"}, ns.ORDERS_SERVICE)],
        ),
    ),
    KnownFault(
        "not in issue 10 (found by the sweep): the mock switch",
        "the switch answers an MCN of 21 to 24 characters as DOJ-<MCN>, longer than carpos-transmission.xsd "
        "allows: the gateway refuses that answer, logs ERROR, and it stays in the mailbox",
        ("gateway",),
        (),
        lambda root: True,
        ("is not acceptable and stays in DOJ's mailbox: the transmission does not match carpos-transmission.xsd",),
        _long_mcn_transmission,
    ),
    KnownFault(
        "not in issue 10 (found by the sweep)",
        "viewing an acknowledged CARPOS message uses Result.tuples(), deprecated in SQLAlchemy 2.1",
        ("carpos",),
        ("AcknowledgeCarposMessage", "ListCarposMessages"),
        lambda root: True,
        ("The Result.tuples() method is deprecated",),
        _acknowledge_reject,
    ),
]


#: Faults found and not yet fixed (none today): a strict xfail each until its fix lands, then it moves
#: to FIXED_SERVER_FAULTS.
KNOWN_SERVER_FAULTS: list[KnownFault] = []


@pytest.mark.parametrize("fixed", [pytest.param(k, id=k.what) for k in FIXED_SERVER_FAULTS])
def test_a_server_fault_the_sweep_found_stays_fixed(world, fixed):
    """Each fault the sweep found, with its minimal reproduction: now answered like any other request
    (a Client fault or the operation's response), with nothing logged at ERROR."""
    _answered_well(world, fixed, symptoms=False)


@pytest.mark.parametrize(
    "known",
    [pytest.param(k, id=k.what, marks=pytest.mark.xfail(strict=True, reason=k.item)) for k in KNOWN_SERVER_FAULTS]
    or [pytest.param(None, marks=pytest.mark.skip(reason="no known Server faults"))],
)
def test_known_server_fault_still_happens(world, known):
    """Each known fault's reproduction, asserted to be answered well: an xfail until it is fixed."""
    _answered_well(world, known, symptoms=True)


def _answered_well(world: World, known: KnownFault, *, symptoms: bool) -> None:
    service, request = known.repro(world)
    world.logs.records.clear()
    answer = world.send(service, request)
    operation = etree.QName(etree.fromstring(request).find(f"{{{SOAP}}}Body")[0]).localname
    xsdfuzz.check_answer(answer, operation, BY_NAME[service].namespace)  # fixed: an answer like any other
    if known.services == ("gateway",):  # a fault the gateway shows when it reads what the call left
        world.carpos.clock.now = datetime.now(UTC) + timedelta(seconds=1)
        world.carpos.run()
        service = "gateway"
    problems = world.logs.problems()
    if symptoms:  # a fixed fault's answer may name the value's problem in the very words of the symptom
        assert not known.matches(service, request, answer, problems), f"{known.what}: {answer.describe()} {problems}"
    assert not problems, problems
