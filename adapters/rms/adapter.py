"""The RMS adapter: a county sheriff's records system completes the orders its courts began
(DOMAIN.md's shared-entry workflow b), through a local folder interface (docs/ADAPTERS.md):

``out/``       the work queue handed to the RMS: ``ORDERID.xml`` (the hub's ``OrderRecord``, exactly as
               GetOrder answers it: the court's draft, its version, its images listed) and each image
               beside it (``ORDERID-IMAGEID.pdf|tif``), the images written first, the XML last.
``in/``        what the RMS writes back, one ``*.txt`` per order: ``OrderId:``, ``Version:`` and the
               CARPOS fields it completed, one ``Field: value`` a line, in the order-field vocabulary
               the DMS index uses. The adapter lays them over the draft and submits it (SubmitOrder
               with its OrderId, and SubmitToCarposIndicator): the order becomes ACTIVE and goes to
               DOJ. The file then goes to ``done/`` (with ``.receipt.txt``) or ``error/`` (with
               ``.reason.txt``: the fault code and every violation).
``requests/``  an officer's request, one ``*.txt`` with ``OrderId:`` or ``CaseNumber:``: the orders and
               their images are fetched into ``fetched/``; the request goes to ``done/`` or ``error/``.

Each round (every ``rms.poll_seconds``): hand out the queue (ListAwaitingCompletion, every page;
an order handed out once is not written again unless its version changed), then the completions,
then the requests. A file in ``in/`` or ``requests/`` is taken once it is unchanged for
``rms.stable_seconds`` (or write it under another name and rename it to ``*.txt``).

Exactly once: a completion's ``SourceMessageID`` is ``RMS-ORDERID-vVERSION``, so a resend after a
crash gets the hub's original receipt; a completion for a version the court has changed since is
refused (the RMS gets the new version in ``out/``).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zeep.helpers
from lxml import etree

from adapters.framework import config, orderfields, service
from adapters.framework.files import fresh, plain, write_atomically
from adapters.framework.hubclient import HubClient, HubSection, Permanent, Transient
from adapters.framework.logs import Log
from adapters.framework.retry import Backoff
from adapters.framework.service import Stopping
from adapters.framework.settle import Settling, signature
from adapters.framework.state import FAILED, SENT, WAITING, StateStore, failed_lines, when

_MEDIA = {"application/pdf": "pdf", "image/tiff": "tif"}
#: What a sheriff completes of a court's draft (DOMAIN.md workflow b): the restrained person's
#: descriptors and the terms CARPOS needs. The court's record -- court, case, form, dates, names,
#: sealing -- is not the sheriff's to change (the hub refuses that too, under shared entry).
COMPLETION_FIELDS = (
    "RestrainedDOB", "RestrainedSex", "RestrainedRace", "RestrainedHeight", "RestrainedWeight",
    "RestrainedEyes", "RestrainedHair", "Conditions", "StayAwayYards", "Brady",
)  # fmt: skip
_ORDER_ID = re.compile(r"[A-Z]{3}[0-9]{10}")  # the hub's public ids (hub/ids.py): never a path, whoever sent it
_MOST_PAGES = 20
#: Of the draft as GetOrder gives it, what a completion never sends back: the references were
#: resolved when the draft was saved, and the source ids are the completion's own.
_NOT_RESENT = ("DocumentReference", "SourceSystemName", "SourceMessageID")


@dataclass(frozen=True)
class RmsSection:
    """``[rms]``: the exchange folder and the queue (docs/ADAPTERS.md)."""

    folder: Path
    court_ori: str = ""
    poll_seconds: float = 30.0
    stable_seconds: float = 2.0
    source_system: str = "RMS"
    submit_to_carpos: bool = True
    encoding: str = "cp1252"
    max_file_bytes: int = 1024 * 1024
    state_file: Path | None = None
    retry_first_seconds: float = 5.0
    retry_most_seconds: float = 600.0

    def __post_init__(self) -> None:
        if self.court_ori and not (len(self.court_ori) == 9 and self.court_ori.isalnum()):
            raise ValueError(
                f'court_ori: a court\'s 9-character ORI, or "" for the whole county; got {self.court_ori!r}'
            )
        for key in ("poll_seconds", "stable_seconds", "retry_first_seconds", "retry_most_seconds", "max_file_bytes"):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key}: must be more than 0")
        try:
            "".encode(self.encoding)
        except LookupError:
            raise ValueError(f"encoding: {self.encoding!r} is not an encoding Python knows") from None

    def place(self, name: str) -> Path:
        return self.folder / name

    @property
    def state_path(self) -> Path:
        return self.state_file or self.folder / "ccpor-rms-state.sqlite"


SECTIONS = {"hub": HubSection, "rms": RmsSection}


def load(path: Path) -> tuple[HubSection, RmsSection]:
    loaded = config.load(path, SECTIONS)
    return loaded["hub"], loaded["rms"]


def read_fields(data: bytes, encoding: str, name: str) -> dict[str, str]:
    """A ``Field: value`` file (blank lines and ``#`` comments skipped); a line that is not one,
    a field twice or a byte outside ``encoding`` is an error naming the line."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise orderfields.RecordError(f"{name} line {line}: byte 0x{data[exc.start]:02X} is not {encoding}") from exc
    fields: dict[str, str] = {}
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, colon, value = line.partition(":")
        if not colon or not key.strip():
            raise orderfields.RecordError(f"{name} line {number}: expected 'Field: value', got {line[:40]!r}")
        if key.strip() in fields:
            raise orderfields.RecordError(f"{name} line {number}: {key.strip()} given twice")
        if value.strip():
            fields[key.strip()] = value.strip()
    return fields


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RmsAdapter:
    def __init__(
        self,
        hub: HubSection,
        rms: RmsSection,
        log: Log | None = None,
        stopping: Stopping | None = None,
        once: bool = False,
    ) -> None:
        self.rms = rms
        self.log = log or Log("rms")
        self.stopping = stopping or Stopping()
        for name in ("out", "in", "requests", "fetched", "done", "error"):
            rms.place(name).mkdir(parents=True, exist_ok=True)
        self.state = StateStore(rms.state_path, exclusive=True)
        self.client = HubClient(hub)
        self.backoff = Backoff(rms.retry_first_seconds, rms.retry_most_seconds)
        self.settling = {place: Settling(rms.stable_seconds, by_age=once) for place in ("in", "requests")}
        self._outage = (0, 0.0)  # (failures in a row, not before: monotonic)

    def close(self) -> None:
        self.client.close()
        self.state.close()

    # -- a round ------------------------------------------------------------------------------
    def round(self) -> None:
        failures, not_before = self._outage
        if time.monotonic() < not_before:
            return
        try:
            self.hand_out()
            self.files("in", self.completion)
            self.files("requests", self.request)
        except Transient as failure:
            delay = self.backoff.delay(failures + 1)
            self._outage = (failures + 1, time.monotonic() + delay)
            self.log.warning("hub.unavailable", reason=str(failure), retry_in_seconds=round(delay, 1))
            return
        except Exception as exc:  # noqa: BLE001 - a surprise (a file removed under us, a fault of ours) is
            # logged with its traceback and the round tried again later, never the end of the adapter
            delay = self.backoff.delay(failures + 1)
            self._outage = (failures + 1, time.monotonic() + delay)
            self.log.error("round.unexpected_error", error=f"{type(exc).__name__}: {exc}",
                           traceback=traceback.format_exc(limit=8), retry_in_seconds=round(delay, 1))  # fmt: skip
            return
        self._outage = (0, 0.0)

    def files(self, place: str, handle: Any) -> None:
        folder = self.rms.place(place)
        names = sorted(p for p in folder.iterdir() if plain(p) and p.suffix == ".txt" and not p.name.startswith("."))
        self.settling[place].keep_only(p.name for p in names)
        for path in names:
            if self.stopping.requested:
                return
            if self.settling[place].settled(path.name, signature(path)):
                handle(path)

    # -- the queue, out ---------------------------------------------------------------------------
    def hand_out(self) -> None:
        """Every page of the queue into ``out/``; one order that cannot be fetched (a damaged image
        on the hub, an answer that fails its digest) is retried later without holding the others
        back; an order that left the queue (completed, submitted by the court, held, sealed past
        the caller's role) is taken out of ``out/``."""
        queued: set[str] = set()
        page: int | None = 1
        while page:
            if self.stopping.requested:
                return
            result = self.client.call(
                "ListAwaitingCompletion", CourtORIIdentification=self.rms.court_ori or None, PageNumber=page
            )
            for item in result.Item or []:
                queued.add(item.OrderId)
                key = f"out:{item.OrderId}"
                record = self.state.waiting(key, kind="handout")
                if record.status == SENT and record.outcome == f"v{item.Version}":
                    continue  # the RMS has this version; a newer one (the court changed it) is written again
                if not self.state.due(record):
                    continue
                try:
                    version = self.write_order(self.rms.place("out"), item.OrderId)
                except Permanent as refused:  # this order only: logged, tried again after a backoff
                    self.state.retry_later(key, refused.code, self.backoff.delay(record.attempts + 1))
                    self.state.attempt(key)
                    self.log.error("order.not_handed_out", order=item.OrderId, code=refused.code)
                    continue
                except Transient as failure:
                    if not failure.reason.startswith("Server."):
                        raise  # the hub is unreachable: the round waits
                    self.state.retry_later(key, failure.reason.split(":")[0], self.backoff.delay(record.attempts + 1))
                    self.state.attempt(key)
                    self.log.error("order.not_handed_out", order=item.OrderId, code=failure.reason.split(":")[0])
                    continue
                self.state.sent(key, f"v{version}")
                self.log.info("order.handed_out", order=item.OrderId, version=version)
            page = result.NextPageNumber
        self._withdraw(queued)

    def _withdraw(self, queued: set[str]) -> None:
        out = self.rms.place("out")
        for record in list(self.state.records(kind="handout")):
            order_id = record.key.removeprefix("out:")
            if order_id in queued:
                continue
            for path in out.glob(f"{order_id}*"):
                if path.name == f"{order_id}.xml" or path.name.startswith(f"{order_id}-"):
                    path.unlink(missing_ok=True)
            self.state.forget(record.key)
            self.log.info("order.withdrawn", order=order_id)

    def write_order(self, folder: Path, order_id: str) -> int:
        """``order_id``'s images, then its ``OrderRecord`` as the hub sent it, into ``folder``."""
        if not _ORDER_ID.fullmatch(order_id):  # it names files: only the hub's own id shape
            raise Permanent("Adapter.InvalidRecord", f"{order_id[:20]!r} is not an order id")
        self.client.call("GetOrder", OrderId=order_id, IncludeHistory=False)
        record = self.client.answer_element("OrderRecord")
        xml = etree.tostring(record, xml_declaration=True, encoding="UTF-8")
        for image in record.iterfind("{*}Image"):
            image_id = image.findtext("{*}ImageId") or ""
            if not _ORDER_ID.fullmatch(image_id):
                raise Permanent("Adapter.InvalidRecord", f"the hub named an image {image_id[:20]!r}")
            extension = _MEDIA.get(image.findtext("{*}MediaType") or "", "bin")
            target = folder / f"{order_id}-{image_id}.{extension}"
            if not target.exists():
                content = self.client.call("GetImage", ImageId=image_id)
                data = bytes(content.Base64BinaryObject)
                if hashlib.sha256(data).hexdigest() != (image.findtext("{*}SHA256") or "").lower():
                    raise Transient(f"image {image_id} of order {order_id} did not match its SHA-256 on the way")
                write_atomically(target, data)
        write_atomically(folder / f"{order_id}.xml", xml)
        return int(record.findtext("{*}Version") or 0)

    # -- completions, in ----------------------------------------------------------------------------
    def completion(self, path: Path) -> None:
        try:
            data = self._read(path)
            fields = read_fields(data, self.rms.encoding, path.name)
            order_id, version = fields.pop("OrderId", ""), fields.pop("Version", "")
            if not _ORDER_ID.fullmatch(order_id) or not re.fullmatch(r"[0-9]{1,9}", version):
                raise orderfields.RecordError("OrderId: and Version: (from out/ORDERID.xml) are required")
            refused = sorted(set(fields) - set(COMPLETION_FIELDS))
            if refused:
                raise orderfields.RecordError(
                    f"{refused[0]}: a sheriff completes the CARPOS fields ({', '.join(COMPLETION_FIELDS)}); "
                    "the rest of the order is the court's"
                )
        except orderfields.RecordError as err:
            self._file(path, "error", f"Adapter.InvalidRecord: {err}\n")
            self.log.error("completion.refused", file=path.name, code="Adapter.InvalidRecord")
            return
        # one state record per content: a corrected file for the same version is a new attempt
        key = f"in:{order_id}:v{version}:{hashlib.sha256(data).hexdigest()[:16]}"
        record = self.state.waiting(key, kind="document", batch=path.name)
        if record.status == SENT:  # submitted (the same file again, or a restart before it was filed)
            self._file(path, "done", f"{record.outcome}\n")
            return
        if record.status == FAILED:
            self._file(path, "error", record.detail)
            return
        if not self.state.due(record):
            return
        try:
            outcome = self._complete(key, record.attempts, order_id, int(version), fields)
        except Permanent as refused:
            self.state.failed(key, refused.code, refused.report())
            self._file(path, "error", refused.report())
            self.log.error(  # codes and paths only: the messages may quote the order's personal data
                "completion.refused", file=path.name, order=order_id, code=refused.code,
                violations=[p for p, _ in refused.violations],
            )  # fmt: skip
            return
        except Transient as failure:
            self.state.retry_later(key, str(failure), self.backoff.delay(record.attempts + 1))
            raise
        self.state.sent(key, outcome)
        self._file(path, "done", f"{outcome}\n")
        self.log.info("completion.submitted", file=path.name, order=order_id, outcome=outcome)

    def _complete(self, key: str, attempts: int, order_id: str, version: int, fields: dict[str, str]) -> str:
        record = self.client.call("GetOrder", OrderId=order_id)
        if (record.OrderStatus, record.Version) != ("DRAFT", version) and not attempts:
            # (after an attempt, the order may be ACTIVE by our own submission: the hub's replay answers)
            self.state.forget(f"out:{order_id}")  # handed out again if it is still in the queue
            raise Permanent(
                "Adapter.OrderChanged",
                f"order {order_id} is {record.OrderStatus} version {record.Version} now; this file completes "
                f"version {version} (a draft still awaiting completion is handed out again in out/)",
            )
        draft = zeep.helpers.serialize_object(record.Order, target_cls=dict)
        for name in _NOT_RESENT:
            draft.pop(name, None)
        try:
            order = orderfields.overlay(draft, fields, self.rms.source_system, f"RMS-{order_id}-v{version}")
        except orderfields.RecordError as err:
            raise Permanent("Adapter.InvalidRecord", str(err)) from err
        self.state.attempt(key)
        arguments: dict[str, Any] = {"Order": order, "OrderId": order_id, "Version": version}
        if self.rms.submit_to_carpos:
            arguments["SubmitToCarposIndicator"] = True
        try:
            receipt = self.client.call("SubmitOrder", **arguments)
        except Transient as failure:
            if failure.reason.startswith("Client.Conflict"):  # changed meanwhile: by the court, or by us?
                now = self.client.call("GetOrder", OrderId=order_id)
                if (now.OrderStatus, now.Version) != ("DRAFT", version):
                    self.state.forget(f"out:{order_id}")
                    raise Permanent(
                        "Adapter.OrderChanged",
                        f"order {order_id} is {now.OrderStatus} version {now.Version} now; this file completes "
                        f"version {version}",
                    ) from failure
            raise
        again = " (submitted before)" if receipt.DuplicateIndicator else ""
        return f"{receipt.OrderId} version {receipt.Version} {receipt.OrderStatus}{again}"

    # -- officers' requests -------------------------------------------------------------------------
    def request(self, path: Path) -> None:
        try:
            fields = read_fields(self._read(path), self.rms.encoding, path.name)
            if set(fields) - {"OrderId", "CaseNumber"} or len(fields) != 1:
                raise orderfields.RecordError("a request names one OrderId: or one CaseNumber:")
            if "OrderId" in fields:
                if not _ORDER_ID.fullmatch(fields["OrderId"]):
                    raise orderfields.RecordError("OrderId: not an order id")
                order_ids = [fields["OrderId"]]
            else:
                if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9\-/.]{0,29}", fields["CaseNumber"]):
                    raise orderfields.RecordError("CaseNumber: a case number, without wildcards")
                order_ids = self._case(fields["CaseNumber"])
            for order_id in order_ids:
                self.write_order(self.rms.place("fetched"), order_id)
        except orderfields.RecordError as err:
            self._file(path, "error", f"Adapter.InvalidRecord: {err}\n")
            self.log.error("request.refused", file=path.name, code="Adapter.InvalidRecord")
            return
        except Permanent as refused:
            self._file(path, "error", refused.report())
            self.log.error("request.refused", file=path.name, code=refused.code)
            return
        self._file(path, "done", "fetched: " + (", ".join(order_ids) or "no order matches") + "\n")
        self.log.info("request.fetched", file=path.name, orders=order_ids)

    def _case(self, case_number: str) -> list[str]:
        """Every order of the case the account may see (all pages; a case has a handful)."""
        found: list[str] = []
        page: int | None = 1
        while page and page <= _MOST_PAGES:
            result = self.client.call("SearchOrders", Criteria={"CaseDocketID": case_number}, PageNumber=page)
            found += [item.OrderId for item in result.Item or []]
            page = result.NextPageNumber
        return found

    # -- shared ---------------------------------------------------------------------------------------
    def _read(self, path: Path) -> bytes:
        size = path.lstat().st_size
        if size > self.rms.max_file_bytes:
            raise orderfields.RecordError(
                f"{path.name}: {size} bytes; at most {self.rms.max_file_bytes} (rms.max_file_bytes)"
            )
        return path.read_bytes()

    def _file(self, path: Path, place: str, note: str) -> None:
        """``path`` into ``done/`` or ``error/`` (a fresh name if one is there), its note beside it."""
        target = fresh(self.rms.place(place) / path.name, before_suffix=True)
        write_atomically(
            target.with_name(target.name + (".receipt.txt" if place == "done" else ".reason.txt")), note.encode()
        )
        os.replace(path, target)


def status_text(state: StateStore) -> str:
    s = state.status()
    handed = state.status("handout").counts[SENT]

    lines = [
        f"completions sent: {s.counts[SENT]}  failed: {s.counts[FAILED]}  waiting: {s.counts[WAITING]}",
        f"orders handed out: {handed}",
        f"last success: {when(s.last_success)}",
    ]
    if s.next_attempt_at:
        lines.append(f"next retry: {when(s.next_attempt_at)}")
    lines += failed_lines(state)
    return "\n".join(lines)


def run(path: Path, once: bool = False) -> int:
    hub, rms = load(path)
    return service.main(
        "rms", lambda log, stopping, once: RmsAdapter(hub, rms, log, stopping, once), rms.poll_seconds, once
    )


def status(path: Path) -> str:
    return service.status(load(path)[1].state_path, status_text)
