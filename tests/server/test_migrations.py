"""The Alembic migrations build exactly the schema the models declare (on SQLite, and on
PostgreSQL in CI's second leg), so a model change cannot ship without its migration."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.db import Database
from server.models import Base


def test_the_migrations_build_the_schema_the_models_declare(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
