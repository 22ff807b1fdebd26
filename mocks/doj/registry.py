"""What one CARPOS transaction does to the switch's registry, and the answer it gets.

The rules (ours, in NCIC style):

* every transaction passes :func:`hub.carpos.codec.problems` (the same field rules the hub checks at
  intake) and its ORI must be the envelope's sender, else ``REJ`` with DOJ's reasons;
* EPO enters a record and answers ``ACK`` with a new FCN (the entering agency's three county digits
  and ten more); the same order already on file -- the same OCA from the same court, or the same
  case, court, order type and restrained person (an order entered twice) -- is ``REJECT ON FILE``;
  an active order from another court for the same person (NAM and DOB) adds a notice (``NTC``);
* MPO, SPO, CPO, XPO name the record by FCN: unknown, cleared or cancelled is ``REJECT - NOT ON
  FILE``, an agency outside the record's county ``REJECT - NOT AUTHORIZED``; MPO replaces the
  record's fields, SPO adds the service, CPO clears it, XPO cancels it;
* QPO finds active records by FCN, by NAM and DOB, or by PNO and CTI: ``QRY`` with one ``REC`` line
  each (at most 50).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from hub.carpos import codec
from hub.carpos.codec import AnswerKind, Mke, Transaction
from hub.carpos.envelope import Transmission
from mocks.doj.models import Record

MAX_QUERY_RECORDS = 50
_RECORD_FIELDS = frozenset(codec.ORDER) - {"FCN"}
_SERVICE_FIELDS = ("SVD", "SVT", "SVA", "TOS")


@dataclass(frozen=True)
class Outcome:
    """The answer's kind and lines (first the answer, for QRY then the records), the FCN touched,
    and notices to send besides (each a line)."""

    kind: AnswerKind
    reason: str | None = None
    fcn: str | None = None
    records: tuple[str, ...] = ()
    notices: tuple[str, ...] = field(default_factory=tuple)

    def lines(self, answer_mcn: str, relates_to: str) -> tuple[str, ...]:
        extra = {"CNT": str(len(self.records))} if self.kind is AnswerKind.QRY else {}
        head = codec.Answer(self.kind, relates_to, fcn=self.fcn, reason=self.reason, extra=extra)
        return (codec.answer_text(head), *self.records)


def _reject(reason: str) -> Outcome:
    return Outcome(AnswerKind.REJ, reason=reason)


def apply(s: Session, t: Transmission, now: datetime) -> Outcome:
    """Apply the transaction in ``t`` (already verified and decrypted) to the registry."""
    try:
        tx = codec.decode(t.text)
    except codec.CarposError as err:
        return _reject("; ".join(err.reasons))
    if tx.mke.value != t.header.mke.value:
        return _reject(f"REJECT - MESSAGE KEY {tx.mke.value} DOES NOT MATCH THE HEADER ({t.header.mke.value})")
    reasons = codec.problems(tx)
    if reasons:
        return _reject("; ".join(reasons))
    if tx.get("ORI") != t.header.sender_ori:
        return _reject("REJECT - INVALID ORI (NOT THE SENDING AGENCY)")
    if tx.mke is Mke.EPO:
        return _enter(s, tx, now)
    if tx.mke is Mke.QPO:
        return _query(s, tx)
    return _change(s, tx, now)


def _fields(tx: Transaction) -> tuple[tuple[str, str], ...]:
    return tuple((c, v) for c, v in tx.fields if c in _RECORD_FIELDS)


def _text(fields: tuple[tuple[str, str], ...]) -> str:
    return ".".join(f"{c}/{v}" for c, v in fields)


def _parse(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((c, v) for c, _, v in (p.partition("/") for p in text.split(".") if p))


# Statements built once (the switch takes hundreds of entries a second in the benchmark).
_ON_FILE = (
    select(Record.fcn)
    .where(
        (Record.oca == bindparam("oca"))
        | ((Record.pno == bindparam("pno")) & (Record.nam == bindparam("nam")) & (Record.otc == bindparam("otc"))),
        Record.cti == bindparam("cti"),
        Record.status == "ACTIVE",
    )
    .limit(1)
)
_SET_FCN = update(Record.__table__).where(Record.__table__.c.id == bindparam("b_id")).values(fcn=bindparam("b_fcn"))
_CONFLICTS = (
    select(Record.fcn)
    .where(
        Record.nam == bindparam("nam"),
        Record.dob == bindparam("dob"),
        Record.status == "ACTIVE",
        Record.cti != bindparam("cti"),
    )
    .limit(5)
)


def _enter(s: Session, tx: Transaction, now: datetime) -> Outcome:
    ori, oca, cti = tx.get("ORI") or "", tx.get("OCA") or "", tx.get("CTI")
    nam, dob, pno, otc = tx.get("NAM") or "", tx.get("DOB"), tx.get("PNO"), tx.get("OTC")
    on_file = s.scalar(_ON_FILE, {"oca": oca, "pno": pno, "nam": nam, "otc": otc, "cti": cti})
    if on_file:
        return _reject(f"REJECT ON FILE (FCN {on_file})")
    fcn = _file_record(s, ori, oca, cti, _fields(tx), nam, dob, pno, otc, now)
    conflicts = s.scalars(_CONFLICTS, {"nam": nam, "dob": dob, "cti": cti}).all()
    notices = tuple(
        codec.answer_text(
            codec.Answer(
                AnswerKind.NTC,
                "{notice}",
                fcn=fcn,
                reason="POSSIBLE CONFLICTING ORDER ON FILE",
                extra={"OCA": oca, "REF": other or ""},
            )
        )
        for other in conflicts
    )
    return Outcome(AnswerKind.ACK, fcn=fcn, notices=notices)


_INSERT_RECORD = insert(Record.__table__).returning(Record.__table__.c.id)


def _file_record(
    s: Session,
    ori: str,
    oca: str,
    cti: str | None,
    fields: tuple[tuple[str, str], ...],
    nam: str,
    dob: str | None,
    pno: str | None,
    otc: str | None,
    now: datetime,
    *,
    seeded: bool = False,
) -> str:
    """A new ACTIVE record, numbered: its FCN."""
    values = dict(ori=ori, oca=oca, status="ACTIVE", fields=_text(fields), nam=nam, dob=dob, pno=pno, cti=cti,
                  otc=otc, served=any(c == "SVD" for c, _ in fields), seeded=seeded, modifications=0,
                  entered_at=now, updated_at=now)  # fmt: skip
    record_id = int(s.execute(_INSERT_RECORD, values).scalar_one())
    fcn = _fcn(ori, record_id)
    s.execute(_SET_FCN, {"b_id": record_id, "b_fcn": fcn})
    return fcn


def _fcn(ori: str, record_id: int) -> str:
    """The entering agency's three county digits and the record's number."""
    return f"{ori[2:5]}{record_id:010d}"


def _change(s: Session, tx: Transaction, now: datetime) -> Outcome:
    fcn = tx.get("FCN") or ""
    record = s.scalar(select(Record).where(Record.fcn == fcn).with_for_update())
    if record is None or record.status != "ACTIVE":
        return _reject(f"REJECT - NOT ON FILE (FCN {fcn})")
    ori = tx.get("ORI") or ""
    if ori[2:5] not in (record.ori[2:5], (record.cti or "")[2:5]):
        return _reject("REJECT - NOT AUTHORIZED (THE RECORD BELONGS TO ANOTHER COUNTY)")
    values: dict[str, object] = {"updated_at": now}
    if tx.mke is Mke.MPO:
        fields = _fields(tx)
        values |= {"fields": _text(fields), "nam": tx.get("NAM") or record.nam, "dob": tx.get("DOB"),
                   "pno": tx.get("PNO"), "otc": tx.get("OTC"), "modifications": record.modifications + 1}  # fmt: skip
        values["served"] = record.served or "SVD" in tx.codes()
    elif tx.mke is Mke.SPO:
        kept = tuple((c, v) for c, v in _parse(record.fields) if c not in _SERVICE_FIELDS)
        values |= {"fields": _text(kept + tuple((c, v) for c, v in tx.fields if c in _SERVICE_FIELDS)), "served": True}
    else:
        values["status"] = "CLEARED" if tx.mke is Mke.CPO else "CANCELLED"
    s.execute(update(Record).where(Record.id == record.id).values(**values))
    return Outcome(AnswerKind.ACK, fcn=fcn)


def _query(s: Session, tx: Transaction) -> Outcome:
    query = select(Record).where(Record.status == "ACTIVE")
    if tx.get("FCN"):
        query = query.where(Record.fcn == tx.get("FCN"))
    elif tx.get("NAM") and tx.get("DOB"):
        query = query.where(Record.nam == tx.get("NAM"), Record.dob == tx.get("DOB"))
    else:
        query = query.where(Record.pno == tx.get("PNO"), Record.cti == tx.get("CTI"))
    found = s.scalars(query.order_by(Record.id).limit(MAX_QUERY_RECORDS)).all()
    records = tuple(codec.record_text(r.fcn or "", r.status, _parse(r.fields)) for r in found)
    return Outcome(AnswerKind.QRY, records=records)


# ---------------------------------------------------------------------------------------- seeding

_SURNAMES = ("GARCIA", "NGUYEN", "SMITH", "JOHNSON", "LOPEZ", "KIM", "PATEL", "BROWN", "MARTINEZ", "LEE",
             "HERNANDEZ", "DAVIS", "WILSON", "CHEN", "RODRIGUEZ", "MILLER", "TAYLOR", "ANDERSON")  # fmt: skip
_GIVEN = ("JAMES", "MARIA", "JOHN", "LINDA", "ROBERT", "ANA", "DAVID", "SUSAN", "JOSE", "KAREN", "MICHAEL")
#: The reference date of seeded records, fixed so that the same seed gives the same registry on any day.
SEED_DATE = date(2026, 1, 15)


def seed_records(count: int, seed: int) -> list[tuple[str, str, str, tuple[tuple[str, str], ...]]]:
    """``count`` orders of other agencies (ORI, OCA, CTI, fields), the same for the same ``seed``."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    out = []
    for n in range(count):
        county = rng.randint(1, 58)
        ori = f"CA0{county:02d}0000" if rng.random() < 0.5 else f"CA0{county:02d}{rng.randint(100, 999)}J"
        cti = f"CA0{county:02d}015J"
        issued = SEED_DATE - timedelta(days=rng.randint(1, 600))
        otc = rng.choice(("OAH", "CHO", "CPO", "EAR"))
        expires = issued + timedelta(days=3 * 365)
        dob = date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28))
        fields = (
            ("ORI", ori),
            ("OCA", f"SEED{n:08d}"),
            ("NAM", f"{rng.choice(_SURNAMES)},{rng.choice(_GIVEN)}"),
            ("SEX", rng.choice("FM")),
            ("RAC", rng.choice("ABHIW")),
            ("DOB", dob.strftime("%Y%m%d")),
            ("PNO", f"{issued:%y}FL{rng.randint(1, 999999):06d}"),
            ("OTC", otc),
            ("ISD", issued.strftime("%Y%m%d")),
            ("EXP", expires.strftime("%Y%m%d")),
            ("CTI", cti),
            ("PPN", f"{rng.choice(_SURNAMES)},{rng.choice(_GIVEN)}"),
            ("PCO", "01"),
            ("PCO", "05"),
            ("BRD", rng.choice("YNU")),
        )
        out.append((ori, f"SEED{n:08d}", cti, fields))
    return out


def seed(s: Session, count: int, seed_value: int, now: datetime) -> int:
    """Fill an empty registry with other agencies' orders; the number added."""
    if count <= 0 or s.scalar(select(Record.id).limit(1)) is not None:
        return 0
    for ori, oca, cti, fields in seed_records(count, seed_value):
        v = dict(fields)
        _file_record(s, ori, oca, cti, fields, v["NAM"], v["DOB"], v["PNO"], v["OTC"], now, seeded=True)
    return count
