"""The adapters' one vocabulary of order fields (docs/ADAPTERS.md, "Index fields"): a DMS index
record and a sheriff RMS's completed-field file name the same fields the same way, and this module
turns them into the order the orders WSDL takes.

:func:`map_document`: a DMS record with every field the ACTIVE profile needs
(:data:`ACTIVE_FIELDS`) becomes a ``SubmitOrder``; one that lacks any of them goes in as a quick
attach (case number, surname and the image) for a clerk to complete in CCPOR.
:func:`overlay`: an RMS's fields laid over the court's draft as the hub holds it.

Values are checked here only as far as an operator can act on the message (a date that is no date,
a field name the table does not know); everything else -- codes, lengths, the court rules -- is the
hub's to check, and its fault comes back with each violation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

#: field -> what it is (docs/ADAPTERS.md's table).
FIELDS = {
    "FormNumber": "Judicial Council form, e.g. DV-130",
    "OrderType": "CLETS order type printed on the form, e.g. OAH",
    "CaseNumber": "the court's case number",
    "CourtORI": "issuing court's ORI (default: dms.court_ori)",
    "CourtName": "issuing court's name",
    "IssueDate": "date issued (MM/DD/YYYY or YYYY-MM-DD)",
    "ExpirationDate": "date it expires",
    "Sealed": "Y when the order is sealed",
    "RestrainedLastName": "restrained person",
    "RestrainedFirstName": "",
    "RestrainedMiddleName": "",
    "RestrainedDOB": "",
    "RestrainedSex": "F, M or U",
    "RestrainedRace": "NCIC race code",
    "RestrainedHeight": "feet and inches, e.g. 510",
    "RestrainedWeight": "pounds",
    "RestrainedEyes": "NCIC eye colour",
    "RestrainedHair": "NCIC hair colour",
    "ProtectedLastName": "protected person",
    "ProtectedFirstName": "",
    "ProtectedDOB": "",
    "Conditions": "condition codes, comma-separated, e.g. 01,04,05",
    "StayAwayYards": "stay-away distance in yards",
    "Brady": "Y, N or U",
}
ACTIVE_FIELDS = (
    "FormNumber",
    "OrderType",
    "CaseNumber",
    "IssueDate",
    "RestrainedLastName",
    "RestrainedDOB",
    "RestrainedSex",
    "RestrainedRace",
    "ProtectedLastName",
    "Conditions",
    "Brady",
)
_DATES = ("IssueDate", "ExpirationDate", "RestrainedDOB", "ProtectedDOB")
_NUMBERS = ("RestrainedWeight", "StayAwayYards")


class RecordError(ValueError):
    """The record cannot be sent as it is: the message names the field."""


@dataclass(frozen=True)
class Mapped:
    """What one record becomes: ``order`` for SubmitOrder, or ``None`` and the quick attach's
    case number and surname (``missing``: the ACTIVE fields it lacks)."""

    case_number: str
    surname: str | None
    order: dict[str, Any] | None
    missing: tuple[str, ...]
    sealed: bool = False


def _date(name: str, text: str) -> date:
    for form in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, form).date()  # noqa: DTZ007 - a calendar date, no time
        except ValueError:
            continue
    raise RecordError(f"{name}: not a date (MM/DD/YYYY or YYYY-MM-DD)")


def _number(name: str, text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", text):  # ASCII digits: str.isdigit() takes "²", int() does not
        raise RecordError(f"{name}: not a whole number")
    return int(text)


def _flag(name: str, text: str) -> bool:
    if text.upper() in ("Y", "YES", "TRUE", "1"):
        return True
    if text.upper() in ("N", "NO", "FALSE", "0"):
        return False
    raise RecordError(f"{name}: not Y or N")


def _converted(raw: dict[str, str], ignored: tuple[str, ...], where_extra: str) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(FIELDS) - set(ignored))
    if unknown:
        raise RecordError(f"{unknown[0]}: not one of the order fields (fields: {', '.join(FIELDS)}{where_extra})")
    f: dict[str, Any] = {k: v for k, v in raw.items() if k in FIELDS}
    for name in _DATES:
        if name in f:
            f[name] = _date(name, f[name])
    for name in _NUMBERS:
        if name in f:
            f[name] = _number(name, f[name])
    if "Sealed" in f:
        f["Sealed"] = _flag("Sealed", f["Sealed"])
    return f


def _partial(f: dict[str, Any]) -> dict[str, Any]:
    """The order elements ``f`` gives, nested as the schema nests them (absent fields: no key)."""

    def some(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if v is not None and v != {} and v != []}

    def name(prefix: str) -> dict[str, Any]:
        return some({
            "PersonGivenName": f.get(f"{prefix}FirstName"),
            "PersonMiddleName": f.get(f"{prefix}MiddleName"),
            "PersonSurName": f.get(f"{prefix}LastName"),
        })  # fmt: skip

    codes = [c.strip() for c in f["Conditions"].split(",") if c.strip()] if "Conditions" in f else None
    court = some({"OrganizationORIIdentification": f.get("CourtORI"), "OrganizationName": f.get("CourtName")})
    restrained = some({
        "PersonName": name("Restrained"),
        "PersonBirthDate": f.get("RestrainedDOB"),
        "PersonSexCode": f.get("RestrainedSex"),
        "PersonRaceCode": f.get("RestrainedRace"),
        "PersonHeightText": f.get("RestrainedHeight"),
        "PersonWeightMeasure": f.get("RestrainedWeight"),
        "PersonEyeColorCode": f.get("RestrainedEyes"),
        "PersonHairColorCode": f.get("RestrainedHair"),
    })  # fmt: skip
    protected = some({"PersonName": name("Protected"), "PersonBirthDate": f.get("ProtectedDOB")})
    conditions = some({"ProtectionOrderConditionCode": codes, "StayAwayDistanceMeasure": f.get("StayAwayYards")})
    return some({
        "CourtOrderFormCode": f.get("FormNumber"),
        "ProtectionOrderTypeCode": f.get("OrderType"),
        "CourtOrderIssuingCourt": court,
        "CaseDocketID": f.get("CaseNumber"),
        "CourtOrderIssuingDate": f.get("IssueDate"),
        "CourtOrderExpirationDate": f.get("ExpirationDate"),
        "SealedIndicator": f.get("Sealed"),
        "ProtectionOrderRestrictedPerson": restrained,
        "ProtectionOrderProtectedPerson": [protected] if protected else None,
        "ProtectionOrderCondition": conditions,
        "ProtectionOrderBradyIndicator": f.get("Brady"),
    })  # fmt: skip


def complete(raw: dict[str, str]) -> bool:
    """Whether a record names every field the ACTIVE profile needs (a value given for each)."""
    return all(raw.get(name, "").strip() for name in ACTIVE_FIELDS)


def map_document(
    raw: dict[str, str], court_ori: str, source_system: str, message_id: str, ignored: tuple[str, ...] = ()
) -> Mapped:
    """A DMS index record: a whole order, or what its quick attach needs."""
    f = _converted(raw, ignored, "; a capture station's own fields go in dms.ignore_fields")
    if "CaseNumber" not in f:
        raise RecordError("CaseNumber: required (even a quick attach is found by its case number)")
    sealed = bool(f.get("Sealed"))
    missing = tuple(name for name in ACTIVE_FIELDS if name not in f)
    if missing:
        return Mapped(f["CaseNumber"], f.get("RestrainedLastName"), None, missing, sealed)
    order = _partial({"CourtORI": court_ori} | f)
    order["SourceSystemName"], order["SourceMessageID"] = source_system, message_id
    return Mapped(f["CaseNumber"], f.get("RestrainedLastName"), order, (), sealed)


def overlay(order: dict[str, Any], raw: dict[str, str], source_system: str, message_id: str) -> dict[str, Any]:
    """``order`` (as GetOrder gave it) with the fields of ``raw`` laid over it: a given field
    replaces the draft's value, a person's fields merge into the draft's person (the first
    protected person), the conditions' codes replace the draft's codes."""
    return _merged(order, _partial(_converted(raw, (), ""))) | {
        "SourceSystemName": source_system,
        "SourceMessageID": message_id,
    }


def _merged(base: Any, over: Any) -> Any:
    if isinstance(over, dict) and isinstance(base, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merged(base.get(key), value)
        return out
    if isinstance(over, list) and over and isinstance(over[0], dict) and isinstance(base, list) and base:
        return [_merged(base[0], over[0]), *base[1:]]
    return over
