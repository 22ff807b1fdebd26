"""The permission matrix of docs/SECURITY.md, read from the document and checked over HTTP.

Every (role x CLETS certification x operation x sealed/unsealed x own/other organization)
combination is one test case; the expected outcome is the document's cell. Orders come from a
court of the callers' own county (Los Angeles, CA019015J) or another county's (San Diego, CA037015J).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zeep

from hub.accounts.service import add_user
from hub.codes import Role
from hub.db.engine import Database
from tests.conftest import PASSWORD
from tests.support.orders import order, proof, tiny_pdf

pytestmark = pytest.mark.functional

SECURITY_MD = Path(__file__).resolve().parents[2] / "docs" / "SECURITY.md"
OWN_COURT, OTHER_COURT = "CA019015J", "CA037015J"


def read_matrix() -> dict[str, dict[Role, tuple[str, str]]]:
    """{operation: {role: (unsealed outcome, sealed outcome)}} from the marked table."""
    text = SECURITY_MD.read_text()
    table = text.split("<!-- permission-matrix -->")[1].split("<!-- /permission-matrix -->")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table.strip().splitlines()]
    header, body = rows[0], rows[2:]
    roles = [Role(name) for name in header[1:]]
    matrix = {}
    for row in body:
        cells = [tuple(part.strip() for part in cell.split("/")) for cell in row[1:]]
        assert all(len(c) == 2 and set(c) <= {"allow", "stub", "own", "deny"} for c in cells), row
        matrix[row[0]] = dict(zip(roles, cells, strict=True))  # type: ignore[arg-type]
    return matrix


MATRIX = read_matrix()
#: Operations that act on an existing order (the own/other and sealed dimensions apply).
ON_ORDER = {
    "GetOrder", "SearchOrders", "GetImage", "CloneOrder", "ModifyOrder", "ServeOrder", "CancelOrder",
    "AttachImage", "LockOrder",
}  # fmt: skip
#: Operations whose input order may be sealed (the sealed dimension applies, not the organization).
NEW_ORDER = {"SubmitOrder", "SaveDraft"}
ADMIN_OPS = {"ListUsers", "SearchLockedOrders", "SearchAudit", "ListQueue"}


def cases() -> list[Any]:
    out = []
    for operation, role, clets in itertools.product(MATRIX, Role, (False, True)):
        sealed_values = (False, True) if operation in ON_ORDER | NEW_ORDER else (False,)
        orgs = ("own", "other") if operation in ON_ORDER else ("own",)
        for sealed, org in itertools.product(sealed_values, orgs):
            name = f"{operation}-{role.value}-{'clets' if clets else 'noclets'}-{'sealed' if sealed else 'open'}-{org}"
            out.append(pytest.param(operation, role, clets, sealed, org, id=name))
    return out


@dataclass
class Made:
    order_id: str
    version: int
    image_id: str
    data: dict[str, Any]
    court: str


class World:
    """Users of every role x CLETS flag in the own court, and one maker per court."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        db = Database(hub.db_url)
        stamp = f"{datetime.now(UTC):%H%M%S%f}"
        self.names: dict[tuple[Role, bool], str] = {}
        with db.unit_of_work() as s:
            for role, clets in itertools.product(Role, (False, True)):
                name = f"pm-{role.value.lower()}-{int(clets)}-{stamp}"
                add_user(s, name, ori=OWN_COURT, role=role, clets=clets, password=PASSWORD)
                self.names[role, clets] = name
            for court in (OWN_COURT, OTHER_COURT):
                add_user(s, f"pm-maker-{court}-{stamp}", ori=court, role=Role.QUERY_UPDATE_SEALED, clets=False,
                         password=PASSWORD)  # fmt: skip
        db.dispose()
        self.stamp = stamp
        self._clients: dict[tuple[str, bool], zeep.Client] = {}

    def client(self, name: str, admin: bool = False) -> zeep.Client:
        if (name, admin) not in self._clients:
            self._clients[name, admin] = self.hub.admin_client(name) if admin else self.hub.client(name)
        return self._clients[name, admin]

    def make(self, court: str, sealed: bool) -> Made:
        maker = self.client(f"pm-maker-{court}-{self.stamp}")
        data = order(
            SealedIndicator=sealed,
            CourtOrderIssuingCourt={"OrganizationORIIdentification": court, "OrganizationName": "Superior Court"},
        )
        receipt = maker.service.SubmitOrder(Order=data)
        image = maker.service.AttachImage(
            OrderId=receipt.OrderId, Document={"DocumentFileName": "o.pdf", "Base64BinaryObject": tiny_pdf(court)}
        )
        return Made(receipt.OrderId, receipt.Version + 1, image.ImageId, data, court)


