"""The mock DOJ switch's settings (``ccpor-hub mock-doj``): a separate system with its own data and
keys, read from the environment by the hub's settings helper (hub.settings), one line per setting.

It shares with the hub the variables both ends of the CARPOS channel read (the key directory, the
certificates, DOJ's ORI, the certificate warning): they are declared once, in hub.settings.Settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hub.settings import INTEGER, PATH, SHARE, TEXT, Kind, Settings, current, same_as, setting
from mocks.doj.faults import Window, parse_windows

#: Daily maintenance windows (mocks.doj.faults.parse_windows).
WINDOWS: Kind[tuple[Window, ...]] = Kind("daily UTC windows HH:MM-HH:MM, comma-separated", parse_windows)


@dataclass(frozen=True)
class SwitchSettings:
    """The mock DOJ switch (``ccpor-hub mock-doj``): a separate system with its own data and keys."""

    #: Its data directory: its own SQLite database and master key.
    data_dir: Path = setting("CCPOR_DOJ_DATA_DIR", PATH, lambda: current(Settings, "data_dir") / "doj")
    #: Its database; empty: SQLite in data_dir.
    database_url: str = setting("CCPOR_DOJ_DATABASE_URL", TEXT, "")
    #: Its master key (under which its private key is kept). Empty: data_dir/master.key.
    master_key_file: str = setting("CCPOR_DOJ_MASTER_KEY_FILE", TEXT, "")
    #: DOJ's private key and certificate, and the hub's pinned certificate. Empty: doj.key, doj.pem,
    #: hub.pem in the hub's CCPOR_CARPOS_KEY_DIR (default $CCPOR_DATA_DIR/carpos-keys).
    key_dir: Path = field(default_factory=lambda: Settings().resolved_carpos_key_dir)
    doj_key_file: Path | None = setting("CCPOR_DOJ_KEY_FILE", PATH, None)
    doj_cert_file: Path | None = same_as(Settings, "doj_cert_file")
    hub_cert_file: Path | None = same_as(Settings, "hub_cert_file")
    ori: str = same_as(Settings, "doj_ori")
    #: The switch's public base URL for its WSDL (as the hub's CCPOR_PUBLIC_URL); empty: the bound address.
    public_url: str = setting("CCPOR_DOJ_PUBLIC_URL", TEXT, "")
    #: Days before a certificate's expiry from which the switch warns at start (as the gateway does).
    cert_warn_days: int = same_as(Settings, "cert_warn_days")
    #: Records of other agencies in the registry at first start (so a query finds orders CCPOR never sent).
    seed_records: int = setting("CCPOR_DOJ_SEED_RECORDS", INTEGER, 500)
    #: Seed of the random choices (seeded records, injected faults).
    random_seed: int = setting("CCPOR_DOJ_RANDOM_SEED", INTEGER, 1)
    #: Seconds a fetched answer stays hidden from other readers until it is acknowledged (it
    #: reappears if the reader dies first).
    mailbox_lease_seconds: int = setting("CCPOR_DOJ_MAILBOX_LEASE_SECONDS", INTEGER, 30)
    # Fault injection (all off by default).
    #: Milliseconds before an answer appears in the mailbox (DOJ's processing time).
    answer_latency_ms: int = setting("CCPOR_DOJ_ANSWER_LATENCY_MS", INTEGER, 0)
    #: Milliseconds every call is held before it is answered (a slow network).
    call_latency_ms: int = setting("CCPOR_DOJ_CALL_LATENCY_MS", INTEGER, 0)
    #: Share of calls (0..1) that fail with HTTP 503 / Server.Unavailable before doing anything.
    error_rate: float = setting("CCPOR_DOJ_ERROR_RATE", SHARE, 0.0)
    #: Share of answers never put in the mailbox (the transaction still takes effect).
    drop_rate: float = setting("CCPOR_DOJ_DROP_RATE", SHARE, 0.0)
    #: Share of answers put in the mailbox twice.
    duplicate_rate: float = setting("CCPOR_DOJ_DUPLICATE_RATE", SHARE, 0.0)
    #: Share of answers sent with line noise before their text, so the hub cannot read them.
    garble_rate: float = setting("CCPOR_DOJ_GARBLE_RATE", SHARE, 0.0)
    #: Share of mailbox fetches answered in shuffled order.
    reorder_rate: float = setting("CCPOR_DOJ_REORDER_RATE", SHARE, 0.0)
    #: Daily maintenance windows in UTC, e.g. "02:00-02:30,14:00-14:05": every call gets HTTP 503.
    downtime: tuple[Window, ...] = setting("CCPOR_DOJ_DOWNTIME", WINDOWS, ())

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'switch.db').resolve()}"

    @property
    def resolved_master_key_file(self) -> Path:
        return Path(self.master_key_file).expanduser() if self.master_key_file else self.data_dir / "master.key"

    @property
    def resolved_doj_key_file(self) -> Path:
        return self.doj_key_file or self.key_dir / "doj.key"

    @property
    def resolved_doj_cert_file(self) -> Path:
        return self.doj_cert_file or self.key_dir / "doj.pem"

    @property
    def resolved_hub_cert_file(self) -> Path:
        return self.hub_cert_file or self.key_dir / "hub.pem"


def load_switch() -> SwitchSettings:
    """Read the switch's settings from the environment now."""
    return SwitchSettings()
