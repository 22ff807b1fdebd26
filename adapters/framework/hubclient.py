"""The adapter's connection to the hub: zeep over the published orders WSDL, exactly as any outside
system would call it, and the one rule that sorts every failure into *try again later* or *refused
for good*.

Authentication is one of the two a system account may use (docs/SECURITY.md):

- ``auth = "digest"``: a WS-Security UsernameToken with PasswordDigest (the password read from
  ``password_file``, never from the configuration itself; the account must be enabled for
  PasswordDigest with ``ccpor-hub users add --digest``);
- ``auth = "certificate"``: mutual TLS with the client certificate registered to the account
  (``ccpor-hub users set-cert``): the X.509 identity is the connection's, no password is sent.

Failures (:func:`classify`):

- :class:`Transient` -- the hub could not answer now: no connection, a timeout, HTTP 5xx or 429
  without a SOAP fault, a ``Server.*`` fault, ``Client.Conflict`` (the hub's "changed meanwhile,
  retry"), and ``Client.Authentication`` (the account itself is wrong or locked: every record
  would fail alike, so nothing is marked failed -- the adapter logs it loudly and retries with
  backoff until an operator fixes the account);
- :class:`Permanent` -- the hub refused *this* request: any other ``Client.*`` fault, with its code
  and every violation it lists, or an HTTP 400, 413, 414, 415 or 431 without a fault (the request
  itself cannot be taken). Anything else -- other HTTP statuses, an answer that is no SOAP, an error
  nobody foresaw -- is transient: nothing says the request is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.plugins import HistoryPlugin
from zeep.wsse.username import UsernameToken

ORDERS_BINDING = "{urn:ca:courts:ccpor:orders:1}OrdersService"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_TRANSIENT_FAULTS = ("Client.Conflict", "Client.Authentication")
#: HTTP answers without a SOAP fault that say the request itself cannot be taken (too large, ...).
_REQUEST_REFUSED = frozenset({400, 413, 414, 415, 431})


@dataclass(frozen=True)
class HubSection:
    """``[hub]``: where the hub is and how this adapter proves who it is."""

    url: str
    username: str = ""
    auth: str = "digest"
    password_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    ca_file: Path | None = None
    wsdl: str = ""
    timeout_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"url: must start with https:// (or http:// for a hub on this machine), got {self.url!r}")
        if self.url.startswith("http://") and urlsplit(self.url).hostname not in _LOOPBACK:
            raise ValueError(
                f"url: http:// only for a hub on this machine (orders would cross the network in clear): {self.url!r}"
            )
        if self.auth not in ("digest", "certificate"):
            raise ValueError(f'auth: must be "digest" or "certificate", got {self.auth!r}')
        if self.auth == "digest" and (not self.username or self.password_file is None):
            raise ValueError('password_file: auth = "digest" needs username and password_file')
        if self.auth == "certificate" and (self.client_cert is None or self.client_key is None):
            raise ValueError('client_cert: auth = "certificate" needs client_cert and client_key')
        if self.auth == "certificate" and not self.url.startswith("https://"):
            raise ValueError('url: auth = "certificate" is mutual TLS: the url must be https://')
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds: must be more than 0")

    @property
    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/ws/orders"


@dataclass(frozen=True)
class Permanent(Exception):
    """The hub refused this request for good: the fault code and each (path, message) it listed."""

    code: str
    message: str
    violations: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def report(self) -> str:
        """The reason file's text: the code, the message, then one line per violation."""
        lines = [f"{self.code}: {self.message}"]
        lines += [f"  {path}: {message}" for path, message in self.violations]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Transient(Exception):
    """The hub could not answer now; the same request is sent again later."""

    reason: str

    def __str__(self) -> str:
        return self.reason


