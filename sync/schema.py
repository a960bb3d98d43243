"""The mirror's schema as plain SQL text: what the desk's reads rely on, word for word.

No SQLAlchemy here. The desk reads its first screen with these and plain ``sqlite3``
(``sync/queries.py``), so SQLAlchemy loads only once the engine starts, after the first
paint; ``sync/models.py`` builds the tables and indexes from the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

# Keys of the mirror's ``sync_state`` table: cursor, bootstrap progress, who and where this
# mirror belongs to.
CURSOR = "cursor"
BOOTSTRAPPED = "bootstrapped"
BOOTSTRAP_TOKEN = "bootstrap_token"
BOOTSTRAP_TOTALS = "bootstrap_totals"
BOOTSTRAP_DONE = "bootstrap_done"
SERVER_URL = "server_url"
AGENT_ID = "agent_id"
AGENT_EMAIL = "agent_email"
LAST_SYNC_AT = "last_sync_at"
LAST_EVENT_ID = "last_event_id"
# Set while the agent has signed out (until a sign-in): the desk shows no customer data.
SIGNED_OUT = "signed_out"


# --------------------------------------------------------------------------- inbox indexes
#
# Every inbox view is one walk along an index already in the view's order, reading nothing but
# the index: sync/queries.py repeats these WHERE clauses and ORDER BY expressions word for
# word (SQLite uses a partial index only for a query that states its WHERE, an index on an
# expression only for a query that orders by the same expression). Each index also holds the
# plain columns its expressions read, so SQLite 3.40 answers from the index alone. Views of
# the active conversations (open + pending: Mine, Unassigned, All, a team, a channel, a tag)
# and of the others (Snoozed, Resolved) have separate partial indexes.

ACTIVE_WHERE = "status IN ('open', 'pending')"
INACTIVE_WHERE = "status NOT IN ('open', 'pending')"
TAGGED_WHERE = "tags <> '[]'"

# sync.queries.Sort value → the ORDER BY terms before the final ``id``.
SORT_TERMS: dict[str, tuple[str, ...]] = {
    "last_activity": ("last_activity_at DESC",),
    "waiting": ("(CASE WHEN sla_due_at IS NOT NULL OR unread_count > 0 THEN 0 ELSE 1 END)",
                "COALESCE(last_inbound_at, last_activity_at)"),
    "priority": ("(CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 "
                 "ELSE 3 END)", "last_activity_at DESC"),
}
# The plain columns those expressions read, for index-only answers.
SORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "last_activity": (),
    "waiting": ("sla_due_at", "unread_count", "last_inbound_at", "last_activity_at"),
    "priority": ("priority",),
}
SORT_NAMES = {"last_activity": "activity", "waiting": "waiting", "priority": "priority"}


# --------------------------------------------------------------------------- text search
#
# Substring search over a conversation's subject and preview and a contact's name: FTS5 with
# the trigram tokenizer (SQLite >= 3.34), which finds any substring of three or more
# characters in any script (Japanese puts no spaces between words), regardless of case.
# Each indexed value is the column plus SEARCH_PAD, so that every one- or two-character
# substring also begins some trigram (sync/queries.py looks those up in the vocabulary).
# External content: the index keeps no copy of the text; triggers keep it in step. The desk
# writes these tables with INSERT … ON CONFLICT DO UPDATE (sync/entities.py), which keeps
# the rowid, and the update trigger re-indexes only when the searched text changed: a status
# or assignment change costs the index nothing.
# Where SQLite lacks FTS5 or the trigram tokenizer the migration leaves the tables out and the
# queries use LIKE.

SEARCH_PAD = "  "


@dataclass(frozen=True)
class SearchIndex:
    """The FTS5 index over some text columns of ``table`` (rowids are the table's)."""

    table: str
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.table}_fts"

    @property
    def vocab(self) -> str:
        """Its fts5vocab table: the trigrams, for one- and two-character searches."""
        return f"{self.table}_fts_vocab"

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(f"{self.name}_{kind}" for kind in ("insert", "delete", "update"))

    def _padded(self, row: str = "", named: bool = False) -> str:
        return ", ".join(f"coalesce({row}{c}, '') || '{SEARCH_PAD}'" + (f" AS {c}" if named else "")
                         for c in self.columns)

    def table_ddl(self) -> list[str]:
        view, cols = f"{self.table}_search_text", ", ".join(self.columns)
        named = self._padded(named=True)
        return [
            f"CREATE VIEW {view} AS SELECT rowid AS doc, {named} FROM {self.table}",
            f"CREATE VIRTUAL TABLE {self.name} USING fts5({cols}, content='{view}', "
            "content_rowid='doc', tokenize='trigram')",
            f"CREATE VIRTUAL TABLE {self.vocab} USING fts5vocab({self.name}, 'row')",
        ]

    def trigger_ddl(self) -> list[str]:
        t, fts, cols = self.table, self.name, ", ".join(self.columns)
        forget = f"INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES ('delete', old.rowid, " \
                 f"{self._padded('old.')});"
        learn = f"INSERT INTO {fts} (rowid, {cols}) VALUES (new.rowid, {self._padded('new.')});"
        insert, delete, update = self.triggers
        changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in self.columns)
        return [
            f"CREATE TRIGGER {insert} AFTER INSERT ON {t} BEGIN {learn} END",
            f"CREATE TRIGGER {delete} AFTER DELETE ON {t} BEGIN {forget} END",
            f"CREATE TRIGGER {update} AFTER UPDATE OF {cols} ON {t} WHEN {changed} "
            f"BEGIN {forget} {learn} END",
        ]


SEARCH_INDEXES = (SearchIndex("conversations", ("subject", "preview")),
                  SearchIndex("contacts", ("name",)))
