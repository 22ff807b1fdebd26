"""Who is calling: the proofs a request carries, and the account they name.

A request can prove its caller three ways -- an X.509 signature (checked at the entry point by
:class:`SignedRequests`, before Spyne reads anything), a mutual-TLS client certificate registered
to an account, or a WS-Security UsernameToken (PasswordDigest, or PasswordText over TLS).
:class:`Credentials` is what one request carries; :class:`Gate` turns it into the account.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lxml import etree
from sqlalchemy.exc import SQLAlchemyError

from hub import ns
from hub.accounts.credentials import UsernameToken
from hub.accounts.service import REPLAYED_SIGNATURE, Authenticator, Principal
from hub.api import wssig
from hub.api.wsse import optional_username_token, security_header, username_token
from hub.errors import AuthenticationError
from hub.settings import Settings

log = logging.getLogger("ccpor.api")


@dataclass(frozen=True)
class Credentials:
    """The proofs of identity one request carries, as the entry point left them."""

    token: UsernameToken | None
    fingerprint: str | None  # SHA-256 of the mutual-TLS client certificate, when one was presented
    signed_by: Principal | None  # the account whose registered certificate signed the message
    tls: bool
    loopback: bool

    @classmethod
    def of(cls, ctx: Any) -> Credentials:
        """Read from a Spyne call context: the SOAP header and what the entry point put in the WSGI
        environment. An unreadable UsernameToken raises AuthenticationError."""
        return cls.of_request(ctx.transport.req_env, ctx.in_header_doc)

    @classmethod
    def of_request(cls, env: dict[str, Any], header_children: list[etree._Element] | None) -> Credentials:
        """Read from the WSGI environment the entry point filled and the SOAP header's blocks."""
        return cls(
            token=optional_username_token(header_children),
            fingerprint=env.get("ccpor.client_cert_sha256"),
            signed_by=env.get("ccpor.signed_by"),
            tls=bool(env.get("ccpor.tls")),
            loopback=bool(env.get("ccpor.loopback")),
        )

    @property
    def password_text(self) -> bool:
        """A UsernameToken carrying the password itself."""
        return self.token is not None and not self.token.digest

    @property
    def password_only(self) -> bool:
        """Proved by a PasswordText UsernameToken and nothing else -- what the SQLite logon cache
        can answer inside a write transaction."""
        return self.password_text and self.signed_by is None and not self.fingerprint


def claimed_username(ctx: Any) -> str:
    """The account a request names in its UsernameToken, for the audit of a refusal ('' if none)."""
    return claimed_in(ctx.in_header_doc)


def claimed_in(header_children: list[etree._Element] | None) -> str:
    """:func:`claimed_username` from the SOAP header's blocks."""
    try:
        return username_token(header_children).username
    except AuthenticationError:
        return ""


