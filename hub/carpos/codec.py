"""The CARPOS message codec: order events <-> NCIC-style CARPOS text (DOMAIN.md section 3).

A transaction is a message key (MKE) and ``CODE/value`` fields separated by periods::

    EPO.ORI/CA019015J.OCA/CCP0000000042.NAM/MOUSE,MICKEY M.SEX/M.RAC/W.DOB/19800517.HGT/510.
    WGT/180.EYE/BRO.HAI/BLK.PNO/24FL000123.OTC/OAH.ISD/20261112.EXP/20291111.CTI/CA019015J.
    PPN/DUCK,DAISY.PPB/19820102.PCO/01.PCO/04.PCO/05.BRD/Y

(one line on the wire; wrapped here). Field codes may repeat (PCO, and the protected-person group
PPN/PSX/PPR/PPB once per person, in order). Values are upper case and never contain the separators
``.`` and ``/``: :func:`normalize` turns a court's text into that form (``ST. JOHN`` -> ``ST JOHN``),
which is what CARPOS stores, so :func:`decode` of :func:`encode` gives back the same
:class:`Transaction` exactly.

:func:`check` applies the field rules of each message key before anything is sent -- mandatory
fields, code tables, lengths, date logic (EXP after ISD, the order type's longest duration) -- and
answers in DOJ's own words (``REJECT - MANDATORY FIELD MISSING (PPN)``), so an order CARPOS would
reject is told so at intake. DOJ's answers (ACK with an FCN, REJ with a reason, unsolicited
notices) are parsed by :func:`parse_answer`.

This module is pure: no I/O, no database; the gateway and the mock DOJ switch both use it.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from lxml import etree

from hub import ns
from hub.codes import FORM_TO_CLETS, MAX_DURATION_DAYS
from hub.orders.document import OrderDocument


class Mke(enum.StrEnum):
    """Message keys: enter, modify, serve, clear, cancel, query."""

    EPO = "EPO"
    MPO = "MPO"
    SPO = "SPO"
    CPO = "CPO"
    XPO = "XPO"
    QPO = "QPO"


class CarposError(ValueError):
    """A transaction or text CARPOS would reject; ``reasons`` in NCIC wording, every one found."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Transaction:
    """One CARPOS transaction: its message key and its fields in wire order."""

    mke: Mke
    fields: tuple[tuple[str, str], ...]

    def get(self, code: str) -> str | None:
        return next((v for c, v in self.fields if c == code), None)

    def all(self, code: str) -> list[str]:
        return [v for c, v in self.fields if c == code]

    def codes(self) -> set[str]:
        return {c for c, _ in self.fields}


# ------------------------------------------------------------------------------------------ tables

#: NCIC code tables (DOMAIN.md section 2); tests/unit/test_carpos.py holds them equal to the XSD's.
TABLES: dict[str, frozenset[str]] = {
    "SEX": frozenset("FMU"),
    "RAC": frozenset("ABHIPUW"),
    "EYE": frozenset("BLK BLU BRO GRN GRY HAZ MAR MUL PNK XXX".split()),
    "HAI": frozenset("BLD BLK BLN BLU BRO GRN GRY ONG PLE PNK RED SDY WHI XXX".split()),
    "SKN": frozenset("ALB BLK DBR DRK FAR LBR LGT MBR MED OLV RUD SAL YEL".split()),
    "OTC": frozenset(FORM_TO_CLETS.values()),
    "PCO": frozenset(f"{n:02d}" for n in range(1, 10)),
    "BRD": frozenset("YNU"),
    "TOS": frozenset({"PERSONAL", "IN-COURT", "MAIL", "SUBSTITUTED", "OTHER"}),
}
TABLES["PSX"], TABLES["PPR"] = TABLES["SEX"], TABLES["RAC"]

#: The longest an order of each CLETS type may last (the shortest of its forms' limits).
OTC_MAX_DAYS: dict[str, int] = {}
for _form, _otc in FORM_TO_CLETS.items():
    if _form in MAX_DURATION_DAYS:
        OTC_MAX_DAYS[_otc] = min(OTC_MAX_DAYS.get(_otc, MAX_DURATION_DAYS[_form]), MAX_DURATION_DAYS[_form])

