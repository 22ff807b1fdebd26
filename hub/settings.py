"""Settings from the environment: one line per setting, typed, with safe defaults.

Every setting is read once, at start, into a frozen :class:`Settings`; code receives the object
rather than reading the environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from hub.clock import CALIFORNIA, CourtCalendar


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default).expanduser()


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


def _flag(name: str) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={raw!r}: write 1 or 0")


def _list(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in (os.environ.get(name) or "").split(",") if part.strip())


def _optional_path(name: str) -> Path | None:
    raw = os.environ.get(name)
    return Path(raw).expanduser() if raw else None


def _hub_data_dir() -> Path:
    return _path("CCPOR_DATA_DIR", "./var")


@dataclass(frozen=True)
class Settings:
    #: Data directory: the default SQLite database and image store live here.
    data_dir: Path = field(default_factory=_hub_data_dir)
    #: SQLAlchemy URL. Empty means an embedded SQLite file in data_dir. PostgreSQL:
    #: postgresql+psycopg://user@host/db. Hazard: never put a password in this value on a shared
    #: host; use a .pgpass file or peer/certificate authentication instead.
    database_url: str = field(default_factory=lambda: os.environ.get("CCPOR_DATABASE_URL", ""))
    #: Where images are kept (content-addressed). Empty means data_dir/images.
    image_dir: str = field(default_factory=lambda: os.environ.get("CCPOR_IMAGE_DIR", ""))
    #: Largest accepted image, decoded, in bytes (default 20 MB).
    max_image_bytes: int = field(default_factory=lambda: _int("CCPOR_MAX_IMAGE_BYTES", 20 * 1000 * 1000))
    #: Largest XML element nesting accepted before a request is refused (hostile-input guard).
    max_xml_depth: int = field(default_factory=lambda: _int("CCPOR_MAX_XML_DEPTH", 40))
    #: Largest number of elements in one request (hostile-input guard).
    max_xml_elements: int = field(default_factory=lambda: _int("CCPOR_MAX_XML_ELEMENTS", 20000))
    #: Orders per search result page (the user guide's 25).
    page_size: int = field(default_factory=lambda: _int("CCPOR_PAGE_SIZE", 25))
    #: The master key file (hub.masterkey). Empty means data_dir/master.key.
    master_key_file: str = field(default_factory=lambda: os.environ.get("CCPOR_MASTER_KEY_FILE", ""))
    #: Audit events older than this many days are removed by ``ccpor-hub audit purge`` (CJIS AU-11).
    audit_retention_days: int = field(default_factory=lambda: _int("CCPOR_AUDIT_RETENTION_DAYS", 365))
    #: WS-Security freshness: how old a UsernameToken's or signature's Created may be, in seconds.
    wsse_max_age_seconds: int = field(default_factory=lambda: _int("CCPOR_WSSE_MAX_AGE_SECONDS", 300))
    #: WS-Security: tolerated clock difference with a caller, in seconds.
    wsse_clock_skew_seconds: int = field(default_factory=lambda: _int("CCPOR_WSSE_CLOCK_SKEW_SECONDS", 60))
    #: Addresses of reverse proxies (TLS terminators) whose ``X-Forwarded-Proto: https`` is believed,
    #: comma-separated. Empty: none -- only a TLS connection to the hub itself counts as TLS. Hazard: an
    #: address listed here that is not your proxy lets anyone on it send passwords in the clear.
    trusted_proxies: tuple[str, ...] = field(default_factory=lambda: _list("CCPOR_TRUSTED_PROXIES"))
    #: The courts' time zone (IANA): every calendar-date rule -- no future issue dates, expiry after the
    #: last day in force, upload-date searches -- counts days here, not in UTC (hub.clock).
    court_timezone: str = field(default_factory=lambda: os.environ.get("CCPOR_COURT_TIMEZONE") or CALIFORNIA)
    #: The hub's public base URL (``https://ccpor.courts.ca.gov:8443``, a path prefix allowed): the
    #: address the served WSDLs give for each service. Empty: ``ccpor-hub serve`` sets it to the bound
    #: address (``--bind``, https with ``--tls-cert``). The WSDL never takes an address from the request.
    public_url: str = field(default_factory=lambda: os.environ.get("CCPOR_PUBLIC_URL", ""))
    #: DEVELOPMENT ONLY: accept PasswordText over plain HTTP from loopback callers (tests, benchmarks).
    #: Logged as a warning at every start. Hazard: the password crosses the wire in the clear.
    dev_password_text_over_http: bool = field(default_factory=lambda: _flag("CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP"))

    # -------------------------------------------------------------------- CARPOS (hub and gateway)
    #: Directory of the CARPOS keys and certificates (``ccpor-hub keys init``). Empty: data_dir/carpos-keys.
    carpos_key_dir: str = field(default_factory=lambda: os.environ.get("CCPOR_CARPOS_KEY_DIR", ""))
    #: The hub's private key (encrypted under the master key) and certificate; DOJ's pinned certificate.
    #: Empty: hub.key, hub.pem, doj.pem in carpos_key_dir.
    hub_key_file: Path | None = field(default_factory=lambda: _optional_path("CCPOR_HUB_KEY_FILE"))
    hub_cert_file: Path | None = field(default_factory=lambda: _optional_path("CCPOR_HUB_CERT_FILE"))
    doj_cert_file: Path | None = field(default_factory=lambda: _optional_path("CCPOR_DOJ_CERT_FILE"))
    #: A certificate that expires within this many days is reported at every start.
    cert_warn_days: int = field(default_factory=lambda: _int("CCPOR_CERT_WARN_DAYS", 30))
    #: The DOJ switch's SOAP endpoint (the mock's default address).
    doj_url: str = field(default_factory=lambda: os.environ.get("CCPOR_DOJ_URL", "http://127.0.0.1:8090/doj/switch"))
    #: DOJ's ORI: the destination of every transmission, the sender of every answer.
    doj_ori: str = field(default_factory=lambda: os.environ.get("CCPOR_DOJ_ORI", "CADOJ0000"))
    #: Seconds between the gateway's polls of the outbox and of DOJ's mailbox (a new message rings at once).
    gateway_poll_seconds: float = field(default_factory=lambda: _float("CCPOR_GATEWAY_POLL_SECONDS", 1.0))
    #: Threads of one gateway process that claim and send batches side by side (claims never overlap).
    gateway_senders: int = field(default_factory=lambda: _int("CCPOR_GATEWAY_SENDERS", 2))
    #: Messages claimed and submitted per batch.
    gateway_batch: int = field(default_factory=lambda: _int("CCPOR_GATEWAY_BATCH", 100))
    #: How long a claim lasts; a gateway that dies holding messages frees them after this. Hazard: shorter
    #: than a batch's send time, and a second gateway would send the same messages (harmless, same MCN, but wasted).
    gateway_lease_seconds: int = field(default_factory=lambda: _int("CCPOR_GATEWAY_LEASE_SECONDS", 60))
    #: Seconds an HTTP call to the switch may take.
    gateway_timeout_seconds: float = field(default_factory=lambda: _float("CCPOR_GATEWAY_TIMEOUT_SECONDS", 30.0))
    #: The retry policy (hub.outbox.retry.RetryPolicy).
    carpos_max_attempts: int = field(default_factory=lambda: _int("CCPOR_CARPOS_MAX_ATTEMPTS", 12))
    carpos_retry_base_seconds: float = field(default_factory=lambda: _float("CCPOR_CARPOS_RETRY_BASE_SECONDS", 2.0))
    carpos_retry_max_seconds: float = field(default_factory=lambda: _float("CCPOR_CARPOS_RETRY_MAX_SECONDS", 300.0))
    carpos_answer_timeout_seconds: float = field(
        default_factory=lambda: _float("CCPOR_CARPOS_ANSWER_TIMEOUT_SECONDS", 60.0)
    )

    @property
    def calendar(self) -> CourtCalendar:
        return CourtCalendar(self.court_timezone)

    @property
    def resolved_carpos_key_dir(self) -> Path:
        return Path(self.carpos_key_dir).expanduser() if self.carpos_key_dir else self.data_dir / "carpos-keys"

    @property
    def resolved_hub_key_file(self) -> Path:
        return self.hub_key_file or self.resolved_carpos_key_dir / "hub.key"

    @property
    def resolved_hub_cert_file(self) -> Path:
        return self.hub_cert_file or self.resolved_carpos_key_dir / "hub.pem"

    @property
    def resolved_doj_cert_file(self) -> Path:
        return self.doj_cert_file or self.resolved_carpos_key_dir / "doj.pem"

    @property
    def max_request_bytes(self) -> int:
        """The largest request body: one base64 image (4/3 of its size) plus 1 MiB of envelope.

        Spyne's own cap (2 MiB) and libxml2's text-node cap (~10 MB) are raised to this value
        deliberately: the hardened parser enforces it before anything else reads the body.
        """
        return self.max_image_bytes * 4 // 3 + 1024 * 1024

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'ccpor.db').resolve()}"

    @property
    def resolved_master_key_file(self) -> Path:
        return Path(self.master_key_file).expanduser() if self.master_key_file else self.data_dir / "master.key"

    @property
    def resolved_image_dir(self) -> Path:
        return Path(self.image_dir).expanduser() if self.image_dir else self.data_dir / "images"


@dataclass(frozen=True)
class SwitchSettings:
    """The mock DOJ switch (``ccpor-hub mock-doj``): a separate system with its own data and keys."""

    #: Its data directory: its own SQLite database and master key.
    data_dir: Path = field(default_factory=lambda: _path("CCPOR_DOJ_DATA_DIR", str(_hub_data_dir() / "doj")))
    #: Its database; empty: SQLite in data_dir.
    database_url: str = field(default_factory=lambda: os.environ.get("CCPOR_DOJ_DATABASE_URL", ""))
    #: Its master key (under which its private key is kept). Empty: data_dir/master.key.
    master_key_file: str = field(default_factory=lambda: os.environ.get("CCPOR_DOJ_MASTER_KEY_FILE", ""))
    #: DOJ's private key and certificate, and the hub's pinned certificate. Empty: doj.key, doj.pem,
    #: hub.pem in CCPOR_CARPOS_KEY_DIR (default $CCPOR_DATA_DIR/carpos-keys, as for the hub).
    key_dir: Path = field(default_factory=lambda: _path("CCPOR_CARPOS_KEY_DIR", str(_hub_data_dir() / "carpos-keys")))
    doj_key_file: Path | None = field(default_factory=lambda: _optional_path("CCPOR_DOJ_KEY_FILE"))
    doj_cert_file: Path | None = field(default_factory=lambda: _optional_path("CCPOR_DOJ_CERT_FILE"))
    hub_cert_file: Path | None = field(default_factory=lambda: _optional_path("CCPOR_HUB_CERT_FILE"))
    ori: str = field(default_factory=lambda: os.environ.get("CCPOR_DOJ_ORI", "CADOJ0000"))
    #: The switch's public base URL for its WSDL (as the hub's CCPOR_PUBLIC_URL); empty: the bound address.
    public_url: str = field(default_factory=lambda: os.environ.get("CCPOR_DOJ_PUBLIC_URL", ""))
    #: Days before a certificate's expiry from which the switch warns at start (as the gateway does).
    cert_warn_days: int = field(default_factory=lambda: _int("CCPOR_CERT_WARN_DAYS", 30))
    #: Records of other agencies in the registry at first start (so a query finds orders CCPOR never sent).
    seed_records: int = field(default_factory=lambda: _int("CCPOR_DOJ_SEED_RECORDS", 500))
    #: Seed of the random choices (seeded records, injected faults).
    random_seed: int = field(default_factory=lambda: _int("CCPOR_DOJ_RANDOM_SEED", 1))
    #: Seconds a fetched answer stays hidden from other readers until it is acknowledged (it
    #: reappears if the reader dies first).
    mailbox_lease_seconds: int = field(default_factory=lambda: _int("CCPOR_DOJ_MAILBOX_LEASE_SECONDS", 30))
    # Fault injection (all off by default).
    #: Milliseconds before an answer appears in the mailbox (DOJ's processing time).
    answer_latency_ms: int = field(default_factory=lambda: _int("CCPOR_DOJ_ANSWER_LATENCY_MS", 0))
    #: Milliseconds every call is held before it is answered (a slow network).
    call_latency_ms: int = field(default_factory=lambda: _int("CCPOR_DOJ_CALL_LATENCY_MS", 0))
    #: Share of calls (0..1) that fail with HTTP 503 / Server.Unavailable before doing anything.
    error_rate: float = field(default_factory=lambda: _float("CCPOR_DOJ_ERROR_RATE", 0.0))
    #: Share of answers never put in the mailbox (the transaction still takes effect).
    drop_rate: float = field(default_factory=lambda: _float("CCPOR_DOJ_DROP_RATE", 0.0))
    #: Share of answers put in the mailbox twice.
    duplicate_rate: float = field(default_factory=lambda: _float("CCPOR_DOJ_DUPLICATE_RATE", 0.0))
    #: Share of answers sent with line noise before their text, so the hub cannot read them.
    garble_rate: float = field(default_factory=lambda: _float("CCPOR_DOJ_GARBLE_RATE", 0.0))
    #: Share of mailbox fetches answered in shuffled order.
    reorder_rate: float = field(default_factory=lambda: _float("CCPOR_DOJ_REORDER_RATE", 0.0))
    #: Daily maintenance windows in UTC, e.g. "02:00-02:30,14:00-14:05": every call gets HTTP 503.
    downtime: str = field(default_factory=lambda: os.environ.get("CCPOR_DOJ_DOWNTIME", ""))

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


def load() -> Settings:
    """Read the settings from the environment now."""
    return Settings()


def load_switch() -> SwitchSettings:
    return SwitchSettings()
