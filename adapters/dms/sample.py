"""Writing scan batches the way capture stations do: the example batch of docs/ADAPTERS.md, the
demo's batch and the tests' batches all come from here, so they cannot drift from the reader.

Images are written first, the index next, the trigger file last -- the order capture software
keeps, so a watcher that waits for the trigger never reads a half-written batch.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

from adapters.framework.files import write_atomically


def record(case_number: str, surname: str = "MOUSE", **more: str) -> dict[str, str]:
    """A complete DV-130 index record (every ACTIVE field), issued ten days ago for three years;
    ``more`` overrides or adds fields, an empty value leaves a field out."""
    issued = date.today() - timedelta(days=10)
    fields = {
        "FormNumber": "DV-130",
        "OrderType": "OAH",
        "CaseNumber": case_number,
        "IssueDate": issued.strftime("%m/%d/%Y"),
        "ExpirationDate": issued.replace(year=issued.year + 3, day=min(issued.day, 28)).strftime("%m/%d/%Y"),
        "RestrainedLastName": surname,
        "RestrainedFirstName": "MICKEY",
        "RestrainedDOB": "05/17/1980",
        "RestrainedSex": "M",
        "RestrainedRace": "W",
        "RestrainedHeight": "510",
        "RestrainedWeight": "180",
        "ProtectedLastName": "DUCK",
        "ProtectedFirstName": "DAISY",
        "Conditions": "01,04,05",
        "StayAwayYards": "100",
        "Brady": "Y",
    }
    fields.update(more)
    return {k: v for k, v in fields.items() if v}


def pdf(marker: str) -> bytes:
    """A small well-formed PDF, distinct per ``marker``."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n"
        + f"% {marker}\n".encode()
        + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def tiff(pages: int = 2, marker: str = "", width: int = 1, height: int = 1, dpi: int = 300) -> bytes:
    """A multi-page bilevel TIFF (little-endian, uncompressed), distinct per ``marker``; a letter
    page at 300 dpi is ``width=2550, height=3300`` (about 1 MB a page, as a scan without CCITT G4)."""
    body = bytearray(b"II*\x00\x00\x00\x00\x00")
    pointer_at = 4  # where the offset of the next directory goes
    row = -(-width // 8)
    for page in range(pages):
        pixels_at = len(body)
        body += bytes([0x55 if (page + 1) % 2 else 0xAA]) * (row * height)
        if len(body) % 2:
            body += b"\x00"
        resolution_at = len(body)
        body += struct.pack("<II", dpi, 1)
        directory_at = len(body)
        struct.pack_into("<I", body, pointer_at, directory_at)
        entries = [
            (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 1), (259, 3, 1, 1), (262, 3, 1, 0),
            (273, 4, 1, pixels_at), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, row * height),
            (282, 5, 1, resolution_at), (283, 5, 1, resolution_at), (296, 3, 1, 2), (297, 3, 2, page | (pages << 16)),
        ]  # fmt: skip
        body += struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
        pointer_at = len(body)
        body += b"\x00\x00\x00\x00"
    return bytes(body) + marker.encode()


def kofax_batch(
    folder: Path, documents: Sequence[tuple[dict[str, str], str, bytes | None]], trigger: str | None = "READY"
) -> Path:
    """A Kofax-XML batch in ``folder``: each document (index fields, image file name, image bytes
    -- ``None``: the image is not written, as when a station failed to copy it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for _, name, data in documents:
        if data is not None:
            write_atomically(folder / name, data)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<ImportSession>",
        "  <Batches>",
        f'    <Batch Name={quoteattr(folder.name)} BatchClassName="CCPOR Orders">',
        "      <Documents>",
    ]
    for fields, name, _ in documents:
        form = fields.get("FormNumber", "")
        parts.append(f"        <Document FormTypeName={quoteattr(form)}>" if form else "        <Document>")
        parts.append("          <IndexFields>")
        parts += [
            f"            <IndexField Name={quoteattr(k)} Value={quoteattr(v)}/>"
            for k, v in fields.items()
            if k != "FormNumber"
        ]
        parts += [
            "          </IndexFields>",
            f"          <Pages><Page ImportFileName={quoteattr(name)}/></Pages>",
            "        </Document>",
        ]
    parts += ["      </Documents>", "    </Batch>", "  </Batches>", "</ImportSession>", ""]
    write_atomically(folder / "index.xml", "\n".join(parts).encode("utf-8"))
    if trigger:
        write_atomically(folder / trigger, b"")
    return folder


def dip_batch(
    folder: Path,
    documents: Sequence[tuple[dict[str, str], str, bytes | None]],
    encoding: str = "cp1252",
    trigger: str | None = "READY",
) -> Path:
    """An OnBase DIP batch in ``folder``: ``index.txt`` in ``encoding`` (Windows-1252 as a capture
    station on Windows writes it), the images named by Windows paths as DIP exports do."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for fields, name, data in documents:
        if data is not None:
            write_atomically(folder / name, data)
        lines.append("BEGIN:")
        if "FormNumber" in fields:
            lines.append(f">>DocTypeName: {fields['FormNumber']}")
        lines += [f"{k}: {v}" for k, v in fields.items() if k != "FormNumber"]
        lines += [f">>FileName: \\\\SCAN01\\EXPORTS\\{folder.name}\\{name}", "END:"]
    write_atomically(folder / "index.txt", ("\r\n".join(lines) + "\r\n").encode(encoding))
    if trigger:
        write_atomically(folder / trigger, b"")
    return folder
