"""The one clock of the hub, and the one rule for calendar dates.

*Instants* -- when something happened: audit events, versions, leases, freshness windows -- are
timezone-aware UTC datetimes from a :data:`Clock` (``utcnow`` in production, a pinned function in
tests), stored and compared in UTC; :func:`freshness` is the one rule for how old a sender's
Created time may be.

*Calendar dates* in court rules -- an order's issue date may not be in the future, an order expires
after its last day in force, a quick attach was uploaded "on" a day (and reports by month, later) -- are
dates in the courts' own time zone, California's (``CCPOR_COURT_TIMEZONE``, default
America/Los_Angeles). Taking them from UTC would expire orders on their last day in force every
evening after 16:00 Pacific (17:00 in winter) and let tomorrow's issue date pass. A
:class:`CourtCalendar` is the one place that turns an instant into such a date, and a date back
into the instants it spans::

    now = 2026-12-02T07:30Z          # 23:30 Pacific on December 1st
    calendar.date_of(now)            # 2026-12-01, not the UTC date 2026-12-02
    calendar.start_of(2026-12-01)    # 2026-12-01T08:00Z (midnight Pacific)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.errors import ValidationError, Violation

Clock = Callable[[], datetime]
"""A source of the current instant, timezone-aware (UTC)."""

#: The courts' time zone unless CCPOR_COURT_TIMEZONE says otherwise.
CALIFORNIA = "America/Los_Angeles"


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def instant(value: datetime, path: str) -> datetime:
    """A caller's xs:dateTime as an aware UTC instant: the one rule for every dateTime the hub accepts.

    The schemas require an offset (``svc:ZonedDateTimeType``), so ``value`` is aware; what is left is a
    value at the edge of the calendar (``0001-01-01T00:00:00+01:00``) that has no UTC instant, which
    is the caller's error at ``path``, not a crash.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{value.isoformat()} has no UTC offset", [Violation(path, "add Z or +HH:MM")])
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError(
            f"{value.isoformat()} is outside the years 1-9999 in UTC", [Violation(path, "not a representable instant")]
        ) from None


def freshness(created: datetime, now: datetime, max_age: timedelta, skew: timedelta) -> str | None:
    """The one freshness rule for a sender's Created time (a UsernameToken's, a signature
    Timestamp's): ``"future"`` if it is ahead of ``now`` by more than the tolerated clock ``skew``,
    ``"stale"`` if it is older than ``max_age`` (and the skew); None if it is fresh. The caller says
    what was not fresh, in its own words."""
    if created > now + skew:
        return "future"
    if created < now - max_age - skew:
        return "stale"
    return None


@dataclass(frozen=True)
class CourtCalendar:
    """Calendar dates as the courts count them: in ``zone`` (an IANA name)."""

    zone_name: str = CALIFORNIA
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "zone", ZoneInfo(self.zone_name))
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory of zones ("America")
            raise ValueError(
                f"CCPOR_COURT_TIMEZONE={self.zone_name!r} is not an IANA time zone such as {CALIFORNIA}"
            ) from None

    def date_of(self, moment: datetime) -> date:
        """The courts' calendar date at ``moment`` (an aware instant)."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("an instant must be timezone-aware")
        return moment.astimezone(self.zone).date()

    def today(self, clock: Clock = utcnow) -> date:
        return self.date_of(clock())

    def start_of(self, day: date) -> datetime:
        """The first instant (UTC) of ``day`` in the courts' time zone: local midnight, whatever the
        daylight-saving offset that day."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    def end_of(self, day: date) -> datetime:
        """The first instant (UTC) after ``day``: the exclusive end of its span."""
        return self.start_of(day + timedelta(days=1))


#: The default calendar (California's), for callers built without settings (tests, tools).
COURTS = CourtCalendar()

__all__ = ["CALIFORNIA", "COURTS", "Clock", "CourtCalendar", "freshness", "instant", "utcnow"]
