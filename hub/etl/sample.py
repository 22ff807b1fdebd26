"""``ccpor-hub etl make-sample N``: realistic historical batches for tests and benchmarks.

Names are drawn from the distributions California courts see (the most frequent surnames of the
state's census, weighted; given names by sex), over every order form with its own CLETS code and
lawful duration, many orders long expired, some sealed, some with a
scan. A chosen share of records is deliberately bad, each in a way the loader must name: a form
that contradicts its CLETS code, an expiration before the issue date, an issue date in the future,
a missing required element, a scan that is missing, a non-PDF scan. Written as a stream
(``lxml.etree.xmlfile``): a million records take constant memory.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from lxml import etree

from hub import ns
from hub.clock import CourtCalendar
from hub.codes import FORM_TO_CLETS, MAX_DURATION_DAYS

# Weighted by the 2010 census counts for California (thousands), rounded.
SURNAMES: tuple[tuple[str, int], ...] = (
    ("GARCIA", 430),
    ("HERNANDEZ", 330),
    ("LOPEZ", 290),
    ("MARTINEZ", 280),
    ("RODRIGUEZ", 270),
    ("GONZALEZ", 260),
    ("PEREZ", 200),
    ("SANCHEZ", 190),
    ("SMITH", 180),
    ("RAMIREZ", 170),
    ("NGUYEN", 160),
    ("TORRES", 130),
    ("FLORES", 130),
    ("JOHNSON", 130),
    ("RIVERA", 110),
    ("WILLIAMS", 110),
    ("GOMEZ", 110),
    ("DIAZ", 110),
    ("BROWN", 100),
    ("JONES", 90),
    ("MORALES", 90),
    ("CRUZ", 80),
    ("REYES", 80),
    ("GUTIERREZ", 80),
    ("ORTIZ", 70),
    ("CHAVEZ", 70),
    ("RUIZ", 70),
    ("ALVAREZ", 70),
    ("MILLER", 70),
    ("DAVIS", 70),
    ("CASTILLO", 60),
    ("JIMENEZ", 60),
    ("KIM", 60),
    ("LEE", 60),
    ("MENDOZA", 60),
    ("VASQUEZ", 60),
    ("MORENO", 60),
    ("ROMERO", 60),
    ("HERRERA", 60),
    ("WANG", 50),
    ("CHEN", 50),
    ("TRAN", 50),
    ("ANDERSON", 50),
    ("WILSON", 50),
    ("MARTIN", 50),
    ("TAYLOR", 50),
    ("THOMAS", 50),
    ("MOORE", 50),
    ("JACKSON", 40),
    ("WHITE", 40),
    ("MUÑOZ", 40),
    ("PEÑA", 20),
    ("O'BRIEN", 10),
    ("DE LA CRUZ", 20),
    ("SMITH-JONES", 5),
    ("VAN DYKE", 5),
    ("PHAM", 40),
)
MALE = (
    "JOSE",
    "MICHAEL",
    "DAVID",
    "JOHN",
    "JAMES",
    "ROBERT",
    "DANIEL",
    "CARLOS",
    "LUIS",
    "JUAN",
    "ANTHONY",
    "CHRISTOPHER",
    "JOSEPH",
    "MIGUEL",
    "KEVIN",
    "BRIAN",
    "MINH",
    "WEI",
    "JESUS",
    "ERIC",
)
FEMALE = (
    "MARIA",
    "JENNIFER",
    "ELIZABETH",
    "PATRICIA",
    "LINDA",
    "MICHELLE",
    "JESSICA",
    "ANA",
    "LAURA",
    "SARAH",
    "KAREN",
    "ROSA",
    "LISA",
    "ANGELA",
    "SUSAN",
    "MAI",
    "GUADALUPE",
    "EMILY",
)
FORMS = tuple(sorted(FORM_TO_CLETS))
RACES = ("W", "H", "B", "A", "I", "P", "U")
EYES = ("BRO", "BLU", "GRN", "HAZ", "BLK", "GRY")
HAIR = ("BLK", "BRO", "BLN", "RED", "GRY", "WHI", "BLD")
#: The ways a deliberately bad record is bad (what the loader must report).
FLAWS = ("form-code", "expiry-before-issue", "future-issue", "missing-restrained", "missing-image", "bad-image")

_O = ns.ORDER
_H = ns.HISTORICAL_BATCH


@dataclass(frozen=True)
class SampleSpec:
    records: int
    court: str = "CA019015J"
    court_name: str = "Superior Court of Los Angeles County"
    batch_id: str = "SAMPLE-1"
    source_system: str = "LEGACY-CMS"
    bad_share: float = 0.02
    image_share: float = 0.0
    seed: int = 917


def write_sample(target: Path, spec: SampleSpec, calendar: CourtCalendar) -> dict[str, int]:
    """Write a batch of ``spec.records`` records to ``target`` (scans, if any, beside it in
    ``<name>.images/``); how many records of each kind were written."""
    rnd = random.Random(spec.seed)  # noqa: S311 - reproducible test data, not a secret
    today = calendar.today()
    images = target.parent / f"{target.stem}.images"
    counts = {"records": 0, "bad": 0, "with_image": 0, "expired": 0}
    surnames, weights = zip(*SURNAMES, strict=True)
    with etree.xmlfile(str(target), encoding="utf-8") as xf:
        xf.write_declaration()
        attrs = {"BatchId": spec.batch_id, "SourceSystemName": spec.source_system}
        with xf.element(f"{{{_H}}}HistoricalBatch", attrs, nsmap=_NSMAP):  # type: ignore[arg-type]
            xf.write("\n")
            xf.write(_el(_H, "BatchDescription", f"{spec.records} sample records ({spec.seed})"))
            for number in range(1, spec.records + 1):
                flaw = rnd.choice(FLAWS) if rnd.random() < spec.bad_share else None
                scan = flaw in ("missing-image", "bad-image") or rnd.random() < spec.image_share
                record = _record(rnd, number, spec, today, surnames, weights, flaw)
                if scan:
                    record.append(_el(_H, "ImageFile", f"{images.name}/{number:08d}.pdf"))
                    if flaw != "missing-image":
                        images.mkdir(exist_ok=True)
                        (images / f"{number:08d}.pdf").write_bytes(_scan(number, bad=flaw == "bad-image"))
                    counts["with_image"] += 1
                expires = record.findtext(f"{{{_H}}}Order/{{{_O}}}CourtOrderExpirationDate")
                if flaw is None and expires and date.fromisoformat(expires) < today:
                    counts["expired"] += 1
                xf.write(record)
                xf.write("\n")
                counts["records"] += 1
                counts["bad"] += flaw is not None
    return counts


#: The file's prefixes: hb: for the batch, the order's namespace as the default.
_NSMAP = {"hb": _H, None: _O}


def _el(namespace: str, local: str, text: str | None = None) -> etree._Element:
    el = etree.Element(f"{{{namespace}}}{local}", nsmap=_NSMAP)  # type: ignore[arg-type]
    el.text = text
    return el


def _sub(parent: etree._Element, local: str, text: object | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{_O}}}{local}")
    if text is not None:
        el.text = text.isoformat() if isinstance(text, date) else str(text)
    return el


def _person(parent: etree._Element, tag: str, rnd: random.Random, surnames, weights, *, full: bool) -> None:  # type: ignore[no-untyped-def]
    sex = rnd.choice("MF")
    person = _sub(parent, tag)
    name = _sub(person, "PersonName")
    _sub(name, "PersonGivenName", rnd.choice(MALE if sex == "M" else FEMALE))
    if rnd.random() < 0.3:
        _sub(name, "PersonMiddleName", rnd.choice(MALE + FEMALE))
    _sub(name, "PersonSurName", rnd.choices(surnames, weights)[0])
    born = date(1950, 1, 1) + timedelta(days=rnd.randrange(0, 365 * 52))
    _sub(person, "PersonBirthDate", born)
    if full:
        _sub(person, "PersonSexCode", sex)
        _sub(person, "PersonRaceCode", rnd.choice(RACES))
        _sub(person, "PersonHeightText", f"{rnd.randint(4, 6)}{rnd.randint(0, 11):02d}")
        _sub(person, "PersonWeightMeasure", rnd.randint(100, 300))
        _sub(person, "PersonEyeColorCode", rnd.choice(EYES))
        _sub(person, "PersonHairColorCode", rnd.choice(HAIR))


def _record(rnd, number, spec, today, surnames, weights, flaw) -> etree._Element:  # type: ignore[no-untyped-def]
    record = _el(_H, "Record")
    record.set("RecordId", f"{spec.batch_id}-{number:08d}")
    order = etree.SubElement(record, f"{{{_H}}}Order")
    form = rnd.choice(FORMS)
    clets = FORM_TO_CLETS[form]
    if flaw == "form-code":
        clets = next(c for f, c in sorted(FORM_TO_CLETS.items()) if c != clets)
    _sub(order, "CourtOrderFormCode", form)
    _sub(order, "ProtectionOrderTypeCode", clets)
    court = _sub(order, "CourtOrderIssuingCourt")
    _sub(court, "OrganizationORIIdentification", spec.court)
    _sub(court, "OrganizationName", spec.court_name)
    year = rnd.randint(2005, today.year)
    kind = "FL" if form.startswith("DV") else "CR" if form.startswith("CR") else "CV"
    _sub(order, "CaseDocketID", f"{year % 100:02d}{kind}{number:07d}")
    issued = today - timedelta(days=int(rnd.triangular(1, 12 * 365, 1)))  # more recent than old
    if flaw == "future-issue":
        issued = today + timedelta(days=rnd.randint(2, 30))
    _sub(order, "CourtOrderIssuingDate", issued)
    longest = MAX_DURATION_DAYS.get(form)
    non_expiring = form in ("CR-160", "CR-161") and rnd.random() < 0.1 and flaw != "expiry-before-issue"
    if non_expiring:
        _sub(order, "CourtOrderNonExpiringIndicator", "true")
    else:
        days = rnd.randint(max(1, (longest or 365) // 3), longest or 3 * 365)
        expires = issued + timedelta(days=days)
        if flaw == "expiry-before-issue":
            expires = issued - timedelta(days=rnd.randint(1, 30))
        _sub(order, "CourtOrderExpirationDate", expires)
    if rnd.random() < 0.02:
        _sub(order, "SealedIndicator", "true")
    if flaw != "missing-restrained":
        _person(order, "ProtectionOrderRestrictedPerson", rnd, surnames, weights, full=True)
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        _person(order, "ProtectionOrderProtectedPerson", rnd, surnames, weights, full=False)
    condition = _sub(order, "ProtectionOrderCondition")
    for code in sorted(rnd.sample(("01", "02", "03", "04", "05", "06", "07", "09"), rnd.randint(1, 4))):
        _sub(condition, "ProtectionOrderConditionCode", code)
    if rnd.random() < 0.5:
        _sub(condition, "StayAwayDistanceMeasure", rnd.choice((50, 100, 100, 200, 300)))
    _sub(order, "ProtectionOrderBradyIndicator", rnd.choice("YYN"))
    return record


def _scan(number: int, *, bad: bool) -> bytes:
    if bad:
        return b"\xff\xd8\xff\xe0JFIF scanned as JPEG " + str(number).encode()
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n"
        + f"% historical record {number}\n".encode()
        + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )
