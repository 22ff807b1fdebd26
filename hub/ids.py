"""Public identifiers: a kind prefix and the row number, e.g. ``CCP0000000042``.

They fit NCIC's 20-character OCA field, read well over the phone, and a malformed one is simply
not found (it never reaches SQL as anything but an integer).
"""

from __future__ import annotations

from hub.errors import NotFound

ORDER, IMAGE, QUICK_ATTACH, CARPOS_MESSAGE = "CCP", "IMG", "QAT", "CMS"
_MAX_ROW = 2**31 - 1  # row ids are 32-bit integers on every database


def public(kind: str, number: int) -> str:
    return f"{kind}{number:010d}"


def parse(kind: str, text: str) -> int:
    """The row number inside ``text``; NotFound if it is not an identifier of this kind."""
    digits = text[len(kind) :]
    if not text.startswith(kind) or len(digits) != 10 or not digits.isdigit():
        raise NotFound(f"{text!r} is not a {describe(kind)} identifier (expected {kind} and 10 digits)")
    number = int(digits)
    if number > _MAX_ROW:
        raise NotFound(f"no {describe(kind)} {text}")
    return number


def describe(kind: str) -> str:
    return {ORDER: "order", IMAGE: "image", QUICK_ATTACH: "quick attach", CARPOS_MESSAGE: "CARPOS message"}[kind]
