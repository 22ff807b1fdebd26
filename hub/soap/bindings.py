"""Spyne bindings generated from the published XSDs, so the contract has one source.

Spyne needs Python model classes to describe and (de)serialize messages; writing them by hand
would be a second copy of xsd/ that drifts. Instead every named simple and complex type, and every
operation (a request element ``X`` with its ``XResponse``), is read from the schema with
xmlschema and turned into Spyne classes here. The WSDL Spyne then serves describes exactly the
XSD's messages; ``tests/functional/test_contract.py`` holds both to the checked-in wsdl/ file.

Gotchas handled (see docs/DECISIONS.md): Spyne drops a simple type's name when it is customized
without ``type_name`` again, and places an unnamespaced simple type in a namespace of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import xmlschema
from spyne.model import ModelBase
from spyne.model.binary import ByteArray
from spyne.model.complex import ComplexModel
from spyne.model.primitive import Boolean, Date, DateTime, Int, Integer, Long, Time, Unicode

from hub import ns
from hub.contract import contract_dir

_BUILTINS: dict[str, type[ModelBase]] = {
    "string": Unicode,
    "int": Int,
    "long": Long,
    "integer": Integer,
    "boolean": Boolean,
    "date": Date,
    "time": Time,
    "dateTime": DateTime,
    "base64Binary": ByteArray,
}


@dataclass(frozen=True)
class Operation:
    name: str
    params: tuple[tuple[str, type[ModelBase]], ...]
    result_name: str
    result_type: type[ModelBase]


def _split(qname: str) -> tuple[str, str]:
    uri, local = qname[1:].split("}")
    return uri, local


class Bindings:
    """Spyne classes for every named type of the service schema (and what it imports)."""

    def __init__(self, schema: xmlschema.XMLSchema) -> None:
        self.schema = schema
        self._types: dict[str, type[ModelBase]] = {}

    def __getitem__(self, local_name: str) -> type[ModelBase]:
        """A type by its local name in the service's own namespace, the orders service's or the order's."""
        for uri in (self.schema.target_namespace, ns.ORDERS_SERVICE, ns.ORDER):
            qname = f"{{{uri}}}{local_name}"
            if qname in self.schema.maps.types:
                return self.of(self.schema.maps.types[qname])
        raise KeyError(local_name)

    def of(self, xsd_type: Any) -> type[ModelBase]:
        if xsd_type.name and xsd_type.name.startswith(f"{{{ns.XSD}}}"):
            return _BUILTINS[_split(xsd_type.name)[1]]
        if xsd_type.name in self._types:
            return self._types[xsd_type.name]
        made = self._complex(xsd_type) if xsd_type.is_complex() else self._simple(xsd_type)
        if xsd_type.name:
            self._types[xsd_type.name] = made
        return made

    def _simple(self, t: Any) -> type[ModelBase]:
        uri, local = _split(t.name)
        builtin = t
        while not builtin.name.startswith(f"{{{ns.XSD}}}"):
            builtin = builtin.base_type
        base = _BUILTINS[_split(builtin.name)[1]]
        facets: dict[str, Any] = {"type_name": local, "__namespace__": uri}
        if t.enumeration:
            facets["values"] = list(t.enumeration)
        if base is Unicode:
            if t.min_length is not None:
                facets["min_len"] = t.min_length
            if t.max_length is not None:
                facets["max_len"] = t.max_length
        else:
            if t.min_value is not None:
                facets["ge"] = t.min_value
            if t.max_value is not None:
                facets["le"] = t.max_value
        if t.patterns:
            facets["pattern"] = ".*"  # a compilable stand-in, replaced below
        made = base(**facets)
        if t.patterns:
            # Spyne compiles patterns with Python's re, which lacks XSD's \p{L}; the pattern is only
            # published here (our XSD validation enforces it), so it is set without compiling.
            made.Attributes._pattern = t.patterns.regexps[0]
        return made

    def _member(self, element: Any) -> tuple[str, type[ModelBase]]:
        target = self.of(element.type)
        options: dict[str, Any] = {
            "min_occurs": element.min_occurs,
            "max_occurs": "unbounded" if element.max_occurs is None else element.max_occurs,
            "nillable": False,
        }
        if target.__type_name__ and target.__type_name__ is not ModelBase.Empty and element.type.name:
            options["type_name"] = target.get_type_name()
        return element.local_name, target.customize(**options)

    def _complex(self, t: Any) -> type[ModelBase]:
        uri, local = _split(t.name)
        members = [self._member(e) for e in t.content.iter_elements()]
        return ComplexModel.produce(uri, local, members)

    def operations(self) -> list[Operation]:
        """Every request element with a matching ``...Response`` element, in schema order."""
        out = []
        for name, element in self.schema.elements.items():
            response = self.schema.elements.get(f"{name}Response")
            if response is None or name.endswith("Response") or not element.type.is_complex():
                continue
            params = tuple(self._member(e) for e in element.type.content.iter_elements())
            (result,) = list(response.type.content.iter_elements())
            result_name, result_type = self._member(result)
            out.append(Operation(name, params, result_name, result_type))
        return out


@cache
def bindings_for(xsd_name: str) -> Bindings:
    """The bindings of one service schema in xsd/ (built once per process)."""
    return Bindings(xmlschema.XMLSchema(str(contract_dir("xsd") / xsd_name)))


def orders_bindings() -> Bindings:
    return bindings_for("ccpor-orders-service.xsd")


def as_bytes(value: Any) -> bytes:
    """A base64Binary value as Spyne decoded it, as bytes."""
    # Spyne hands base64Binary over as a sequence of chunks, and an empty element as None.
    if value is None:
        return b""
    return b"".join(value) if isinstance(value, list | tuple) else bytes(value)