class Gate:
    """Turns a request's credentials into the calling account, or refuses it."""

    def __init__(self, authenticator: Authenticator, settings: Settings) -> None:
        self.authenticator = authenticator
        self.settings = settings

    def require_confidential(self, credentials: Credentials) -> None:
        """A PasswordText UsernameToken -- the password itself -- only over TLS (or a trusted proxy's),
        checked before the password is looked at: a password sent in the clear is never tried (not
        even counted as a failed logon), so the refusal says nothing about it. Development setting
        ``CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP`` admits loopback callers (logged at start)."""
        if not credentials.password_text or credentials.tls:
            return
        if self.settings.dev_password_text_over_http and credentials.loopback:
            return
        raise AuthenticationError(
            "PasswordText is accepted only over TLS: call the hub's https:// address, or prove the caller "
            "with PasswordDigest, an X.509 signature or a TLS client certificate"
        )

    def remembered(self, credentials: Credentials) -> bool:
        """Whether this process verified this PasswordText caller's password lately (SQLite's cache)."""
        token = credentials.token
        return (
            credentials.password_only
            and token is not None
            and self.authenticator.remembered(token.username, token.password)
        )

    def identify(self, connection: Any, credentials: Credentials, *, hashing: bool = True) -> Principal:
        """The caller: by the X.509 signature the entry point verified, else by its mutual-TLS client
        certificate when one is registered to an account, else by its UsernameToken. Whatever else
        is sent alongside (a UsernameToken, a client certificate) must name the same account.
        ``hashing``: see ``Authenticator.authenticate``."""
        token, fingerprint, signed_by = credentials.token, credentials.fingerprint, credentials.signed_by
        if signed_by is not None:
            if token is not None and token.username != signed_by.username:
                raise AuthenticationError("the UsernameToken names another account than the signature")
            if fingerprint:
                tls_account = self.authenticator.by_certificate(connection, fingerprint)
                if tls_account is not None and tls_account.username != signed_by.username:
                    raise AuthenticationError("the TLS client certificate and the signature name different accounts")
            return signed_by
        if fingerprint:
            who = self.authenticator.by_certificate(connection, fingerprint)
            if who is not None:
                if token is not None and token.username != who.username:
                    raise AuthenticationError("the UsernameToken names another account than the client certificate")
                return who
        if token is None:
            raise AuthenticationError("a wsse:Security header with a UsernameToken is required")
        if token.digest:
            return self.authenticator.authenticate_digest(connection, token)
        return self.authenticator.authenticate(connection, token.username, token.password, hashing=hashing)


class SignedRequests:
    """Verifies X.509-signed requests at the entry point, before Spyne reads anything.

    The signer's certificate (from the BinarySecurityToken) must be the one registered for an
    active account (``ccpor-hub users set-cert``); :func:`hub.api.wssig.verify_envelope` checks the
    signature, the references (against signature wrapping), the algorithms and the Timestamp. The
    Envelope's Body is then replaced by the verifier's signed copy, so Spyne and the handlers read
    only what was signed, and the account rides in the WSGI environment to the call wrapper.
    ``refused(who, operation, error, client)`` audits a refusal in a transaction of its own.
    """

    def __init__(self, db: Any, authenticator: Authenticator, settings: Settings, clock: Any, refused: Any) -> None:
        self.db = db
        self.authenticator = authenticator
        self.settings = settings
        self.clock = clock
        self.refused = refused

    def __call__(self, environ: dict[str, Any], root: etree._Element, operation: str) -> None:
        signer: list[Principal] = []  # the account, once its certificate is known (for the audit)

        def account(connection: Any, certificate: Any) -> Principal | None:
            from cryptography.hazmat.primitives.serialization import Encoding

            fingerprint = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
            found = self.authenticator.by_certificate(connection, fingerprint)
            signer.extend([found] if found else [])
            return found

        client = environ.get("REMOTE_ADDR", "")
        try:
            security = security_header(root.find(ns.q(ns.SOAP11_ENV, "Header")))
            if security is None or security.find(ns.q(wssig.DS, "Signature")) is None:
                return
            now = self.clock()
            with self.db.read_engine.connect() as connection:
                verified = wssig.verify_envelope(
                    root,
                    lambda certificate: account(connection, certificate),
                    now=now,
                    max_age=timedelta(seconds=self.settings.wsse_max_age_seconds),
                    skew=timedelta(seconds=self.settings.wsse_clock_skew_seconds),
                )
            # A signed message is good once: what its signature covers (the canonical SignedInfo, not
            # how the SignatureValue is written) is recorded where every worker of every hub sharing
            # the database looks, for as long as its Timestamp is fresh.
            self.authenticator.remember_once(b"signature\0" + verified.message_key, now, REPLAYED_SIGNATURE)
        except AuthenticationError as err:
            self.refused(signer[0] if signer else None, operation, err, client)
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
            self.refused(signer[0] if signer else None, operation, refused, client)
            raise refused from exc
        body = root.find(ns.q(ns.SOAP11_ENV, "Body"))
        root.replace(body, verified.body)
        environ["ccpor.signed_by"] = verified.owner
