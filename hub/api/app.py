"""Assembling the hub's WSGI application: hardened entry point -> Spyne -> call wrapper -> handlers.

The path of one request, step by step with the fault each step can give, is told in one place:
docs/ARCHITECTURE.md, "The path of a submission".
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from spyne import Application, ServiceBase
from spyne import const as spyne_const
from spyne.server.wsgi import WsgiApplication

from hub import masterkey, ns
from hub.accounts.service import ACCOUNT_SECRETS, Authenticator, Principal
from hub.api import dsp917_api
from hub.api.admin_api import AdminApi
from hub.api.call import PendingCall, observed
from hub.api.callers import Credentials, Gate, SignedRequests, claimed_username
from hub.api.carpos_api import CarposApi
from hub.api.dsp917_api import Dsp917Api
from hub.api.orders_api import OrdersApi
from hub.api.probes import Metrics, Readiness
from hub.api.transactions import Transactions
from hub.audit import AuditTrail, Event
from hub.carpos import doorbell, outbox
from hub.carpos.clets import CletsVault
from hub.clock import Clock, utcnow
from hub.contract import Dsp917, validate_dsp917, validate_request
from hub.db.engine import Database
from hub.dsp917 import responses
from hub.dsp917.intake import Dsp917Intake
from hub.errors import HubError
from hub.images.service import ImageService
from hub.images.store import DatabaseImageStore, FileSystemImageStore, ImageStore
from hub.masterkey import MasterKey
from hub.orders.service import OrderService
from hub.outbox.queue import KindRules
from hub.settings import Settings
from hub.soap import faults
from hub.soap.document import DocumentService
from hub.soap.endpoint import Router, SoapEndpoint, WsgiApp, health
from hub.soap.protocol import PreParsedSoap11, SplicingSoap11
from hub.soap.wsdl import ServiceSpec, service_class, service_wsdl

log = logging.getLogger("ccpor.api")


@dataclass
class Services:
    """Everything a request needs, built once per process."""

    settings: Settings
    db: Database
    orders: OrderService
    images: ImageService
    authenticator: Authenticator
    audit: AuditTrail
    key: MasterKey

    @classmethod
    def build(
        cls, settings: Settings, *, db: Database | None = None, store: ImageStore | None = None, clock: Clock = utcnow
    ) -> Services:
        key = masterkey.load(settings.resolved_master_key_file)
        orders = OrderService(clock, settings.calendar, forwarding=outbox.CarposForwarding())
        db = db or Database(settings.resolved_database_url)
        if store is None:
            store = (
                DatabaseImageStore(db)
                if settings.image_store == "database"
                else FileSystemImageStore(settings.resolved_image_dir)
            )
        doorbell.install_ringer(db)  # SQLite: wake the CARPOS gateway when a change queued a message
        if settings.dev_password_text_over_http:
            log.warning(
                "DEVELOPMENT SETTING CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP is on: PasswordText is accepted over "
                "plain HTTP from loopback callers -- never use this in production"
            )
        return cls(
            settings=settings,
            db=db,
            orders=orders,
            images=ImageService(store, settings.max_image_bytes, orders, clock),
            authenticator=Authenticator(
                db,
                clock,
                digest_sealer=key.sealer(ACCOUNT_SECRETS),
                max_age=timedelta(seconds=settings.wsse_max_age_seconds),
                skew=timedelta(seconds=settings.wsse_clock_skew_seconds),
            ),
            audit=AuditTrail(key),
            key=key,
        )


class HubApplication(Application):
    """Spyne application whose call wrapper is the one way into every handler: who calls
    (hub.api.callers), in which transactions (hub.api.transactions), audited (hub.api.call), and
    HubError -> SOAP fault (hub.soap.faults)."""

    def __init__(
        self,
        services_: list[type[ServiceBase]],
        *,
        hub: Services,
        api: Any,
        audit_category: str = "",
        service: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(services_, **kwargs)
        self.hub = hub
        self.service = service  # the metrics' label: orders, admin, carpos
        self.audit_category = audit_category
        self.gate = Gate(hub.authenticator, hub.settings)
        self.transactions = Transactions(hub.db, self.gate)
        # Each operation's declaration and its handler (guarded, noting privileges), made once here
        # rather than on every call.
        self.operations = {name: (op, api.handler(op)) for name, op in api.operations.items()}
        self.event_manager.add_listener("method_context_closed", release_documents)

    def call_wrapper(self, ctx: Any) -> Any:
        operation = ctx.method_request_string.split("}")[-1]
        declared, handler = self.operations[operation]
        args = dict(zip(ctx.descriptor.in_message._type_info.keys(), ctx.in_object or (), strict=False))
        client = ctx.transport.req_env.get("REMOTE_ADDR", "")
        call = PendingCall(handler, ctx.in_body_doc, args, operation, client, self.hub.audit, self.audit_category)
        with observed(self.service, call):
            return self._call(ctx, declared, call, operation)

    def _call(self, ctx: Any, declared: Any, call: PendingCall, operation: str) -> Any:
        try:
            credentials = Credentials.of(ctx)
            self.gate.require_confidential(credentials)
            return self.transactions.run(declared, credentials, call)
        except HubError as err:
            self._refused(call, claimed_username(ctx), err)
            raise faults.to_spyne(err) from err
        except Exception:
            log.exception("unexpected failure in %s", operation)
            self._refused(call, claimed_username(ctx), None)
            raise

    def _refused(self, call: PendingCall, username: str, err: HubError | None) -> None:
        audit_refusal(
            self.hub, call.who, username, call.operation, err, call.client, call.target(), self.audit_category
        )


#: What a Spyne method context holds of one call: the request's tree and values, the answer's.
_CALL_DOCUMENTS = (
    "in_document",
    "in_header_doc",
    "in_body_doc",
    "in_object",
    "out_object",
    "out_header_doc",
    "out_body_doc",
    "out_document",
    "out_string",
)


def release_documents(ctx: Any) -> None:
    """Drop the call's trees and values as soon as Spyne closes its context. The context sits in
    reference cycles that only the cyclic collector frees -- and Spyne's own collection after each
    call is switched off (soap_application) -- so without this a 20 MB image's tree, text and bytes
    stayed in the worker after AttachImage until some later collection. The WSGI layer has already
    taken the answer's chunks by then."""
    for name in _CALL_DOCUMENTS:
        setattr(ctx, name, None)
    ctx.transport.req_env.pop("ccpor.tree", None)


