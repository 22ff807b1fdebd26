"""What a caller presents to prove who it is, as the account service checks it.

The SOAP edge (:mod:`hub.api.wsse`) reads these from the WS-Security header; the account service
(:mod:`hub.accounts.service`) decides whether they hold.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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

    def digest_matches(self, password: bytes) -> bool:
        """PasswordDigest: the token's digest is ``Base64(SHA-1(nonce + created + password))`` of
        ``password`` (compared in constant time). SHA-1 is what the UsernameToken Profile 1.0 defines
        (see hub.api.wsse); freshness and the nonce's single use are the checker's to enforce."""
        material = self.nonce + self.created_text.encode() + password
        expected = base64.b64encode(hashlib.sha1(material).digest())  # noqa: S324
        return hmac.compare_digest(expected, self.password.encode())

    def __repr__(self) -> str:  # never print the password or digest
        return f"UsernameToken(username={self.username!r}, digest={self.digest}, password=***)"
