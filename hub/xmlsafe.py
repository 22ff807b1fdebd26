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

import re
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


_CHUNK = 64 * 1024
#: An ampersand that does not start &amp; &lt; &gt; &quot; &apos; or a character reference.
_ENTITY_REFERENCE = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);|#[0-9]{1,7};|#x[0-9a-fA-F]{1,6};)")


def _pull_parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("start", "end", "pi"),
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
    if _ENTITY_REFERENCE.search(data):
        raise HostileXml("entity references other than the five predefined ones are not accepted")
    try:
        root = _parse_counting(data, limits)
    except etree.XMLSyntaxError as exc:
        if "entity" in str(exc).lower():
            raise HostileXml(_NO_DTD) from exc
        if "depth" in str(exc).lower():  # libxml2's own nesting cap, hit before ours could count
            raise RequestTooLarge(f"elements are nested deeper than {limits.max_depth} levels") from exc
        raise MalformedRequest(f"the request is not well-formed XML: {exc}") from exc
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise HostileXml(_NO_DTD)
    # Entity references cannot survive parsing (no DTD, so libxml2 rejects them); this is the
    # last word should a future libxml2 keep one.
    if next(root.iter(etree.Entity), None) is not None:
        raise HostileXml("entity references are not accepted")
    return root


def _parse_counting(data: bytes, limits: XmlLimits) -> etree._Element:
    """Parse incrementally, enforcing the shape limits while the tree is built.

    Checking only after a full parse would let a 27 MB body of empty elements build a ~900 MB
    tree before it is refused; here the parse stops at the first element over a limit.
    """
    parser = _pull_parser()
    elements = depth = 0
    for offset in range(0, len(data), _CHUNK):
        parser.feed(data[offset : offset + _CHUNK])
        for event, node in parser.read_events():
            if event == "end":
                depth -= 1
            elif event == "pi":
                raise HostileXml("processing instructions are not accepted")
            else:
                depth += 1
                elements += 1
                if depth > limits.max_depth:
                    raise RequestTooLarge(f"elements are nested deeper than {limits.max_depth} levels")
                if elements > limits.max_elements:
                    raise RequestTooLarge(f"the request has more than {limits.max_elements} elements")
                if len(node.attrib) + len(node.nsmap) > limits.max_attributes:
                    raise RequestTooLarge(f"an element has more than {limits.max_attributes} attributes")
    root = parser.close()
    for event, _node in parser.read_events():  # events produced by close() (the final end tags)
        if event == "pi":
            raise HostileXml("processing instructions are not accepted")
    return root


def parser_for_stored() -> etree.XMLParser:
    """A parser for XML the hub wrote itself (stored orders): no entities, no network, and
    huge_tree so that anything intake accepted can always be read back."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
