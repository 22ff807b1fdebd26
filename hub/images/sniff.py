"""Decide what an upload is from its bytes, never from its name. Only PDF and TIFF are accepted."""

from __future__ import annotations

import struct

from hub.errors import ImageRejected

PDF = "application/pdf"
TIFF = "image/tiff"


def media_type_of(data: bytes) -> str:
    """``application/pdf`` or ``image/tiff``, or ImageRejected saying what the bytes look like."""
    if data.startswith(b"%PDF-"):
        # A complete PDF ends with %%EOF (possibly followed by a newline or a little padding).
        if b"%%EOF" not in data[-1024:]:
            raise ImageRejected("the PDF is truncated: no %%EOF marker at its end")
        return PDF
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        fmt = "<I" if data[:2] == b"II" else ">I"
        if len(data) < 8:
            raise ImageRejected("the TIFF is truncated: no image file directory")
        (ifd,) = struct.unpack(fmt, data[4:8])
        if not 8 <= ifd < len(data):
            raise ImageRejected("the TIFF is damaged: its first image file directory lies outside the file")
        return TIFF
    if data[:4] in (b"II+\x00", b"MM\x00+"):
        return TIFF  # BigTIFF
    head = data[:8]
    if head.startswith(b"\xff\xd8\xff"):
        seen = "a JPEG image"
    elif head.startswith(b"\x89PNG"):
        seen = "a PNG image"
    elif head.startswith(b"PK\x03\x04"):
        seen = "a ZIP archive or Office document"
    elif not data:
        seen = "empty"
    else:
        seen = "not a PDF or TIFF"
    raise ImageRejected(f"only PDF and TIFF images are accepted; this upload is {seen}")
