"""Who may do what: the one place the role rules of DOMAIN.md section 1 are decided.

The sealed-order rule (one rule, documented in docs/SECURITY.md): a sealed order's details,
history and images are visible only to users whose role includes SEALED, from any organization;
everyone else sees a redacted stub (identifier, status, court, sealed flag) and is refused images.
Changing a sealed order needs QUERY_UPDATE_SEALED. Only the organization that entered an order may
change it -- and, under the shared-entry workflow (DOMAIN.md section 1, workflow b), the sheriff of
the order's county when a court of that county entered it: the sheriff completes the CARPOS fields,
serves and attaches images, and submits the court's draft; cancelling stays a court's act. A DRAFT
is visible only to the organization that saved it (and, for a court's draft, its county's sheriff).
"""

from __future__ import annotations

from hub.accounts.service import Principal
from hub.codes import OrderStatus, OrganizationKind, Role, county_code_of_ori
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


def shares_entry(who: Principal, order: Order) -> bool:
    """The caller is the sheriff of the county whose court entered ``order`` (shared entry)."""
    # The owning court's county, not the order's (which the document's issuing court sets).
    return (
        who.org_kind == OrganizationKind.SHERIFF
        and order.owner.kind == OrganizationKind.COURT.value
        and order.owner.county_code == who.county_code
    )


def require_visible(who: Principal, order: Order, public_id: str) -> None:
    """NotFound for a draft of another organization: drafts are not part of the registry yet."""
    if (
        order.status == OrderStatus.DRAFT.value
        and order.owner_org_id != who.organization_id
        and not shares_entry(who, order)
    ):
        raise NotFound(f"no order {public_id}")


def require_change(who: Principal, order: Order, *, sealed_after: bool = False, cancel: bool = False) -> None:
    """The caller may change ``order`` (and leave it sealed if ``sealed_after``; ``cancel`` it)."""
    require_update(who)
    if order.owner_org_id != who.organization_id:
        if not shares_entry(who, order):
            raise Forbidden(
                f"only the organization that entered this order ({order.owner.ori}), or its county's sheriff "
                "for a court's order, may change it"
            )
        if cancel:
            raise Forbidden(f"only the court that entered this order ({order.owner.ori}) may cancel it")
    if (order.sealed or sealed_after) and not who.role.sees_sealed:
        raise Forbidden("changing a sealed order needs the QUERY_UPDATE_SEALED role")


def require_create(who: Principal, *, sealed: bool) -> None:
    require_update(who)
    if sealed and not who.role.sees_sealed:
        raise Forbidden("entering a sealed order needs the QUERY_UPDATE_SEALED role")


def require_issuing_court(
    owner_kind: OrganizationKind,
    owner_ori: str,
    owner_county: str,
    court_ori: str,
    court_kind: OrganizationKind | None,
) -> None:
    """An order in the registry names an issuing court its *owning* organization (the one that entered
    it, in whose name it stands) may enter orders for: a court, its own ORI; a sheriff or agency (an
    EPO an officer obtained, DOMAIN.md's workflow c), a court of its own county -- not an ORI that is
    something other than a court (``court_kind``: its kind in the registry, or by the ORI's shape if
    it is not registered yet; None: unknown). Anything else would enter the order, and send it to CARPOS, under another
    court's ORI. Shared entry changes nothing here: the county sheriff completing a court's order acts
    for that court and cannot change its issuing court (checked where the document is replaced)."""
    if owner_kind is OrganizationKind.COURT:
        if court_ori != owner_ori:
            raise Forbidden(
                f"a court enters its own orders: the issuing court must be {owner_ori}, not {court_ori} "
                "(the issuing court enters an order in the registry)"
            )
        return
    if court_kind is not None and court_kind is not OrganizationKind.COURT:
        raise Forbidden(f"{court_ori} is a {court_kind.value.lower()}'s ORI, not a court's: it issues no orders")
    if county_code_of_ori(court_ori) != owner_county:
        raise Forbidden(
            f"the issuing court {court_ori} is not in county {owner_county}: a sheriff or agency enters orders of "
            "its own county's courts"
        )


def require_admin(who: Principal) -> None:
    if who.role is not Role.ADMINISTRATOR:
        raise Forbidden("the administration service is for ADMINISTRATOR accounts only")


def require_clets(who: Principal) -> None:
    """CLETS data (what DOJ answers: acknowledgements, rejects, notices, query results) is for
    CLETS-certified users only, whatever their role."""
    if not who.clets_certified:
        raise Forbidden("CARPOS messages and queries are for CLETS-certified users only")
    if not who.role.may_query:
        raise Forbidden(f"role {who.role.value} may not read CARPOS messages")
