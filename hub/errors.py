"""The hub's one exception tree.

Every error a caller can cause is a :class:`HubError` with a stable, machine-readable fault code
(``Client.*`` the caller must change something, ``Server.*`` we must). The SOAP layer maps these to
SOAP faults in exactly one place (:mod:`hub.soap.faults`); nothing else builds faults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One thing wrong with a request: where (an XPath-like path) and what."""

    path: str
    message: str


class HubError(Exception):
    """Root of every error the hub reports to a caller."""

    code = "Server.Internal"

    def __init__(self, message: str | None = None, violations: list[Violation] | tuple[Violation, ...] = ()):
        super().__init__(message or (self.__doc__ or self.code).strip().splitlines()[0])
        self.message = str(self.args[0])
        self.violations = tuple(violations)


class MalformedRequest(HubError):
    """The request is not a well-formed SOAP 1.1 envelope."""

    code = "Client.MalformedRequest"


class HostileXml(HubError):
    """The request uses XML features the hub refuses (DOCTYPE, entities, processing instructions)."""

    code = "Client.HostileXml"


class RequestTooLarge(HubError):
    """The request exceeds a size, depth or count limit."""

    code = "Client.RequestTooLarge"


class UnsupportedMediaType(HubError):
    """The request's content type is not text/xml (SOAP 1.1)."""

    code = "Client.UnsupportedMediaType"


class UnknownOperation(HubError):
    """The body names an operation this service does not have."""

    code = "Client.UnknownOperation"


class ValidationError(HubError):
    """The request does not satisfy the published schema or the order rules."""

    code = "Client.ValidationError"


class AuthenticationError(HubError):
    """The caller could not be authenticated."""

    code = "Client.Authentication"


class Forbidden(HubError):
    """The caller's role or organization does not allow this operation on this target."""

    code = "Client.Forbidden"


class NotFound(HubError):
    """The named order, image or quick attach does not exist (or is not visible to the caller)."""

    code = "Client.NotFound"


class Conflict(HubError):
    """The request conflicts with the current state (a stale version, a reused message id)."""

    code = "Client.Conflict"


class InvalidState(HubError):
    """The order's lifecycle state does not allow this operation."""

    code = "Client.InvalidState"


class ImageRejected(HubError):
    """The image is not an acceptable PDF or TIFF, or is too large."""

    code = "Client.ImageRejected"


class IntegrityFailure(HubError):
    """Stored content failed its integrity check (SHA-256 mismatch)."""

    code = "Server.IntegrityFailure"