#: Longest value per field (NCIC-style field sizes).
LENGTHS = {"NAM": 30, "PPN": 30, "PNO": 20, "OCA": 20, "MIS": 500, "OLN": 20, "FCN": 13, "MCN": 24}

_DATE_FIELDS = {"DOB", "ISD", "EXP", "PPB", "SVD"}
_ORI_FIELDS = {"ORI", "CTI", "SVA"}
_ORI = re.compile(r"CA0(0[1-9]|[1-4][0-9]|5[0-8])[0-9A-Z]{4}")

#: Mandatory fields per message key (QPO: ORI plus one of its search keys, checked apart).
MANDATORY: dict[Mke, tuple[str, ...]] = {
    Mke.EPO: ("ORI", "OCA", "NAM", "SEX", "RAC", "DOB", "PNO", "OTC", "ISD", "EXP", "CTI", "PPN", "PCO", "BRD"),
    Mke.MPO: ("ORI", "OCA", "FCN"),
    Mke.SPO: ("ORI", "OCA", "FCN", "SVD", "SVA", "TOS"),
    Mke.CPO: ("ORI", "OCA", "FCN"),
    Mke.XPO: ("ORI", "OCA", "FCN"),
    Mke.QPO: ("ORI",),
}

#: Every field code a message may carry, in the order they are written.
ORDER = (
    "ORI", "OCA", "FCN", "NAM", "SEX", "RAC", "DOB", "HGT", "WGT", "EYE", "HAI", "SKN", "OLN", "OLS",
    "PNO", "OTC", "ISD", "EXP", "CTI", "PPN", "PSX", "PPR", "PPB", "PCO", "BRD", "MIS",
    "SVD", "SVT", "SVA", "TOS",
)  # fmt: skip
_KNOWN = frozenset(ORDER)


# ------------------------------------------------------------------------------------------- text


