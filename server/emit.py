"""Domain-level change emission: which audience sees which entity change.

Conversation data (the conversation, its messages, its contact) is *scoped*: visible to the
conversation's team, its assignee and supervisors. When a conversation moves (team or
assignee), agents who lose sight of it get a *direct* tombstone and agents who gain it get a
*direct* copy of everything they need, so no one keeps data they may no longer see and no
one misses history they now may.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from protocol import entities
from protocol.entities import Audience
from server import models as m
from server import serialize
from server.feed import DIRECT, PUBLIC, SCOPED, ChangeBuffer


def emit_row(buf: ChangeBuffer, entity: str, data: dict[str, Any], *,
             team_id: str | None = None, assignee_id: str | None = None) -> None:
    """A row's upsert, sent to whom its kind's declared audience says (protocol.entities):
    everyone; the members of its team (a row without a team: everyone); for published
    kinds, the members of its teams (none: everyone) once it is published, supervisors only
    before and after; or, for kinds seen through a conversation, that conversation's team
    and assignee (given here)."""
    audience = entities.kind(entity).audience
    if audience is Audience.EVERYONE:
        buf.upsert(entity, data["id"], data, audience=PUBLIC)
    elif audience is Audience.PUBLISHED:
        if data["status"] != "published":
            # Scoped to no team and no agent: a change only supervisors see.
            buf.upsert(entity, data["id"], data, audience=SCOPED)
        elif not data["team_ids"]:
            buf.upsert(entity, data["id"], data, audience=PUBLIC)
        else:
            for team in data["team_ids"]:
                buf.upsert(entity, data["id"], data, audience=SCOPED, team_id=team)
    elif audience is Audience.TEAM:
        team = data["team_id"]
        if team is None:
            buf.upsert(entity, data["id"], data, audience=PUBLIC)
        else:
            buf.upsert(entity, data["id"], data, audience=SCOPED, team_id=team)
    else:  # seen through a conversation: its team and its assignee
        buf.upsert(entity, data["id"], data, audience=SCOPED, team_id=team_id,
                   agent_id=assignee_id)


def emit_conversation(buf: ChangeBuffer, conv: Any, channel_type: str | None = None) -> None:
    """``conv``: an ``m.Conversation`` or an object with the same attributes (push keeps
    plain ones); ``channel_type`` saves looking it up when the caller knows it."""
    data = (serialize.load_conversation(buf.session, conv) if channel_type is None
            else serialize.conversation(conv, channel_type))
    emit_row(buf, "conversation", data, team_id=conv.team_id, assignee_id=conv.assignee_id)


def emit_message(buf: ChangeBuffer, conv: Any, msg: Any) -> None:
    emit_row(buf, "message", serialize.message(msg), team_id=conv.team_id,
             assignee_id=conv.assignee_id)


def emit_contact(buf: ChangeBuffer, contact_id: str) -> None:
    """A contact is visible wherever one of its conversations is."""
    data = serialize.load_contact(buf.session, contact_id)
    if data is None:
        return
    scopes = buf.session.execute(
        select(m.Conversation.team_id, m.Conversation.assignee_id)
        .where(m.Conversation.contact_id == contact_id)
        .distinct()
    ).all()
    for team_id, assignee_id in scopes:
        emit_row(buf, "contact", data, team_id=team_id, assignee_id=assignee_id)


def audience_agents(session: Session, team_id: str | None, assignee_id: str | None) -> set[str]:
    """Non-supervisor agents who can see a conversation with this team and assignee."""
    who: set[str] = set()
    if team_id is not None:
        who.update(
            session.scalars(
                select(m.TeamMember.agent_id)
                .join(m.Agent, m.Agent.id == m.TeamMember.agent_id)
                .where(m.TeamMember.team_id == team_id, m.Agent.role != "supervisor")
            ).all()
        )
    if assignee_id is not None:
        role = session.scalar(select(m.Agent.role).where(m.Agent.id == assignee_id))
        if role != "supervisor":
            who.add(assignee_id)
    return who


def published_audience(session: Session, status: str, team_ids: Sequence[str]) -> set[str]:
    """Non-supervisor agents who see a row of a published kind (an article) with this
    status and team scope."""
    if status != "published":
        return set()
    who = select(m.Agent.id).where(m.Agent.role != "supervisor")
    if team_ids:
        who = who.join(m.TeamMember, m.TeamMember.agent_id == m.Agent.id).where(
            m.TeamMember.team_id.in_(sorted(team_ids)))
    return set(session.scalars(who).all())


def emit_article(buf: ChangeBuffer, data: dict[str, Any],
                 before: tuple[str, Sequence[str]] | None = None) -> None:
    """An article's new state to whom may see it now; ``before`` (its status and team ids
    until now, None for a new one): agents who saw it then and may not now get a tombstone
    (unpublished, archived, or scoped away from their teams)."""
    if before is not None:
        lost = (published_audience(buf.session, *before)
                - published_audience(buf.session, data["status"], data["team_ids"]))
        for agent_id in sorted(lost):
            buf.delete("article", data["id"], audience=DIRECT, agent_id=agent_id)
    emit_row(buf, "article", data)


def _sees_other_conversation_of_contact(session: Session, agent_id: str, conv: Any) -> bool:
    """Whether a (non-supervisor) agent still sees another conversation of ``conv``'s contact."""
    teams = select(m.TeamMember.team_id).where(m.TeamMember.agent_id == agent_id)
    found = session.scalar(
        select(m.Conversation.id).where(
            m.Conversation.contact_id == conv.contact_id,
            m.Conversation.id != conv.id,
            or_(m.Conversation.team_id.in_(teams), m.Conversation.assignee_id == agent_id),
        ).limit(1)
    )
    return found is not None


def emit_visibility_change(
    buf: ChangeBuffer,
    conv: Any,
    before: tuple[str | None, str | None],
    after: tuple[str | None, str | None],
) -> None:
    """Revoke for agents who lost sight of ``conv``, grant its full state to those who gained."""
    if before == after:
        return
    session = buf.session
    had = audience_agents(session, *before)
    has = audience_agents(session, *after)
    for agent_id in sorted(had - has):
        buf.delete("conversation", conv.id, audience=DIRECT, agent_id=agent_id)
        if not _sees_other_conversation_of_contact(session, agent_id, conv):
            # The contact was visible only through this conversation: take it away too.
            buf.delete("contact", conv.contact_id, audience=DIRECT, agent_id=agent_id)
    gained = sorted(has - had)
    if not gained:
        return
    contact = serialize.load_contact(session, conv.contact_id)
    conversation = serialize.load_conversation(session, conv)
    messages = [
        serialize.message(msg)
        for msg in session.scalars(
            select(m.Message)
            .where(m.Message.conversation_id == conv.id)
            .order_by(m.Message.created_at, m.Message.id)
        )
    ]
    for agent_id in gained:
        if contact is not None:
            buf.upsert("contact", conv.contact_id, contact, audience=DIRECT, agent_id=agent_id)
        buf.upsert("conversation", conv.id, conversation, audience=DIRECT, agent_id=agent_id)
        for data in messages:
            buf.upsert("message", data["id"], data, audience=DIRECT, agent_id=agent_id)
