"""Use cases on images: attach to an order, quick attach, read back (verified)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import ids, metrics
from hub.accounts import permissions
from hub.accounts.service import Principal
from hub.clock import Clock
from hub.codes import OrderStatus, QuickAttachStatus
from hub.db.models import Image, Order, QuickAttach
from hub.errors import Forbidden, ImageRejected, InvalidState, NotFound
from hub.images.sniff import media_type_of
from hub.images.store import ImageStore
from hub.orders.search import Pattern
from hub.orders.service import OrderService


@dataclass(frozen=True)
class ImageContent:
    image: Image
    data: bytes


class ImageService:
    def __init__(self, store: ImageStore, max_bytes: int, orders: OrderService, clock: Clock) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.orders = orders
        self.clock = clock

    def _store(self, s: Session, who: Principal, data: bytes, file_name: str | None) -> Image:
        if len(data) > self.max_bytes:
            raise ImageRejected(f"the image has {len(data)} bytes; the limit is {self.max_bytes} bytes")
        media_type = media_type_of(data)
        sha = self.store.put(data)
        metrics.IMAGE_BYTES.labels("in").inc(len(data))
        image = Image(
            sha256=sha,
            media_type=media_type,
            size_bytes=len(data),
            file_name=file_name,
            owner_org_id=who.organization_id,
            uploaded_by_id=who.account_id,
            created_at=self.clock(),
        )
        s.add(image)
        s.flush()
        return image

    def attach(self, s: Session, who: Principal, order_id: str, data: bytes, file_name: str | None) -> Image:
        """Attach a scanned image to an order of the caller's organization (a new order version)."""
        order = self.orders.get(s, who, order_id)
        self.orders.require_changeable(s, who, order)
        if order.status not in (OrderStatus.DRAFT.value, OrderStatus.ACTIVE.value):
            raise InvalidState(f"order {order_id} is {order.status}; images are attached to DRAFT or ACTIVE orders")
        image = self._store(s, who, data, file_name)
        image.order_id = order.id
        self.orders.record_change(s, who, order, "ATTACH_IMAGE", ["Image"])
        return image

    def attach_historical(self, s: Session, who: Principal, order_id: str, data: bytes, file_name: str | None) -> Image:
        """A historical order's scan (hub.etl), loaded with the order: part of its one loaded
        version (no version of its own), and so also on an order loaded EXPIRED."""
        order = self.orders.get(s, who, order_id)
        image = self._store(s, who, data, file_name)
        image.order_id = order.id
        return image

    def quick_attach(
        self, s: Session, who: Principal, case_number: str, surname: str | None, data: bytes, file_name: str | None
    ) -> QuickAttach:
        """Add Quick Attach: an image waiting for its order, searchable in the caller's county."""
        permissions.require_update(who)
        image = self._store(s, who, data, file_name)
        qa = QuickAttach(
            status=QuickAttachStatus.PENDING.value,
            owner_org_id=who.organization_id,
            county_code=who.county_code,
            case_number=case_number,
            case_number_key=Pattern.of(case_number).text,
            surname=surname,
            surname_key=Pattern.of(surname).text if surname else None,
            image_id=image.id,
            created_by_id=who.account_id,
            created_at=self.clock(),
        )
        qa.image = image
        s.add(qa)
        s.flush()
        return qa

    def get(self, s: Session, who: Principal, image_id: str) -> ImageContent:
        """An image and its bytes, verified against the SHA-256 recorded at upload."""
        permissions.require_query(who)
        image = s.get(Image, ids.parse(ids.IMAGE, image_id))
        if image is None:
            raise NotFound(f"no image {image_id}")
        if image.order_id is not None:
            order = s.get(Order, image.order_id)
            assert order is not None
            permissions.require_visible(who, order, ids.public(ids.ORDER, order.id))
            if not permissions.may_see_details(who, order.sealed):
                raise Forbidden("this image belongs to a sealed order; it needs a SEALED role")
        else:
            # Not attached yet: the uploader's organization, or its county for a quick attach.
            qa_county = s.scalar(select(QuickAttach.county_code).where(QuickAttach.image_id == image.id))
            if image.owner_org_id != who.organization_id and qa_county != who.county_code:
                raise NotFound(f"no image {image_id}")
        content = self.store.get(image.sha256)
        metrics.IMAGE_BYTES.labels("out").inc(len(content))
        return ImageContent(image, content)
