"""Reading a scan batch's index file: the two layouts capture software writes (docs/ADAPTERS.md).

``kofax-xml`` -- after Kofax Capture's XML export (its ImportSession document): one ``Document``
per order, its index fields as ``IndexField Name= Value=``, its image as the one ``Page
ImportFileName=`` (a multi-page TIFF or a PDF holds every page)::

    <ImportSession><Batches><Batch Name="LA-20261206-001"><Documents>
      <Document FormTypeName="DV-130">
        <IndexFields><IndexField Name="CaseNumber" Value="24FL000123"/> ...</IndexFields>
        <Pages><Page ImportFileName="0001.pdf"/></Pages>
      </Document> ...

``onbase-dip`` -- after OnBase's Document Import Processor self-configuring index: records between
``BEGIN:`` and ``END:``, ``>>DocTypeName:`` the form, ``>>FileName:`` the image, every other line
``Keyword Name: value``. Written by Windows capture stations, so read in the configured encoding
(Windows-1252 by default).

Both give the same :class:`Document` (field names as in docs/ADAPTERS.md), or :class:`IndexError_`
naming the line or element and what is wrong -- for the whole batch, before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from lxml import etree

LAYOUTS = ("kofax-xml", "onbase-dip")
INDEX_FILE = {"kofax-xml": "index.xml", "onbase-dip": "index.txt"}


class IndexError_(ValueError):  # noqa: N801 - not the builtin IndexError
    """The index cannot be read: the message names the place (line, document) and the fault."""


@dataclass(frozen=True)
class Document:
    """One order's index record: its position in the batch (1-based), its fields, its image file."""

    position: int
    image: str
    fields: dict[str, str] = field(default_factory=dict)
    where: str = ""


def read(layout: str, path: Path, encoding: str, max_bytes: int) -> list[Document]:
    size = path.stat().st_size
    if size > max_bytes:
        raise IndexError_(
            f"{path.name}: {size} bytes; an index file may have at most {max_bytes} (dms.max_index_bytes)"
        )
    data = path.read_bytes()
    documents = _kofax(data) if layout == "kofax-xml" else _dip(data, encoding)
    if not documents:
        raise IndexError_(f"{path.name}: no document in the index")
    first: dict[str, Document] = {}
    for document in documents:
        if document.image in first:
            raise IndexError_(
                f"{document.where}: image {document.image} is named by document {first[document.image].position} too "
                "(one image file per document)"
            )
        first[document.image] = document
    return documents


def _image_name(raw: str, where: str) -> str:
    """The image's file name inside the batch folder: capture stations write Windows paths
    (``\\\\scan01\\exports\\B1\\0001.tif``); only the last part counts, and nothing may climb out."""
    name = PureWindowsPath(raw.strip()).name
    if not name or name in (".", "..") or "/" in name or any(ord(c) < 32 for c in name):
        raise IndexError_(f"{where}: image file name {raw!r} is not a file name")
    return name


# A hardened parser: no DTD, no entity expansion, no network, no huge text nodes (an index is
# small). A DOCTYPE is refused outright, so no entity declaration is even read.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _kofax(data: bytes) -> list[Document]:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise IndexError_("index.xml: a DOCTYPE or ENTITY declaration is not allowed in an index")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise IndexError_(f"index.xml: not well-formed XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:  # an encoding the byte check above cannot see (UTF-16)
        raise IndexError_("index.xml: a DOCTYPE or ENTITY declaration is not allowed in an index")
    if etree.QName(root).localname != "ImportSession":
        raise IndexError_(f"index.xml: the root element is {etree.QName(root).localname}, not ImportSession")
    documents = []
    for position, doc in enumerate(root.iterfind(".//{*}Documents/{*}Document"), start=1):
        where = f"index.xml line {doc.sourceline}, document {position}"
        values: dict[str, str] = {}
        for index_field in doc.iterfind("{*}IndexFields/{*}IndexField"):
            name, value = index_field.get("Name"), index_field.get("Value")
            if not name or value is None:
                raise IndexError_(f"index.xml line {index_field.sourceline}: an IndexField needs Name and Value")
            if name in values:
                raise IndexError_(f"index.xml line {index_field.sourceline}: IndexField {name} given twice")
            if value.strip():
                values[name] = value.strip()
        if doc.get("FormTypeName") and "FormNumber" not in values:
            values["FormNumber"] = doc.get("FormTypeName", "").strip()
        pages = [p.get("ImportFileName", "") for p in doc.iterfind("{*}Pages/{*}Page")]
        if len(pages) != 1:
            raise IndexError_(
                f"{where}: {len(pages)} Page elements; one image file per document (a multi-page TIFF or a PDF)"
            )
        documents.append(Document(position, _image_name(pages[0], where), values, where))
    return documents


def _dip(data: bytes, encoding: str) -> list[Document]:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IndexError_(
            f"index.txt line {line}: byte 0x{data[exc.start]:02X} is not {encoding} "
            f'(capture stations on Windows write Windows-1252: dms.encoding = "cp1252")'
        ) from exc
    documents: list[Document] = []
    current: dict[str, str] | None = None
    image, start = "", 0
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line == "BEGIN:":
            if current is not None:
                raise IndexError_(f"index.txt line {number}: BEGIN: inside the record begun on line {start}")
            current, image, start = {}, "", number
            continue
        if current is None:
            raise IndexError_(f"index.txt line {number}: {line.partition(':')[0][:40]!r} outside a BEGIN:/END: record")
        if line == "END:":
            where = f"index.txt line {start}, document {len(documents) + 1}"
            if not image:
                raise IndexError_(f"{where}: no >>FileName: line")
            documents.append(Document(len(documents) + 1, _image_name(image, where), current, where))
            current = None
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise IndexError_(f"index.txt line {number}: expected 'Keyword: value', got a line without a colon")
        name, value = name.strip(), value.strip()
        if name == ">>FileName":
            image = value
        elif name == ">>DocTypeName":
            if value:
                current["FormNumber"] = value
        elif name.startswith(">>"):
            continue  # other DIP directives (>>DocDate, ...) carry nothing the order needs
        elif name in current:
            raise IndexError_(f"index.txt line {number}: keyword {name} given twice in one record")
        elif value:
            current[name] = value
    if current is not None:
        raise IndexError_(f"index.txt line {start}: the record has no END:")
    return documents