def audit_refusal(
    hub: Services,
    who: Principal | None,
    username: str,
    operation: str,
    err: HubError | None,
    client: str,
    target: str = "",
    category: str = "",
) -> None:
    """Record a refused or failed call in its own transaction (the call's own one rolled back)."""
    try:
        with hub.db.unit_of_work() as session:
            hub.audit.record(
                session.connection(),
                Event(
                    at=utcnow(),
                    username=who.username if who else username,
                    org_ori=who.ori if who else "",
                    operation=operation,
                    outcome=err.code if err else "Server.Internal",
                    client_address=client,
                    target=target,
                    detail=err.message if err else "",
                    category=category,
                ),
            )
    except Exception:  # the audit must not turn a client fault into a server error
        log.exception("could not write the audit event for a failed %s", operation)


ORDERS = ServiceSpec(
    "/ws/orders",
    ns.ORDERS_SERVICE,
    "OrdersService",
    "ccpor-orders-service.xsd",
    "ccpor-orders.wsdl",
    frozenset({"Order"}),
)
ADMIN = ServiceSpec(
    "/ws/admin", ns.ADMIN_SERVICE, "AdminService", "ccpor-admin-service.xsd", "ccpor-admin.wsdl", audit_category="ADMIN"
)
CARPOS = ServiceSpec(
    "/ws/carpos",
    ns.CARPOS_SERVICE,
    "CarposService",
    "ccpor-carpos-service.xsd",
    "ccpor-carpos.wsdl",
    audit_category="CARPOS",
)
SERVICES = (ORDERS, ADMIN, CARPOS)

#: Every kind of message in the outbox, with what the queue views must know of it (hub.outbox.queue).
OUTBOX_KINDS: dict[str, KindRules] = {outbox.KIND: outbox.QUEUE_RULES, responses.KIND: responses.QUEUE_RULES}

