"""The DMS adapter: a court's scan-export drop folder in, orders and images in the hub out.

One round (every ``dms.poll_seconds``; polling, because change events fire when a write *starts*
and never arrive for files written by another host on an SMB/NFS share):

1. :class:`Watcher` lists the batch folders of ``dms.inbox`` that are *complete*: its trigger file
   is there (``dms.trigger_file``, written by the capture software last), or -- with no trigger
   configured -- the index is there and no file of the folder has changed size or time for
   ``dms.stable_seconds``. A folder still being written is never read.
2. The whole index is read first (:mod:`adapters.dms.index`); an index that cannot be read sends
   the batch to ``error/`` with a reason file and nothing is sent. A batch whose index names an
   image that is not there is *held* -- left in place, logged, shown by ``status`` -- and nothing
   of it is sent until the image arrives.
3. Each document, in index order: a complete record is one SubmitOrder (its ``SourceMessageID``
   the digest of its index fields and image, stable however often it is dropped) and then its
   image with AttachImage; a record lacking ACTIVE fields is an AddQuickAttach for a clerk. What
   the hub answered is committed to the state database before the next document.
4. When every document is decided, the batch is filed: each sent image (and a ``receipt.txt``) to
   ``done/BATCH/``, each refused one to ``error/BATCH/`` with ``IMAGE.reason.txt`` beside it (the
   fault code and every violation), and the folder leaves the inbox.

A batch dropped again -- same index, or documents all imported before -- is not sent twice: it is
filed to ``error/`` with ``ALREADY_IMPORTED.txt`` saying when and as what.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import shutil
import stat
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.dms.index import INDEX_FILE, LAYOUTS, Document, IndexError_, read
from adapters.framework import config, orderfields, service
from adapters.framework.files import fresh, plain, write_atomically
from adapters.framework.hubclient import HubClient, HubSection, Permanent, Transient
from adapters.framework.logs import Log
from adapters.framework.retry import Backoff
from adapters.framework.service import Stopping
from adapters.framework.settle import Settling, signature
from adapters.framework.state import FAILED, SENT, WAITING, Member, Record, StateStore, failed_lines, when


@dataclass(frozen=True)
class DmsSection:
    """``[dms]``: the drop folder and what the batches in it mean (docs/ADAPTERS.md)."""

    inbox: Path
    court_ori: str
    layout: str = "kofax-xml"
    done_dir: Path | None = None
    error_dir: Path | None = None
    state_file: Path | None = None
    index_file: str = ""
    trigger_file: str = ""
    stable_seconds: float = 30.0
    poll_seconds: float = 10.0
    encoding: str = "cp1252"
    source_system: str = "DMS"
    submit_to_carpos: bool = False
    max_image_bytes: int = 20_000_000  # the hub's own default (CCPOR_MAX_IMAGE_BYTES)
    max_index_bytes: int = 10 * 1024 * 1024
    ignore_fields: tuple[str, ...] = ()
    retry_first_seconds: float = 5.0
    retry_most_seconds: float = 600.0

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout: must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if not (len(self.court_ori) == 9 and self.court_ori.startswith("CA") and self.court_ori.isalnum()):
            raise ValueError(
                f"court_ori: must be the court's 9-character ORI (CA + county + 4), got {self.court_ori!r}"
            )
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(
                f"encoding: {self.encoding!r} is not an encoding Python knows (cp1252, utf-8, ...)"
            ) from None
        for key in ("stable_seconds", "poll_seconds", "retry_first_seconds", "retry_most_seconds"):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key}: must be more than 0")
        for key in ("max_image_bytes", "max_index_bytes"):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key}: must be more than 0")
        for key in ("index_file", "trigger_file"):
            name = getattr(self, key)
            if "/" in name or "\\" in name or name in (".", ".."):
                raise ValueError(f"{key}: {name!r} must be a file name inside the batch folder")

    @property
    def index_name(self) -> str:
        return self.index_file or INDEX_FILE[self.layout]

    @property
    def done(self) -> Path:
        return self.done_dir or self.inbox.parent / "done"

    @property
    def errors(self) -> Path:
        return self.error_dir or self.inbox.parent / "error"

    @property
    def state_path(self) -> Path:
        return self.state_file or self.inbox.parent / "ccpor-dms-state.sqlite"


SECTIONS = {"hub": HubSection, "dms": DmsSection}


def load(path: Path) -> tuple[HubSection, DmsSection]:
    loaded = config.load(path, SECTIONS)
    return loaded["hub"], loaded["dms"]


class Watcher:
    """Which batch folders are complete (see the module's step 1); ``clock`` is monotonic seconds."""

    def __init__(self, section: DmsSection, clock: Callable[[], float] = time.monotonic, once: bool = False) -> None:
        self.section = section
        self.settling = Settling(section.stable_seconds, clock, by_age=once)
        self.present: list[Path] = []

    def complete(self) -> list[Path]:
        inbox = self.section.inbox
        listed = sorted(inbox.iterdir()) if inbox.is_dir() else []
        # A symbolic link is not a batch: its files would be moved out of wherever it points.
        self.present = [f for f in listed if f.is_dir() and not f.is_symlink() and not f.name.startswith(".")]
        self.settling.keep_only(f.name for f in self.present)
        return [f for f in self.present if self._complete(f)]

    def _complete(self, folder: Path) -> bool:
        if not (folder / self.section.index_name).is_file():
            return False
        if self.section.trigger_file:
            return (folder / self.section.trigger_file).is_file()
        return self.settling.settled(folder.name, signature(folder))


class StopRound(Exception):
    """The hub is unavailable: end this round, the next one tries again."""


def _image_fault(data: bytes) -> str | None:
    """Why the hub would refuse these bytes as an order's image, checked before the order is sent so
    an order is never stored without its image (the hub's own check, hub/images/sniff.py, stays the
    authority): a PDF must end with %%EOF, a TIFF's first directory lie inside the file."""
    if data.startswith(b"%PDF-"):
        return None if b"%%EOF" in data[-1024:] else "is a truncated PDF (no %%EOF at its end)"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        offset = int.from_bytes(data[4:8], "little" if data[:2] == b"II" else "big") if len(data) >= 8 else 0
        return None if 8 <= offset < len(data) else "is a damaged TIFF (no image directory inside the file)"
    if data[:4] in (b"II+\x00", b"MM\x00+"):
        return None
    return "is not a PDF or TIFF (the hub takes those only)"


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DmsAdapter:
    def __init__(
        self,
        hub: HubSection,
        dms: DmsSection,
        log: Log | None = None,
        stopping: Stopping | None = None,
        once: bool = False,
    ) -> None:
        self.dms = dms
        self.log = log or Log("dms")
        self.stopping = stopping or Stopping()
        self.state = StateStore(dms.state_path, exclusive=True)
        self.client = HubClient(hub)
        self.watcher = Watcher(dms, once=once)
        self.backoff = Backoff(dms.retry_first_seconds, dms.retry_most_seconds)
        self._held: dict[str, str] = {}
        self._troubled: dict[str, tuple[int, float]] = {}  # batch -> (failures, not before, monotonic)

    def close(self) -> None:
        self.client.close()
        self.state.close()

    # -- a round ------------------------------------------------------------------------------
    def round(self) -> None:
        self._isolated("(filing)", self.resume_filing)
        folders = self.watcher.complete()
        self.state.clear_held(f.name for f in self.watcher.present)
        for folder in folders:
            if self.stopping.requested or not self._isolated(folder.name, lambda f=folder: self.batch(f)):
                return

    def _isolated(self, name: str, work: Callable[[], None]) -> bool:
        """``work`` for one batch; False when the hub is unavailable (the round ends). One batch's
        surprise (a folder removed under us, an unreadable file, a fault of ours) must not stop the
        others: it is logged with its traceback and that batch tried again after a backoff."""
        failures, not_before = self._troubled.get(name, (0, 0.0))
        if time.monotonic() < not_before:
            return True
        try:
            work()
        except StopRound:
            return False
        except Exception as exc:  # noqa: BLE001 - see above
            delay = self.backoff.delay(failures + 1)
            self._troubled[name] = (failures + 1, time.monotonic() + delay)
            self.log.error(
                "batch.unexpected_error", batch=name, error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(limit=8), retry_in_seconds=round(delay, 1),
            )  # fmt: skip
            return True
        self._troubled.pop(name, None)
        return True

    def batch(self, folder: Path) -> None:
        index_path = folder / self.dms.index_name
        found = index_path.lstat()
        size = found.st_size
        if not stat.S_ISREG(found.st_mode) or size > self.dms.max_index_bytes:
            why = "is not a plain file" if not stat.S_ISREG(found.st_mode) else (
                f"has {size} bytes; an index file may have at most {self.dms.max_index_bytes} (dms.max_index_bytes)"
            )  # fmt: skip
            self._index_error(folder, None, IndexError_(f"{index_path.name} {why}"))
            return
        digest = _digest(index_path)[:16]
        key = f"batch:{folder.name}:{digest}"
        record = self.state.waiting(key, kind="batch", batch=folder.name)
        if record.status == FAILED:  # the same unreadable index dropped again
            self._file_all(folder, self.dms.errors, "INDEX_ERROR.txt", record.detail)
            return
        if record.status == SENT and _stage(record) == "filed":  # dropped again: a drop of its own
            self.state.reopen(key, folder.name)
            self.state.attempt(key)  # the drop's number: its documents are told from the earlier drop's
            record = self.state.get(key)
            assert record is not None
        if record.status == SENT:  # resolved, its filing cut short: resume_filing finishes it
            return
        drop = f"{key}#{record.attempts}"
        try:
            documents = read(self.dms.layout, index_path, self.dms.encoding, self.dms.max_index_bytes)
        except IndexError_ as err:
            self._index_error(folder, key, err)
            return
        members = self.state.members(drop)
        if not members:
            missing = [d for d in documents if not _lexists(folder / d.image)]
            if missing:
                self._hold(folder, key, missing)
                return
            members = [self._member(folder, d) for d in documents]
            twice = {m.key: m for m in reversed(members)}
            for member in members:
                if twice[member.key].position != member.position:
                    err = IndexError_(
                        f"{member.place}: the same index fields as document {twice[member.key].position} "
                        "(the same order twice)"
                    )
                    self._index_error(folder, key, err)
                    return
            self.state.set_members(drop, members)
            self.state.hold(key, "")
            self._held.pop(key, None)
        earlier = {m.key: self.state.get(m.key) for m in members}
        decided = [self.document(folder, drop, m, d) for m, d in zip(members, documents, strict=True)]
        if not all(decided):
            return
        before = [earlier[m.key] for m in members]
        if all(r is not None and r.status == SENT and r.batch != drop for r in before):
            self.state.sent(key, json.dumps({"stage": "filed", "at": _now_text(), "already_imported": True}))
            self._file_again(folder, "every document of this batch was imported before; nothing was sent again")
            return
        places = {"done": str(fresh(self.dms.done / folder.name))}
        places["errors"] = str(fresh(self.dms.errors / folder.name))
        # chosen once: a filing cut short resumes into them
        self.state.sent(key, json.dumps({"stage": "resolved", "drop": drop, "index": digest, **places}))
        self._file(folder, key)

    def _member(self, folder: Path, document: Document) -> Member:
        """A document's identity (its state key, and the ``SourceMessageID`` of its order): the
        digest of its index fields -- the same however often, under whatever batch name, it is
        dropped, and whatever its scan's bytes (capture software re-renders an image on every
        export). A record that goes in as a quick attach has too few fields to tell two scans of a
        case apart: its image's digest is part of its identity."""
        fields = {k: v for k, v in document.fields.items() if k not in self.dms.ignore_fields}
        text = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        if orderfields.complete(fields):
            key = "D" + hashlib.sha256(text.encode()).hexdigest()[:40]
        else:
            image = folder / document.image
            seen = _digest(image) if plain(image) else "not-a-file"
            key = "Q" + hashlib.sha256(f"{text}\n{seen}".encode()).hexdigest()[:40]
        return Member(document.position, key, document.image, document.where)

    def _index_error(self, folder: Path, key: str | None, err: IndexError_) -> None:
        self.log.error("batch.index_error", batch=folder.name, reason=str(err))
        if key is not None:
            self.state.failed(key, "Adapter.IndexError", f"Adapter.IndexError: {err}\n")
        self._file_all(folder, self.dms.errors, "INDEX_ERROR.txt", f"Adapter.IndexError: {err}\n")

    def _hold(self, folder: Path, key: str, missing: list[Document]) -> None:
        why = f"held: image {missing[0].image} of document {missing[0].position} is not in the batch"
        if len(missing) > 1:
            why += f" ({len(missing)} images missing)"
        if self._held.get(key) != why:  # logged when it changes, not every round
            self.log.warning("batch.held", batch=folder.name, reason=why)
            self._held[key] = why
        self.state.hold(key, why)

    # -- one document ---------------------------------------------------------------------------
    def document(self, folder: Path, drop: str, member: Member, document: Document) -> bool:
        """Send one document unless decided already; True once it is SENT or FAILED. A document
        another drop decided: SENT stays sent (imported before); FAILED is tried again (the court
        fixed what was refused and dropped it again), as is one a vanished batch left WAITING."""
        key = member.key
        record = self.state.get(key)
        if record is not None and record.batch != drop and record.status != SENT:
            self.state.reopen(key, drop)
        record = self.state.waiting(key, kind="document", batch=drop)
        if record.status in (SENT, FAILED):
            return True
        if not self.state.due(record) or self.stopping.requested:
            return False
        fields = {"batch": folder.name, "document": document.position, "image": document.image}
        try:
            outcome = self._send(key, record.attempts, document, self._image(folder / document.image))
        except Permanent as refused:
            self.state.failed(key, refused.code, refused.report())
            self.log.error(  # codes and paths only: the messages may quote an index's personal data
                "document.refused", **fields, code=refused.code, violations=[p for p, _ in refused.violations]
            )
            return True
        except Transient as failure:
            delay = self.backoff.delay(record.attempts + 1)
            self.state.retry_later(key, str(failure), delay)
            self.log.warning("hub.unavailable", **fields, reason=str(failure), retry_in_seconds=round(delay, 1))
            raise StopRound from failure
        self.state.sent(key, outcome)
        self.log.info("document.sent", **fields, outcome=outcome)
        return True

    def _image(self, path: Path) -> bytes:
        """The scan's bytes: a plain file of the batch folder (no symbolic link out of it), no larger
        than ``dms.max_image_bytes`` -- checked before it is read."""
        if not plain(path):
            raise Permanent("Adapter.ImageRejected", f"{path.name} is not a plain file in the batch folder")
        size = path.lstat().st_size
        if size > self.dms.max_image_bytes:
            raise Permanent(
                "Adapter.ImageRejected",
                f"{path.name} has {size} bytes; the limit is {self.dms.max_image_bytes} (dms.max_image_bytes)",
            )
        return path.read_bytes()

    def _send(self, key: str, attempts: int, document: Document, data: bytes) -> str:
        if not data:
            raise Permanent("Adapter.ImageRejected", f"{document.image} is empty")
        if (fault := _image_fault(data)) is not None:
            raise Permanent("Adapter.ImageRejected", f"{document.image} {fault}")
        try:
            mapped = orderfields.map_document(
                document.fields, self.dms.court_ori, self.dms.source_system, key, self.dms.ignore_fields
            )
        except orderfields.RecordError as err:
            raise Permanent("Adapter.InvalidRecord", f"{document.where}: {err}") from err
        sha = hashlib.sha256(data).hexdigest()
        upload = {"DocumentFileName": document.image, "Base64BinaryObject": data}
        if mapped.order is None:
            if mapped.sealed:
                raise Permanent(
                    "Adapter.InvalidRecord",
                    f"{document.where}: a sealed order lacking {', '.join(mapped.missing)} is not sent as a quick "
                    "attach (its image would be listed to the county); complete its index",
                )
            return self._quick_attach(key, attempts, mapped, upload, sha)
        self.state.attempt(key)
        arguments: dict[str, Any] = {"Order": mapped.order}
        if self.dms.submit_to_carpos:
            arguments["SubmitToCarposIndicator"] = True
        receipt = self.client.call("SubmitOrder", **arguments)
        if receipt.DuplicateIndicator and self._has_image(receipt.OrderId, sha):
            return f"{receipt.OrderId} (imported before)"
        try:
            image = self.client.call("AttachImage", OrderId=receipt.OrderId, Document=upload)
        except Permanent as refused:
            message = f"order {receipt.OrderId} was stored, its image refused: {refused.message}"
            raise Permanent(refused.code, message, refused.violations) from refused
        return f"{receipt.OrderId} image {image.ImageId}"

    def _has_image(self, order_id: str, sha: str) -> bool:
        record = self.client.call("GetOrder", OrderId=order_id)
        return any(image.SHA256.lower() == sha for image in (record.Image or []))

    def _quick_attach(
        self, key: str, attempts: int, mapped: orderfields.Mapped, upload: dict[str, Any], sha: str
    ) -> str:
        missing = f"missing {', '.join(mapped.missing)}"
        if attempts:  # an earlier call may have reached the hub: find its quick attach by the image's digest
            found = self._find_quick_attach(mapped.case_number, sha)
            if found:
                return f"QUICK_ATTACH {found} ({missing})"
        self.state.attempt(key)
        upload_qa: dict[str, Any] = {"CaseDocketID": mapped.case_number}
        if mapped.surname:
            upload_qa["PersonSurName"] = mapped.surname
        upload_qa["Document"] = upload
        qa = self.client.call("AddQuickAttach", QuickAttach=upload_qa)
        return f"QUICK_ATTACH {qa.QuickAttachId} ({missing})"

    def _find_quick_attach(self, case_number: str, sha: str) -> str | None:
        page = 1
        while page:
            result = self.client.call("SearchQuickAttach", Criteria={"CaseDocketID": case_number}, PageNumber=page)
            for item in result.Item or []:
                if item.ImageInfo.SHA256.lower() == sha:
                    return str(item.QuickAttachId)
            page = result.NextPageNumber or 0
        return None

    # -- filing ------------------------------------------------------------------------------
    def resume_filing(self) -> None:
        """Batches decided but not filed (a kill -9 while their files moved): finished first, from
        the state database -- whatever of theirs is still in the inbox."""
        for record in self.state.records(SENT, kind="batch"):
            if _stage(record) == "resolved":
                folder = self.dms.inbox / record.batch
                index = folder / self.dms.index_name
                # the same batch (its index moved already, or unchanged), not a new one dropped under its name
                same = not _lexists(index) or (
                    plain(index) and _digest(index)[:16] == json.loads(record.outcome)["index"]
                )
                if folder.is_dir() and not folder.is_symlink() and same:
                    self._file(folder, record.key)
                elif folder.is_dir() and not folder.is_symlink():  # a new batch under the old name: its own turn
                    self.state.sent(record.key, json.dumps({"stage": "filed", "at": _now_text(), "replaced": True}))
                else:  # its folder was removed by hand meanwhile: nothing left to file
                    self.state.sent(record.key, json.dumps({"stage": "filed", "at": _now_text(), "gone": True}))

    def _file(self, folder: Path, key: str) -> None:
        record = self.state.get(key)
        assert record is not None
        plan = json.loads(record.outcome)
        done, errors = Path(plan["done"]), Path(plan["errors"])
        lines, failed = [], 0
        for member in self.state.members(plan["drop"]):
            doc = self.state.get(member.key)
            status, outcome = (doc.status, doc.outcome) if doc is not None else (FAILED, "")
            target = done if status == SENT else errors
            target.mkdir(parents=True, exist_ok=True)
            if status == FAILED:
                failed += 1
                reason = f"document {member.position} ({member.place})\n{doc.detail if doc else ''}"
                _write_text(target / f"{member.image}.reason.txt", reason)
            if _lexists(folder / member.image) and not _lexists(target / member.image):
                _move(folder / member.image, target / member.image)
            lines.append(f"{member.position}\t{member.image}\t{status}\t{outcome}")
        done.mkdir(parents=True, exist_ok=True)
        index = folder / self.dms.index_name
        if errors.is_dir() and index.is_file():
            shutil.copy2(index, errors / self.dms.index_name)
        _write_text(done / "receipt.txt", "position\timage\tstatus\toutcome\n" + "\n".join(lines) + "\n")
        trigger = self.dms.trigger_file
        rest = sorted(folder.iterdir(), key=lambda p: (p.name == trigger, p.name == self.dms.index_name, p.name))
        for leftover in rest:  # a station's own files, the index, the trigger last
            if _lexists(done / leftover.name):
                leftover.unlink()
            else:
                _move(leftover, done / leftover.name)
        folder.rmdir()
        self.state.sent(key, json.dumps({"stage": "filed", "at": _now_text(), "done": str(done)}))
        self.log.info("batch.filed", batch=folder.name, documents=len(lines), failed=failed, done=str(done),
                      error=str(errors) if failed else None)  # fmt: skip

    def _file_again(self, folder: Path, why: str) -> None:
        self.log.warning("batch.already_imported", batch=folder.name, reason=why)
        self._file_all(folder, self.dms.errors, "ALREADY_IMPORTED.txt", f"{why}\n")

    def _file_all(self, folder: Path, place: Path, reason_name: str, reason: str) -> None:
        target = fresh(place / folder.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        _move(folder, target)
        _write_text(target / reason_name, reason)


def status_text(state: StateStore) -> str:
    """What ``ccpor-hub adapter dms CONFIG status`` prints."""
    s = state.status()

    lines = [
        f"sent: {s.counts[SENT]}  failed: {s.counts[FAILED]}  waiting: {s.counts[WAITING]}",
        f"last success: {when(s.last_success)}",
    ]
    if s.next_attempt_at:
        lines.append(f"next retry: {when(s.next_attempt_at)}")
    lines += [f"held batch {batch}: {why}" for batch, why in s.held]
    lines += failed_lines(state)
    return "\n".join(lines)


def _stage(record: Record) -> str:
    try:
        return str(json.loads(record.outcome).get("stage", ""))
    except (ValueError, AttributeError):
        return ""


def _digest(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


def _move(source: Path, target: Path) -> None:
    """Rename (done/ and error/ on the inbox's file system), or copy then remove across file systems."""
    if source.exists():
        shutil.move(source, target)


def _write_text(path: Path, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


def run(path: Path, once: bool = False) -> int:
    hub, dms = load(path)
    return service.main(
        "dms", lambda log, stopping, once: DmsAdapter(hub, dms, log, stopping, once), dms.poll_seconds, once
    )


def status(path: Path) -> str:
    return service.status(load(path)[1].state_path, status_text)
