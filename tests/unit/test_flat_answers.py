"""The answer protocol writes a flat type's members (a receipt: simple values only) itself; what it
writes is what Spyne's own walk writes, for every such type of every service, and every other type
still goes through Spyne."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree
from spyne import Application
from spyne.model import ComplexModelBase, primitive

from hub.api.app import SERVICES
from hub.soap.protocol import SplicingSoap11
from hub.soap.wsdl import service_class

_SAMPLES: list[tuple[type, Any]] = [
    (primitive.Boolean, True),
    (primitive.DateTime, datetime(2026, 12, 8, 23, 30, 5, 120, tzinfo=UTC)),
    (primitive.Date, date(2026, 12, 8)),
    (primitive.Time, time(23, 30)),
    (primitive.Decimal, Decimal("12.50")),  # Integer and its kinds are Decimals in Spyne: after them
    (primitive.Double, 1.5),
    (primitive.Float, 1.5),
]


def _sample(member: Any) -> Any:
    values = getattr(member.Attributes, "values", None)
    if values:
        return sorted(values)[0]
    if issubclass(member, primitive.Integer):
        return 3
    for kind, value in _SAMPLES:
        if issubclass(member, kind):
            return value
    if issubclass(member, primitive.Unicode | primitive.AnyUri):
        return "Text & <more>"
    return None


def _protocols(spec: Any) -> tuple[SplicingSoap11, SplicingSoap11]:
    """Two answer protocols of the service, the second with the flat path off (Spyne's own walk)."""
    made = []
    for _ in range(2):
        out = SplicingSoap11()
        Application(
            [service_class(spec.bindings(), raw=spec.raw, name=spec.name)], tns=spec.namespace, out_protocol=out
        )
        made.append(out)
    made[1]._flat_members = lambda cls: None  # type: ignore[method-assign]  # noqa: SLF001
    return made[0], made[1]


def _types(spec: Any) -> list[tuple[str, Any]]:
    """Every type the service's bindings made (all its schema's named types: the service class
    built them)."""
    return list(spec.bindings()._types.items())  # noqa: SLF001


def _written(protocol: SplicingSoap11, cls: Any, inst: Any) -> bytes:
    parent = etree.Element("answer")
    protocol.to_parent(None, cls, inst, parent, cls.get_namespace(), "Value")
    return etree.tostring(parent)


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_every_flat_type_is_written_as_spyne_writes_it(spec: Any) -> None:
    ours, spynes = _protocols(spec)
    flat = 0
    for name, cls in _types(spec):
        if not (isinstance(cls, type) and issubclass(cls, ComplexModelBase)):
            continue
        members = ours._flat_members(cls)  # noqa: SLF001
        if members is None:
            continue
        values = {key: _sample(member) for key, member in cls._type_info.items()}  # noqa: SLF001
        assert None not in values.values(), f"{name}: a member type without a sample here"
        inst = cls(**values)
        assert _written(ours, cls, inst) == _written(spynes, cls, inst), name
        partial = cls(**dict(list(values.items())[:1]))  # members unset: Spyne's own walk, as before
        assert _written(ours, cls, partial) == _written(spynes, cls, partial), name
        flat += 1
    if spec.name == "OrdersService":
        assert ours._flat_members(spec.bindings()["OrderReceiptType"]) is not None  # noqa: SLF001
        assert flat >= 3


def test_a_type_with_nested_or_repeated_members_is_not_flat() -> None:
    ours, _ = _protocols(SERVICES[0])
    nested = [
        cls
        for _, cls in _types(SERVICES[0])
        if isinstance(cls, type)
        and issubclass(cls, ComplexModelBase)
        and any(issubclass(m, ComplexModelBase) or m.Attributes.max_occurs != 1 for m in cls._type_info.values())  # noqa: SLF001
    ]
    assert nested
    assert all(ours._flat_members(cls) is None for cls in nested)  # noqa: SLF001
