"""The desk's local databases: the mirror (server-confirmed state) and the outbox.

They are two SQLite files on purpose: the mirror may be deleted and rebuilt from the server
at any time; the outbox holds what the agent did that the server has not confirmed and is
never thrown away with it. Timestamps are epoch milliseconds, as on the wire; list and dict
fields are JSON text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.schema import CreateIndex, DropIndex

from protocol.entities import KINDS, Kind, Type
from protocol.names import Entity
from sync.schema import (  # noqa: F401  (re-exported: the tables' SQL text lives there)
    ACTIVE_WHERE,
    INACTIVE_WHERE,
    SEARCH_INDEXES,
    SEARCH_PAD,
    SORT_COLUMNS,
    SORT_NAMES,
    SORT_TERMS,
    TAGGED_WHERE,
    SearchIndex,
)

# Plain tables, not ORM classes: the desk reads and writes them with SQL only, and leaving
# sqlalchemy.orm out keeps it off the start-up path (its import and class set-up cost the
# first paint ~0.15 s). The files' schema itself comes from the migrations.
MIRROR_METADATA = MetaData()
OUTBOX_METADATA = MetaData()


def _id() -> Column[str]:
    return Column("id", String(64), primary_key=True)


def _str(name: str, length: int | None = None, *, null: bool = False,
         default: str | None = None) -> Column[str]:
    return Column(name, String(length) if length else Text, nullable=null, default=default)


def _int(name: str, *, big: bool = True, null: bool = False, default: int | None = None
         ) -> Column[int]:
    return Column(name, BigInteger if big else Integer, nullable=null, default=default)


# --------------------------------------------------------------------------- mirror

# Key/value: cursor, bootstrap progress, who and where this mirror belongs to.
sync_state = Table("sync_state", MIRROR_METADATA,
                   Column("key", String(64), primary_key=True), _str("value"))


def _mirror_table(kind: Kind, *indexes: Index) -> Table:
    """The mirror's table of a kind, its columns the kind's declared fields (JSON fields as
    text); the file's schema itself comes from the migrations (a test compares them)."""
    columns: list[Column[Any]] = [_id()]
    for f in kind.fields:
        if f.name == "id":
            continue
        if f.type.is_json:
            columns.append(_str(f.name, default="{}" if f.type is Type.TEXT_MAP else "[]"))
        elif f.type is Type.BOOL:
            columns.append(Column(f.name, Boolean, nullable=f.nullable))
        elif f.type in (Type.INT, Type.MS):
            columns.append(_int(f.name, null=f.nullable))
        else:
            columns.append(_str(f.name, null=f.nullable))
    return Table(kind.table, MIRROR_METADATA, *columns, *indexes)


# Indexes of the mirror's own (the inbox's are below).
_INDEXES: dict[Entity, tuple[Index, ...]] = {
    Entity.CONVERSATION: (Index("ix_conversations_contact", "contact_id"),),
    Entity.MESSAGE: (Index("ix_messages_conversation", "conversation_id", "created_at"),),
}
# No foreign key from messages to conversations: a page may bring a message first.
MIRROR_TABLES: dict[Entity, Table] = {
    kind.entity: _mirror_table(kind, *_INDEXES.get(kind.entity, ())) for kind in KINDS}
teams = MIRROR_TABLES[Entity.TEAM]
agents = MIRROR_TABLES[Entity.AGENT]
channels = MIRROR_TABLES[Entity.CHANNEL]
tags = MIRROR_TABLES[Entity.TAG]
templates = MIRROR_TABLES[Entity.TEMPLATE]
canned_replies = MIRROR_TABLES[Entity.CANNED_REPLY]
contacts = MIRROR_TABLES[Entity.CONTACT]
conversations = MIRROR_TABLES[Entity.CONVERSATION]
messages = MIRROR_TABLES[Entity.MESSAGE]


# --------------------------------------------------------------------------- inbox indexes
#
# Their WHERE clauses and ORDER BY terms are sync/schema.py's (the queries repeat them word for
# word: see there).


def _index(name: str, *parts: str, where: str) -> Index:
    table = conversations
    keys = [table.c[p] if p.isidentifier() else text(p) for p in parts]
    return Index(name, *keys, sqlite_where=text(where))


def _inbox_indexes() -> tuple[Index, ...]:
    out = []
    for sort, terms in SORT_TERMS.items():
        name, extra = SORT_NAMES[sort], SORT_COLUMNS[sort]
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
# (SEARCH_INDEXES: sync/schema.py)


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
    *(DeferredIndex(ix) for ix in messages.indexes
      if ix.name == "ix_messages_conversation"),
    *(DeferredIndex(ix) for ix in INBOX_INDEXES),
    DeferredSearchUpkeep(),
)


# --------------------------------------------------------------------------- outbox


# Key/value: client_id (the push identity of this installation), server, agent.
outbox_meta = Table("outbox_meta", OUTBOX_METADATA,
                    Column("key", String(64), primary_key=True), _str("value"))

# One thing the agent did, kept until the server confirmed it and the mirror shows it.
# ``id`` is local and never reused (AUTOINCREMENT). ``mutation_id`` is its push id under the
# outbox's current client_id: 1, 2, 3… with no gaps, as the server requires. ``state``:
# pending (not yet confirmed), applied (confirmed, waiting for the change to be pulled) or
# rejected (refused by the server; the reason is kept until the agent retries or discards).
# ``not_before`` (epoch ms): no push takes it, nor anything queued after it, before then (a
# reply's undo delay); ``attempts`` > 0: it was handed to a push and may have left the desk.
intents = Table(
    "intents", OUTBOX_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mutation_id", BigInteger, nullable=False, unique=True),
    _str("name", 32), _str("args"),  # args: JSON
    _str("conversation_id", 64, null=True), _str("state", 16, default="pending"),
    _int("attempts", big=False, default=0), _int("change_seq", null=True),
    _str("error_code", 64, null=True), _str("error_message", null=True),
    _int("created_at"), _int("settled_at", null=True), _int("not_before", null=True),
    Index("ix_intents_state", "state", "id"),
    Index("ix_intents_conversation", "conversation_id"),
    sqlite_autoincrement=True,
)

# When the agent wrote each reply and note this desk sent, kept after its intent settled: the
# server stamps a message with its arrival, and the thread shows the agent's own time.
sent_messages = Table("sent_messages", OUTBOX_METADATA,
                      Column("message_id", String(64), primary_key=True), _int("written_at"))