def classify(error: BaseException) -> Permanent | Transient:
    """The one rule: what a failed call means for the record that made it."""
    if isinstance(error, zeep.exceptions.Fault):
        code = (error.code or "").split(":")[-1]
        if not code.startswith("Client.") or code in _TRANSIENT_FAULTS:
            return Transient(f"{code or 'fault'}: {error.message}")
        return Permanent(code, str(error.message or ""), _violations(error.detail))
    if isinstance(error, zeep.exceptions.ValidationError):  # zeep's own check, before anything is sent
        return Permanent("Adapter.InvalidRecord", f"the record does not fit the WSDL: {error}")
    if isinstance(error, zeep.exceptions.TransportError) and error.status_code in _REQUEST_REFUSED:
        return Permanent(f"HTTP.{error.status_code}", f"the hub answered HTTP {error.status_code} without a SOAP fault")
    if isinstance(error, zeep.exceptions.TransportError):  # 5xx, 429, 408, a proxy's page with 200, ...
        return Transient(f"HTTP {error.status_code} from the hub without a SOAP answer")
    # No connection, a timeout, TLS, an answer that is no SOAP (a proxy's maintenance page), a WSDL
    # that could not be read: nothing says the request itself is wrong -- try it again later.
    return Transient(f"{type(error).__name__}: {error}"[:500])


def _violations(detail: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(detail, etree._Element):
        return ()
    return tuple((v.findtext("{*}Path") or "", v.findtext("{*}Message") or "") for v in detail.iter("{*}Violation"))


class HubClient:
    """The orders service, built on first use (a hub down when the adapter starts is a transient
    failure like any other, not a crash), with one HTTP session kept alive."""

    def __init__(self, section: HubSection) -> None:
        self.section = section
        self._service: Any = None
        self._history = HistoryPlugin(maxlen=1)  # the last answer as received: handed on as the WSDL has it
        self.session = requests.Session()
        self.session.max_redirects = 0  # a redirect would resend the request (and its certificate) elsewhere
        if urlsplit(section.url).hostname in _LOOPBACK:  # a hub on this machine: never through a proxy
            self.session.trust_env = False
        if section.ca_file is not None:
            # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own CA file
            # (psf/requests#3829): with a CA configured the environment decides only the proxies.
            self.session.trust_env = False
            if urlsplit(section.url).hostname not in _LOOPBACK:
                self.session.proxies.update(requests.utils.get_environ_proxies(section.url))
            self.session.verify = str(section.ca_file)
        if section.auth == "certificate":
            self.session.cert = (str(section.client_cert), str(section.client_key))

    def _wsse(self) -> UsernameToken | None:
        if self.section.auth != "digest":
            return None
        assert self.section.password_file is not None
        password = self.section.password_file.read_text(encoding="utf-8").strip()
        return UsernameToken(self.section.username, password, use_digest=True)

    @property
    def service(self) -> Any:
        if self._service is None:
            try:
                wsdl = self.section.wsdl or f"{self.section.endpoint}?wsdl"
                transport = zeep.Transport(
                    session=self.session,
                    timeout=self.section.timeout_seconds,
                    operation_timeout=self.section.timeout_seconds,
                )
                client = zeep.Client(
                    wsdl,
                    wsse=self._wsse(),
                    transport=transport,
                    plugins=[self._history],
                    settings=zeep.Settings(xml_huge_tree=True, strict=True),
                )
                self._service = client.create_service(ORDERS_BINDING, self.section.endpoint)
            except Exception as exc:  # noqa: BLE001 - sorted by the one rule below
                raise classify(exc) from exc
        return self._service

    def call(self, operation: str, **arguments: Any) -> Any:
        """``operation``'s answer to ``arguments``; raises :class:`Permanent` or :class:`Transient`
        (an empty answer too: every operation of the WSDL answers something)."""
        service = self.service
        try:
            answer = getattr(service, operation)(**arguments)
        except Exception as exc:  # noqa: BLE001 - sorted by the one rule
            raise classify(exc) from exc
        if answer is None:
            raise Transient(f"the hub's answer to {operation} was empty")
        return answer

    def answer_element(self, local_name: str) -> etree._Element:
        """The element ``local_name`` of the last answer's Body, exactly as the hub sent it (a
        document of the published schema, for a partner system to read)."""
        body = self._history.last_received["envelope"].find("{*}Body")
        found = next(body.iter(f"{{*}}{local_name}"), None) if body is not None else None
        if found is None:
            raise Transient(f"the hub's answer has no {local_name}")
        return found

    def close(self) -> None:
        self.session.close()
