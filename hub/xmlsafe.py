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
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

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


def _pull_parser(*, huge_tree: bool = True, namespaces: bool = False) -> etree.XMLPullParser:
    """``namespaces``: report each namespace declaration too (a ``start-ns`` event before its element's
    ``start``), so that they are counted without building every element's ``nsmap``."""
    return etree.XMLPullParser(
        events=("start-ns", "start", "end", "pi") if namespaces else ("start", "end", "pi"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=huge_tree,
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
    return parse_chunks((data[offset : offset + _CHUNK] for offset in range(0, len(data), _CHUNK)), limits)


def parse_chunks(chunks: Iterable[bytes], limits: XmlLimits) -> etree._Element:
    """Parse untrusted XML arriving in pieces (a request body read from the socket), or raise a
    :class:`~hub.errors.HubError`. The whole document never has to sit in memory as bytes beside
    its tree: each piece is screened, then fed to the parser, then dropped."""
    screen = _Screen(limits.max_bytes)
    parser = _pull_parser(namespaces=True)
    shape = _Shape(limits)
    try:
        for chunk in chunks:
            for piece in _pieces(chunk):
                screen.check(piece)
                parser.feed(piece)
                shape.count(parser.read_events())
        screen.finish()
        root = parser.close()
        shape.count(parser.read_events())  # events produced by close() (the final end tags)
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


def iter_records(chunks: Iterable[bytes], root: str, limits: XmlLimits) -> Iterator[etree._Element]:
    """Stream a large document of records under a ``root`` element (a historical batch): the root
    first (its attributes; no children yet), then each child of the root once it is complete. Each
    child is cleared and dropped from the root when the next one is asked for, so memory stays that
    of one record however long the file. The same refusals as :func:`parse_chunks`; the shape limits
    are counted per record (elements, depth, attributes -- the namespace declarations of an element
    are not counted here: reading them costs more than the record), and there is no byte limit (a
    batch may be gigabytes); text nodes keep libxml2's 10 MB cap (no ``huge_tree``: a record carries
    no inline image)."""
    screen = _Screen(sys.maxsize)
    parser = _pull_parser(huge_tree=False)
    top: etree._Element | None = None
    depth = elements = records = 0  # below the root; in the current record; children completed
    try:
        for chunk in chunks:
            for piece in _pieces(chunk):
                screen.check(piece)
                parser.feed(piece)
                for event, node in parser.read_events():
                    if event == "start":
                        if top is None:
                            if node.getroottree().docinfo.doctype:
                                raise HostileXml(_NO_DTD)
                            if node.tag != root:
                                raise MalformedRequest(f"the document element must be {root}, not {node.tag}")
                            top = node
                            yield node
                            continue
                        depth += 1
                        elements += 1
                        if depth > limits.max_depth:
                            raise _too_large(
                                records, node, f"elements are nested deeper than {limits.max_depth} levels"
                            )
                        if elements > limits.max_elements:
                            raise _too_large(records, node, f"more than {limits.max_elements} elements")
                        if len(node.attrib) > limits.max_attributes:
                            raise _too_large(
                                records, node, f"an element has more than {limits.max_attributes} attributes"
                            )
                    elif event == "end":
                        depth -= 1
                        if depth == 0:  # a child of the root is complete
                            records += 1
                            yield node
                            node.clear()
                            while node.getprevious() is not None:
                                del top[0]  # type: ignore[index]
                            elements = 0
                    else:
                        raise HostileXml("processing instructions are not accepted")
        screen.finish()
        parser.close()
        for event, _node in parser.read_events():
            if event == "pi":
                raise HostileXml("processing instructions are not accepted")
    except etree.XMLSyntaxError as exc:
        if "entity" in str(exc).lower():
            raise HostileXml(_NO_DTD) from exc
        raise MalformedRequest(f"the file is not well-formed XML: {exc}") from exc


def _too_large(records: int, node: etree._Element, problem: str) -> RequestTooLarge:
    return RequestTooLarge(f"record {records + 1} (line {node.sourceline}): {problem}")


def _pieces(chunk: bytes) -> Iterator[bytes]:
    """A chunk in parser-sized pieces: the shape limits are checked after each one."""
    if len(chunk) <= _CHUNK:
        yield chunk
        return
    for offset in range(0, len(chunk), _CHUNK):
        yield chunk[offset : offset + _CHUNK]


#: How far back a refused marker may start in an earlier piece (``&#x10FFFF;`` is the longest).
_OVERLAP = 16
#: How a UTF-16 or UTF-32 document begins (a byte-order mark, or ``<`` with its zero bytes).
_WIDE_STARTS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\x00<", b"<\x00", b"\x00\x00\x00<")


class _Screen:
    """The byte-level refusals, made piece by piece before libxml2 reads the piece: the size limit,
    an empty body, and -- cheap and early -- DTD markup and entity references in an
    ASCII-compatible encoding (escaped text cannot contain these bytes; CDATA holding them is
    refused too). Other encodings are caught after parsing by the docinfo check. The last
    ``_OVERLAP`` bytes of each piece are searched again with the next one, so a marker split
    between two pieces is found, and a ``&`` too near a piece's end to be judged is judged then."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.total = 0
        self.content = False
        self.tail = b""
        #: None until the first bytes are seen; False for UTF-16/UTF-32, whose bytes these byte
        #: patterns do not read (libxml2 and the checks after parsing judge those documents).
        self.ascii: bool | None = None

    def check(self, piece: bytes) -> None:
        self.total += len(piece)
        if self.total > self.max_bytes:
            raise RequestTooLarge(f"request exceeds the limit of {self.max_bytes} bytes")
        self.content = self.content or bool(piece.strip())
        if self.ascii is None and piece:
            self.ascii = not piece.startswith(_WIDE_STARTS)
        if not self.ascii:
            return
        window = self.tail + piece
        self._search(window, final=False)
        self.tail = window[-_OVERLAP:]

    def finish(self) -> None:
        if not self.content:
            raise MalformedRequest("the request body is empty; send a SOAP 1.1 envelope")
        if self.ascii:
            self._search(self.tail, final=True)

    def _search(self, window: bytes, *, final: bool) -> None:
        if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
            raise HostileXml(_NO_DTD)
        # An ampersand in the last bytes may be the start of "&amp;" cut short: judged once the
        # next piece (or the end of the document) is known.
        end = len(window) if final else max(0, len(window) - _OVERLAP)
        found = _ENTITY_REFERENCE.search(window)  # the first one: any later one starts later still
        if found is not None and found.start() < end:
            raise HostileXml("entity references other than the five predefined ones are not accepted")


class _Shape:
    """The shape limits, enforced while the tree is built: checking only after a full parse would
    let a 27 MB body of empty elements build a ~900 MB tree before it is refused; here the parse
    stops at the first element over a limit. An element's attributes and the namespaces in scope
    there -- its own declarations and its ancestors' -- count together against ``max_attributes``
    (what ``len(attrib) + len(nsmap)`` would give, or more when a prefix is declared again): every
    namespace in scope costs each later step that walks an element's ``nsmap`` (the XSD check's
    violation paths). They are counted from the parser's ``start-ns`` events, a running total with
    each open element's share, instead of building each element's ``nsmap``."""

    def __init__(self, limits: XmlLimits) -> None:
        self.limits = limits
        self.elements = self.depth = 0
        self.declared = 0  # declarations of the element whose start comes next
        self.in_scope = 0  # declared by the open elements
        self.shares: list[int] = []  # each open element's declarations

    def count(self, events: Iterable[tuple[str, Any]]) -> None:
        limits = self.limits
        for event, node in events:
            if event == "end":
                self.depth -= 1
                self.in_scope -= self.shares.pop()
            elif event == "start-ns":
                self.declared += 1
            elif event == "pi":
                raise HostileXml("processing instructions are not accepted")
            else:
                self.depth += 1
                self.elements += 1
                if self.depth > limits.max_depth:
                    raise RequestTooLarge(f"elements are nested deeper than {limits.max_depth} levels")
                if self.elements > limits.max_elements:
                    raise RequestTooLarge(f"the request has more than {limits.max_elements} elements")
                self.in_scope += self.declared
                self.shares.append(self.declared)
                self.declared = 0
                if len(node.attrib) + self.in_scope > limits.max_attributes:
                    raise RequestTooLarge(
                        f"an element has more than {limits.max_attributes} attributes and namespaces in scope"
                    )


def parser_for_stored() -> etree.XMLParser:
    """A parser for XML the hub wrote itself (stored orders): no entities, no network, and
    huge_tree so that anything intake accepted can always be read back."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
