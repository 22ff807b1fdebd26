"""The orders service: one handler per WSDL operation, translating SOAP <-> use cases.

Handlers receive the call (session, principal), the arguments Spyne decoded and the validated body
element. Order documents are taken from the validated body element itself, never re-serialized
from Spyne objects, so what is stored is exactly what passed the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spyne.util.xml import get_xml_as_object
from sqlalchemy import select

from hub import ids
from hub.accounts import permissions
from hub.accounts.service import Principal
from hub.api.call import Call, guarded, page_fields
from hub.codes import CancelReason
from hub.db.models import Image, Order, QuickAttach
from hub.images.service import ImageService
from hub.orders.document import OrderDocument, PersonName
from hub.orders.locks import LockInfo
from hub.orders.search import Criteria, Page, awaiting_completion, search_orders, search_quick_attaches
from hub.orders.service import OrderService, Receipt, Source
from hub.settings import Settings
from hub.soap.bindings import Bindings, as_bytes
from hub.soap.operations import Operation, declared, operation


class OrdersApi:
    """Handlers for /ws/orders, each declared with :func:`~hub.soap.operations.operation`."""

    def __init__(self, bindings: Bindings, orders: OrderService, images: ImageService, settings: Settings) -> None:
        self.t = bindings
        self.orders = orders
        self.images = images
        self.settings = settings
        self.operations = declared(self, (op.name for op in bindings.operations()))

    #: Operations on one order whose audit event notes a privilege used (see _permission_note).
    _ON_ORDER = frozenset(
        {"GetOrder", "GetImage", "SubmitOrder", "ModifyOrder", "ServeOrder", "CancelOrder", "AttachImage", "LockOrder"}
    )

    def handler(self, op: Operation) -> Callable[[Call], Any]:
        method = guarded(op)
        if op.name not in self._ON_ORDER:
            return method

        def noting_privileges(c: Call) -> Any:
            result = method(c)
            c.detail = self._permission_note(c, op.name, result)
            return result

        return noting_privileges

    def _permission_note(self, c: Call, operation: str, result: Any) -> str:
        """What the audit event says about a privilege the call used: the SEALED role on a sealed
        order, or the county sheriff's shared entry on a court's order."""
        known, order = c.receipt, None
        if known is not None and known.sealed is not None and known.owner_org_id == c.who.organization_id:
            sealed = known.sealed  # the caller's organization's order, as the call left it: nothing to read
        else:
            if operation == "GetImage":
                order_key = c.session.scalar(
                    select(Image.order_id).where(Image.id == ids.parse(ids.IMAGE, c.args["ImageId"]))
                )
            else:
                public = c.args.get("OrderId") or getattr(result, "OrderId", None)
                order_key = ids.parse(ids.ORDER, public) if public else None
            order = c.session.get(Order, order_key) if order_key else None
            if order is None:
                return ""
            sealed = order.sealed
        notes = []
        if sealed and c.who.role.sees_sealed:
            notes.append("sealed order, SEALED role")
        shared = order is not None and order.owner_org_id != c.who.organization_id
        if shared and operation not in ("GetOrder", "GetImage"):
            notes.append(f"shared entry: county sheriff on {order.owner.ori}'s order")
        return "; ".join(notes)

    # ------------------------------------------------------------- converters

    def _receipt(self, r: Receipt) -> Any:
        return self.t["OrderReceiptType"](
            OrderId=r.order_id,
            Version=r.version,
            OrderStatus=r.status.value,
            ServedIndicator=r.served,
            ReceivedDateTime=r.received_at,
            DuplicateIndicator=r.duplicate,
        )

    def _image_info(self, image: Image) -> Any:
        return self.t["ImageInfoType"](
            ImageId=ids.public(ids.IMAGE, image.id),
            MediaType=image.media_type,
            SizeBytes=image.size_bytes,
            SHA256=image.sha256,
            DocumentFileName=image.file_name,
            UploadedDateTime=image.created_at,
        )

    def _name(self, n: PersonName) -> Any:
        return self.t["PersonNameType"](PersonGivenName=n.given, PersonMiddleName=n.middle, PersonSurName=n.surname)

    def _quick_attach(self, qa: QuickAttach) -> Any:
        return self.t["QuickAttachType"](
            QuickAttachId=ids.public(ids.QUICK_ATTACH, qa.id),
            QuickAttachStatus=qa.status,
            OwnerORIIdentification=qa.owner.ori,
            CountyCode=qa.county_code,
            CaseDocketID=qa.case_number,
            PersonSurName=qa.surname,
            ConvertedOrderId=ids.public(ids.ORDER, qa.converted_order_id) if qa.converted_order_id else None,
            ImageInfo=self._image_info(qa.image),
        )

    def _summary(self, who: Principal, order: Order) -> Any:
        base = dict(
            OrderId=ids.public(ids.ORDER, order.id),
            OrderStatus=order.status,
            SealedIndicator=order.sealed,
            CourtORIIdentification=order.court_ori,
            CountyCode=order.county_code,
            ServedIndicator=order.served,
        )
        if not permissions.may_see_details(who, order.sealed):
            return self.t["OrderSummaryType"](RedactedIndicator=True, **base)
        doc = OrderDocument.from_xml(order.document)
        parties = doc.parties()
        restrained = next((p for p in parties if p.role == "RESTRAINED" and not p.alias), None)
        return self.t["OrderSummaryType"](
            RedactedIndicator=False,
            CaseDocketID=order.case_number,
            ProtectionOrderTypeCode=order.order_type_code,
            CourtOrderIssuingDate=order.issue_date,
            CourtOrderExpirationDate=order.expiration_date,
            RestrainedPersonName=self._name(restrained.name) if restrained else None,
            RestrainedPersonBirthDate=restrained.birth_date if restrained else None,
            ProtectedPersonName=[self._name(p.name) for p in parties if p.role == "PROTECTED"],
            Version=order.version,
            **base,
        )

    def _page(self, type_name: str, page: Page, convert: Callable[[Any], Any]) -> Any:
        return self.t[type_name](
            **page_fields(page),
            PageSize=page.size,
            NextPageNumber=page.next,
            Item=[convert(i) for i in page.items],
        )

    @staticmethod
    def _source(c: Call) -> Source:
        return Source(c.args.get("SourceSystemName"), c.args.get("SourceMessageID"))

    # ------------------------------------------------------------- operations

    @operation()
    def op_SubmitOrder(self, c: Call) -> Any:
        c.receipt = self.orders.submit(
            c.session,
            c.who,
            c.element("Order"),
            order_id=c.args["OrderId"],
            version=c.args["Version"],
            carpos_requested=bool(c.args.get("SubmitToCarposIndicator")),
        )
        return self._receipt(c.receipt)

    @operation()
    def op_SaveDraft(self, c: Call) -> Any:
        return self._receipt(
            self.orders.save_draft(
                c.session, c.who, c.element("Order"), order_id=c.args["OrderId"], version=c.args["Version"]
            )
        )

    @operation()
    def op_ModifyOrder(self, c: Call) -> Any:
        return self._receipt(
            self.orders.modify(c.session, c.who, c.args["OrderId"], c.args["Version"], c.element("Order"))
        )

    @operation()
    def op_CloneOrder(self, c: Call) -> Any:
        return self._receipt(self.orders.clone(c.session, c.who, c.args["OrderId"], self._source(c)))

    @operation()
    def op_ServeOrder(self, c: Call) -> Any:
        return self._receipt(
            self.orders.serve(
                c.session, c.who, c.args["OrderId"], c.args["Version"], c.element("ProofOfService"), self._source(c)
            )
        )

    @operation()
    def op_CancelOrder(self, c: Call) -> Any:
        return self._receipt(
            self.orders.cancel(
                c.session,
                c.who,
                c.args["OrderId"],
                c.args["Version"],
                CancelReason(c.args["CancelReasonCode"]),
                c.args["CancelReasonText"],
                self._source(c),
            )
        )

    @operation()
    def op_LockOrder(self, c: Call) -> Any:
        return self.lock_info(self.orders.lock(c.session, c.who, c.args["OrderId"]))

    @operation()
    def op_ReleaseOrder(self, c: Call) -> Any:
        self.orders.release(c.session, c.who, c.args["OrderId"])
        return c.args["OrderId"]

    def lock_info(self, info: LockInfo) -> Any:
        return self.t["OrderLockType"](
            OrderId=info.order_id,
            LockedByName=info.holder,
            LockedByORIIdentification=info.holder_ori,
            LockedDateTime=info.locked_at,
            LockExpiresDateTime=info.expires_at,
        )

    @operation(read_only=True)
    def op_GetOrder(self, c: Call) -> Any:
        order = self.orders.get(c.session, c.who, c.args["OrderId"])
        record: dict[str, Any] = dict(
            OrderId=ids.public(ids.ORDER, order.id),
            Version=order.version,
            OrderStatus=order.status,
            SealedIndicator=order.sealed,
            ServedIndicator=order.served,
            OwnerORIIdentification=order.owner.ori,
            CreatedDateTime=order.created_at,
            UpdatedDateTime=order.updated_at,
        )
        if not permissions.may_see_details(c.who, order.sealed):
            return self.t["OrderRecordType"](RedactedIndicator=True, **record)
        record.update(
            RedactedIndicator=False,
            CancelReasonCode=order.cancel_reason,
            CancelReasonText=order.cancel_text,
            ClonedFromOrderId=ids.public(ids.ORDER, order.cloned_from_id) if order.cloned_from_id else None,
            # Where the order stands with DOJ is CLETS data: for CLETS-certified users only.
            CarposStatus=order.carpos_status if c.who.clets_certified else None,
            Order=get_xml_as_object(OrderDocument.from_xml(order.document).element, self.t["DraftProtectionOrderType"]),
            Image=[self._image_info(i) for i in self.orders.images(c.session, order)],
        )
        if c.args.get("IncludeHistory"):
            record["History"] = [
                self.t["OrderHistoryEntryType"](
                    Version=v.version,
                    ActionText=v.action,
                    OrderStatus=v.status,
                    ActorName=v.actor_name,
                    ActorORIIdentification=v.actor_ori,
                    ChangeDateTime=v.at,
                    ChangedElementText=[x for x in v.changed.split("\n") if x],
                )
                for v in self.orders.history(c.session, order)
            ]
        return self.t["OrderRecordType"](**record)

    @operation(read_only=True)
    def op_SearchOrders(self, c: Call) -> Any:
        k = c.args["Criteria"]
        criteria = Criteria(
            surname=k.PersonSurName,
            given=k.PersonGivenName,
            party_role=k.PartyRoleCode,
            birth_date=k.PersonBirthDate,
            case_number=k.CaseDocketID,
            court_ori=k.CourtORIIdentification,
            county_code=k.CountyCode,
            order_type=k.ProtectionOrderTypeCode,
            status=k.OrderStatus,
            issued_from=k.IssuedFromDate,
            issued_to=k.IssuedToDate,
            expires_from=k.ExpiresFromDate,
            expires_to=k.ExpiresToDate,
        )
        page = search_orders(c.session, c.who, criteria, c.args["PageNumber"] or 1, self.settings.page_size)
        return self._page("SearchResultType", page, lambda o: self._summary(c.who, o))

    @operation(read_only=True)
    def op_ListAwaitingCompletion(self, c: Call) -> Any:
        page = awaiting_completion(
            c.session, c.who, c.args["CourtORIIdentification"], c.args["PageNumber"] or 1, self.settings.page_size
        )
        return self._page("SearchResultType", page, lambda o: self._summary(c.who, o))

    @operation()
    def op_AddQuickAttach(self, c: Call) -> Any:
        upload = c.args["QuickAttach"]
        qa = self.images.quick_attach(
            c.session,
            c.who,
            upload.CaseDocketID,
            upload.PersonSurName,
            as_bytes(upload.Document.Base64BinaryObject),
            upload.Document.DocumentFileName,
        )
        return self._quick_attach(qa)

    @operation(read_only=True)
    def op_SearchQuickAttach(self, c: Call) -> Any:
        k = c.args["Criteria"]
        page = search_quick_attaches(
            c.session,
            c.who,
            case_number=k.CaseDocketID,
            surname=k.PersonSurName,
            status=k.QuickAttachStatus,
            uploaded_from=k.UploadedFromDate,
            uploaded_to=k.UploadedToDate,
            calendar=self.orders.calendar,
            page=c.args["PageNumber"] or 1,
            size=self.settings.page_size,
        )
        return self._page("QuickAttachSearchResultType", page, self._quick_attach)

    @operation()
    def op_AttachImage(self, c: Call) -> Any:
        document = c.args["Document"]
        image = self.images.attach(
            c.session, c.who, c.args["OrderId"], as_bytes(document.Base64BinaryObject), document.DocumentFileName
        )
        return self._image_info(image)

    @operation(read_only=True)
    def op_GetImage(self, c: Call) -> Any:
        content = self.images.get(c.session, c.who, c.args["ImageId"])
        return self.t["ImageType"](ImageInfo=self._image_info(content.image), Base64BinaryObject=[content.data])