#: Kept for callers of the orders service alone.
WSDL_PLACEHOLDER = ORDERS.placeholder


def soap_application(hub: Services, spec: ServiceSpec, api: Any) -> WsgiApplication:
    """The Spyne WSGI application of one service, dispatching through HubApplication."""
    # Spyne runs a full gc.collect() at most once a second when a call ends, to release file
    # handles of its own file-serving features, which the hub does not use: ~80 ms pauses that
    # showed up as p99 latency. Python's generational collector still runs as usual.
    spyne_const.MIN_GC_INTERVAL = float("inf")
    app = HubApplication(
        [service_class(spec.bindings(), raw=spec.raw, name=spec.name)],
        hub=hub,
        api=api,
        audit_category=spec.audit_category,
        service=spec.path.rsplit("/", 1)[-1],
        tns=spec.namespace,
        name=spec.name,
        in_protocol=PreParsedSoap11(validator=None, huge_tree=True),
        out_protocol=SplicingSoap11(),
    )
    return WsgiApplication(app, max_content_length=hub.settings.max_request_bytes)


def orders_wsdl() -> bytes:
    return service_wsdl(ORDERS)


def create_app(hub: Services) -> Router:
    """The services behind their hardened entry points: /ws/orders, /ws/admin, /ws/carpos and the
    courts' DSP917 at /ws/dsp917."""
    orders_api = OrdersApi(ORDERS.bindings(), hub.orders, hub.images, hub.settings)
    admin_api = AdminApi(
        ADMIN.bindings(), orders_api, hub.settings, hub.key.sealer(ACCOUNT_SECRETS), hub.orders.clock, OUTBOX_KINDS
    )
    carpos_api = CarposApi(CARPOS.bindings(), hub.orders, CletsVault.of(hub.key), hub.settings)
    signed = SignedRequests(
        hub.db,
        hub.authenticator,
        hub.settings,
        hub.orders.clock,
        lambda who, operation, err, client: audit_refusal(hub, who, "", operation, err, client),
    )
    routes: dict[str, WsgiApp] = {}
    for spec, api in ((ORDERS, orders_api), (ADMIN, admin_api), (CARPOS, carpos_api)):
        routes[spec.path] = SoapEndpoint(
            soap_application(hub, spec, api),
            service_wsdl(spec),  # from the fully typed service; the runtime binds raw parameters as XML
            {op.name for op in spec.bindings().operations()},
            spec.namespace,
            functools.partial(validate_request, xsd_name=spec.xsd),
            hub.settings,
            spec.placeholder,
            signed,
            hub.settings.public_url,
            service=spec.path.rsplit("/", 1)[-1],
        )
    routes[dsp917_api.PATH] = _dsp917_endpoint(hub, signed)
    routes["/healthz"] = health
    routes["/readyz"] = Readiness(hub.db, key_loaded=hub.key is not None)
    routes["/metrics"] = Metrics(hub.db, hub.settings, hub.orders.clock)
    return Router(routes)


def _host(settings: Settings) -> str:
    """The name the hub gives itself in the ISB headers it writes: its public host, else the machine's."""
    return urlsplit(settings.public_url).hostname or ""


def _dsp917_endpoint(hub: Services, signed: SignedRequests) -> SoapEndpoint:
    """/ws/dsp917: the official WSDL and schemas, a bare document/literal Notify (hub.api.dsp917_api)."""
    gate = Gate(hub.authenticator, hub.settings)
    handler = Dsp917Api(
        Dsp917Intake(hub.orders, hub.images, responses.Dsp917Responses(hub.key, hostname=_host(hub.settings))),
        gate,
        Transactions(hub.db, gate),
        hub.audit,
        lambda who, username, operation, err, client, target: audit_refusal(
            hub, who, username, operation, err, client, target
        ),
    )
    message = Dsp917.REQ_INPUT
    return SoapEndpoint(
        DocumentService(handler, dsp917_api.fault_details),
        dsp917_api.wsdl(),
        {message.element},
        message.namespace,
        functools.partial(validate_dsp917, message=message),
        hub.settings,
        dsp917_api.PLACEHOLDER,
        signed,
        hub.settings.public_url,
        dsp917_api.fault_details,
        service="dsp917",
    )
