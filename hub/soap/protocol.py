"""The SOAP 1.1 protocol every service of ours speaks to Spyne: the tree the entry point parsed."""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from typing import Any

from lxml import etree
from spyne.model import ComplexModelBase, XmlAttribute, XmlData
from spyne.model.binary import BINARY_ENCODING_BASE64
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.protocol.xml import XmlDocument

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
        fault (:meth:`deserialize`). The text is taken out of the tree as it is read: a 20 MB image's
        27 MB of base64 is then not held twice while the call runs (the signature, if any, was
        verified at the entry point, before Spyne)."""
        if self.binary_encoding not in (None, BINARY_ENCODING_BASE64):  # pragma: no cover - the contract is base64
            return super().byte_array_from_element(ctx, cls, element)
        text, element.text = element.text or "", None  # the tree's copy of the text is not needed again
        return (binascii.a2b_base64(text),)

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


#: A base64Binary value from this size up is spliced into the answer (:class:`SplicingSoap11`).
SPLICE_FROM = 64 * 1024
#: Bytes of a spliced value encoded at a time: a multiple of 3, so the pieces join into one base64 text.
_ENCODE_STEP = 3 * (1 << 18)
#: Where the WSGI layer finds the length of an answer whose body is produced as it is sent.
ANSWER_LENGTH = "ccpor.answer_length"


class SplicingSoap11(Soap11):
    """SOAP 1.1 answers whose large base64Binary values (an image) are encoded as they are sent.

    Spyne would put the image's base64 into the answer's tree as one text, serialize the tree and
    send the result: the bytes, their base64 as a str, the tree's copy and the serialized answer --
    five copies of a 20 MB image at once. Here the tree holds a marker no caller can know (random per
    call) in the value's place; the serialized answer is cut at the markers and the values' base64 is
    produced in 1 MiB pieces between the parts, while the answer is written to the socket. Its exact
    length is known up front and left in the environ (:data:`ANSWER_LENGTH`) for the entry point to
    send as Content-Length."""

    def byte_array_to_parent(
        self, ctx: Any, cls: Any, inst: Any, parent: Any, ns: Any, name: str = "retval", **kw: Any
    ) -> Any:
        data = b"".join(inst) if isinstance(inst, list | tuple) else inst
        if not isinstance(data, bytes) or len(data) < SPLICE_FROM:
            return super().byte_array_to_parent(ctx, cls, inst, parent, ns, name, **kw)
        marker = f"ccpor-splice-{secrets.token_hex(16)}"
        spliced = ctx.transport.req_env.setdefault(_SPLICED, [])
        spliced.append((marker.encode("ascii"), data))
        return super().byte_array_to_parent(ctx, cls, [marker.encode("ascii")], parent, ns, name, **kw)

    def _get_members_etree(self, ctx: Any, cls: Any, inst: Any, parent: Any) -> Any:
        """A flat type's members -- each a simple value (a receipt's id, version, status, times) --
        as Spyne writes them, without its generic per-member dispatch: an element per value set, its
        text from Spyne's own ``to_unicode``. That dispatch was ~5 % of a SubmitOrder's CPU. Any
        other type, or a flat one with a value unset, goes through Spyne's own walk."""
        members = self._flat_members(cls)
        if members is None or not isinstance(parent, etree._Element):
            return super()._get_members_etree(ctx, cls, inst, parent)
        values = [getattr(inst, key, None) for key, _, _ in members]
        if None in values:
            return super()._get_members_etree(ctx, cls, inst, parent)
        for (_, member, tag), value in zip(members, values, strict=True):
            etree.SubElement(parent, tag).text = self.to_unicode(member, value)
        return None

    def _flat_members(self, cls: Any) -> tuple[tuple[str, Any, str], ...] | None:
        """``(attribute, type, tag)`` of each member of ``cls`` if every one is a plain simple value
        that Spyne writes as one element with text (no array, attribute, subtype, extension, own
        protocol or exclusion), else None. Kept per class."""
        cache = self.__dict__.setdefault("_ccpor_flat", {})
        if cls in cache:
            return cache[cls]
        members: list[tuple[str, Any, str]] | None = []
        if getattr(cls, "__extends__", None) is not None or self.polymorphic:
            members = None
        for key, member in cls._type_info.items() if members is not None else ():
            attrs = self.get_cls_attrs(member)
            handler = self.serialization_handlers.get(member)
            if (
                issubclass(member, ComplexModelBase | XmlAttribute | XmlData)
                or member.Attributes.max_occurs != 1
                or attrs.exc
                or attrs.prot is not None
                or getattr(handler, "__func__", None) is not XmlDocument.modelbase_to_parent
            ):
                members = None
                break
            ns = member.Attributes.sub_ns or cls.get_namespace()
            members.append((key, member, f"{{{ns}}}{member.Attributes.sub_name or key}"))
        cache[cls] = None if members is None else tuple(members)
        return cache[cls]

    def create_out_string(self, ctx: Any, charset: str | None = None) -> None:
        super().create_out_string(ctx, charset)
        spliced = ctx.transport.req_env.pop(_SPLICED, None)
        if not spliced:
            return
        (document,) = ctx.out_string
        parts: list[bytes] = []
        length = 0
        rest = document
        for marker, data in spliced:
            encoded_marker = base64.b64encode(marker)  # the marker went into the tree as a base64Binary
            before, found, rest = rest.partition(encoded_marker)
            if not found:  # pragma: no cover - the marker is always serialized as written
                raise RuntimeError("a spliced value's marker is missing from the answer")
            parts.append(before)
            parts.append(data)
            length += len(before) + 4 * ((len(data) + 2) // 3)
        parts.append(rest)
        length += len(rest)
        ctx.transport.req_env[ANSWER_LENGTH] = length
        ctx.out_string = _spliced_pieces(parts)


_SPLICED = "ccpor.spliced"


def _spliced_pieces(parts: list[bytes]) -> Any:
    """The answer's parts in order: the serialized text as it is, each value as base64 pieces."""
    for index, part in enumerate(parts):
        if index % 2 == 0:
            if part:
                yield part
            continue
        view = memoryview(part)
        for offset in range(0, len(part), _ENCODE_STEP):
            yield binascii.b2a_base64(view[offset : offset + _ENCODE_STEP], newline=False)
