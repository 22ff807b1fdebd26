"""A violation's path uses the published prefixes whatever prefixes the partner chose, including
ones declared below the operation element (hub.contract._violations reads each element's own)."""

from __future__ import annotations

from lxml import etree

from hub import ns
from hub.contract import validate_request


def test_a_prefix_declared_on_a_descendant_is_named_by_the_published_one():
    body_child = etree.fromstring(
        f'<s:SubmitOrder xmlns:s="{ns.ORDERS_SERVICE}"><s:Order xmlns:z="{ns.ORDER}">'
        "<z:NotAnOrderField>x</z:NotAnOrderField></s:Order></s:SubmitOrder>".encode()
    )
    found = validate_request(body_child)
    assert found
    assert all("z:" not in v.path and "s:Sub" not in v.path for v in found), found
    assert any(v.path.startswith("/svc:SubmitOrder/svc:Order") for v in found), found
    assert any("ord:NotAnOrderField" in v.path or "ord:NotAnOrderField" in v.message for v in found), found
