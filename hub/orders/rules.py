"""Order rules that XSD 1.0 cannot express, reported in the same form as schema violations.

The schema (xsd/ccpor-order.xsd) holds structure, code lists, lengths and which elements each
profile requires; this module holds the cross-field rules: form and CLETS code agree, expiration
is given exactly once and lies after issue within the form's lawful duration, dates are not in
the future, condition 08 has its text, each document reference names one thing.
"""

from __future__ import annotations

from datetime import date, timedelta

from hub.codes import FORM_TO_CLETS, MAX_DURATION_DAYS, county_code_of_ori
from hub.errors import Violation
from hub.orders.document import OrderDocument


def check(doc: OrderDocument, *, active: bool, today: date, path: str) -> list[Violation]:
    """Every cross-field rule violation of ``doc`` under the ACTIVE or DRAFT profile."""
    out: list[Violation] = []

    def bad(rel: str, message: str) -> None:
        out.append(Violation(f"{path}/{rel}" if rel else path, message))

    try:
        county_code_of_ori(doc.court_ori)
    except ValueError as exc:
        bad("ord:CourtOrderIssuingCourt/ord:OrganizationORIIdentification", str(exc))

    form, otc = doc.form_code, doc.order_type_code
    if form and otc and FORM_TO_CLETS.get(form) != otc:
        bad("ord:ProtectionOrderTypeCode", f"form {form} carries CLETS order type {FORM_TO_CLETS.get(form)}, not {otc}")

    issued, expires = doc.issue_date, doc.expiration_date
    if issued and issued > today:
        bad("ord:CourtOrderIssuingDate", f"issue date {issued} is in the future")
    if expires and doc.non_expiring:
        bad(
            "ord:CourtOrderNonExpiringIndicator",
            "give either CourtOrderExpirationDate or CourtOrderNonExpiringIndicator=true, not both",
        )
    if active and not expires and not doc.non_expiring:
        bad(
            "ord:CourtOrderExpirationDate",
            "an active order needs CourtOrderExpirationDate or CourtOrderNonExpiringIndicator=true",
        )
    if issued and expires:
        if expires < issued:
            bad("ord:CourtOrderExpirationDate", f"expiration date {expires} is before issue date {issued}")
        limit = MAX_DURATION_DAYS.get(form or "")
        if limit is not None and expires > issued + timedelta(days=limit):
            bad(
                "ord:CourtOrderExpirationDate",
                f"{form} orders last at most {limit} days: expiration {expires} is after "
                f"{issued + timedelta(days=limit)}",
            )
    if doc.non_expiring and form and form in MAX_DURATION_DAYS and form not in ("CR-160", "CR-161"):
        bad("ord:CourtOrderNonExpiringIndicator", f"{form} orders must have an expiration date")

    restrained = doc.restrained
    if restrained is not None:
        dob = OrderDocument(restrained).text("ord:PersonBirthDate")
        if dob and date.fromisoformat(dob[:10]) > today:
            bad("ord:ProtectionOrderRestrictedPerson/ord:PersonBirthDate", f"birth date {dob[:10]} is in the future")

    if "08" in doc.condition_codes and not doc.condition_text:
        bad(
            "ord:ProtectionOrderCondition/ord:ProtectionOrderConditionText",
            "condition code 08 (see MIS) requires ProtectionOrderConditionText",
        )

    served = doc.text("ord:ProofOfService/ord:CourtOrderServiceDate")
    if served and issued and date.fromisoformat(served[:10]) < issued:
        bad("ord:ProofOfService/ord:CourtOrderServiceDate", f"service date {served[:10]} is before issue date {issued}")

    for i, (image_id, qa_id) in enumerate(doc.document_references, start=1):
        if bool(image_id) == bool(qa_id):
            bad(f"ord:DocumentReference[{i}]", "a DocumentReference names exactly one of ImageId or QuickAttachId")
    return out