@pytest.fixture(scope="module")
def world(hub) -> World:
    return World(hub)


def call(world: World, client: zeep.Client, operation: str, sealed: bool, made: Made | None) -> Any:
    """Make the call; return what tells an allowed call from a redacted one (True: redacted)."""
    svc = client.service
    if operation == "GetOrder":
        return svc.GetOrder(OrderId=made.order_id).RedactedIndicator
    if operation == "SearchOrders":
        result = svc.SearchOrders(Criteria={"CourtORIIdentification": made.court, "OrderStatus": "ACTIVE"})
        (item,) = [i for i in result.Item if i.OrderId == made.order_id]
        return item.RedactedIndicator
    if operation == "GetImage":
        return svc.GetImage(ImageId=made.image_id) is None
    if operation == "SearchQuickAttach":
        return svc.SearchQuickAttach(Criteria={"CaseDocketID": "%"}) is None
    if operation in NEW_ORDER:
        return getattr(svc, operation)(Order=order(SealedIndicator=sealed)) is None
    if operation == "CloneOrder":
        return svc.CloneOrder(OrderId=made.order_id) is None
    if operation == "AddQuickAttach":
        upload = {"CaseDocketID": "24QA-PM", "Document": {"Base64BinaryObject": tiny_pdf(operation)}}
        return svc.AddQuickAttach(QuickAttach=upload) is None
    if operation == "ModifyOrder":
        return svc.ModifyOrder(OrderId=made.order_id, Version=made.version, Order=made.data) is None
    if operation == "ServeOrder":
        return svc.ServeOrder(OrderId=made.order_id, Version=made.version, ProofOfService=proof()) is None
    if operation == "CancelOrder":
        reason = "ENTERED-IN-ERROR"
        return svc.CancelOrder(OrderId=made.order_id, Version=made.version, CancelReasonCode=reason) is None
    if operation == "AttachImage":
        document = {"DocumentFileName": "more.pdf", "Base64BinaryObject": tiny_pdf(f"more-{made.order_id}")}
        return svc.AttachImage(OrderId=made.order_id, Document=document) is None
    if operation == "LockOrder":
        return svc.LockOrder(OrderId=made.order_id) is None
    if operation == "ListUsers":
        return svc.ListUsers() is None
    if operation == "SearchLockedOrders":
        return svc.SearchLockedOrders() is None
    if operation == "ListQueue":
        return svc.ListQueue() is None
    if operation == "SearchAudit":
        now = datetime.now(UTC)
        return svc.SearchAudit(Criteria={"FromDateTime": now - timedelta(minutes=1), "ToDateTime": now}) is None
    raise AssertionError(f"no call for {operation}")


@pytest.mark.parametrize(("operation", "role", "clets", "sealed", "org"), cases())
def test_permission_matrix(world: World, operation: str, role: Role, clets: bool, sealed: bool, org: str):
    expected = MATRIX[operation][role][1 if sealed else 0]
    if expected == "own":
        expected = "allow" if org == "own" else "deny"
    made = world.make(OWN_COURT if org == "own" else OTHER_COURT, sealed) if operation in ON_ORDER else None
    client = world.client(world.names[role, clets], admin=operation in ADMIN_OPS)
    if expected == "deny":
        with pytest.raises(zeep.exceptions.Fault) as refused:
            call(world, client, operation, sealed, made)
        assert refused.value.code.endswith("Client.Forbidden"), refused.value.message
        return
    redacted = call(world, client, operation, sealed, made)
    assert redacted is (expected == "stub")


