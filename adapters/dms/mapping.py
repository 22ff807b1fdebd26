"""From an index record to what the hub is sent: the field table of docs/ADAPTERS.md.

A record with every field the ACTIVE profile needs (:data:`ACTIVE_FIELDS`) becomes a
``SubmitOrder``; one that lacks any of them goes in as a quick attach (case number, surname and
the image) for a clerk to complete in CCPOR. Values are checked here only as far as a capture
operator can act on the message (a date that is no date, a field name the table does not know);
everything else -- codes, lengths, the court rules -- is the hub's to check, and its fault comes
back with each violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from adapters.dms.index import Document

#: index field -> (where it goes, what it is); the order of the XSD is rebuilt in :func:`order`.
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
    raise RecordError(f"{name}: {text!r} is not a date (MM/DD/YYYY or YYYY-MM-DD)")


def _number(name: str, text: str) -> int:
    if not text.isdigit():
        raise RecordError(f"{name}: {text!r} is not a whole number")
    return int(text)


def _flag(name: str, text: str) -> bool:
    if text.upper() in ("Y", "YES", "TRUE", "1"):
        return True
    if text.upper() in ("N", "NO", "FALSE", "0"):
        return False
    raise RecordError(f"{name}: {text!r} is not Y or N")


def _name(f: dict[str, Any], prefix: str) -> dict[str, Any]:
    name = {"PersonGivenName": f.get(f"{prefix}FirstName"), "PersonMiddleName": f.get(f"{prefix}MiddleName")}
    name["PersonSurName"] = f[f"{prefix}LastName"]
    return {k: v for k, v in name.items() if v is not None}


def _dropped(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def map_document(
    document: Document, court_ori: str, source_system: str, message_id: str, ignored: tuple[str, ...] = ()
) -> Mapped:
    unknown = sorted(set(document.fields) - set(FIELDS) - set(ignored))
    if unknown:
        raise RecordError(
            f"{unknown[0]}: not a field of the index layout (fields: {', '.join(FIELDS)}; "
            "a capture station's own fields go in dms.ignore_fields)"
        )
    raw = document.fields
    if "CaseNumber" not in raw:
        raise RecordError("CaseNumber: required (even a quick attach is found by its case number)")
    f: dict[str, Any] = dict(raw)
    for name in _DATES:
        if name in f:
            f[name] = _date(name, f[name])
    for name in _NUMBERS:
        if name in f:
            f[name] = _number(name, f[name])
    sealed = _flag("Sealed", f["Sealed"]) if "Sealed" in f else None
    missing = tuple(name for name in ACTIVE_FIELDS if name not in f)
    surname = f.get("RestrainedLastName")
    if missing:
        return Mapped(f["CaseNumber"], surname, None, missing, bool(sealed))
    restrained = {
        "PersonName": _name(f, "Restrained"),
        "PersonBirthDate": f["RestrainedDOB"],
        "PersonSexCode": f["RestrainedSex"],
        "PersonRaceCode": f["RestrainedRace"],
        "PersonHeightText": f.get("RestrainedHeight"),
        "PersonWeightMeasure": f.get("RestrainedWeight"),
        "PersonEyeColorCode": f.get("RestrainedEyes"),
        "PersonHairColorCode": f.get("RestrainedHair"),
    }
    protected = {"PersonName": _name(f, "Protected"), "PersonBirthDate": f.get("ProtectedDOB")}
    codes = [c.strip() for c in f["Conditions"].split(",") if c.strip()]
    order = {
        "CourtOrderFormCode": f["FormNumber"],
        "ProtectionOrderTypeCode": f["OrderType"],
        "CourtOrderIssuingCourt": _dropped(
            {"OrganizationORIIdentification": f.get("CourtORI", court_ori), "OrganizationName": f.get("CourtName")}
        ),
        "CaseDocketID": f["CaseNumber"],
        "CourtOrderIssuingDate": f["IssueDate"],
        "CourtOrderExpirationDate": f.get("ExpirationDate"),
        "SealedIndicator": sealed,
        "ProtectionOrderRestrictedPerson": _dropped(restrained),
        "ProtectionOrderProtectedPerson": [_dropped(protected)],
        "ProtectionOrderCondition": _dropped(
            {"ProtectionOrderConditionCode": codes, "StayAwayDistanceMeasure": f.get("StayAwayYards")}
        ),
        "ProtectionOrderBradyIndicator": f["Brady"],
        "SourceSystemName": source_system,
        "SourceMessageID": message_id,
    }
    return Mapped(f["CaseNumber"], surname, _dropped(order), (), bool(sealed))
