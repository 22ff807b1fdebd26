"""The administration service (/ws/admin): one handler per WSDL operation, ADMINISTRATOR only.

Handlers translate SOAP <-> the use cases in :mod:`hub.accounts.admin`, :mod:`hub.orders.locks`
and the audit trail; every call is audited by the call wrapper like any other, with the change
described in the event's ``detail``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from hub import audit
from hub.accounts import admin, service
from hub.accounts.permissions import require_admin
from hub.api.call import Call, guarded, page_fields
from hub.api.orders_api import OrdersApi
from hub.clock import Clock, instant
from hub.codes import AccountStatus, Role
from hub.db.models import Account, AuditEvent, OutboxMessage
from hub.errors import ValidationError, Violation
from hub.masterkey import Sealer
from hub.orders import locks
from hub.orders.search import paginate
from hub.outbox import queue
from hub.settings import Settings
from hub.soap.bindings import Bindings
from hub.soap.operations import Operation, declared, operation

#: The longest period one SearchAudit may cover (keeps one query's cost bounded).
MAX_AUDIT_SPAN = timedelta(days=366)


class AdminApi:
    """Handlers for /ws/admin (ADMINISTRATOR only), each declared with :func:`~hub.soap.operations.operation`."""

    def __init__(
        self,
        bindings: Bindings,
        orders_api: OrdersApi,
        settings: Settings,
        sealer: Sealer,
        clock: Clock,
        kinds: Mapping[str, queue.KindRules],
    ):
        self.t = bindings
        self.orders_api = orders_api
        self.settings = settings
        self.sealer = sealer
        self.clock = clock
        self.kinds = kinds
        self.operations = declared(self, (op.name for op in bindings.operations()), allowed=require_admin)

    def handler(self, op: Operation) -> Callable[[Call], Any]:
        return guarded(op)

    def _user(self, a: Account) -> Any:
        return self.t["UserType"](
            Username=a.username,
            OrganizationORIIdentification=a.organization.ori,
            Role=a.role,
            CletsCertifiedIndicator=a.clets_certified,
            AccountStatus=a.status,
            PasswordDigestAllowedIndicator=a.password_sealed is not None,
            CertificateSHA256=a.client_cert_sha256,
            FailedLogonCount=a.failed_logons,
            CreatedDateTime=a.created_at,
            UpdatedDateTime=a.updated_at,
        )

    def _changed(self, c: Call, changed: tuple[Account, str]) -> Any:
        account, c.detail = changed
        c.session.flush()
        return self._user(account)

    def _page_number(self, c: Call) -> int:
        return int(c.args.get("PageNumber") or 1)

    # ------------------------------------------------------------- operations

    @operation(read_only=True)
    def op_ListUsers(self, c: Call) -> Any:
        criteria = c.args.get("Criteria")
        query = admin.list_query(
            getattr(criteria, "OrganizationORIIdentification", None),
            Role(criteria.Role) if getattr(criteria, "Role", None) else None,
            AccountStatus(criteria.AccountStatus) if getattr(criteria, "AccountStatus", None) else None,
        )
        page = paginate(c.session, query, self._page_number(c), self.settings.page_size, Account.username)
        return self.t["UserListType"](
            **page_fields(page),
            User=[self._user(a) for a in page.items],
        )

    @operation()
    def op_SaveUser(self, c: Call) -> Any:
        role = c.args.get("Role")
        return self._changed(
            c,
            admin.save_user(
                c.session,
                username=c.args["Username"],
                ori=c.args["OrganizationORIIdentification"],
                role=Role(role) if role else None,
                clets=c.args.get("CletsCertifiedIndicator"),
                password=c.args.get("Password"),
                digest=c.args.get("PasswordDigestAllowedIndicator"),
                sealer=self.sealer,
            ),
        )

    @operation()
    def op_SetUserRoles(self, c: Call) -> Any:
        return self._changed(
            c,
            admin.set_roles(
                c.session, c.who, c.args["Username"], Role(c.args["Role"]), bool(c.args["CletsCertifiedIndicator"])
            ),
        )

    @operation()
    def op_DisableUser(self, c: Call) -> Any:
        return self._changed(c, admin.disable(c.session, c.who, c.args["Username"], c.args["ReasonText"]))

    @operation()
    def op_UnlockUser(self, c: Call) -> Any:
        return self._changed(c, service.unlock(c.session, c.args["Username"]))

    @operation()
    def op_EnableUser(self, c: Call) -> Any:
        return self._changed(c, admin.enable(c.session, c.args["Username"], c.args["ReasonText"]))

    @operation(read_only=True)
    def op_SearchLockedOrders(self, c: Call) -> Any:
        number = self._page_number(c)
        total, found = locks.search(
            c.session,
            self.clock(),
            county=c.args.get("CountyCode"),
            holder_ori=c.args.get("LockedByORIIdentification"),
            page=number,
            size=self.settings.page_size,
        )
        return self.t["LockedOrderListType"](
            TotalCount=total,
            PageNumber=number,
            LastPageNumber=max(1, -(-total // self.settings.page_size)),
            Lock=[self.orders_api.lock_info(i) for i in found],
        )

    @operation()
    def op_UnlockOrder(self, c: Call) -> Any:
        listed = instant(c.args["LockedDateTime"], "/adm:UnlockOrder/adm:LockedDateTime")
        removed = locks.unlock(c.session, c.args["OrderId"], listed)
        taken = f"{removed.locked_at:%Y-%m-%dT%H:%M:%SZ}"
        c.detail = f"removed the lock of {removed.holder} ({removed.holder_ori}) taken {taken}: {c.args['ReasonText']}"
        return removed.order_id

    def _queue_entry(self, e: queue.Entry) -> Any:
        return self.t["QueueEntryType"](
            Kind=e.kind,
            MessageControlNumber=e.mcn,
            MessageKey=e.mke,
            State=e.state,
            AttemptCount=e.attempts,
            OrderId=e.order_id,
            SenderORIIdentification=e.sender_ori,
            NextAttemptDateTime=e.next_attempt_at,
            LastErrorText=e.last_error,
            CreatedDateTime=e.created_at,
            UpdatedDateTime=e.updated_at,
            SentDateTime=e.sent_at,
            AnsweredDateTime=e.answered_at,
            LeasedByText=e.leased_by,
        )

    @operation(read_only=True)
    def op_ListQueue(self, c: Call) -> Any:
        state = queue.state_of(c.args.get("State"), "/adm:ListQueue/adm:State")
        kind = queue.kind_of(c.args.get("Kind"), self.kinds, "/adm:ListQueue/adm:Kind")
        query = queue.list_query(state, kind)
        page = paginate(c.session, query, self._page_number(c), self.settings.page_size, OutboxMessage.id.desc())
        return self.t["QueueListType"](
            **page_fields(page),
            StateCount=[
                self.t["QueueStateCountType"](State=k, Count=v)
                for k, v in sorted(queue.counts(c.session, kind).items())
            ],
            Message=[self._queue_entry(queue.entry(m)) for m in page.items],
        )

    @operation()
    def op_RequeueMessage(self, c: Call) -> Any:
        entry, what = queue.requeue(c.session, c.args["MessageControlNumber"], self.clock(), self.kinds)
        c.detail = f"{what}: {c.args['ReasonText']}"
        return self._queue_entry(entry)

    @operation(read_only=True)
    def op_SearchAudit(self, c: Call) -> Any:
        k = c.args["Criteria"]
        start = instant(k.FromDateTime, "/adm:SearchAudit/adm:Criteria/adm:FromDateTime")
        end = instant(k.ToDateTime, "/adm:SearchAudit/adm:Criteria/adm:ToDateTime")
        if end <= start or end - start > MAX_AUDIT_SPAN:
            raise ValidationError(
                "ToDateTime must be after FromDateTime, at most 366 days later",
                [Violation("/adm:SearchAudit/adm:Criteria/adm:ToDateTime", "outside the allowed span")],
            )
        query = audit.search_query(
            start,
            end,
            username=k.Username,
            org_ori=k.OrganizationORIIdentification,
            category=k.Category,
            operation=k.Operation,
            target=k.Target,
            outcome=k.Outcome,
        )
        page = paginate(c.session, query, self._page_number(c), self.settings.page_size, AuditEvent.seq.desc())
        return self.t["AuditEventListType"](
            **page_fields(page),
            Event=[
                self.t["AuditEventType"](
                    Sequence=e.seq,
                    EventDateTime=e.at,
                    Category=e.category,
                    Username=e.username,
                    OrganizationORIIdentification=e.org_ori,
                    Operation=e.operation,
                    Target=e.target,
                    Outcome=e.outcome,
                    ClientAddress=e.client_address,
                    Detail=e.detail,
                )
                for e in page.items
            ],
        )
