from __future__ import annotations

import pytest

from hub.errors import ImageRejected
from hub.images.sniff import PDF, TIFF, media_type_of
from tests.support.orders import tiny_pdf, tiny_tiff


def test_pdf_and_tiff_by_content():
    assert media_type_of(tiny_pdf()) == PDF
    assert media_type_of(tiny_tiff()) == TIFF
    assert media_type_of(b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 16) == TIFF
    assert media_type_of(b"II+\x00" + b"\x00" * 12) == TIFF


@pytest.mark.parametrize(
    "data, says",
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"PK\x03\x04rest", "ZIP"),
        (b"", "empty"),
        (b"GIF89a", "not a PDF or TIFF"),
        (b"%PDF-1.7\n1 0 obj", "truncated"),
        (b"II*\x00\xff\xff\x00\x00", "damaged"),
    ],
)
def test_refused_with_a_reason(data: bytes, says: str):
    with pytest.raises(ImageRejected, match=says):
        media_type_of(data)
