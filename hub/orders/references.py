"""An order's DocumentReferences: the images and quick attaches it names become its own."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import ids
from hub.accounts.service import Principal
from hub.codes import QuickAttachStatus
from hub.db.models import Image, Order, QuickAttach
from hub.errors import NotFound, ValidationError, Violation
from hub.orders.document import OrderDocument
from hub.orders.records import NewOrder


def link_documents(s: Session, who: Principal, order: Order | NewOrder, doc: OrderDocument, path: str) -> None:
    """Attach referenced images; convert referenced quick attaches into this order."""
    problems: list[Violation] = []
    for i, (image_id, qa_id) in enumerate(doc.document_references, start=1):
        where = f"{path}/ord:DocumentReference[{i}]"
        if image_id:
            image = _find(s, Image, ids.IMAGE, image_id)
            quick = image is not None and s.scalar(select(QuickAttach.id).where(QuickAttach.image_id == image.id))
            if (
                image is None
                or quick
                or image.owner_org_id != who.organization_id
                or image.order_id not in (None, order.id)
            ):
                problems.append(
                    Violation(
                        f"{where}/ord:ImageId",
                        f"no unattached image {image_id} of your organization "
                        "(a quick attach's image is named by its QuickAttachId)",
                    )
                )
                continue
            image.order_id = order.id
        elif qa_id:
            qa = _find(s, QuickAttach, ids.QUICK_ATTACH, qa_id)
            if qa is None or qa.county_code != who.county_code:
                problems.append(Violation(f"{where}/ord:QuickAttachId", f"no quick attach {qa_id} in your county"))
                continue
            if qa.status == QuickAttachStatus.CONVERTED.value and qa.converted_order_id != order.id:
                problems.append(
                    Violation(
                        f"{where}/ord:QuickAttachId",
                        f"quick attach {qa_id} was already converted into another order",
                    )
                )
                continue
            if qa.image.order_id not in (None, order.id):
                problems.append(
                    Violation(
                        f"{where}/ord:QuickAttachId", f"the image of quick attach {qa_id} belongs to another order"
                    )
                )
                continue
            qa.status, qa.converted_order_id = QuickAttachStatus.CONVERTED.value, order.id
            qa.image.order_id = order.id
    if problems:
        raise ValidationError("a DocumentReference names an image the order cannot use", problems)


def _find(s: Session, model: type, kind: str, public_id: str):  # type: ignore[no-untyped-def]
    try:
        return s.get(model, ids.parse(kind, public_id))
    except NotFound:
        return None
