"""What every command shares: the settings, the master key, the database, the operators' audited
unit of work, and how a command prints a warning or stops with a message and an exit status (the
statuses: docs/OPERATIONS.md, "Commands")."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.db.engine import Database
    from hub.masterkey import MasterKey
    from hub.settings import Settings
    from mocks.court.settings import CourtSettings
    from mocks.doj.settings import SwitchSettings


class Exit(Exception):
    """Stop a command with exit status ``status`` and this message on stderr, ``prefix`` before each line."""

    def __init__(self, message: str, prefix: str = "error: ", status: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.text = "\n".join(prefix + line for line in message.splitlines())


def warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def settings() -> Settings:
    """The hub's settings, read from the environment now."""
    from hub.settings import load

    return load()


def switch_settings() -> SwitchSettings:
    """The mock DOJ switch's settings (its own data directory and keys), read from the environment now."""
    from mocks.doj.settings import load_switch

    return load_switch()


def court_settings() -> CourtSettings:
    """The mock court's settings (its own data directory, database and credentials), read from the environment now."""
    from mocks.court.settings import load_court

    return load_court()


def database() -> Database:
    """The hub's database; the caller disposes of it."""
    from hub.db.engine import Database

    return Database(settings().resolved_database_url)


def master_key() -> MasterKey:
    """The configured master key, or stop (exit 1) with the reason (missing, unreadable, too open)."""
    from hub import masterkey

    try:
        return masterkey.load(settings().resolved_master_key_file)
    except masterkey.MasterKeyError as err:
        raise Exit(str(err)) from err


def in_transaction(operation: str, target: str, work: Callable[[Session], str]) -> int:
    """Run an operator's ``work`` in one unit of work, audited as an ADMIN event in the same
    transaction (``hub.jobs.audited``, as ``cli:<OS user>``); print its message, or stop with the
    error (audited too, on its own)."""
    from hub.audit import AuditTrail
    from hub.errors import HubError
    from hub.jobs import audited, cli_user

    trail = AuditTrail(master_key())
    db = database()
    try:
        message = audited(db, trail, cli_user(), operation, target, work)
    except HubError as err:
        raise Exit(err.message) from err
    finally:
        db.dispose()
    print(message)
    return 0
