"""The desk's local databases: the mirror (server-confirmed state) and the outbox.

They are two SQLite files on purpose: the mirror may be deleted and rebuilt from the server
at any time; the outbox holds what the agent did that the server has not confirmed and is
never thrown away with it. Timestamps are epoch milliseconds, as on the wire; list and dict
fields are JSON text.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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

    __table_args__ = (
        Index("ix_conversations_activity", "last_activity_at"),
        Index("ix_conversations_contact", "contact_id"),
    )


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


# Indexes a first bootstrap drops and builds once at its end: maintaining an index on random
# keys row by row costs about four times the inserts themselves (see benchmarks/sync_client.py).
BOOTSTRAP_DEFERRED_INDEXES: tuple[Index, ...] = tuple(
    ix for ix in Message.__table__.indexes if ix.name == "ix_messages_conversation")


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
