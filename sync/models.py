"""The desk's local databases: the mirror (server-confirmed state) and the outbox.

They are two SQLite files on purpose: the mirror may be deleted and rebuilt from the server
at any time; the outbox holds what the agent did that the server has not confirmed and is
never thrown away with it. Timestamps are epoch milliseconds, as on the wire; list and dict
fields are JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Boolean, Connection, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import CreateIndex, DropIndex


class MirrorBase(DeclarativeBase):
    pass


class OutboxBase(DeclarativeBase):
    pass


# --------------------------------------------------------------------------- mirror


class SyncState(MirrorBase):
    """Key/value: cursor, bootstrap progress, who and where this mirror belongs to."""

    __tablename__ = "sync_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Team(MirrorBase):
    __tablename__ = "teams"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)


class Agent(MirrorBase):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    team_ids: Mapped[str] = mapped_column(Text, default="[]")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Channel(MirrorBase):
    __tablename__ = "channels"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    team_id: Mapped[str] = mapped_column(String(64))


class Tag(MirrorBase):
    __tablename__ = "tags"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    color: Mapped[str] = mapped_column(String(16))


class Template(MirrorBase):
    __tablename__ = "templates"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    channel_type: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)


class CannedReply(MirrorBase):
    __tablename__ = "canned_replies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shortcut: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    team_id: Mapped[str | None] = mapped_column(String(64))


class Contact(MirrorBase):
    __tablename__ = "contacts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    locale: Mapped[str | None] = mapped_column(String(16))
    identities: Mapped[str] = mapped_column(Text, default="[]")
    attributes: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[int] = mapped_column(BigInteger)


class Conversation(MirrorBase):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(64))
    channel_type: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[str] = mapped_column(String(64))
    assignee_id: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    snoozed_until: Mapped[int | None] = mapped_column(BigInteger)
    priority: Mapped[str] = mapped_column(String(16))
    tags: Mapped[str] = mapped_column(Text, default="[]")
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    preview: Mapped[str] = mapped_column(Text, default="")
    last_activity_at: Mapped[int] = mapped_column(BigInteger)
    last_inbound_at: Mapped[int | None] = mapped_column(BigInteger)
    sla_due_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_conversations_contact", "contact_id"),)


class Message(MirrorBase):
    """No foreign key to conversations: a page may bring a message before its conversation."""

    __tablename__ = "messages"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    template: Mapped[str | None] = mapped_column(Text)
    delivery: Mapped[str] = mapped_column(String(16))
    mentions: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_messages_conversation", "conversation_id", "created_at"),)


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
_SORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "last_activity": (),
    "waiting": ("sla_due_at", "unread_count", "last_inbound_at", "last_activity_at"),
    "priority": ("priority",),
}
_SORT_NAMES = {"last_activity": "activity", "waiting": "waiting", "priority": "priority"}


def _index(name: str, *parts: str, where: str) -> Index:
    table = Conversation.__table__
    keys = [table.c[p] if p.isidentifier() else text(p) for p in parts]  # type: ignore[attr-defined]
    return Index(name, *keys, sqlite_where=text(where))


def _inbox_indexes() -> tuple[Index, ...]:
    out = []
    for sort, terms in SORT_TERMS.items():
        name, extra = _SORT_NAMES[sort], _SORT_COLUMNS[sort]
        out += [
            # Mine, Unassigned, an agent's
            _index(f"ix_conversations_assignee_{name}", "assignee_id", *terms, "id", "status",
                   *extra, where=ACTIVE_WHERE),
            # All, Open, Pending; a team or a channel by waiting or priority (a filtered walk:
            # by last activity they have indexes of their own, so that one stays narrow)
            _index(f"ix_conversations_active_{name}", *terms, "id", "status",
                   *(() if sort == "last_activity" else ("team_id", "channel_id")), *extra,
                   where=ACTIVE_WHERE),
            # Snoozed, Resolved
            _index(f"ix_conversations_inactive_{name}", "status", *terms, "id", *extra,
                   where=INACTIVE_WHERE),
        ]
    activity = SORT_TERMS["last_activity"]
    out += [
        # A team's or a channel's view by last activity, and the navigation's counts
        _index("ix_conversations_team", "team_id", *activity, "id", "status",
               where=ACTIVE_WHERE),
        _index("ix_conversations_channel", "channel_id", *activity, "id", "status",
               where=ACTIVE_WHERE),
        # The (few) tagged active conversations with every sort column: a tag's view walks
        # this small index and sorts its matches; the tag counts group it in order.
        _index("ix_conversations_tagged", "tags", "id", "status", "last_activity_at",
               "sla_due_at", "unread_count", "last_inbound_at", "priority",
               where=f"{ACTIVE_WHERE} AND {TAGGED_WHERE}"),
    ]
    return tuple(out)


INBOX_INDEXES = _inbox_indexes()


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


class DeferredIndex:
    """An index a first bootstrap drops and builds once at its end. IF [NOT] EXISTS rather
    than ``checkfirst``: SQLAlchemy's reflection does not see indexes on expressions."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.name = index.name

    def drop(self, conn: Connection, checkfirst: bool = True) -> None:
        conn.execute(DropIndex(self.index, if_exists=True))

    def create(self, conn: Connection, checkfirst: bool = True) -> None:
        conn.execute(CreateIndex(self.index, if_not_exists=True))


