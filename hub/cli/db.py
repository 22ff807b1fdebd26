"""``ccpor-hub db upgrade | db check``: the database schema."""

from __future__ import annotations

import argparse

from hub.cli.common import settings


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="migrate the database to the newest schema").set_defaults(func=upgrade)
    db.add_parser("check", help="fail if models and migrations disagree").set_defaults(func=check)


def upgrade(args: argparse.Namespace) -> int:
    from hub.db import migrate
    from hub.db.engine import redacted

    config = settings()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(config.resolved_database_url)
    print(f"database is at the newest schema ({redacted(config.resolved_database_url)})")
    return 0


def check(args: argparse.Namespace) -> int:
    from hub.db import migrate

    migrate.check(settings().resolved_database_url)
    print("models and migrations agree")
    return 0