def normalize(text: str) -> str:
    """A court's text as CARPOS keeps it: ASCII upper case (accents folded: ``Á`` -> ``A``), no
    separators, single spaces."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.upper()) if not unicodedata.combining(c))
    kept = "".join(c if " " <= c <= "~" and c not in "./" else " " for c in folded)
    return " ".join(kept.split())


def encode(tx: Transaction) -> str:
    """The wire text of a transaction (checked: a transaction CARPOS would reject is refused)."""
    check(tx)
    return ".".join([tx.mke.value, *(f"{code}/{value}" for code, value in tx.fields)])


def decode(text: str) -> Transaction:
    """A transaction from its wire text; CarposError if it is not one."""
    head, _, rest = text.strip().partition(".")
    try:
        mke = Mke(head)
    except ValueError:
        raise CarposError([f"REJECT - INVALID MESSAGE KEY ({head[:3]})"]) from None
    fields = []
    for part in rest.split(".") if rest else []:
        code, sep, value = part.partition("/")
        if not sep or code not in _KNOWN:
            raise CarposError([f"REJECT - INVALID FIELD ({part[:10]})"])
        fields.append((code, value))
    return Transaction(mke, tuple(fields))


def check(tx: Transaction) -> None:
    """Raise CarposError listing every reason CARPOS would reject ``tx``."""
    reasons = problems(tx)
    if reasons:
        raise CarposError(reasons)


def problems(tx: Transaction) -> list[str]:
    """Every reason CARPOS would reject ``tx``, in NCIC wording (empty: it would be accepted)."""
    out: list[str] = []
    present = tx.codes()
    for code in MANDATORY[tx.mke]:
        if code not in present:
            out.append(f"REJECT - MANDATORY FIELD MISSING ({code})")
    if tx.mke is Mke.QPO and not ({"FCN"} <= present or {"NAM", "DOB"} <= present or {"PNO", "CTI"} <= present):
        out.append("REJECT - QUERY NEEDS FCN, NAM AND DOB, OR PNO AND CTI")
    for code, value in tx.fields:
        out.extend(_field_problems(code, value))
    if "08" in tx.all("PCO") and "MIS" not in present:
        out.append("REJECT - MANDATORY FIELD MISSING (MIS FOR PCO 08)")
    out.extend(_date_logic(tx))
    return out


def _field_problems(code: str, value: str) -> list[str]:
    if code not in _KNOWN:
        return [f"REJECT - INVALID FIELD ({code})"]
    if not value or value != value.strip() or "." in value or "/" in value or value != value.upper():
        return [f"REJECT - INVALID FORMAT ({code})"]
    if code in LENGTHS and len(value) > LENGTHS[code]:
        return [f"REJECT - FIELD TOO LONG ({code})"]
    if code in TABLES and value not in TABLES[code]:
        return [f"REJECT - INVALID CODE ({code}/{value[:10]})"]
    if code in _ORI_FIELDS and not _ORI.fullmatch(value):
        return [f"REJECT - INVALID ORI ({code})"]
    if code in _DATE_FIELDS and parse_wire_date(value) is None and not (code == "EXP" and value == "NONEXP"):
        return [f"REJECT - INVALID DATE ({code})"]
    if code in ("NAM", "PPN") and not re.fullmatch(r"[A-Z' -]+,[A-Z' -]*", value):
        return [f"REJECT - INVALID NAME ({code})"]
    if code == "HGT" and not re.fullmatch(r"[1-8](0[0-9]|1[01])", value):
        return ["REJECT - INVALID FORMAT (HGT)"]
    if code == "WGT" and not re.fullmatch(r"[0-9]{3}", value):
        return ["REJECT - INVALID FORMAT (WGT)"]
    if code == "FCN" and not re.fullmatch(r"[0-9]{13}", value):
        return ["REJECT - INVALID FORMAT (FCN)"]
    if code == "SVT" and not re.fullmatch(r"([01][0-9]|2[0-3])[0-5][0-9]", value):
        return ["REJECT - INVALID FORMAT (SVT)"]
    return []


def _date_logic(tx: Transaction) -> list[str]:
    out = []
    issued, expires = parse_wire_date(tx.get("ISD") or ""), tx.get("EXP")
    if issued and expires and expires != "NONEXP" and (end := parse_wire_date(expires)):
        if end <= issued:
            out.append("REJECT - INVALID DATE (EXP BEFORE ISD)")
        limit = OTC_MAX_DAYS.get(tx.get("OTC") or "")
        if limit is not None and end > issued + timedelta(days=limit):
            out.append(f"REJECT - INVALID DATE (EXP EXCEEDS {limit} DAYS FOR {tx.get('OTC')})")
    if expires == "NONEXP" and tx.get("OTC") in OTC_MAX_DAYS:
        out.append(f"REJECT - INVALID DATE (NONEXP NOT ALLOWED FOR {tx.get('OTC')})")
    served, dob = parse_wire_date(tx.get("SVD") or ""), parse_wire_date(tx.get("DOB") or "")
    if served and issued and served < issued:
        out.append("REJECT - INVALID DATE (SVD BEFORE ISD)")
    if dob and issued and dob > issued:
        out.append("REJECT - INVALID DATE (DOB AFTER ISD)")
    return out


def parse_wire_date(value: str | None) -> date | None:
    """A YYYYMMDD value as a date; None if it is none or not one."""
    if not value or not re.fullmatch(r"[0-9]{8}", value):
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def wire_date(value: date) -> str:
    return value.strftime("%Y%m%d")


def wire_name(surname: str, given: str | None, middle: str | None) -> str:
    """``LAST,FIRST MIDDLE``: letters, apostrophes, hyphens and spaces only, cut to 30 characters
    (the surname to 28, so the comma and an initial always fit)."""

    def letters(text: str | None) -> str:
        return " ".join(re.sub(r"[^A-Z' -]", " ", normalize(text or "")).split())

    first = " ".join(p for p in (letters(given), letters(middle)) if p)
    return f"{letters(surname)[:28].rstrip()},{first}"[:30].rstrip()


_PROTECTED_GROUP = ("PPN", "PSX", "PPR", "PPB")
#: Wire order; a protected person's fields share one rank, so a stable sort keeps each group whole.
_RANK = {code: ORDER.index("PPN") if code in _PROTECTED_GROUP else i for i, code in enumerate(ORDER)}


def build(mke: Mke, pairs: Iterable[tuple[str, str | None]]) -> Transaction:
    """A transaction from (code, value) pairs: absent values dropped, fields in wire order, repeated
    codes (PCO, the protected-person groups) in their given order."""
    kept = [(c, v) for c, v in pairs if v is not None and v != ""]
    unknown = sorted({c for c, _ in kept} - _KNOWN)
    if unknown:
        raise CarposError([f"REJECT - INVALID FIELD ({unknown[0]})"])
    return Transaction(mke, tuple(sorted(kept, key=lambda p: _RANK[p[0]])))


def from_order(doc: OrderDocument, *, mke: Mke, ori: str, oca: str, fcn: str | None = None) -> Transaction:
    """The transaction an order event becomes: EPO (enter) and MPO (modify) carry the whole record,
    SPO the service, CPO and XPO only the record's identity (FCN, OCA)."""
    pairs: list[tuple[str, str | None]] = [("ORI", ori), ("OCA", oca), ("FCN", fcn)]
    if mke in (Mke.EPO, Mke.MPO):
        pairs += _record(doc)
    if mke in (Mke.EPO, Mke.MPO, Mke.SPO):
        pairs += _service(doc)
    return build(mke, pairs)


