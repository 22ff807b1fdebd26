"""Settings from the environment: one line per setting, typed, with safe defaults.

Every setting is read once, at start, into a frozen :class:`Settings`; code receives the object
rather than reading the environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default).expanduser()


@dataclass(frozen=True)
class Settings:
    #: Data directory: the default SQLite database and image store live here.
    data_dir: Path = field(default_factory=lambda: _path("CCPOR_DATA_DIR", "./var"))
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


def load() -> Settings:
    """Read the settings from the environment now."""
    return Settings()
