"""Assembling the hub's WSGI application: hardened entry point -> Spyne -> handlers.

The path of one request::

    gunicorn worker
      -> SoapEndpoint (hub.soap.endpoint): size cap, hardened parse, SOAP 1.1 envelope check,
         mustUnderstand, known operation, XSD validation of the body      [faults: hub.soap.faults]
      -> Spyne (PreParsedSoap11 takes the tree; never parses bytes itself)
      -> HubApplication.call_wrapper: authenticate, open the unit of work, call the handler,
         audit, map HubError -> SOAP fault
      -> OrdersApi.op_<Operation> -> OrderService / ImageService / search (hub.orders, hub.images)
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lxml import etree
from spyne import Application, ServiceBase
from spyne import const as spyne_const
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hub import masterkey, ns
from hub.accounts.credentials import UsernameToken
from hub.accounts.service import ACCOUNT_SECRETS, REPLAYED_SIGNATURE, Authenticator, Principal, Unverified
from hub.api import wssig
from hub.api.admin_api import AdminApi
from hub.api.call import Call
from hub.api.carpos_api import CarposApi
from hub.api.orders_api import OrdersApi
from hub.api.wsse import optional_username_token, security_header, username_token
from hub.audit import AuditTrail, Event
from hub.carpos import doorbell, outbox
from hub.carpos.clets import CletsVault
from hub.clock import Clock, utcnow
from hub.contract import validate_request
from hub.db.engine import Database
from hub.errors import AuthenticationError, Conflict, HubError
from hub.images.service import ImageService
from hub.images.store import FileSystemImageStore, ImageStore
from hub.masterkey import MasterKey
from hub.orders.service import OrderService
from hub.outbox.queue import KindRules
from hub.settings import Settings
from hub.soap import faults
from hub.soap.endpoint import Router, SoapEndpoint, WsgiApp
from hub.soap.protocol import PreParsedSoap11
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
        store = store or FileSystemImageStore(settings.resolved_image_dir)
        db = db or Database(settings.resolved_database_url)
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
    """Spyne application whose call wrapper is the one place for auth, transactions, audit, faults."""

    def __init__(
        self, services_: list[type[ServiceBase]], *, hub: Services, api: Any, audit_category: str = "", **kwargs: Any
    ) -> None:
        super().__init__(services_, **kwargs)
        self.hub = hub
        self.api = api
        self.audit_category = audit_category
        # Each operation's declaration and its handler (guarded, noting privileges), made once here
        # rather than on every call.
        self.operations = {name: (op, api.handler(op)) for name, op in api.operations.items()}

    def call_wrapper(self, ctx: Any) -> Any:
        operation = ctx.method_request_string.split("}")[-1]
        client = ctx.transport.req_env.get("REMOTE_ADDR", "")
        who: Principal | None = None
        target = ""
        try:
            token = optional_username_token(ctx.in_header_doc)
            signed_by: Principal | None = ctx.transport.req_env.get("ccpor.signed_by")
            fingerprint = ctx.transport.req_env.get("ccpor.client_cert_sha256")
            if token is not None and not token.digest:
                env = ctx.transport.req_env
                self._require_confidential(bool(env.get("ccpor.tls")), bool(env.get("ccpor.loopback")))
            args = dict(zip(ctx.descriptor.in_message._type_info.keys(), ctx.in_object or (), strict=False))
            declared, handler = self.operations[operation]
            call = _Pending(
                handler,
                ctx.in_body_doc,
                args,
                operation,
                client,
                self.hub.audit,
                self.audit_category,
            )
            target = call.target(None)
            db = self.hub.db
            # SQLite: a change by a PasswordText caller whose password this process verified lately
            # is authenticated inside its write transaction -- one SELECT, no hashing, no writes
            # (Authenticator.authenticate with hashing=False) -- saving a connection and a
            # transaction of its own; every other caller below.
            remembered = (
                db.serializes_writes
                and not declared.read_only
                and signed_by is None
                and not fingerprint
                and token is not None
                and not token.digest
                and self.hub.authenticator.remembered(token.username, token.password)
            )
            if db.serializes_writes and not remembered:
                # SQLite: authenticate on its own short read, so the write lock is taken only for
                # the change itself; reads run on the reader engine and audit separately.
                with db.read_engine.connect() as connection:
                    who = self._authenticate(connection, token, fingerprint, signed_by)
                if declared.read_only:
                    with db.read() as session:
                        result = call.run(session, who)
                    with db.unit_of_work() as session:
                        call.audit(session, who, result)
                    return result
            retries = 1 if declared.retry_on_conflict else 0
            conflicts = 0
            while True:
                try:
                    # One transaction for authentication (PostgreSQL; SQLite when the cache answers),
                    # the work and its audit row.
                    with db.unit_of_work() as session:
                        if who is None:
                            who = self._authenticate(
                                session.connection(), token, fingerprint, signed_by, hashing=not remembered
                            )
                        result = call.run(session, who)
                        call.audit(session, who, result)
                    return result
                except Unverified:
                    # The cache could not answer after all (the password or the account changed, a
                    # failed logon to reset): nothing was written; the long way, outside the lock.
                    with db.read_engine.connect() as connection:
                        who = self._authenticate(connection, token, fingerprint, signed_by)
                except (IntegrityError, Conflict):
                    # A concurrent twin (same idempotency key) committed first -- a unique-key
                    # collision, or on PostgreSQL a guarded UPDATE that found the version moved:
                    # run again, which now finds its receipt. A real conflict fails again.
                    conflicts += 1
                    if conflicts > retries:
                        raise
        except HubError as err:
            audit_refusal(self.hub, who, token_user(ctx), operation, err, client, target, self.audit_category)
            raise faults.to_spyne(err) from err
        except Exception:
            log.exception("unexpected failure in %s", operation)
            audit_refusal(self.hub, who, token_user(ctx), operation, None, client, target, self.audit_category)
            raise

    def _require_confidential(self, tls: bool, loopback: bool) -> None:
        """A PasswordText UsernameToken -- the password itself -- only over TLS (or a trusted proxy's),
        checked before the password is looked at: a password sent in the clear is never tried (not
        even counted as a failed logon), so the refusal says nothing about it. Development setting
        ``CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP`` admits loopback callers (logged at start)."""
        if tls or (self.hub.settings.dev_password_text_over_http and loopback):
            return
        raise AuthenticationError(
            "PasswordText is accepted only over TLS: call the hub's https:// address, or prove the caller "
            "with PasswordDigest, an X.509 signature or a TLS client certificate"
        )

    def _authenticate(
        self,
        connection: Any,
        token: UsernameToken | None,
        fingerprint: str | None,
        signed_by: Principal | None,
        *,
        hashing: bool = True,
    ) -> Principal:
        """The caller: by the X.509 signature the entry point verified, else by its mutual-TLS client
        certificate when one is registered to an account, else by its UsernameToken. Whatever else
        is sent alongside (a UsernameToken, a client certificate) must name the same account.
        ``hashing``: see ``Authenticator.authenticate``."""
        if signed_by is not None:
            if token is not None and token.username != signed_by.username:
                raise AuthenticationError("the UsernameToken names another account than the signature")
            if fingerprint:
                tls_account = self.hub.authenticator.by_certificate(connection, fingerprint)
                if tls_account is not None and tls_account.username != signed_by.username:
                    raise AuthenticationError("the TLS client certificate and the signature name different accounts")
            return signed_by
        if fingerprint:
            who = self.hub.authenticator.by_certificate(connection, fingerprint)
            if who is not None:
                if token is not None and token.username != who.username:
                    raise AuthenticationError("the UsernameToken names another account than the client certificate")
                return who
        if token is None:
            raise AuthenticationError("a wsse:Security header with a UsernameToken is required")
        if token.digest:
            return self.hub.authenticator.authenticate_digest(connection, token)
        return self.hub.authenticator.authenticate(connection, token.username, token.password, hashing=hashing)


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


class SignedRequests:
    """Verifies X.509-signed requests at the entry point, before Spyne reads anything.

    The signer's certificate (from the BinarySecurityToken) must be the one registered for an
    active account (``ccpor-hub users set-cert``); :func:`hub.api.wssig.verify_envelope` checks the
    signature, the references (against signature wrapping), the algorithms and the Timestamp. The
    Envelope's Body is then replaced by the verifier's signed copy, so Spyne and the handlers read
    only what was signed, and the account rides in the WSGI environment to the call wrapper.
    """

    def __init__(self, hub: Services) -> None:
        self.hub = hub

    def __call__(self, environ: dict[str, Any], root: etree._Element, operation: str) -> None:
        signer: list[Principal] = []  # the account, once its certificate is known (for the audit)

        def account(connection: Any, certificate: Any) -> Principal | None:
            from cryptography.hazmat.primitives.serialization import Encoding

            fingerprint = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
            found = self.hub.authenticator.by_certificate(connection, fingerprint)
            signer.extend([found] if found else [])
            return found

        try:
            security = security_header(root.find(ns.q(ns.SOAP11_ENV, "Header")))
            if security is None or security.find(ns.q(wssig.DS, "Signature")) is None:
                return
            now = self.hub.orders.clock()
            with self.hub.db.read_engine.connect() as connection:
                verified = wssig.verify_envelope(
                    root,
                    lambda certificate: account(connection, certificate),
                    now=now,
                    max_age=timedelta(seconds=self.hub.settings.wsse_max_age_seconds),
                    skew=timedelta(seconds=self.hub.settings.wsse_clock_skew_seconds),
                )
            # A signed message is good once: what its signature covers (the canonical SignedInfo, not
            # how the SignatureValue is written) is recorded where every worker of every hub sharing
            # the database looks, for as long as its Timestamp is fresh.
            self.hub.authenticator.remember_once(b"signature\0" + verified.message_key, now, REPLAYED_SIGNATURE)
        except AuthenticationError as err:
            who = signer[0] if signer else None
            audit_refusal(self.hub, who, "", operation, err, environ.get("REMOTE_ADDR", ""))
            raise
        except SQLAlchemyError:
            raise  # the database failing is the hub's problem (Server fault), not the signature's
        except Exception as exc:  # noqa: BLE001 - anything else the verifier trips over is a bad signature
            # A certificate whose key cryptography cannot load, a Timestamp at the end of time, a value
            # signxml cannot read: whatever the message carries, the caller gets Client.Authentication,
            # audited -- never a bare HTTP 500 from an unauthenticated request.
            log.warning("a signed %s could not be verified: %s", operation, type(exc).__name__)
            refused = AuthenticationError(
                "the signature could not be checked: its certificate, key or values are unusable"
            )
            audit_refusal(
                self.hub, signer[0] if signer else None, "", operation, refused, environ.get("REMOTE_ADDR", "")
            )
            raise refused from exc
        body = root.find(ns.q(ns.SOAP11_ENV, "Body"))
        root.replace(body, verified.body)
        environ["ccpor.signed_by"] = verified.owner


@dataclass
class _Pending:
    """One call's handler and inputs, run (and audited) inside a session the wrapper opens."""

    handler: Callable[[Call], Any]
    body: Any
    args: dict[str, Any]
    operation: str
    client: str
    trail: AuditTrail
    category: str = ""

    def run(self, session: Any, who: Principal) -> Any:
        self.call = Call(session=session, who=who, body=self.body, args=self.args)
        return self.handler(self.call)

    def target(self, result: Any) -> str:
        """The order, image or account named in the request, else the one the call created."""
        return str(
            self.args.get("OrderId")
            or self.args.get("ImageId")
            or self.args.get("Username")
            or self.args.get("MessageId")
            or getattr(result, "OrderId", None)
            or getattr(result, "ImageId", None)
            or ""
        )

    def audit(self, session: Any, who: Principal, result: Any) -> None:
        self.trail.record(
            session.connection(),
            Event(
                at=utcnow(),
                username=who.username,
                org_ori=who.ori,
                operation=self.operation,
                outcome="OK",
                target=self.target(result),
                client_address=self.client,
                detail=self.call.detail,
                category=self.category,
            ),
        )


def token_user(ctx: Any) -> str:
    try:
        return username_token(ctx.in_header_doc).username
    except AuthenticationError:
        return ""


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
OUTBOX_KINDS: dict[str, KindRules] = {outbox.KIND: outbox.QUEUE_RULES}

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
        tns=spec.namespace,
        name=spec.name,
        in_protocol=PreParsedSoap11(validator=None, huge_tree=True),
        out_protocol=Soap11(),
    )
    return WsgiApplication(app, max_content_length=hub.settings.max_request_bytes)


def orders_wsdl() -> bytes:
    return service_wsdl(ORDERS)


def create_app(hub: Services) -> Router:
    """The services behind their hardened entry points: /ws/orders, /ws/admin and /ws/carpos."""
    orders_api = OrdersApi(ORDERS.bindings(), hub.orders, hub.images, hub.settings)
    admin_api = AdminApi(
        ADMIN.bindings(), orders_api, hub.settings, hub.key.sealer(ACCOUNT_SECRETS), hub.orders.clock, OUTBOX_KINDS
    )
    carpos_api = CarposApi(CARPOS.bindings(), hub.orders, CletsVault.of(hub.key), hub.settings)
    signed = SignedRequests(hub)
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
        )
    return Router(routes)
