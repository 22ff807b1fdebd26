"""The per-operation declarations the call wrapper reads (hub.soap.operations)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.accounts.permissions import require_admin, require_clets
from hub.accounts.service import Principal
from hub.api.admin_api import AdminApi
from hub.api.app import ADMIN, CARPOS, ORDERS
from hub.api.carpos_api import CarposApi
from hub.api.orders_api import OrdersApi
from hub.codes import Role
from hub.errors import Forbidden
from hub.soap.operations import declared, operation

CLERK = Principal(1, "clerk", 1, "CA019015J", "19", Role.QUERY_UPDATE, False)
ADMIN_USER = Principal(2, "admin", 1, "CA019015J", "19", Role.ADMINISTRATOR, False)


def _deny(who: Any) -> None:
    raise PermissionError(who)


class Service:
    @operation(read_only=True)
    def op_GetThing(self, c: Any) -> str:
        return "thing"

    @operation(retry_on_conflict=False, allowed=_deny)
    def op_PutThing(self, c: Any) -> str:
        return "put"


def test_each_operation_carries_its_declaration_and_its_bound_handler() -> None:
    ops = declared(Service(), ["GetThing", "PutThing"], allowed=require_admin)
    get, put = ops["GetThing"], ops["PutThing"]
    assert (get.read_only, get.retry_on_conflict, get.allowed) == (True, True, require_admin)  # the service's rule
    assert (put.read_only, put.retry_on_conflict) == (False, False)
    assert get.handler(None) == "thing" and put.handler(None) == "put"
    # An operation's own rule comes on top of its service's, never instead of it.
    with pytest.raises(Forbidden):
        put.allowed(CLERK)  # the service's rule (administrators only) still holds ...
    with pytest.raises(PermissionError):
        put.allowed(ADMIN_USER)  # ... and the operation's own after it
    assert declared(Service(), ["GetThing", "PutThing"])["PutThing"].allowed is _deny  # alone, its own


@pytest.mark.parametrize(
    ("names", "complaint"),
    [
        (["GetThing", "PutThing", "DropThing"], "no handler for ['DropThing']"),
        (["GetThing"], "handlers for no operation: ['PutThing']"),
    ],
)
def test_a_schema_and_a_service_that_disagree_stop_the_start(names: list[str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        declared(Service(), names)


def test_a_handler_without_a_declaration_is_refused() -> None:
    class Careless:
        def op_GetThing(self, c: Any) -> str:  # no @operation: is it read-only? nobody said
            return "thing"

    with pytest.raises(ValueError, match=r"Careless.op_GetThing is not declared"):
        declared(Careless(), ["GetThing"])


def _hub_services() -> list[tuple[str, dict[str, Any]]]:
    orders = OrdersApi(ORDERS.bindings(), None, None, None)  # type: ignore[arg-type]
    admin = AdminApi(ADMIN.bindings(), orders, None, None, None, {})  # type: ignore[arg-type]
    carpos = CarposApi(CARPOS.bindings(), None, None, None)  # type: ignore[arg-type]
    return [("orders", orders.operations), ("admin", admin.operations), ("carpos", carpos.operations)]


@pytest.mark.parametrize(("service", "ops"), _hub_services(), ids=lambda v: v if isinstance(v, str) else "")
def test_only_the_hubs_lookups_are_read_only(service: str, ops: dict[str, Any]) -> None:
    """Get/List/Search operations read; every other one writes something (QueryCarpos its QPO,
    LockOrder its lock) and must run in a write transaction."""
    read_only = {name for name, op in ops.items() if op.read_only}
    assert read_only == {name for name in ops if name.startswith(("Get", "List", "Search"))}
    assert read_only  # every service has lookups


def test_the_admin_and_carpos_services_guard_every_operation() -> None:
    _, admin, carpos = (ops for _, ops in _hub_services())
    assert {op.allowed for op in admin.values()} == {require_admin}
    assert {op.allowed for op in carpos.values()} == {require_clets}
