"""The gateway's only network code: the DOJ switch's SOAP service, behind a small interface.

:class:`SwitchTransport` is what the gateway needs (hand over sealed transmissions, read and clear
the mailbox). :class:`SoapSwitch` is the real client (zeep, over HTTP, from the checked-in
``wsdl/carpos-switch.wsdl`` with the address from the settings); tests may pass any object with
the same three methods.

Everything that means "the switch could not be reached or did not do it" -- refused connections,
timeouts, HTTP 5xx, SOAP ``Server.*`` faults, an answer that is not the contract's -- is raised as
:class:`TransportError`, which the retry policy treats as transient. A transmission the switch
*read* and refused comes back as a receipt with status REFUSED: that is permanent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import requests
import zeep
import zeep.exceptions
from lxml import etree

from hub.contract import contract_dir

SWITCH_NS = "urn:ca:doj:carpos:switch:1"


class TransportError(Exception):
    """The switch could not be reached, or failed the call (transient: try again later)."""


@dataclass(frozen=True)
class SubmitReceipt:
    position: int
    mcn: str | None
    status: str  # QUEUED or REFUSED; FAILED: this one message could not be handed over (transient);
    #: UNTRIED: it was not sent at all (no attempt spent on it)
    reason: str | None = None

    @property
    def untried(self) -> bool:
        return self.status == "UNTRIED"

    @property
    def refused(self) -> bool:
        return self.status == "REFUSED"

    @property
    def failed(self) -> bool:
        return self.status == "FAILED"


@dataclass(frozen=True)
class MailboxItem:
    mailbox_id: int
    sealed: bytes


class SwitchTransport(Protocol):
    def submit(self, sealed: list[bytes]) -> list[SubmitReceipt]: ...

    def fetch(self, max_count: int) -> tuple[list[MailboxItem], int]: ...

    def acknowledge(self, mailbox_ids: list[int]) -> int: ...


class SoapSwitch:
    """The switch's SOAP service through zeep (one client and HTTP session per instance)."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url
        self.session = requests.Session()
        # The switch is reached directly (over the CLETS VPN in production): no proxy settings from the
        # environment, which requests would otherwise look up again on every call.
        self.session.trust_env = False
        transport = zeep.Transport(session=self.session, operation_timeout=timeout, timeout=timeout)
        wsdl = str(contract_dir("wsdl") / "carpos-switch.wsdl")
        # The pinned contract, read from our own file (no network). The switch's responses are parsed
        # with DTDs, entities and external references refused (the envelopes inside are base64 and
        # go through the hub's own hardened parser); huge_tree: a full mailbox page is large.
        settings = zeep.Settings(
            xml_huge_tree=True, strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        self.client = zeep.Client(wsdl, transport=transport, settings=settings)
        self.service = self.client.create_service(f"{{{SWITCH_NS}}}CarposSwitch", url)

    def close(self) -> None:
        self.session.close()

    def _call(self, operation: str, **kwargs: object) -> object:
        try:
            return getattr(self.service, operation)(**kwargs)
        except zeep.exceptions.Fault as fault:
            code = str(fault.code or "")
            raise TransportError(f"{operation}: {code.split(':')[-1] or 'fault'}: {fault.message}"[:200]) from None
        except requests.RequestException as exc:
            raise TransportError(f"{operation}: {type(exc).__name__}: {exc}"[:200]) from None
        except (zeep.exceptions.Error, etree.XMLSyntaxError, ValueError) as exc:
            raise TransportError(f"{operation}: unreadable answer: {exc}"[:200]) from None

    def submit(self, sealed: list[bytes]) -> list[SubmitReceipt]:
        result = self._call("SubmitTransmissions", SealedTransmission=sealed)
        # zeep unwraps a response whose one child holds one repeated element into the list itself.
        listed = result if isinstance(result, list) else getattr(result, "Receipt", None) or []
        receipts = [SubmitReceipt(int(r.Position), r.MessageControlNumber, str(r.Status), r.ReasonText) for r in listed]
        if sorted(r.position for r in receipts) != list(range(1, len(sealed) + 1)):
            raise TransportError("SubmitTransmissions: the receipts do not match the transmissions sent")
        return sorted(receipts, key=lambda r: r.position)

    def fetch(self, max_count: int) -> tuple[list[MailboxItem], int]:
        result = self._call("FetchAnswers", MaxCount=max_count)
        items = [MailboxItem(int(i.MailboxId), bytes(i.SealedTransmission)) for i in result.Item or []]  # type: ignore[attr-defined]
        return items, int(result.RemainingCount)  # type: ignore[attr-defined]

    def acknowledge(self, mailbox_ids: list[int]) -> int:
        if not mailbox_ids:
            return 0
        return int(self._call("AcknowledgeAnswers", MailboxId=mailbox_ids))  # type: ignore[arg-type]
