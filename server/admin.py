"""Administration used by the command line: teams, agents, channels."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from protocol.wire import ChannelType, Role
from server import auth, serialize
from server import models as m
from server.emit import emit_row
from server.feed import ChangeBuffer, now_ms, read_head
from server.inbound import new_channel_secret

MIN_PASSWORD_LENGTH = 8


class AdminError(Exception):
    """A mistake the admin can fix; the message says how."""


def find_team(session: Session, name_or_id: str) -> m.Team:
    team = session.scalar(
        select(m.Team).where((m.Team.name == name_or_id) | (m.Team.id == name_or_id))
    )
    if team is None:
        known = ", ".join(sorted(session.scalars(select(m.Team.name)))) or "none yet"
        raise AdminError(
            f"no team named {name_or_id!r} (teams: {known}); create it with "
            "`relaydesk-server team add --name NAME`"
        )
    return team


def add_team(session: Session, buf: ChangeBuffer, name: str) -> m.Team:
    name = name.strip()
    if not name:
        raise AdminError("a team needs a name")
    if session.scalar(select(m.Team).where(m.Team.name == name)) is not None:
        raise AdminError(f"a team named {name!r} already exists")
    team = m.Team(id=str(uuid.uuid4()), name=name, created_at=now_ms())
    session.add(team)
    session.flush()
    emit_row(buf, "team", serialize.team(team))
    return team


def add_agent(
    session: Session, buf: ChangeBuffer, *, email: str, name: str, role: str,
    teams: Sequence[str], password: str,
) -> m.Agent:
    email = auth.normalize_email(email)
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise AdminError(f"{email!r} is not an email address")
    if not name.strip():
        raise AdminError("an agent needs a name")
    try:
        Role(role)
    except ValueError:
        raise AdminError(f"role must be one of: {', '.join(r.value for r in Role)}") from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(m.Agent).where(m.Agent.email == email)) is not None:
        raise AdminError(f"an agent with email {email} already exists")
    team_rows = [find_team(session, t) for t in teams]
    agent = m.Agent(id=str(uuid.uuid4()), email=email, name=name.strip(), role=role,
                    password_hash=auth.hash_password(password), active=True,
                    resync_before_seq=0, created_at=now_ms())
    session.add(agent)
    session.flush()
    for team in {t.id: t for t in team_rows}.values():
        session.add(m.TeamMember(team_id=team.id, agent_id=agent.id))
    session.flush()
    emit_row(buf, "agent", serialize.load_agent(session, agent.id) or {"id": agent.id})
    return agent


def set_agent_teams(session: Session, buf: ChangeBuffer, email: str, teams: Sequence[str]) -> None:
    """Change an agent's teams; their desk re-bootstraps to see exactly the new set."""
    agent = session.scalar(select(m.Agent).where(m.Agent.email == auth.normalize_email(email)))
    if agent is None:
        raise AdminError(f"no agent with email {email}")
    team_rows = [find_team(session, t) for t in teams]
    session.query(m.TeamMember).filter(m.TeamMember.agent_id == agent.id).delete()
    for team in {t.id: t for t in team_rows}.values():
        session.add(m.TeamMember(team_id=team.id, agent_id=agent.id))
    session.flush()
    emit_row(buf, "agent", serialize.load_agent(session, agent.id) or {"id": agent.id})
    # Every cursor from before this change must re-bootstrap: that takes away what the agent
    # may no longer see and brings all they now may, with no per-row bookkeeping.
    head = buf.flush()
    session.execute(update(m.Agent).where(m.Agent.id == agent.id)
                    .values(resync_before_seq=head or read_head(session)[0]))


@dataclass
class NewChannel:
    channel: m.Channel
    secret: str


def add_channel(session: Session, buf: ChangeBuffer, *, type_: str, name: str,
                team: str) -> NewChannel:
    try:
        ChannelType(type_)
    except ValueError:
        raise AdminError(
            f"channel type must be one of: {', '.join(t.value for t in ChannelType)}"
        ) from None
    if not name.strip():
        raise AdminError("a channel needs a name")
    team_row = find_team(session, team)
    secret, secret_hash = new_channel_secret()
    channel = m.Channel(id=str(uuid.uuid4()), type=type_, name=name.strip(),
                        team_id=team_row.id, secret_hash=secret_hash, created_at=now_ms())
    session.add(channel)
    session.flush()
    emit_row(buf, "channel", serialize.channel(channel))
    return NewChannel(channel, secret)
