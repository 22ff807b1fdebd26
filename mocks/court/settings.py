"""The mock court's settings (``ccpor-hub mock-court``): a separate system with its own data, read
from the environment by the hub's settings helper (hub.settings), one line per setting.

Its fault plan is not a setting: it lives in its database (mocks.court.store), so that a test or an
operator changes it while the court runs (``ccpor-hub mock-court faults``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from hub.settings import INTEGER, PATH, TEXT, SettingError, Settings, current, read, same_as, setting


@dataclass(frozen=True)
class Credentials:
    """The UsernameToken the court expects from the hub."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class CourtSettings:
    """The mock court (``ccpor-hub mock-court``): a court's DSP917CAJUDResp service."""

    #: Its data directory: its own SQLite database and log.
    data_dir: Path = setting("CCPOR_COURT_DATA_DIR", PATH, lambda: current(Settings, "data_dir") / "court")
    #: Its database (the ledger, the fault plan, the nonces seen); empty: SQLite in data_dir.
    database_url: str = setting("CCPOR_COURT_DATABASE_URL", TEXT, "")
    #: The username the hub's UsernameToken must carry.
    username: str = setting("CCPOR_COURT_USERNAME", TEXT, "ccpor-hub")
    #: Its password (PasswordDigest, or PasswordText). Required to serve: no default a court could keep.
    #: (Declared as setting() declares a field, but kept out of the settings' repr.)
    password: str = field(
        default_factory=lambda: read("CCPOR_COURT_PASSWORD", TEXT, ""),
        repr=False,
        metadata={"variable": "CCPOR_COURT_PASSWORD"},
    )
    #: The court's public base URL for its WSDL (as the hub's CCPOR_PUBLIC_URL); empty: the bound address.
    public_url: str = setting("CCPOR_COURT_PUBLIC_URL", TEXT, "")
    #: Seed of the error rate's dice (mocks.court.faults.roll).
    random_seed: int = setting("CCPOR_COURT_RANDOM_SEED", INTEGER, 1)
    #: PasswordDigest freshness: how old wsu:Created may be, and the tolerated clock difference (the
    #: hub's own variables: one rule on both ends).
    wsse_max_age_seconds: int = same_as(Settings, "wsse_max_age_seconds")
    wsse_clock_skew_seconds: int = same_as(Settings, "wsse_clock_skew_seconds")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'court.db').resolve()}"

    @property
    def max_age(self) -> timedelta:
        return timedelta(seconds=self.wsse_max_age_seconds)

    @property
    def skew(self) -> timedelta:
        return timedelta(seconds=self.wsse_clock_skew_seconds)

    def credentials(self) -> Credentials:
        """The UsernameToken to expect; SettingError when CCPOR_COURT_PASSWORD is not set."""
        if not self.password:
            raise SettingError("CCPOR_COURT_PASSWORD", "the password the hub sends (required to serve)", "")
        return Credentials(self.username, self.password)


def load_court() -> CourtSettings:
    """Read the mock court's settings from the environment now."""
    return CourtSettings()
