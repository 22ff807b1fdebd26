"""The courts that speak DSP917: whether the hub enters their orders in CARPOS, and where their
business responses go, with what credentials (``ccpor-hub dsp917 court``; docs/OPERATIONS.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.codes import OrganizationKind
from hub.db.models import Dsp917Court, Organization
from hub.dsp917.codes import COURT_SECRETS_PURPOSE
from hub.errors import NotFound, ValidationError, Violation
from hub.masterkey import MasterKey
from hub.urls import public_base


@dataclass(frozen=True)
class CourtSettings:
    """What an operator sees of one court's DSP917 settings (never its password)."""

    ori: str
    carpos: bool
    response_url: str | None
    response_username: str | None
    has_password: bool


def _aad(organization_id: int) -> bytes:
    return b"dsp917-court\0%d" % organization_id


def configure(
    s: Session,
    key: MasterKey,
    ori: str,
    now: datetime,
    *,
    carpos: bool | None = None,
    response_url: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> CourtSettings:
    """Set what is given of one court's DSP917 settings (the rest as it was)."""
    org = s.scalar(select(Organization).where(Organization.ori == ori))
    if org is None:
        raise NotFound(f"no organization {ori} is registered")
    if org.kind != OrganizationKind.COURT.value:
        raise ValidationError(
            f"{ori} is a {org.kind}, not a court", [Violation("ORI", "DSP917 is a court's interface")]
        )
    court = s.get(Dsp917Court, org.id)
    if court is None:
        court = Dsp917Court(organization_id=org.id, carpos=False, updated_at=now)
        s.add(court)
    if carpos is not None:
        court.carpos = carpos
    if response_url is not None:
        try:
            court.response_url = _response_url(response_url) if response_url else None
        except ValueError as exc:
            raise ValidationError(str(exc), [Violation("--response-url", str(exc))]) from None
    if username is not None:
        court.response_username = username or None
    if password is not None:
        sealer = key.sealer(COURT_SECRETS_PURPOSE)
        court.response_secret_sealed = sealer.seal(password.encode(), _aad(org.id)) if password else None
    court.updated_at = now
    s.flush()
    return settings_of(court, ori)


def _response_url(url: str) -> str:
    """A court's response service: https (the responses carry DOJ's FCN), plain http only on this
    machine (a mock court in development and tests)."""
    checked = public_base(url, "--response-url")
    parts = urlsplit(checked)
    if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"--response-url {checked}: a court's service is reached over https")
    return checked


def settings_of(court: Dsp917Court, ori: str) -> CourtSettings:
    return CourtSettings(
        ori, court.carpos, court.response_url, court.response_username, court.response_secret_sealed is not None
    )


def listed(s: Session) -> list[CourtSettings]:
    rows = s.execute(select(Dsp917Court, Organization.ori).join(Organization).order_by(Organization.ori))
    return [settings_of(court, ori) for court, ori in rows]


def password_of(key: MasterKey, court: Dsp917Court) -> str | None:
    """The court's response-service password (for the sender), None if none is set."""
    if court.response_secret_sealed is None:
        return None
    return key.sealer(COURT_SECRETS_PURPOSE).open(court.response_secret_sealed, _aad(court.organization_id)).decode()
