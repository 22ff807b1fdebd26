"""WS-Security UsernameToken (PasswordText) read from the SOAP header.

Spyne has no WS-Security; declaring the header as a typed ``__in_header__`` yields a WSDL zeep
cannot load, so the hub reads the header elements itself (they arrive already through the
hardened parser). PasswordDigest and X.509 signatures are later work (issue 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from hub import ns
from hub.errors import AuthenticationError


@dataclass(frozen=True)
class UsernameToken:
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"UsernameToken(username={self.username!r}, password=***)"


def username_token(header_children: list[etree._Element] | None) -> UsernameToken:
    token = optional_username_token(header_children)
    if token is None:
        raise AuthenticationError("a wsse:Security header with a UsernameToken is required")
    return token


def optional_username_token(header_children: list[etree._Element] | None) -> UsernameToken | None:
    """The UsernameToken, None if there is no wsse:Security header; a malformed one is refused."""
    security = next((h for h in header_children or () if h.tag == ns.q(ns.WSSE, "Security")), None)
    if security is None:
        return None
    token = security.find(ns.q(ns.WSSE, "UsernameToken"))
    if token is None:
        raise AuthenticationError("the wsse:Security header has no UsernameToken")
    username = (token.findtext(ns.q(ns.WSSE, "Username")) or "").strip()
    password_el = token.find(ns.q(ns.WSSE, "Password"))
    if not username or password_el is None or not password_el.text:
        raise AuthenticationError("the UsernameToken needs a Username and a Password")
    kind = password_el.get("Type", ns.WSSE_PASSWORD_TEXT)
    if kind != ns.WSSE_PASSWORD_TEXT:
        raise AuthenticationError("only PasswordText UsernameTokens are accepted (send them over TLS)")
    return UsernameToken(username, password_el.text)
