"""full-text search over messages, conversations, contacts and articles (sync/fulltext.py)

Creates each kind's FTS5 index, its content view and its triggers, and builds it from the
rows a desk already holds (one ``rebuild`` per kind, not row by row). The views and triggers
call SQL functions every connection to the mirror registers (``sync.store``); this
migration registers them on its own connection too. The trigram indexes of m0002 stay: the
inbox's filter box uses them.

Revision ID: m0005
Revises: m0004
Create Date: 2026-12-22 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

from sync import fulltext

revision: str = 'm0005'
down_revision: str | None = 'm0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _db():  # type: ignore[no-untyped-def]
    return op.get_bind().connection.driver_connection


def upgrade() -> None:
    db = _db()
    fulltext.register(db)
    fulltext.create(db)
    fulltext.build(db)


def downgrade() -> None:
    db = _db()
    for kind in fulltext.KINDS.values():
        for trigger in kind.triggers:
            db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        db.execute(f"DROP TABLE IF EXISTS {kind.fts}")
        db.execute(f"DROP VIEW IF EXISTS {kind.fts}_src")
