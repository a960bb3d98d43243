"""inbox view indexes and full-text search

Every inbox view (Mine, Unassigned, All, a team, a channel, a status, a tag) in every order
(last activity, waiting, priority) becomes one walk along a covering index already in the
view's order; the bare last-activity index they replace goes. Subjects, previews and
contact names get FTS5 trigram indexes (substring search in any script), kept in step by
triggers; where SQLite lacks FTS5 or the trigram tokenizer (before 3.34) they are left
out and the desk searches with LIKE. Keep in step with ``sync/models.py``.

Revision ID: m0002
Revises: m0001
Create Date: 2026-11-23 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'm0002'
down_revision: str | None = 'm0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('open', 'pending')"
INACTIVE = "status NOT IN ('open', 'pending')"
ACTIVITY = ("last_activity_at DESC",)
WAITING = ("(CASE WHEN sla_due_at IS NOT NULL OR unread_count > 0 THEN 0 ELSE 1 END)",
           "COALESCE(last_inbound_at, last_activity_at)")
PRIORITY = ("(CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 "
            "ELSE 3 END)", "last_activity_at DESC")
WAITING_COLUMNS = ("sla_due_at", "unread_count", "last_inbound_at", "last_activity_at")

INDEXES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ('ix_conversations_assignee_activity', ('assignee_id', *ACTIVITY, 'id', 'status'), ACTIVE),
    ('ix_conversations_active_activity', (*ACTIVITY, 'id', 'status'), ACTIVE),
    ('ix_conversations_inactive_activity', ('status', *ACTIVITY, 'id'), INACTIVE),
    ('ix_conversations_assignee_waiting',
     ('assignee_id', *WAITING, 'id', 'status', *WAITING_COLUMNS), ACTIVE),
    ('ix_conversations_active_waiting',
     (*WAITING, 'id', 'status', 'team_id', 'channel_id', *WAITING_COLUMNS), ACTIVE),
    ('ix_conversations_inactive_waiting', ('status', *WAITING, 'id', *WAITING_COLUMNS),
     INACTIVE),
    ('ix_conversations_assignee_priority',
     ('assignee_id', *PRIORITY, 'id', 'status', 'priority'), ACTIVE),
    ('ix_conversations_active_priority',
     (*PRIORITY, 'id', 'status', 'team_id', 'channel_id', 'priority'), ACTIVE),
    ('ix_conversations_inactive_priority', ('status', *PRIORITY, 'id', 'priority'), INACTIVE),
    ('ix_conversations_team', ('team_id', *ACTIVITY, 'id', 'status'), ACTIVE),
    ('ix_conversations_channel', ('channel_id', *ACTIVITY, 'id', 'status'), ACTIVE),
    ('ix_conversations_tagged',
     ('tags', 'id', 'status', 'last_activity_at', 'sla_due_at', 'unread_count',
      'last_inbound_at', 'priority'), f"{ACTIVE} AND tags <> '[]'"),
)

PAD = "'  '"  # each indexed value ends in two spaces: short searches find trailing text too
SEARCH: tuple[tuple[str, tuple[str, ...]], ...] = (
    ('conversations', ('subject', 'preview')),
    ('contacts', ('name',)),
)


def _padded(columns: Sequence[str], row: str = "", named: bool = False) -> str:
    return ", ".join(f"coalesce({row}{c}, '') || {PAD}" + (f" AS {c}" if named else "")
                     for c in columns)


def _search_ddl(table: str, columns: Sequence[str]) -> list[str]:
    fts, view, cols = f"{table}_fts", f"{table}_search_text", ", ".join(columns)
    forget = (f"INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES ('delete', old.rowid, "
              f"{_padded(columns, 'old.')});")
    learn = f"INSERT INTO {fts} (rowid, {cols}) VALUES (new.rowid, {_padded(columns, 'new.')});"
    return [
        f"CREATE VIEW {view} AS SELECT rowid AS doc, {_padded(columns, named=True)} "
        f"FROM {table}",
        f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{view}', "
        "content_rowid='doc', tokenize='trigram')",
        f"CREATE VIRTUAL TABLE {fts}_vocab USING fts5vocab({fts}, 'row')",
        f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')",
        # The desk upserts these tables in place (ON CONFLICT DO UPDATE keeps the rowid);
        # the index changes only when the searched text does.
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {learn} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {forget} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {cols} ON {table} WHEN "
        + " OR ".join(f"old.{c} IS NOT new.{c}" for c in columns)
        + f" BEGIN {forget} {learn} END",
    ]


def _has_trigram_fts5(bind: sa.Connection) -> bool:
    version = bind.exec_driver_sql("SELECT sqlite_version()").scalar() or "0"
    options = set(bind.exec_driver_sql("PRAGMA compile_options").scalars())
    return (tuple(int(p) for p in version.split(".")[:2]) >= (3, 34)
            and "ENABLE_FTS5" in options)


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_activity')
        for name, keys, where in INDEXES:
            batch_op.create_index(name, [k if k.isidentifier() else sa.text(k) for k in keys],
                                  unique=False, sqlite_where=sa.text(where))
    bind = op.get_bind()
    if _has_trigram_fts5(bind):
        for table, columns in SEARCH:
            for sql in _search_ddl(table, columns):
                op.execute(sql)


def downgrade() -> None:
    for table, _columns in SEARCH:
        fts = f"{table}_fts"
        for kind in ('replace', 'insert', 'delete', 'update'):
            op.execute(f"DROP TRIGGER IF EXISTS {fts}_{kind}")
        op.execute(f"DROP TABLE IF EXISTS {fts}_vocab")
        op.execute(f"DROP TABLE IF EXISTS {fts}")
        op.execute(f"DROP VIEW IF EXISTS {table}_search_text")
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        for name, _keys, _where in reversed(INDEXES):
            batch_op.drop_index(name)
        batch_op.create_index('ix_conversations_activity', ['last_activity_at'], unique=False)
