"""Alembic environment: the URL comes from the hub's settings (or the caller's config)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Engine, create_engine, event

from hub.db.engine import make_engine
from hub.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_engine(url: str) -> Engine:
    """SQLite for migrations: batch mode rebuilds tables (copy, drop, rename), which foreign keys
    would refuse mid-way; they are off while migrating and checked afterwards."""
    engine = create_engine(url, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _no_foreign_keys(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=OFF")

    return engine


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = _sqlite_engine(url) if url.startswith("sqlite") else make_engine(url, immediate=False)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Never wait forever behind a long transaction, never hold locks for minutes.
            connection.exec_driver_sql("SET lock_timeout = '10s'")
            connection.exec_driver_sql("SET statement_timeout = '300s'")
            connection.commit()  # end the implicit transaction so Alembic's own one commits
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"foreign keys broken after migrating: {broken[:5]}")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
