"""What a caller presents to prove who it is, as the account service checks it.

The SOAP edge (:mod:`hub.api.wsse`) reads these from the WS-Security header; the account service
(:mod:`hub.accounts.service`) decides whether they hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class UsernameToken:
    """A WS-Security UsernameToken: PasswordText or PasswordDigest (UsernameToken Profile 1.0)."""

    username: str
    #: The password (PasswordText) or the Base64 digest (PasswordDigest).
    password: str
    digest: bool = False
    nonce: bytes = b""
    #: wsu:Created exactly as sent (the digest covers this text) and as a time.
    created_text: str = ""
    created: datetime | None = None

    def __repr__(self) -> str:  # never print the password or digest
        return f"UsernameToken(username={self.username!r}, digest={self.digest}, password=***)"
