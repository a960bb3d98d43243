"""Each entity kind the change feed carries, declared once.

A kind is its payload's fields (in wire order, with their types), who may see its rows, the
desk's mirror table, and what goes with a row when it is deleted; ``KINDS`` is in bootstrap
order (parents before children). From this:

- ``protocol.wire`` builds the ``*Data`` payload models (and so the OpenAPI document);
- the desk's mirror tables (``sync.models``) and its per-kind spec (``sync.entities``);
- the server's bootstrap order, its ``format=columns`` column lists and whom it sends a row
  to (``server.bootstrap``, ``server.emit``).

The server's serializers stay hand-written (bootstrap sends a million rows) and the
migrations on both sides stay hand-written; tests check each of them against this
declaration and name every place that disagrees (tests/server/test_declared_kinds.py,
tests/sync/test_declared_kinds.py).

Plain data: no pydantic, no SQLAlchemy, so the desk can read it before its first paint.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from protocol.names import (
    ArticleStatus,
    ArticleVisibility,
    ChannelType,
    ConversationStatus,
    Delivery,
    Direction,
    Entity,
    Priority,
    Role,
)


class Type(StrEnum):
    """What a field holds on the wire (and how the desk's mirror stores it)."""

    TEXT = "text"
    INT = "int"
    BOOL = "bool"
    MS = "ms"  # epoch milliseconds
    TEXT_LIST = "text_list"  # JSON in the mirror
    TEXT_MAP = "text_map"  # JSON object of strings, in the mirror
    IDENTITIES = "identities"  # a contact's [{channel_type, handle, opted_out}], JSON

    @property
    def is_json(self) -> bool:
        return self in (Type.TEXT_LIST, Type.TEXT_MAP, Type.IDENTITIES)


class Audience(StrEnum):
    """Who may see a kind's rows (supervisors see every row of every kind)."""

    EVERYONE = "everyone"  # every agent
    TEAM = "team"  # the members of the row's team_id; a row without a team: everyone
    CONVERSATION = "conversation"  # whoever sees its conversation: the row itself, or the
    # one its conversation_id names (the conversation's team, its assignee)
    CONTACT = "contact"  # whoever sees one of the contact's conversations
    PUBLISHED = "published"  # rows whose status is published and whose team_ids is empty
    # (every team) or names one of the agent's teams; drafts and archived rows: supervisors


_REQUIRED: Any = object()


@dataclass(frozen=True)
class Field:
    name: str
    type: Type
    nullable: bool = False
    # The wire's value set, when it is one of the protocol's names.
    enum: type[StrEnum] | None = None
    # Missing from a payload means this (a nullable field: None); _REQUIRED: always sent.
    default: Any = _REQUIRED

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED and not self.nullable


@dataclass(frozen=True)
class Kind:
    entity: Entity
    table: str  # the desk's mirror table
    audience: Audience
    fields: tuple[Field, ...]
    # On delete, rows of these kinds whose column holds the deleted id go too (a
    # conversation's messages, when the agent loses sight of the conversation).
    children: tuple[tuple[Entity, str], ...] = ()
    doc: str = ""

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def json_fields(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields if f.type.is_json)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _text(name: str, *, null: bool = False, enum: type[StrEnum] | None = None,
          default: Any = _REQUIRED) -> Field:
    return Field(name, Type.TEXT, null, enum, default)


def _ms(name: str, *, null: bool = False) -> Field:
    return Field(name, Type.MS, null)


KINDS: tuple[Kind, ...] = (
    Kind(Entity.TEAM, "teams", Audience.EVERYONE, (_text("id"), _text("name"))),
    Kind(Entity.AGENT, "agents", Audience.EVERYONE, (
        _text("id"), _text("email"), _text("name"), _text("role", enum=Role),
        Field("team_ids", Type.TEXT_LIST), Field("active", Type.BOOL, default=True))),
    Kind(Entity.CHANNEL, "channels", Audience.TEAM, (
        _text("id"), _text("type", enum=ChannelType), _text("name"), _text("team_id"))),
    Kind(Entity.TAG, "tags", Audience.EVERYONE, (_text("id"), _text("name"), _text("color"))),
    Kind(Entity.TEMPLATE, "templates", Audience.EVERYONE, (
        _text("id"), _text("name"), _text("channel_type", enum=ChannelType),
        _text("locale"), _text("body"))),
    Kind(Entity.CANNED_REPLY, "canned_replies", Audience.TEAM, (
        _text("id"), _text("shortcut"), _text("title"), _text("body"),
        _text("team_id", null=True),
        _text("locale", null=True)),  # the language it is written in; None: any
        doc="A reply an agent inserts by its shortcut; team_id None: every team's."),
    Kind(Entity.CONTACT, "contacts", Audience.CONTACT, (
        _text("id"), _text("name"), _text("locale", null=True),
        Field("identities", Type.IDENTITIES), Field("attributes", Type.TEXT_MAP, default={}),
        _ms("created_at"))),
    Kind(Entity.CONVERSATION, "conversations", Audience.CONVERSATION, (
        _text("id"), _text("channel_id"), _text("channel_type", enum=ChannelType),
        _text("contact_id"), _text("team_id"), _text("assignee_id", null=True),
        _text("subject", null=True), _text("status", enum=ConversationStatus),
        _ms("snoozed_until", null=True), _text("priority", enum=Priority),
        Field("tags", Type.TEXT_LIST), Field("unread_count", Type.INT), _text("preview"),
        _ms("last_activity_at"), _ms("last_inbound_at", null=True),
        _ms("sla_due_at", null=True), _ms("created_at")),
        children=((Entity.MESSAGE, "conversation_id"),)),
    Kind(Entity.MESSAGE, "messages", Audience.CONVERSATION, (
        _text("id"), _text("conversation_id"), _text("direction", enum=Direction),
        _text("author_id", null=True), _text("body"), _text("template", null=True),
        _text("delivery", enum=Delivery), Field("mentions", Type.TEXT_LIST, default=[]),
        _ms("created_at"))),
    Kind(Entity.ARTICLE, "articles", Audience.PUBLISHED, (
        _text("id"), _text("key"), _text("locale"), _text("title"), _text("body"),
        _text("category", null=True), Field("tags", Type.TEXT_LIST),
        _text("visibility", enum=ArticleVisibility), Field("team_ids", Type.TEXT_LIST),
        _text("status", enum=ArticleStatus), Field("version", Type.INT),
        _text("updated_by", null=True), _ms("created_at"), _ms("updated_at")),
        doc="A knowledge-base article (Markdown body). ``key`` is its file name, unique per "
            "locale: the same key in another locale is its translation. ``team_ids`` empty: "
            "every team's. ``version`` counts its saved versions; ``updated_by`` wrote the "
            "latest (None: an import)."),
)

BY_ENTITY: dict[Entity, Kind] = {k.entity: k for k in KINDS}
BOOTSTRAP_ORDER: tuple[Entity, ...] = tuple(k.entity for k in KINDS)


def kind(entity: Entity | str) -> Kind:
    return BY_ENTITY[Entity(entity)]