def _record(doc: OrderDocument) -> list[tuple[str, str | None]]:
    r = doc.restrained
    name = doc.parties()[0].name if doc.parties() and doc.parties()[0].role == "RESTRAINED" else None
    dob = _xml_date(r, "PersonBirthDate")
    weight = _xml(r, "PersonWeightMeasure")
    pairs: list[tuple[str, str | None]] = [
        ("NAM", wire_name(name.surname, name.given, name.middle) if name else None),
        ("SEX", _xml(r, "PersonSexCode")),
        ("RAC", _xml(r, "PersonRaceCode")),
        ("DOB", dob),
        ("HGT", _xml(r, "PersonHeightText")),
        ("WGT", f"{int(weight):03d}" if weight else None),
        ("EYE", _xml(r, "PersonEyeColorCode")),
        ("HAI", _xml(r, "PersonHairColorCode")),
        ("SKN", _xml(r, "PersonSkinToneCode")),
        ("OLN", normalize(_xml(r, "DriverLicense/DriverLicenseIdentification") or "") or None),
        ("OLS", _xml(r, "DriverLicense/DriverLicenseIssuingStateCode")),
        ("PNO", normalize(doc.case_number)[:20] or None),
        ("OTC", doc.order_type_code),
        ("ISD", wire_date(doc.issue_date) if doc.issue_date else None),
        ("EXP", "NONEXP" if doc.non_expiring else wire_date(doc.expiration_date) if doc.expiration_date else None),
        ("CTI", doc.court_ori),
    ]
    for person in doc.protected:
        pname = person.find(_ord("PersonName"))
        pairs += [
            (
                "PPN",
                wire_name(
                    _xml(pname, "PersonSurName") or "", _xml(pname, "PersonGivenName"), _xml(pname, "PersonMiddleName")
                )
                if pname is not None
                else None,
            ),
            ("PSX", _xml(person, "PersonSexCode")),
            ("PPR", _xml(person, "PersonRaceCode")),
            ("PPB", _xml_date(person, "PersonBirthDate")),
        ]
    pairs += [("PCO", code) for code in doc.condition_codes]
    pairs += [("BRD", doc.text("ord:ProtectionOrderBradyIndicator"))]
    pairs += [("MIS", normalize(doc.condition_text or "")[:500] or None)]
    return pairs


def _service(doc: OrderDocument) -> list[tuple[str, str | None]]:
    proof = doc.element.find(_ord("ProofOfService"))
    if proof is None:
        return []
    time = _xml(proof, "CourtOrderServiceTime")
    return [
        ("SVD", _xml_date(proof, "CourtOrderServiceDate")),
        ("SVT", time[:5].replace(":", "") if time else None),
        ("SVA", _xml(proof, "ServingAgencyORIIdentification")),
        ("TOS", _xml(proof, "ServiceTypeCode")),
    ]


def _ord(path: str) -> str:
    return "/".join(f"{{{ns.ORDER}}}{part}" for part in path.split("/"))


def _xml(el: etree._Element | None, path: str) -> str | None:
    found = el.find(_ord(path)) if el is not None else None
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _xml_date(el: etree._Element | None, path: str) -> str | None:
    raw = _xml(el, path)
    return raw[:10].replace("-", "") if raw else None


# ----------------------------------------------------------------------------------------- answers


