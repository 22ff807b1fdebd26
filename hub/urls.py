"""Addresses as configured: a public base URL checked, a password in one masked for messages."""

from __future__ import annotations

from urllib.parse import urlsplit


def public_base(url: str, what: str = "CCPOR_PUBLIC_URL") -> str:
    """A public base URL as configured: http(s), a host, an optional port and path prefix, nothing else
    (no query, fragment or credentials); without a trailing slash. ValueError naming ``what`` otherwise
    (quoting the address with any password in it masked: the message goes to logs and terminals)."""
    parts = urlsplit(url.strip())
    shown = _masked(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{what}={shown!r}: give the address as https://HOST[:PORT][/PREFIX]")
    if parts.username or parts.password or any(c in url for c in "\"'<>& \t\r\n"):
        raise ValueError(f"{what}={shown!r}: no credentials, quotes, spaces or markup in the address")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"{what}={shown!r}: the port is not a number") from None
    return url.strip().rstrip("/")


def _masked(url: str) -> str:
    """``url`` with whatever stands between ``//`` and ``@`` (user and password) as ``***``."""
    scheme, sep, rest = url.partition("//")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    return f"{scheme}//***@{rest.split('@', 1)[1]}"
