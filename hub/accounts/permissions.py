"""Who may do what: the one place the role rules of DOMAIN.md section 1 are decided.

The sealed-order rule (one rule, documented in docs/SECURITY.md): a sealed order's details,
history and images are visible only to users whose role includes SEALED, from any organization;
everyone else sees a redacted stub (identifier, status, court, sealed flag) and is refused images.
Changing a sealed order needs QUERY_UPDATE_SEALED. Only the organization that entered an order may
change it. A DRAFT is visible only to the organization that saved it.
"""

from __future__ import annotations

from hub.accounts.service import Principal
from hub.codes import OrderStatus
from hub.db.models import Order
from hub.errors import Forbidden, NotFound


def require_query(who: Principal) -> None:
    if not who.role.may_query:
        raise Forbidden(f"role {who.role.value} may not query orders")


def require_update(who: Principal) -> None:
    if not who.role.may_update:
        raise Forbidden(f"role {who.role.value} may not add or change orders or images")


def may_see_details(who: Principal, sealed: bool) -> bool:
    return not sealed or who.role.sees_sealed


def require_visible(who: Principal, order: Order, public_id: str) -> None:
    """NotFound for a draft of another organization: drafts are not part of the registry yet."""
    if order.status == OrderStatus.DRAFT.value and order.owner_org_id != who.organization_id:
        raise NotFound(f"no order {public_id}")


def require_change(who: Principal, order: Order, *, sealed_after: bool = False) -> None:
    """The caller may change ``order`` (and leave it sealed if ``sealed_after``)."""
    require_update(who)
    if order.owner_org_id != who.organization_id:
        raise Forbidden(f"only the organization that entered this order ({order.owner.ori}) may change it")
    if (order.sealed or sealed_after) and not who.role.sees_sealed:
        raise Forbidden("changing a sealed order needs the QUERY_UPDATE_SEALED role")


def require_create(who: Principal, *, sealed: bool) -> None:
    require_update(who)
    if sealed and not who.role.sees_sealed:
        raise Forbidden("entering a sealed order needs the QUERY_UPDATE_SEALED role")