class AnswerKind(enum.StrEnum):
    ACK = "ACK"  # accepted, with the record's FCN
    REJ = "REJ"  # rejected, with the reason (RSN)
    NTC = "NTC"  # an unsolicited notice (MCN is the notice's own id; FCN/OCA name the record)
    QRY = "QRY"  # the answer to a QPO: CNT records follow, one REC line each


@dataclass(frozen=True)
class Answer:
    """DOJ's answer to a transmission (ACK / REJ, by its MCN) or an unsolicited notice (NTC)."""

    kind: AnswerKind
    mcn: str
    fcn: str | None = None
    reason: str | None = None
    text: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def answer_text(a: Answer) -> str:
    parts = [a.kind.value, f"MCN/{a.mcn}"]
    if a.fcn:
        parts.append(f"FCN/{a.fcn}")
    if a.reason:
        parts.append(f"RSN/{a.reason}")
    parts.extend(f"{k}/{v}" for k, v in a.extra.items())
    return ".".join(parts)


def parse_answer(text: str) -> Answer:
    """``ACK.MCN/x.FCN/y``, ``REJ.MCN/x.RSN/REJECT - ...``, ``NTC.MCN/x.FCN/y.RSN/...``,
    ``QRY.MCN/x.CNT/n``."""
    head, _, rest = text.strip().partition(".")
    try:
        kind = AnswerKind(head)
    except ValueError:
        raise CarposError([f"UNKNOWN ANSWER ({head[:3]})"]) from None
    values: dict[str, str] = {}
    for part in rest.split(".") if rest else []:
        code, sep, value = part.partition("/")
        if not sep:
            raise CarposError([f"MALFORMED ANSWER FIELD ({part[:10]})"])
        values[code] = value
    mcn = values.pop("MCN", None)
    if not mcn:
        raise CarposError(["ANSWER WITHOUT MCN"])
    fcn, reason = values.pop("FCN", None), values.pop("RSN", None)
    if kind is AnswerKind.ACK and not (fcn and re.fullmatch(r"[0-9]{13}", fcn)):
        raise CarposError(["ACK WITHOUT A VALID FCN"])
    if kind is AnswerKind.REJ and not reason:
        raise CarposError(["REJ WITHOUT A REASON"])
    if kind is AnswerKind.QRY and not (values.get("CNT") or "").isdigit():
        raise CarposError(["QRY WITHOUT A RECORD COUNT"])
    return Answer(kind, mcn, fcn, reason, text.strip(), values)


# ----------------------------------------------------------------------------------------- records

#: The fields a query answer's REC line carries before the record's own: its FCN and status.
RECORD_STATUS = ("ACTIVE", "CLEARED", "CANCELLED")


def record_text(fcn: str, status: str, fields: tuple[tuple[str, str], ...]) -> str:
    """One record of a query answer: ``REC.FCN/0190000000042.STS/ACTIVE.ORI/...`` (the record's
    fields as entered, in wire order)."""
    return ".".join(["REC", f"FCN/{fcn}", f"STS/{status}", *(f"{c}/{v}" for c, v in fields if c != "FCN")])


@dataclass(frozen=True)
class Record:
    """A record found by a query: its FCN, status and fields (repeated codes keep their order)."""

    fcn: str
    status: str
    fields: tuple[tuple[str, str], ...]

    def get(self, code: str) -> str | None:
        return next((v for c, v in self.fields if c == code), None)

    def all(self, code: str) -> list[str]:
        return [v for c, v in self.fields if c == code]


def parse_record(text: str) -> Record:
    head, _, rest = text.strip().partition(".")
    if head != "REC":
        raise CarposError([f"NOT A RECORD LINE ({head[:3]})"])
    pairs = []
    for part in rest.split(".") if rest else []:
        code, sep, value = part.partition("/")
        if not sep or (code not in _KNOWN and code != "STS"):
            raise CarposError([f"MALFORMED RECORD FIELD ({part[:10]})"])
        pairs.append((code, value))
    fcn = next((v for c, v in pairs if c == "FCN"), "")
    status = next((v for c, v in pairs if c == "STS"), "")
    if not re.fullmatch(r"[0-9]{13}", fcn) or status not in RECORD_STATUS:
        raise CarposError(["RECORD WITHOUT A VALID FCN AND STATUS"])
    return Record(fcn, status, tuple((c, v) for c, v in pairs if c not in ("FCN", "STS")))