class DeferredSearchUpkeep:
    """The search indexes' triggers, deferred like an index during a first bootstrap:
    ``drop`` removes them (rows then go in without being tokenized), ``create`` rebuilds the
    indexes from the tables once and puts the triggers back (``sync/mirror.py`` calls
    ``drop`` and ``create``). Does nothing where the search tables do not exist."""

    name = "search_upkeep"

    @staticmethod
    def _present(conn: Connection) -> list[SearchIndex]:
        names = set(conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table'").scalars())
        return [s for s in SEARCH_INDEXES if s.name in names]

    def drop(self, conn: Connection, checkfirst: bool = True) -> None:
        for search in self._present(conn):
            for trigger in search.triggers:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            # Untended from now on: empty (the queries use LIKE until ``create``).
            conn.exec_driver_sql(f"INSERT INTO {search.name} ({search.name}) "
                                 "VALUES ('delete-all')")

    def create(self, conn: Connection, checkfirst: bool = True) -> None:
        for search in self._present(conn):
            for trigger in search.triggers:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            conn.exec_driver_sql(f"INSERT INTO {search.name} ({search.name}) VALUES ('rebuild')")
            for sql in search.trigger_ddl():
                conn.exec_driver_sql(sql)


# Indexes a first bootstrap drops and builds once at its end: maintaining an index on random
# keys row by row costs about four times the inserts themselves (see benchmarks/sync_client.py).
# So are the inbox indexes and the search indexes' upkeep: built at the end of a
# 100k-conversation bootstrap they take about 1.5 s and 2.5 s; kept up row by row they cost
# the desk ~20 us more per row (benchmarks/sync_client.py: 20k rows/s instead of 30k).
BOOTSTRAP_DEFERRED_INDEXES: tuple[DeferredIndex | DeferredSearchUpkeep, ...] = (
    *(DeferredIndex(ix) for ix in Message.__table__.indexes
      if ix.name == "ix_messages_conversation"),
    *(DeferredIndex(ix) for ix in INBOX_INDEXES),
    DeferredSearchUpkeep(),
)


# --------------------------------------------------------------------------- outbox


class OutboxMeta(OutboxBase):
    """Key/value: client_id (the push identity of this installation), server, agent."""

    __tablename__ = "outbox_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Intent(OutboxBase):
    """One thing the agent did, kept until the server confirmed it and the mirror shows it.

    ``id`` is local and never reused (AUTOINCREMENT). ``mutation_id`` is its push id under the
    outbox's current client_id: 1, 2, 3… with no gaps, as the server requires.
    """

    __tablename__ = "intents"
    __table_args__ = (
        Index("ix_intents_state", "state", "id"),
        Index("ix_intents_conversation", "conversation_id"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mutation_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(32))
    args: Mapped[str] = mapped_column(Text)  # JSON
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    # pending: not yet confirmed; applied: confirmed, waiting for the change to be pulled;
    # rejected: refused by the server (reason kept until the agent retries or discards)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    change_seq: Mapped[int | None] = mapped_column(BigInteger)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    settled_at: Mapped[int | None] = mapped_column(BigInteger)
