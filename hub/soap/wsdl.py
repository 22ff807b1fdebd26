"""The services' contracts as WSDL: Spyne services generated from the XSDs, the WSDL they make in a
stable form, and the address it is served with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from spyne import AnyXml, Application, ServiceBase, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from hub import ns
from hub.soap.bindings import Bindings, bindings_for
from hub.urls import public_base


def served_wsdl(wsdl: bytes, placeholder: str, public_url: str) -> bytes:
    """The WSDL as served: the checked-in placeholder address (``http://localhost:8080/ws/...``) with
    its base replaced by ``public_url`` (checked by :func:`public_base`); unchanged if none is set."""
    if not public_url:
        return wsdl
    service_path = urlsplit(placeholder).path
    return wsdl.replace(placeholder.encode(), (public_base(public_url) + service_path).encode())


@dataclass(frozen=True)
class ServiceSpec:
    """One SOAP service (the hub's or a mock's): where it is mounted, its schema and its WSDL file."""

    path: str
    namespace: str
    name: str
    xsd: str
    wsdl_file: str
    #: Parameters bound as raw XML at run time (see service_class).
    raw: frozenset[str] = frozenset()
    #: The audit category of every call (empty: by operation, hub.audit.category_of).
    audit_category: str = ""

    @property
    def placeholder(self) -> str:
        """The address in the checked-in WSDL; its base is replaced by CCPOR_PUBLIC_URL when served."""
        return f"http://localhost:8080{self.path}"

    def bindings(self) -> Bindings:
        return bindings_for(self.xsd)


def service_class(
    bindings: Bindings,
    implement: Callable[[str], Callable[..., Any]] | None = None,
    *,
    raw: frozenset[str] = frozenset(),
    name: str = "OrdersService",
) -> type[ServiceBase]:
    """A Spyne service with one method per operation of the schema.

    Without ``implement`` the methods never run (the application's ``call_wrapper`` dispatches every
    operation: the hub's ``HubApplication``);
    ``implement(name)`` supplies bodies for other uses (the benchmark's bare echo service).
    Parameters named in ``raw`` are bound as ``AnyXml``: Spyne hands over the element without
    mapping it to objects. The hub does this for ``Order``, which it reads from the validated tree
    anyway; the WSDL is always generated from the fully typed service (:func:`service_wsdl`).
    """
    methods: dict[str, Any] = {}
    for op in bindings.operations():
        method = implement(op.name) if implement else _dispatched_by_call_wrapper()
        method.__name__ = op.name
        methods[op.name] = rpc(
            *[AnyXml.customize(min_occurs=t.Attributes.min_occurs) if n in raw else t for n, t in op.params],
            _args=[n for n, _ in op.params],
            _returns=op.result_type,
            _out_variable_name=op.result_name,
        )(method)
    return type(name, (ServiceBase,), methods)


def _dispatched_by_call_wrapper() -> Callable[..., Any]:
    def method(ctx: Any, *args: Any) -> Any:  # pragma: no cover - the call_wrapper runs instead
        raise AssertionError("the application's call_wrapper dispatches every operation")

    return method


def normalized_wsdl(raw: bytes) -> bytes:
    """Spyne's WSDL in a stable form: schema children sorted by kind and name, pretty-printed.

    Spyne emits types in hash order, which changes between processes; sorting makes the served WSDL
    byte-identical to the checked-in wsdl/ file and keeps its diffs readable.
    """
    root = etree.fromstring(raw, etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True))
    rank = {"import": 0, "simpleType": 1, "complexType": 2, "element": 3}
    for schema in root.iter(ns.q(ns.XSD, "schema")):
        children = list(schema)
        children.sort(key=lambda c: (rank.get(etree.QName(c).localname, 9), c.get("name") or c.get("namespace") or ""))
        schema[:] = children
    return bytes(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8"))


def service_wsdl(spec: ServiceSpec) -> bytes:
    """A service's WSDL as the hub serves it (with the placeholder address), built from the XSDs.

    Needs no database or image store: only the Spyne interface is built, from the fully typed
    service (the runtime binds ``raw`` parameters as XML).
    """
    app = Application(
        [service_class(spec.bindings(), name=spec.name)],
        tns=spec.namespace,
        name=spec.name,
        in_protocol=Soap11(),
        out_protocol=Soap11(),
    )
    WsgiApplication(app)  # sets the HTTP transport URI, as soap_application does
    app.interface.docs.wsdl11.build_interface_document(spec.placeholder)
    return normalized_wsdl(app.interface.docs.wsdl11.get_interface_document())
