"""The WSGI application gunicorn loads for ``ccpor-hub mock-doj`` (``mocks.doj.server:wsgi_app()``)."""

from __future__ import annotations

import logging
from datetime import timedelta

from gateway import keys
from gateway.sealing import Channel, checked_channel
from hub import logs, masterkey
from hub.clock import utcnow
from hub.settings import load
from hub.soap.endpoint import Router
from mocks.doj import registry
from mocks.doj.faults import FaultPlan
from mocks.doj.service import Switch, create_app, open_database
from mocks.doj.settings import SwitchSettings, load_switch

log = logging.getLogger("ccpor.mockdoj")


def doj_channel(settings: SwitchSettings) -> tuple[Channel, list[str]]:
    """DOJ's end of the sealed channel, its certificates checked; and the warnings to report."""
    master = masterkey.load(settings.resolved_master_key_file)
    own = keys.load_pair(settings.resolved_doj_key_file, settings.resolved_doj_cert_file, master)
    hub_cert = keys.load_certificate(settings.resolved_hub_cert_file)
    return checked_channel(own, hub_cert, ("DOJ", "hub"), timedelta(days=settings.cert_warn_days))


def prepare(settings: SwitchSettings) -> list[str]:
    """Before the workers start: keys readable and valid, tables made, the registry seeded once.
    Raises keys.KeyFileError or masterkey.MasterKeyError with the reason; the messages to print."""
    _, out = doj_channel(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(settings.resolved_database_url)
    try:
        with db.unit_of_work() as s:
            added = registry.seed(s, settings.seed_records, settings.random_seed, utcnow())
    finally:
        db.dispose()
    if added:
        out.append(f"seeded the registry with {added} orders of other agencies")
    return out


def build(settings: SwitchSettings) -> Switch:
    """The switch of these settings (prepared by :func:`prepare`)."""
    channel, warnings = doj_channel(settings)
    for warning in warnings:
        log.warning(warning)
    db = open_database(settings.resolved_database_url)
    lease = timedelta(seconds=settings.mailbox_lease_seconds)
    return Switch(db, channel, settings.ori, FaultPlan.from_settings(settings), utcnow, mailbox_lease=lease)


def wsgi_app() -> Router:
    logs.configure(load().log_format)
    logging.getLogger("spyne").setLevel(logging.CRITICAL)
    settings = load_switch()
    return create_app(build(settings), load(), settings.public_url)
