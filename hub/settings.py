"""Settings from the environment: one line per setting, typed, with safe defaults.

Every setting is read once, at start, into a frozen :class:`Settings`; code receives the object
rather than reading the environment itself. Each field is declared by :func:`setting` -- the
variable, the kind of value (a :class:`Kind`) and the default -- and an empty variable means the
default. A value of the wrong kind stops the start with a :class:`SettingError` naming the
variable, what it takes and what it was given::

    CCPOR_PAGE_SIZE=ten  ->  SettingError("CCPOR_PAGE_SIZE: expected an integer, got 'ten'")

``ccpor-hub`` prints that line and exits 2 (hub.cli).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.clock import CALIFORNIA, CourtCalendar

T = TypeVar("T")


class SettingError(ValueError):
    """A setting's value is not of its kind: the message names the variable, what it takes and what
    it was given."""

    def __init__(self, name: str, expected: str, given: str) -> None:
        super().__init__(f"{name}: expected {expected}, got {given!r}")
        self.name = name
        self.expected = expected
        self.given = given


@dataclass(frozen=True)
class Kind(Generic[T]):
    """A kind of setting: what it takes, in words (for the error), and how its text is read
    (``parse`` raises ValueError for a wrong one)."""

    expected: str
    parse: Callable[[str], T]


def _flag(raw: str) -> bool:
    word = raw.strip().lower()
    if word in ("0", "false", "no", "off"):
        return False
    if word in ("1", "true", "yes", "on"):
        return True
    raise ValueError(raw)


def _names(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _networks(raw: str) -> tuple[str, ...]:
    names = _names(raw)
    for name in names:
        ipaddress.ip_network(name)  # ValueError for what is not an address or a network
    return names


def _zone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, OSError):  # OSError: a directory of zones ("America"), not a zone
        raise ValueError(raw) from None
    return raw


def _share(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError(raw)
    return value


def _schedule(raw: str) -> str:
    """``every N s|m|h`` (a fixed interval, the same slots in every worker) or a five-field crontab
    (minute hour day month weekday) in the courts' time zone; checked as APScheduler reads it."""
    text = " ".join(raw.split())
    if text.startswith("every "):
        parts = text.split()
        if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) < 1 or parts[2] not in ("s", "m", "h"):
            raise ValueError(raw)
        return text
    from apscheduler.triggers.cron import CronTrigger

    CronTrigger.from_crontab(text, timezone=CALIFORNIA)  # ValueError for what is not a crontab
    return text


def one_of(*choices: str) -> Kind[str]:
    """A kind whose value is one of ``choices`` (any case; kept in lower case)."""

    def parse(raw: str) -> str:
        if raw.strip().lower() not in choices:
            raise ValueError(raw)
        return raw.strip().lower()

    return Kind(" or ".join(choices), parse)


TEXT = Kind("text", str)
INTEGER = Kind("an integer", int)
NUMBER = Kind("a number", float)
FLAG = Kind("1 or 0 (or true/false, yes/no, on/off)", _flag)
PATH = Kind("a path", lambda raw: Path(raw).expanduser())
NETWORKS = Kind("IP addresses or networks, comma-separated (10.0.0.5,10.1.0.0/16)", _networks)
TIME_ZONE = Kind(f"an IANA time zone such as {CALIFORNIA}", _zone)
SHARE = Kind("a share between 0 and 1", _share)
LOG_FORMAT = one_of("text", "json")
IMAGE_STORE = one_of("filesystem", "database")
SCHEDULE = Kind("a crontab (minute hour day month weekday, e.g. '0 6 1 * *') or 'every N s|m|h'", _schedule)


def read(name: str, kind: Kind[T], default: T | Callable[[], T]) -> T:
    """The variable ``name`` of the environment now, read as ``kind``; ``default`` (or what it
    returns, if it is a function) when it is unset or blank. SettingError if it is not of its kind."""
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default() if callable(default) else default
    try:
        return kind.parse(raw)
    except ValueError:
        raise SettingError(name, kind.expected, raw) from None


