"""WS-Security UsernameToken (PasswordText and PasswordDigest) read from the SOAP header.

Spyne has no WS-Security; declaring the header as a typed ``__in_header__`` yields a WSDL zeep
cannot load, so the hub reads the header elements itself (they arrive already through the
hardened parser). Checking the password or digest is the Authenticator's job
(:mod:`hub.accounts.service`); X.509 signatures are :mod:`hub.api.wssig`.

PasswordDigest (UsernameToken Profile 1.0 section 3.1) is
``Base64(SHA-1(nonce + created + password))``; SHA-1 is what the profile defines, and the
digest's strength comes from the nonce and the freshness window, not from collision resistance.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from lxml import etree

from hub import ns
from hub.accounts.credentials import UsernameToken
from hub.errors import AuthenticationError

PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"  # noqa: S105
_BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"


_UNDERSTOOD = {
    ns.q(ns.WSSE, "UsernameToken"),
    ns.q(ns.WSSE, "BinarySecurityToken"),
    ns.q(ns.WSU, "Timestamp"),
    "{http://www.w3.org/2000/09/xmldsig#}Signature",
}


def security_header(header_children: list[etree._Element] | None) -> etree._Element | None:
    """The wsse:Security header block; more than one is refused (which one would count?)."""
    blocks = [h for h in header_children if h.tag == ns.q(ns.WSSE, "Security")] if header_children is not None else []
    if len(blocks) > 1:
        raise AuthenticationError("send exactly one wsse:Security header")
    if not blocks:
        return None
    for child in blocks[0].iterchildren(etree.Element):
        # mustUnderstand: the hub processes every element it accepts here, and refuses the rest
        # (an EncryptedKey or a SAML assertion would otherwise be silently ignored).
        if child.tag not in _UNDERSTOOD:
            raise AuthenticationError(
                f"the wsse:Security header holds {child.tag}, which the hub does not process; send a "
                "UsernameToken, or a Timestamp, BinarySecurityToken and Signature"
            )
    return blocks[0]


def username_token(header_children: list[etree._Element] | None) -> UsernameToken:
    token = optional_username_token(header_children)
    if token is None:
        raise AuthenticationError("a wsse:Security header with a UsernameToken is required")
    return token


def optional_username_token(header_children: list[etree._Element] | None) -> UsernameToken | None:
    """The UsernameToken, None if there is none; a malformed one is refused."""
    security = security_header(header_children)
    if security is None:
        return None
    tokens = security.findall(ns.q(ns.WSSE, "UsernameToken"))
    if not tokens:
        return None
    if len(tokens) > 1:
        raise AuthenticationError("send exactly one UsernameToken")
    token = tokens[0]
    username = (token.findtext(ns.q(ns.WSSE, "Username")) or "").strip()
    password_el = token.find(ns.q(ns.WSSE, "Password"))
    if not username or password_el is None or not password_el.text:
        raise AuthenticationError("the UsernameToken needs a Username and a Password")
    kind = password_el.get("Type", ns.WSSE_PASSWORD_TEXT)
    if kind == ns.WSSE_PASSWORD_TEXT:
        return UsernameToken(username, password_el.text)
    if kind != PASSWORD_DIGEST:
        raise AuthenticationError(f"unknown password type {kind!r}: use PasswordText (over TLS) or PasswordDigest")
    nonce_el = token.find(ns.q(ns.WSSE, "Nonce"))
    created_text = (token.findtext(ns.q(ns.WSU, "Created")) or "").strip()
    if nonce_el is None or not nonce_el.text or not created_text:
        raise AuthenticationError("a PasswordDigest UsernameToken needs a wsse:Nonce and a wsu:Created")
    if nonce_el.get("EncodingType", _BASE64_BINARY) != _BASE64_BINARY:
        raise AuthenticationError("the wsse:Nonce must be Base64Binary")
    try:
        nonce = base64.b64decode(nonce_el.text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AuthenticationError("the wsse:Nonce is not valid Base64") from exc
    if not 8 <= len(nonce) <= 64:
        raise AuthenticationError("the wsse:Nonce must be 8 to 64 random bytes (16 recommended)")
    return UsernameToken(
        username,
        password_el.text.strip(),
        digest=True,
        nonce=nonce,
        created_text=created_text,
        created=parse_utc(created_text, "wsu:Created"),
    )


def parse_utc(text: str | None, what: str) -> datetime:
    """An xs:dateTime with an explicit offset (``Z``, ``+00:00`` -- zeep's form -- ...), as aware UTC."""
    try:
        moment = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise AuthenticationError(f"{what} {text!r} is not an xs:dateTime such as 2024-05-01T12:00:00Z") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AuthenticationError(f"{what} {text!r} has no UTC offset; write it in UTC with a trailing Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 has no instant in UTC
        raise AuthenticationError(f"{what} {text!r} is outside the years 1-9999 in UTC") from None
