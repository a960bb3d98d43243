"""The reference backend's storage: SQLAlchemy 2 typed models.

Timestamps are BIGINT epoch milliseconds (UTC), the same unit as the wire protocol, so
bulk feeds need no per-row conversion. Ids are UUID strings.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class FeedHead(Base):
    """One row: the last assigned change sequence number.

    Every transaction that records changes increments it as its last statement; the row
    lock serialises feed writers so commit order equals sequence order (no reader can see
    seq N+1 before seq N), on SQLite and PostgreSQL alike.
    """

    __tablename__ = "feed_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    pruned_through: Mapped[int] = mapped_column(BigInteger, default=0)


class ChangeRow(Base):
    """The change feed. ``data`` is the entity's JSON as sent on the wire."""

    __tablename__ = "changes"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(8))
    # public: everyone; scoped: members of team_id, the assignee agent_id and supervisors;
    # direct: only agent_id (visibility granted to or revoked from one agent)
    audience: Mapped[str] = mapped_column(String(8))
    team_id: Mapped[str | None] = mapped_column(String(36))
    agent_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_changes_created_at", "created_at"),)


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A pull with a cursor below this must re-bootstrap (team membership changed).
    resync_before_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)


class TeamMember(Base):
    __tablename__ = "team_members"
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), primary_key=True)

    __table_args__ = (Index("ix_team_members_agent", "agent_id"),)


class Channel(Base):
    __tablename__ = "channels"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"))
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    color: Mapped[str] = mapped_column(String(16))


class Template(Base):
    __tablename__ = "templates"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    channel_type: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("name", "channel_type", "locale"),)


class CannedReply(Base):
    __tablename__ = "canned_replies"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id"))
    locale: Mapped[str | None] = mapped_column(String(16))  # None: for any language


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(16))
    attributes: Mapped[str] = mapped_column(Text, default="{}")  # JSON object of strings
    created_at: Mapped[int] = mapped_column(BigInteger)


class ContactIdentity(Base):
    __tablename__ = "contact_identities"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"))
    channel_type: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(320))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("channel_type", "handle"),
        Index("ix_contact_identities_contact", "contact_id"),
    )


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"))
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    subject: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    snoozed_until: Mapped[int | None] = mapped_column(BigInteger)
    priority: Mapped[str] = mapped_column(String(16))
    tags: Mapped[str] = mapped_column(Text, default="[]")  # JSON array of tag names
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    preview: Mapped[str] = mapped_column(String(300), default="")
    last_activity_at: Mapped[int] = mapped_column(BigInteger)
    last_inbound_at: Mapped[int | None] = mapped_column(BigInteger)
    sla_due_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_conversations_team", "team_id"),
        Index("ix_conversations_assignee", "assignee_id"),
        Index("ix_conversations_contact_channel", "contact_id", "channel_id", "status"),
    )


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text)
    template: Mapped[str | None] = mapped_column(String(128))
    delivery: Mapped[str] = mapped_column(String(16))
    mentions: Mapped[str] = mapped_column(Text, default="[]")  # JSON array of agent ids
    created_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_messages_conversation", "conversation_id", "created_at"),)


class Article(Base):
    """A knowledge-base article as it is now; each saved version is an ``ArticleVersion``."""

    __tablename__ = "articles"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(128))  # its file name; unique per locale
    locale: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Markdown
    category: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[str] = mapped_column(Text, default="[]")  # JSON array of strings
    visibility: Mapped[str] = mapped_column(String(16))  # public | internal
    status: Mapped[str] = mapped_column(String(16))  # draft | published | archived
    version: Mapped[int] = mapped_column(Integer)  # the latest ArticleVersion's
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("key", "locale", name="uq_articles_key_locale"),)


class ArticleTeam(Base):
    """The teams an article is scoped to (none: every team)."""

    __tablename__ = "article_teams"
    article_id: Mapped[str] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), primary_key=True)

    __table_args__ = (Index("ix_article_teams_team", "team_id"),)


class ArticleVersion(Base):
    """One saved version of an article: every field as saved, who saved it and when, and
    the fields that differ from the version before (JSON arrays)."""

    __tablename__ = "article_versions"
    article_id: Mapped[str] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(128))
    locale: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))
    team_ids: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    changed: Mapped[str] = mapped_column(Text)


class InboundDedupe(Base):
    """Provider message ids already accepted on a channel."""

    __tablename__ = "inbound_dedupe"
    channel_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider_message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64))


class OutboundDelivery(Base):
    """What the loopback channel provider 'sent' to customers."""

    __tablename__ = "outbound_deliveries"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(36))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(36))
    to_handle: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    template: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_outbound_channel", "channel_id", "seq"),)


class AuthToken(Base):
    __tablename__ = "auth_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    kind: Mapped[str] = mapped_column(String(8))  # access | refresh
    expires_at: Mapped[int] = mapped_column(BigInteger)
    # A login session: refreshing rotates both tokens within one family; logout ends it.
    family: Mapped[str] = mapped_column(String(36))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    rotated_at: Mapped[int | None] = mapped_column(BigInteger)  # refresh tokens: when used
    # Refresh tokens, once rotated: the successor pair sealed under this token (auth._seal),
    # so a retry within the grace period gets the same pair; erased after the grace.
    successor: Mapped[str | None] = mapped_column(String(96))

    __table_args__ = (Index("ix_auth_tokens_family", "family"),)


class LoginFailure(Base):
    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_login_failures_email_at", "email", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )


class LoginKnownAddress(Base):
    """Where an account last signed in successfully: exempt from the address-wide and
    account-wide sign-in limits (server.throttle), so those cannot lock its agent out."""

    __tablename__ = "login_known_addresses"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_success_at: Mapped[int] = mapped_column(BigInteger)


class ClientState(Base):
    """Per desk installation: the highest mutation id settled (applied or rejected)."""

    __tablename__ = "client_states"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    last_mutation_id: Mapped[int] = mapped_column(BigInteger, default=0)


class MutationRecord(Base):
    """The first outcome of every settled mutation, replayed for duplicates."""

    __tablename__ = "mutation_records"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mutation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    change_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