def setting(name: str, kind: Kind[T], default: T | Callable[[], T]) -> Any:
    """A settings field read from the variable ``name`` when the settings are made (see :func:`read`)."""
    return dataclasses.field(default_factory=lambda: read(name, kind, default), metadata={"variable": name})


def _field(cls: type, field_name: str) -> dataclasses.Field[Any]:
    (found,) = (f for f in dataclasses.fields(cls) if f.name == field_name)
    return found


def current(cls: type, field_name: str) -> Any:
    """The value the field ``field_name`` of the settings class ``cls`` takes from the environment now."""
    return _field(cls, field_name).default_factory()  # type: ignore[misc] - declared by setting()


def same_as(cls: type, field_name: str) -> Any:
    """A field that reads what ``cls``'s field ``field_name`` reads: another system's settings share
    a variable (the same name, kind and default) without declaring it again."""
    return dataclasses.field(
        default_factory=lambda: current(cls, field_name), metadata=_field(cls, field_name).metadata
    )


@dataclass(frozen=True)
class Settings:
    #: Data directory: the default SQLite database and image store live here.
    data_dir: Path = setting("CCPOR_DATA_DIR", PATH, Path("./var"))
    #: SQLAlchemy URL. Empty means an embedded SQLite file in data_dir. PostgreSQL:
    #: postgresql+psycopg://user@host/db. Hazard: never put a password in this value on a shared
    #: host; use a .pgpass file or peer/certificate authentication instead.
    database_url: str = setting("CCPOR_DATABASE_URL", TEXT, "")
    #: Where images are kept (content-addressed). Empty means data_dir/images.
    image_dir: str = setting("CCPOR_IMAGE_DIR", TEXT, "")
    #: Where image bytes live: ``filesystem`` (files under image_dir) or ``database`` (chunks in the
    #: hub's database -- PostgreSQL: every hub machine reads every image, no shared file system needed).
    image_store: str = setting("CCPOR_IMAGE_STORE", IMAGE_STORE, "filesystem")
    #: Largest accepted image, decoded, in bytes (default 20 MB).
    max_image_bytes: int = setting("CCPOR_MAX_IMAGE_BYTES", INTEGER, 20 * 1000 * 1000)
    #: Largest XML element nesting accepted before a request is refused (hostile-input guard).
    max_xml_depth: int = setting("CCPOR_MAX_XML_DEPTH", INTEGER, 40)
    #: Largest number of elements in one request (hostile-input guard).
    max_xml_elements: int = setting("CCPOR_MAX_XML_ELEMENTS", INTEGER, 20000)
    #: Orders per search result page (the user guide's 25).
    page_size: int = setting("CCPOR_PAGE_SIZE", INTEGER, 25)
    #: The master key file (hub.masterkey). Empty means data_dir/master.key.
    master_key_file: str = setting("CCPOR_MASTER_KEY_FILE", TEXT, "")
    #: Audit events older than this many days are removed by ``ccpor-hub audit purge`` (CJIS AU-11).
    audit_retention_days: int = setting("CCPOR_AUDIT_RETENTION_DAYS", INTEGER, 365)
    #: WS-Security freshness: how old a UsernameToken's or signature's Created may be, in seconds.
    wsse_max_age_seconds: int = setting("CCPOR_WSSE_MAX_AGE_SECONDS", INTEGER, 300)
    #: WS-Security: tolerated clock difference with a caller, in seconds.
    wsse_clock_skew_seconds: int = setting("CCPOR_WSSE_CLOCK_SKEW_SECONDS", INTEGER, 60)
    #: Addresses of reverse proxies (TLS terminators) whose ``X-Forwarded-Proto: https`` is believed,
    #: comma-separated. Empty: none -- only a TLS connection to the hub itself counts as TLS. Hazard: an
    #: address listed here that is not your proxy lets anyone on it send passwords in the clear.
    trusted_proxies: tuple[str, ...] = setting("CCPOR_TRUSTED_PROXIES", NETWORKS, ())
    #: The courts' time zone (IANA): every calendar-date rule -- no future issue dates, expiry after the
    #: last day in force, upload-date searches -- counts days here, not in UTC (hub.clock).
    court_timezone: str = setting("CCPOR_COURT_TIMEZONE", TIME_ZONE, CALIFORNIA)
    #: The hub's public base URL (``https://ccpor.courts.ca.gov:8443``, a path prefix allowed): the
    #: address the served WSDLs give for each service. Empty: ``ccpor-hub serve`` sets it to the bound
    #: address (``--bind``, https with ``--tls-cert``). The WSDL never takes an address from the request.
    public_url: str = setting("CCPOR_PUBLIC_URL", TEXT, "")
    #: Seconds between the web console's auto-refreshes of its queue overview and of a message on its way.
    console_refresh_seconds: int = setting("CCPOR_CONSOLE_REFRESH_SECONDS", INTEGER, 15)
    #: DEVELOPMENT ONLY: accept PasswordText over plain HTTP from loopback callers (tests, benchmarks).
    #: Logged as a warning at every start. Hazard: the password crosses the wire in the clear.
    dev_password_text_over_http: bool = setting("CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP", FLAG, False)

    # -------------------------------------------------------------------- CARPOS (hub and gateway)
    #: Directory of the CARPOS keys and certificates (``ccpor-hub keys init``). Empty: data_dir/carpos-keys.
    carpos_key_dir: str = setting("CCPOR_CARPOS_KEY_DIR", TEXT, "")
    #: The hub's private key (encrypted under the master key) and certificate; DOJ's pinned certificate.
    #: Empty: hub.key, hub.pem, doj.pem in carpos_key_dir.
    hub_key_file: Path | None = setting("CCPOR_HUB_KEY_FILE", PATH, None)
    hub_cert_file: Path | None = setting("CCPOR_HUB_CERT_FILE", PATH, None)
    doj_cert_file: Path | None = setting("CCPOR_DOJ_CERT_FILE", PATH, None)
    #: A certificate that expires within this many days is reported at every start.
    cert_warn_days: int = setting("CCPOR_CERT_WARN_DAYS", INTEGER, 30)
    #: The DOJ switch's SOAP endpoint (the mock's default address).
    doj_url: str = setting("CCPOR_DOJ_URL", TEXT, "http://127.0.0.1:8090/doj/switch")
    #: DOJ's ORI: the destination of every transmission, the sender of every answer.
    doj_ori: str = setting("CCPOR_DOJ_ORI", TEXT, "CADOJ0000")
    #: Seconds between the gateway's polls of the outbox and of DOJ's mailbox (a new message rings at once).
    gateway_poll_seconds: float = setting("CCPOR_GATEWAY_POLL_SECONDS", NUMBER, 1.0)
    #: Threads of one gateway process that claim and send batches side by side (claims never overlap).
    gateway_senders: int = setting("CCPOR_GATEWAY_SENDERS", INTEGER, 2)
    #: Messages claimed and submitted per batch.
    gateway_batch: int = setting("CCPOR_GATEWAY_BATCH", INTEGER, 100)
    #: How long a claim lasts; a gateway that dies holding messages frees them after this. Hazard: shorter
    #: than a batch's send time, and a second gateway would send the same messages (harmless, same MCN, but wasted).
    gateway_lease_seconds: int = setting("CCPOR_GATEWAY_LEASE_SECONDS", INTEGER, 60)
    #: Seconds an HTTP call to the switch may take.
    gateway_timeout_seconds: float = setting("CCPOR_GATEWAY_TIMEOUT_SECONDS", NUMBER, 30.0)
    #: The retry policy (hub.outbox.retry.RetryPolicy).
    carpos_max_attempts: int = setting("CCPOR_CARPOS_MAX_ATTEMPTS", INTEGER, 12)
    carpos_retry_base_seconds: float = setting("CCPOR_CARPOS_RETRY_BASE_SECONDS", NUMBER, 2.0)
    carpos_retry_max_seconds: float = setting("CCPOR_CARPOS_RETRY_MAX_SECONDS", NUMBER, 300.0)
    carpos_answer_timeout_seconds: float = setting("CCPOR_CARPOS_ANSWER_TIMEOUT_SECONDS", NUMBER, 60.0)
    #: The CA certificates (PEM) the gateway trusts for the courts' DSP917 response services over
    #: https. Unset: the system's trust store. The certificate is always verified.
    dsp917_ca_file: Path | None = setting("CCPOR_DSP917_CA_FILE", PATH, None)
    #: The certificate (PEM) the gateway presents to courts whose response service requires mutual
    #: TLS, and its private key -- encrypted under the master key (``ccpor-hub keys wrap``). Both or
    #: neither.
    dsp917_client_cert: Path | None = setting("CCPOR_DSP917_CLIENT_CERT", PATH, None)
    dsp917_client_key: Path | None = setting("CCPOR_DSP917_CLIENT_KEY", PATH, None)
    #: The worker's scheduled jobs (``ccpor-hub worker``; hub.jobs), crontabs in the courts' time
    #: zone: order expiry (hourly; an order expires after its last day, California time), the
    #: monthly reports (06:00 on the 1st), audit retention and queue housekeeping (nightly).
    job_expire_orders: str = setting("CCPOR_JOB_EXPIRE_ORDERS", SCHEDULE, "5 * * * *")
    job_monthly_reports: str = setting("CCPOR_JOB_MONTHLY_REPORTS", SCHEDULE, "0 6 1 * *")
    job_audit_retention: str = setting("CCPOR_JOB_AUDIT_RETENTION", SCHEDULE, "30 3 * * *")
    job_housekeeping: str = setting("CCPOR_JOB_HOUSEKEEPING", SCHEDULE, "45 3 * * *")
    #: A job run still unfinished this long after it started is taken to have died with its worker:
    #: another worker may run that slot again.
    job_lease_seconds: int = setting("CCPOR_JOB_LEASE_SECONDS", INTEGER, 3600)
    #: Where the monthly reports job writes (a folder per month). Empty means data_dir/reports.
    reports_dir: str = setting("CCPOR_REPORTS_DIR", TEXT, "")
    #: How every process logs (hub.logs): ``text`` lines, or ``json`` -- one object a line, with the
    #: request id, operation, account, organization, outcome and duration, for a log shipper.
    log_format: str = setting("CCPOR_LOG_FORMAT", LOG_FORMAT, "text")
    #: Where the processes of this machine keep their Prometheus counts (prometheus_client's
    #: multi-process files; ``/metrics`` adds them up). Empty means data_dir/metrics.
    metrics_dir: str = setting("CCPOR_METRICS_DIR", TEXT, "")
    #: ``/metrics`` answers loopback callers only, unless this is set: the SHA-256 (hex) of a bearer
    #: token a scraper sends (``Authorization: Bearer <token>``); the token itself is never stored.
    metrics_token_sha256: str = setting("CCPOR_METRICS_TOKEN_SHA256", TEXT, "")
    #: Housekeeping deletes DEAD outbox messages older than this (those an order still needs are kept).
    dead_retention_days: int = setting("CCPOR_DEAD_RETENTION_DAYS", INTEGER, 90)

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

    def __post_init__(self) -> None:
        if self.image_store == "database" and self.resolved_database_url.startswith("sqlite"):
            # SQLite has one writer: the image's own transaction would wait on the call's that
            # stores its row, and fail. One machine keeps images as files.
            raise SettingError(
                "CCPOR_IMAGE_STORE",
                "'filesystem' with a SQLite database ('database' is for hub machines sharing one PostgreSQL)",
                self.image_store,
            )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'ccpor.db').resolve()}"

    @property
    def resolved_master_key_file(self) -> Path:
        return Path(self.master_key_file).expanduser() if self.master_key_file else self.data_dir / "master.key"

    @property
    def resolved_metrics_dir(self) -> Path:
        return Path(self.metrics_dir).expanduser() if self.metrics_dir else self.data_dir / "metrics"

    @property
    def resolved_reports_dir(self) -> Path:
        return Path(self.reports_dir).expanduser() if self.reports_dir else self.data_dir / "reports"

    @property
    def resolved_image_dir(self) -> Path:
        return Path(self.image_dir).expanduser() if self.image_dir else self.data_dir / "images"


def load() -> Settings:
    """Read the settings from the environment now."""
    return Settings()
