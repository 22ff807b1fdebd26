"""How the mock court knows the hub: a WS-Security UsernameToken with the configured username and
password (``CCPOR_COURT_USERNAME``, ``CCPOR_COURT_PASSWORD``), read by the hub's own header reader
(hub.api.wsse) and checked by the hub's own rules:

- PasswordDigest (what the hub should send): wsu:Created fresh by the one freshness rule
  (``check_freshness``: within ``CCPOR_WSSE_MAX_AGE_SECONDS``, 5 minutes, and the clock skew), the
  digest of the configured password (``UsernameToken.digest_matches``), and a nonce not used
  before -- remembered in the court's database, so that no worker takes a replayed message;
- PasswordText: the password itself, compared in constant time. The hub accepts it only over TLS
  from its own callers; a mock court takes it over plain HTTP too, and records which it was
  (``Caller.password_type``, ``Caller.over_tls``), so a test can hold the hub to its own rule.

Every refusal is ``Client.Authentication`` with one message for a wrong user or password.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime, timedelta

from lxml import etree

from hub.accounts.service import check_freshness
from hub.api.wsse import username_token
from hub.clock import Clock
from hub.errors import AuthenticationError
from mocks.court.settings import Credentials
from mocks.court.store import Caller, PasswordType

_FAILED = "authentication failed: unknown user or wrong password"
_REPLAYED = "this UsernameToken's nonce was used before: a replayed message is refused (send a new nonce)"


class CourtAuthenticator:
    """Checks the UsernameToken of each call against the court's one configured account."""

    def __init__(
        self,
        credentials: Credentials,
        remember_once: Callable[[bytes, datetime, timedelta], bool],
        clock: Clock,
        max_age: timedelta = timedelta(minutes=5),
        skew: timedelta = timedelta(minutes=1),
    ) -> None:
        self.credentials = credentials
        self.remember_once = remember_once
        self.clock = clock
        self.max_age = max_age
        self.skew = skew

    def check(self, header: etree._Element | None, over_tls: bool) -> Caller:
        """The caller of the SOAP ``header``'s UsernameToken, or AuthenticationError."""
        token = username_token(list(header.iterchildren(etree.Element)) if header is not None else None)
        expected = self.credentials
        # Both compared whatever the first says, so the time taken does not tell a right user name.
        user_ok = hmac.compare_digest(token.username.encode(), expected.username.encode())
        if not token.digest:
            password_ok = hmac.compare_digest(token.password.encode(), expected.password.encode())
            if not (user_ok and password_ok):
                raise AuthenticationError(_FAILED)
            return Caller(token.username, PasswordType.TEXT, over_tls)
        assert token.created is not None  # a digest token always has its Created (hub.api.wsse)
        now = self.clock()
        check_freshness(token.created, now, self.max_age, self.skew, "UsernameToken")
        if not (token.digest_matches(expected.password.encode()) and user_ok):
            raise AuthenticationError(_FAILED)
        # Remembered for twice the window a Created may pass in: no replay is fresh after that.
        if not self.remember_once(token.username.encode() + b"\0" + token.nonce, now, 2 * (self.max_age + self.skew)):
            raise AuthenticationError(_REPLAYED)
        return Caller(token.username, PasswordType.DIGEST, over_tls)
