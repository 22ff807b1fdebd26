"""The SOAP 1.1 protocol every service of ours speaks to Spyne: the tree the entry point parsed."""

from __future__ import annotations

import binascii
import logging
from typing import Any

from spyne.model.binary import BINARY_ENCODING_BASE64
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11

from hub.errors import ValidationError, Violation
from hub.soap import faults

log = logging.getLogger("ccpor.api")


class PreParsedSoap11(Soap11):
    """SOAP 1.1 that takes the tree the hardened entry point parsed instead of parsing bytes.

    Spyne never sees the raw request: its own parser (and its MTOM path, which expands internal
    entities) cannot be reached by hostile input.
    """

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        root = ctx.transport.req_env.get("ccpor.tree")
        if root is None:  # pragma: no cover - SoapEndpoint always sets it
            raise Fault("Client.MalformedRequest", "request did not pass the hub's entry point")
        ctx.in_document = (root, {})

    def byte_array_from_element(self, ctx: Any, cls: Any, element: Any) -> Any:
        """A base64Binary (an image) decoded once, straight from the text node. Spyne's own decoder
        joins the text character by character (``ByteArray.from_base64``): a list of one pointer per
        character, ~10x a 20 MB image at once. Lenient in the same way (characters outside the
        alphabet are skipped); a non-ASCII character or bad padding fails as before, as the caller's
        fault (:meth:`deserialize`)."""
        if self.binary_encoding not in (None, BINARY_ENCODING_BASE64):  # pragma: no cover - the contract is base64
            return super().byte_array_from_element(ctx, cls, element)
        return (binascii.a2b_base64(element.text or ""),)

    def deserialize(self, ctx: Any, message: str) -> None:
        """Spyne's decoding of the validated body into values, with its failures as the caller's fault.

        The XSD passed the request, but a few values the schema admits have no Python value: the
        hour 24 of XSD 1.0's ``24:00:00``, a base64Binary with a non-ASCII character libxml2 lets
        through. Spyne would answer those with a bare ``Server`` "Internal Error" (and log nothing);
        they are the caller's ``Client.ValidationError``, naming the value's problem.
        """
        try:
            super().deserialize(ctx, message)
        except Fault:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoding failure of an already-validated request
            operation = ctx.method_request_string.split("}")[-1] if ctx.method_request_string else "request"
            log.info("refused %s: a value could not be decoded (%s)", operation, type(exc).__name__)
            raise faults.to_spyne(
                ValidationError(
                    f"{operation}: a value could not be read ({exc}); see the published schema",
                    [Violation(f"/svc:{operation}", str(exc)[:200])],
                )
            ) from exc
