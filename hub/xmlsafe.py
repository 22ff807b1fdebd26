"""The one hardened XML entry point. Every byte of XML from outside goes through :func:`parse`.

It refuses, before any other code sees the document:

* DOCTYPE declarations of any kind (so no internal or external entities, no external DTDs: the
  billion-laughs and XXE families), entity references and processing instructions;
* documents larger than the byte limit, deeper than the depth limit, or with more elements or
  attributes than the count limits;
* anything that is not well-formed.

libxml2 runs with entity resolution off, no network and no DTD loading, so even a declaration it
has to read is never expanded or fetched. ``huge_tree`` is on *only* to lift libxml2's ~10 MB
text-node cap for base64 images; the byte limit here is what bounds the document instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from hub.errors import HostileXml, MalformedRequest, RequestTooLarge


@dataclass(frozen=True)
class XmlLimits:
    """Caps on a document from outside. Each one bounds memory or CPU an attacker can spend."""

    #: Largest document in bytes. Hazard: raising it raises the memory one request may take.
    max_bytes: int
    #: Deepest element nesting. Hazard: deep trees cost recursion in every later consumer.
    max_depth: int = 40
    #: Most elements in one document. Hazard: each element costs ~1 KB in lxml.
    max_elements: int = 20000
    #: Most attributes on one element (including namespace declarations).
    max_attributes: int = 64


_NO_DTD = "DOCTYPE declarations and entities are not accepted: remove the DOCTYPE and any entities"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,
        remove_blank_text=False,
        # Comments carry no meaning here and would be taken for the body by Spyne; c14n for
        # signatures excludes them anyway.
        remove_comments=True,
        collect_ids=False,
    )


def parse(data: bytes, limits: XmlLimits) -> etree._Element:
    """Parse untrusted XML bytes into an element, or raise a :class:`~hub.errors.HubError`."""
    if len(data) > limits.max_bytes:
        raise RequestTooLarge(f"request of {len(data)} bytes exceeds the limit of {limits.max_bytes} bytes")
    if not data.strip():
        raise MalformedRequest("the request body is empty; send a SOAP 1.1 envelope")
    # Cheap and early: DTD markup in an ASCII-compatible encoding is refused before libxml2 reads
    # any declaration (escaped text cannot contain these bytes; CDATA holding them is refused too).
    # Other encodings are caught after parsing by the docinfo check below.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise HostileXml(_NO_DTD)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if "entity" in str(exc).lower():
            raise HostileXml(_NO_DTD) from exc
        if "depth" in str(exc).lower():  # libxml2's own nesting cap, hit before ours could count
            raise RequestTooLarge(f"elements are nested deeper than {limits.max_depth} levels") from exc
        raise MalformedRequest(f"the request is not well-formed XML: {exc}") from exc
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise HostileXml(_NO_DTD)
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(sibling, etree._ProcessingInstruction | etree._Entity):
            raise HostileXml("processing instructions and entity references are not accepted")
    _check_shape(root, limits)
    return root


def _check_shape(root: etree._Element, limits: XmlLimits) -> None:
    elements = 0
    depth = 0
    for event, node in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        elements += 1
        if depth > limits.max_depth:
            raise RequestTooLarge(f"elements are nested deeper than {limits.max_depth} levels")
        if elements > limits.max_elements:
            raise RequestTooLarge(f"the request has more than {limits.max_elements} elements")
        if len(node.attrib) + len(node.nsmap) > limits.max_attributes:
            raise RequestTooLarge(f"an element has more than {limits.max_attributes} attributes")
    # iterwalk reports elements only; PIs and entity references inside the tree are found here.
    if next(root.iter(etree.ProcessingInstruction, etree.Entity), None) is not None:
        raise HostileXml("processing instructions and entity references are not accepted")
