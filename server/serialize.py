"""Entity rows to their wire payloads (``protocol.wire.*Data``), as plain dicts.

Written by hand rather than through pydantic because bootstrap sends a million rows; the
tests validate every payload kind against the protocol models.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import models as m


def team(row: m.Team) -> dict[str, Any]:
    return {"id": row.id, "name": row.name}


def agent(row: m.Agent, team_ids: Sequence[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "role": row.role,
        "team_ids": sorted(team_ids),
        "active": row.active,
    }


def channel(row: m.Channel) -> dict[str, Any]:
    return {"id": row.id, "type": row.type, "name": row.name, "team_id": row.team_id}


def tag(row: m.Tag) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "color": row.color}


def template(row: m.Template) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "channel_type": row.channel_type,
        "locale": row.locale,
        "body": row.body,
    }


def canned_reply(row: m.CannedReply) -> dict[str, Any]:
    return {
        "id": row.id,
        "shortcut": row.shortcut,
        "title": row.title,
        "body": row.body,
        "team_id": row.team_id,
        "locale": row.locale,
    }


def contact(row: m.Contact, identities: Iterable[m.ContactIdentity]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "locale": row.locale,
        "identities": [
            {"channel_type": i.channel_type, "handle": i.handle, "opted_out": i.opted_out}
            for i in sorted(identities, key=lambda i: (i.channel_type, i.handle))
        ],
        "attributes": orjson.loads(row.attributes or "{}"),
        "created_at": row.created_at,
    }


def conversation(row: m.Conversation, channel_type: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel_id": row.channel_id,
        "channel_type": channel_type,
        "contact_id": row.contact_id,
        "team_id": row.team_id,
        "assignee_id": row.assignee_id,
        "subject": row.subject,
        "status": row.status,
        "snoozed_until": row.snoozed_until,
        "priority": row.priority,
        "tags": orjson.loads(row.tags or "[]"),
        "unread_count": row.unread_count,
        "preview": row.preview,
        "last_activity_at": row.last_activity_at,
        "last_inbound_at": row.last_inbound_at,
        "sla_due_at": row.sla_due_at,
        "created_at": row.created_at,
    }


def message(row: m.Message) -> dict[str, Any]:
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "direction": row.direction,
        "author_id": row.author_id,
        "body": row.body,
        "template": row.template,
        "delivery": row.delivery,
        "mentions": orjson.loads(row.mentions or "[]"),
        "created_at": row.created_at,
    }


def article(row: m.Article, team_ids: Sequence[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.key,
        "locale": row.locale,
        "title": row.title,
        "body": row.body,
        "category": row.category,
        "tags": orjson.loads(row.tags or "[]"),
        "visibility": row.visibility,
        "team_ids": sorted(team_ids),
        "status": row.status,
        "version": row.version,
        "updated_by": row.updated_by,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def article_version(row: m.ArticleVersion) -> dict[str, Any]:
    return {
        "version": row.version,
        "key": row.key,
        "locale": row.locale,
        "title": row.title,
        "body": row.body,
        "category": row.category,
        "tags": orjson.loads(row.tags),
        "visibility": row.visibility,
        "team_ids": orjson.loads(row.team_ids),
        "status": row.status,
        "author_id": row.author_id,
        "created_at": row.created_at,
        "changed": orjson.loads(row.changed),
    }


# --------------------------------------------------------------------------- bulk rows
# Bootstrap sends a million rows: it selects these columns, in this order, and builds the
# same payloads as above from plain tuples (positional access is many times faster than
# attribute access on ORM objects or result rows). An empty JSON array comes back as the
# empty tuple, which orjson writes as the same ``[]``: a dict holding only strings, numbers
# and ``()`` is not tracked by the garbage collector, and a page of them then costs no
# collections (a fifth of bootstrap's CPU time otherwise).

MESSAGE_COLUMNS = ("id", "conversation_id", "direction", "author_id", "body", "template",
                   "delivery", "mentions", "created_at")
CONVERSATION_COLUMNS = ("id", "channel_id", "contact_id", "team_id", "assignee_id", "subject",
                        "status", "snoozed_until", "priority", "tags", "unread_count", "preview",
                        "last_activity_at", "last_inbound_at", "sla_due_at", "created_at")
CONTACT_COLUMNS = ("id", "name", "locale", "attributes", "created_at")


_NO_ITEMS: tuple[()] = ()


def json_list(text: str | None) -> list[Any] | tuple[()]:
    """A stored JSON list as a value (an empty one as ``()``: no list built per row)."""
    return _NO_ITEMS if text is None or text == "[]" else orjson.loads(text)


def message_values(r: Sequence[Any]) -> tuple[Any, ...]:
    """:func:`message`'s values, in ``MESSAGE_COLUMNS`` order, from a row of those columns."""
    return (r[0], r[1], r[2], r[3], r[4], r[5], r[6], json_list(r[7]), r[8])