def test_the_matrix_covers_every_operation_but_the_listed_exceptions():
    from hub.api.app import ADMIN, ORDERS

    documented = set(MATRIX)
    everything = {op.name for spec in (ORDERS, ADMIN) for op in spec.bindings().operations()}
    # Covered elsewhere, as SECURITY.md says: the state-changing admin operations, ReleaseOrder and
    # the sheriffs' work queue (a court account of any role is refused it: tests/functional/test_work_queue.py).
    assert everything - documented == {
        "SaveUser", "SetUserRoles", "DisableUser", "EnableUser", "UnlockUser", "UnlockOrder", "ReleaseOrder",
        "RequeueMessage", "ListAwaitingCompletion",
    }  # fmt: skip
    assert re.search(r"ReleaseOrder succeeds only for the lock's holder", SECURITY_MD.read_text())


def read_issuing_court_table() -> list[tuple[str, str, str]]:
    """[(entering organization ORI, issuing court ORI, allow|deny)] from SECURITY.md's marked table."""
    text = SECURITY_MD.read_text()
    table = text.split("<!-- issuing-court -->")[1].split("<!-- /issuing-court -->")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table.strip().splitlines()]
    courts = [cell.split()[0] for cell in rows[0][1:]]
    return [(row[0].split()[0], court, cell) for row in rows[2:] for court, cell in zip(courts, row[1:], strict=True)]


ISSUING = read_issuing_court_table()


@pytest.fixture(scope="module")
def enterers(hub) -> dict[str, str]:
    """A QUERY_UPDATE account of each entering organization (the court, the sheriff, LAPD)."""
    stamp = f"{datetime.now(UTC):%H%M%S%f}"
    db = Database(hub.db_url)
    names = {}
    with db.unit_of_work() as s:
        for ori in sorted({enterer for enterer, _, _ in ISSUING}):
            names[ori] = f"ic-{ori.lower()}-{stamp}"
            add_user(s, names[ori], ori=ori, role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
    db.dispose()
    return names


@pytest.mark.parametrize(("enterer", "court", "expected"), ISSUING, ids=[f"{e}-{c}" for e, c, _ in ISSUING])
def test_an_order_names_an_issuing_court_its_organization_may_enter_orders_for(hub, enterers, enterer, court, expected):
    client = hub.client(enterers[enterer])
    data = order(CourtOrderIssuingCourt={"OrganizationORIIdentification": court, "OrganizationName": "Superior Court"})
    draft = client.service.SaveDraft(Order=data)  # a draft is a working copy: any court may be named ...

    def outcome(**extra: object) -> str:  # ... the registry takes only what the table allows
        try:
            return "allow" if client.service.SubmitOrder(Order=data, **extra).OrderStatus == "ACTIVE" else "?"
        except zeep.exceptions.Fault as fault:
            assert fault.code.endswith("Client.Forbidden"), fault.message
            return "deny"

    assert (outcome(), outcome(OrderId=draft.OrderId, Version=draft.Version)) == (expected, expected)


def test_an_active_order_cannot_be_modified_into_another_court_s_name(hub, enterers):
    client = hub.client(enterers["CA019015J"])
    receipt = client.service.SubmitOrder(Order=order())
    san_diego = {"OrganizationORIIdentification": "CA037015J", "OrganizationName": "San Diego Superior Court"}
    with pytest.raises(zeep.exceptions.Fault) as f:
        client.service.ModifyOrder(OrderId=receipt.OrderId, Version=1, Order=order(CourtOrderIssuingCourt=san_diego))
    assert f.value.code.endswith("Client.Forbidden") and "its own orders" in f.value.message
    assert client.service.GetOrder(OrderId=receipt.OrderId).Version == 1
