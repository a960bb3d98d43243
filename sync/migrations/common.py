"""Shared Alembic environment for the desk's two local databases (batch mode for SQLite)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine


def run(metadata: MetaData) -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:  # `alembic revision --autogenerate` during development
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as conn:
            _configure_and_run(conn, metadata)
            conn.commit()
        return
    _configure_and_run(connection, metadata)


def _configure_and_run(connection, metadata: MetaData) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
