"""adapters.framework: the configuration file names every mistake by its key; the state store keeps
what was sent across a restart; the backoff doubles to its cap with jitter."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.framework import config
from adapters.framework.retry import Backoff
from adapters.framework.state import FAILED, SENT, WAITING, StateStore


@dataclass(frozen=True)
class Hub:
    wsdl: str
    username: str
    password_file: Path
    digest: bool = True
    timeout_seconds: float = 30.0
    ca_file: Path | None = None


@dataclass(frozen=True)
class Drop:
    inbox: Path
    poll_seconds: float = 10.0
    stable_seconds: int = 30
    layouts: tuple[str, ...] = ("kofax-xml",)

    def __post_init__(self) -> None:
        if self.poll_seconds <= 0:
            raise ValueError("poll_seconds: must be more than 0")


SECTIONS = {"hub": Hub, "dms": Drop}
GOOD = """
[hub]
wsdl = "https://hub.example/ws/orders?wsdl"
username = "la-dms"
password_file = "secrets/password"

[dms]
inbox = "/srv/scans/inbox"
poll_seconds = 5
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "adapter.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_good_file_gives_typed_sections_with_defaults_and_paths_from_the_files_directory(tmp_path: Path) -> None:
    loaded = config.load(_write(tmp_path, GOOD), SECTIONS)
    assert loaded["hub"] == Hub(
        wsdl="https://hub.example/ws/orders?wsdl", username="la-dms", password_file=tmp_path / "secrets/password"
    )
    assert loaded["dms"].poll_seconds == 5.0 and isinstance(loaded["dms"].poll_seconds, float)
    assert loaded["dms"].inbox == Path("/srv/scans/inbox") and loaded["dms"].layouts == ("kofax-xml",)


@pytest.mark.parametrize(
    "change, message",
    [
        (("username", 'usernme = "x"'), "hub.usernme: unknown key (hub takes: ca_file, digest,"),
        (('username = "la-dms"', ""), "hub.username: required"),
        (("poll_seconds = 5", 'poll_seconds = "soon"'), "dms.poll_seconds: expected a number, got 'soon'"),
        (("poll_seconds = 5", "poll_seconds = 0"), "dms.poll_seconds: must be more than 0"),
        (("poll_seconds = 5", "poll_seconds = true"), "dms.poll_seconds: expected a number, got True"),
        (("poll_seconds = 5", "layouts = [1]"), "dms.layouts[0]: expected text, got 1"),
        (('username = "la-dms"', 'username = ""'), "hub.username: expected text, got ''"),
        (("[dms]", "[dsm]"), "unknown section [dsm] (sections: dms, hub)"),
        (("[dms]", "[dms"), "not valid TOML"),
    ],
)
def test_every_mistake_stops_the_start_with_its_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    text = GOOD if old != "username" else GOOD.replace('username = "la-dms"', 'username = "la-dms"\nusernme = "x"')
    if old != "username":
        assert old in text
        text = text.replace(old, new, 1)
    with pytest.raises(config.ConfigError) as err:
        config.load(_write(tmp_path, text), SECTIONS)
    assert message in str(err.value)


def test_the_state_survives_a_kill_and_a_restart(tmp_path: Path) -> None:
    """Each change is committed before the adapter moves on: a process killed with -9 right after
    recording a send leaves that record SENT for the next start."""
    path = tmp_path / "state.db"
    script = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from pathlib import Path
from adapters.framework.state import StateStore
store = StateStore(Path({str(path)!r}))
store.waiting("batch-1/doc-1"); store.sent("batch-1/doc-1", "ORD-1")
store.waiting("batch-1/doc-2"); store.attempt("batch-1/doc-2")
store.retry_later("batch-1/doc-2", "hub unreachable", 60)
store.waiting("batch-1/doc-4"); store.attempt("batch-1/doc-4")  # killed during this call
store.waiting("batch-1/doc-3"); store.failed("batch-1/doc-3", "Client.ValidationError", "ord:CaseDocketID: missing")
os.kill(os.getpid(), 9)
"""
    done = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert done.returncode == -9
    store = StateStore(path, clock=lambda: 1e12)
    assert store.get("batch-1/doc-1").status == SENT and store.get("batch-1/doc-1").outcome == "ORD-1"  # type: ignore[union-attr]
    waiting = store.get("batch-1/doc-2")
    assert waiting is not None and (waiting.status, waiting.attempts, waiting.detail) == (WAITING, 1, "hub unreachable")
    assert store.get("batch-1/doc-3").status == FAILED  # type: ignore[union-attr]
    in_flight = store.get("batch-1/doc-4")  # the call may have reached the hub: the adapter looks first
    assert in_flight is not None and (in_flight.status, in_flight.attempts) == (WAITING, 1)
    assert store.waiting("batch-1/doc-1").status == SENT  # seeing a record again never resets it
    status = store.status()
    assert status.counts == {WAITING: 2, SENT: 1, FAILED: 1} and status.last_success is not None
    store.close()


def test_a_transient_failure_is_not_due_before_its_delay(tmp_path: Path) -> None:
    now = [1000.0]
    store = StateStore(tmp_path / "state.db", clock=lambda: now[0])
    record = store.waiting("k")
    assert store.due(record)
    store.retry_later("k", "HTTP 503", 30)
    assert not store.due(store.get("k"))  # type: ignore[arg-type]
    now[0] += 31
    assert store.due(store.get("k"))  # type: ignore[arg-type]
    store.close()


def test_backoff_doubles_to_its_cap_with_jitter_in_the_upper_half() -> None:
    backoff, rnd = Backoff(first=2, most=60), random.Random(1)  # noqa: S311 - jitter, reproducible
    for failures, ceiling in ((1, 2), (2, 4), (3, 8), (6, 60), (20, 60)):
        delays = [backoff.delay(failures, rnd) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(set(delays)) > 1


def test_a_file_written_for_another_system_replaces_a_planted_link_and_never_writes_through_it(tmp_path: Path) -> None:
    from adapters.framework.files import write_atomically

    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not yours")
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "CCP0000000001.xml"
    target.symlink_to(outside)  # planted where the adapter writes
    write_atomically(target, b"<OrderRecord/>")
    assert not target.is_symlink() and target.read_bytes() == b"<OrderRecord/>"
    assert outside.read_bytes() == b"not yours"
    assert [p.name for p in folder.iterdir()] == ["CCP0000000001.xml"]  # no temporary left beside it


def test_a_failed_write_for_another_system_leaves_neither_the_file_nor_its_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.framework import files

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        files.write_atomically(tmp_path / "a.xml", b"data")
    assert list(tmp_path.iterdir()) == []
