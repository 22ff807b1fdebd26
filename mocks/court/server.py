"""The WSGI application gunicorn loads for ``ccpor-hub mock-court serve`` (``mocks.court.server:wsgi_app()``)."""

from __future__ import annotations

from hub import logs
from hub.clock import Clock, utcnow
from hub.settings import Settings, load
from hub.soap.endpoint import Router
from mocks.court.auth import CourtAuthenticator
from mocks.court.service import create_app
from mocks.court.settings import CourtSettings, load_court
from mocks.court.store import CourtStore


def prepare(settings: CourtSettings) -> None:
    """Before the workers start: the password set (SettingError), the data directory and the tables made."""
    settings.credentials()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    CourtStore.create(settings.resolved_database_url).close()


def build(settings: CourtSettings, hub_settings: Settings, clock: Clock = utcnow) -> Router:
    """The court of these settings (prepared by :func:`prepare`)."""
    store = CourtStore.existing(settings.resolved_database_url)
    authenticator = CourtAuthenticator(
        settings.credentials(), store.remember_once, clock, settings.max_age, settings.skew
    )
    return create_app(store, authenticator, hub_settings, settings.random_seed, clock, settings.public_url)


def wsgi_app() -> Router:
    logs.configure(load().log_format)
    return build(load_court(), load())
