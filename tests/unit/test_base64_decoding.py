"""The entry protocol decodes base64Binary (images) once, from the text node, as leniently as Spyne's
own decoder did (line breaks and spaces of wrapped base64 skipped), and refuses what it refused."""

from __future__ import annotations

import base64
import os

import pytest
from lxml import etree
from spyne.model.binary import ByteArray

from hub.soap.protocol import PreParsedSoap11

DATA = os.urandom(3000)


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(DATA).decode(),
        base64.encodebytes(DATA).decode(),  # wrapped at 76 characters, as MIME tools write it
        "  " + base64.b64encode(DATA).decode().replace("A", "A\r\n\t") + "\n",
        "",
    ],
)
def test_images_decode_to_their_bytes(text: str) -> None:
    element = etree.Element("Base64BinaryObject")
    element.text = text
    decoded = PreParsedSoap11(validator=None).byte_array_from_element(None, ByteArray, element)
    assert decoded == (base64.b64decode(text),)  # what Spyne's own decoder gives


@pytest.mark.parametrize("text", ["QUJD\u00e9", "QUJDRA="])  # a non-ASCII character; bad padding
def test_what_cannot_be_decoded_still_fails(text: str) -> None:
    element = etree.Element("Base64BinaryObject")
    element.text = text
    with pytest.raises(ValueError):
        PreParsedSoap11(validator=None).byte_array_from_element(None, ByteArray, element)