def conversation_from_tuple(r: Sequence[Any], channel_type: str) -> dict[str, Any]:
    """:func:`conversation` of a row of ``CONVERSATION_COLUMNS`` (as JSON: empty lists as
    ``()``)."""
    return {
        "id": r[0],
        "channel_id": r[1],
        "channel_type": channel_type,
        "contact_id": r[2],
        "team_id": r[3],
        "assignee_id": r[4],
        "subject": r[5],
        "status": r[6],
        "snoozed_until": r[7],
        "priority": r[8],
        "tags": json_list(r[9]),
        "unread_count": r[10],
        "preview": r[11],
        "last_activity_at": r[12],
        "last_inbound_at": r[13],
        "sla_due_at": r[14],
        "created_at": r[15],
    }


def contact_from_tuple(
    r: Sequence[Any], identities: Iterable[tuple[str, str, bool]]
) -> dict[str, Any]:
    """:func:`contact` of a row of ``CONTACT_COLUMNS`` and its (channel_type, handle,
    opted_out) identities."""
    return {
        "id": r[0],
        "name": r[1],
        "locale": r[2],
        "identities": [
            {"channel_type": i[0], "handle": i[1], "opted_out": bool(i[2])}
            for i in sorted(identities, key=lambda i: (i[0], i[1]))
        ],
        "attributes": orjson.loads(r[3] or "{}"),
        "created_at": r[4],
    }


# --------------------------------------------------------------------------- loaders


def load_contact(session: Session, contact_id: str) -> dict[str, Any] | None:
    row = session.get(m.Contact, contact_id)
    if row is None:
        return None
    identities = session.scalars(
        select(m.ContactIdentity).where(m.ContactIdentity.contact_id == contact_id)
    ).all()
    return contact(row, identities)


def load_agent(session: Session, agent_id: str) -> dict[str, Any] | None:
    row = session.get(m.Agent, agent_id)
    if row is None:
        return None
    team_ids = session.scalars(
        select(m.TeamMember.team_id).where(m.TeamMember.agent_id == agent_id)
    ).all()
    return agent(row, team_ids)


def load_conversation(session: Session, row: m.Conversation) -> dict[str, Any]:
    # A channel's type never changes: look it up once per session (a push batch touches the
    # same few conversations many times).
    types: dict[str, str] = session.info.setdefault("channel_types", {})
    channel_type = types.get(row.channel_id)
    if channel_type is None:
        channel_type = session.scalar(
            select(m.Channel.type).where(m.Channel.id == row.channel_id)) or ""
        types[row.channel_id] = channel_type
    return conversation(row, channel_type)


def load_article(session: Session, article_id: str) -> dict[str, Any] | None:
    row = session.get(m.Article, article_id)
    if row is None:
        return None
    return article(row, team_ids_by_article(session, [article_id]).get(article_id, ()))


def team_ids_by_article(session: Session, article_ids: Sequence[str]
                        ) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if article_ids:
        for article_id, team_id in session.execute(
            select(m.ArticleTeam.article_id, m.ArticleTeam.team_id).where(
                m.ArticleTeam.article_id.in_(article_ids)
            )
        ):
            out[article_id].append(team_id)
    return out


def team_ids_by_agent(session: Session, agent_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if agent_ids:
        for agent_id, team_id in session.execute(
            select(m.TeamMember.agent_id, m.TeamMember.team_id).where(
                m.TeamMember.agent_id.in_(agent_ids)
            )
        ):
            out[agent_id].append(team_id)
    return out
