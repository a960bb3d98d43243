"""Customer messages arriving from a channel provider, and the loopback provider's log."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import wire as p
from protocol.rules import opt_keyword, sla_due
from server import models as m
from server.emit import emit_contact, emit_conversation, emit_message
from server.feed import ChangeBuffer, now_ms


def new_channel_secret() -> tuple[str, str]:
    """(secret shown once to the admin, hash stored)."""
    secret = "rdch_" + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_handle(channel_type: str, handle: str) -> str:
    handle = handle.strip()
    return handle.lower() if channel_type == "email" else handle


class ChannelAuthError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def authenticate_channel(session: Session, channel_id: str, secret: str | None) -> m.Channel:
    # A NUL cannot be a channel id (and PostgreSQL refuses it as text): not found.
    channel = None if "\x00" in channel_id else session.get(m.Channel, channel_id)
    if channel is None:
        raise ChannelAuthError(404, "channel_not_found", "There is no channel with this id.")
    if not secret or not hmac.compare_digest(hash_secret(secret), channel.secret_hash):
        raise ChannelAuthError(401, "invalid_channel_secret",
                               "The channel secret is missing or wrong.")
    return channel


@dataclass
class InboundOutcome:
    result: p.InboundResult
    head: int | None


def receive(session: Session, channel: m.Channel, msg: p.InboundMessage, *,
            is_postgres: bool) -> InboundOutcome:
    seen = session.get(m.InboundDedupe, (channel.id, msg.provider_message_id))
    if seen is not None:
        existing = session.get(m.Message, seen.message_id)
        conv = session.get(m.Conversation, existing.conversation_id) if existing else None
        ident = session.scalar(select(m.ContactIdentity).where(
            m.ContactIdentity.channel_type == channel.type,
            m.ContactIdentity.handle == normalize_handle(channel.type, msg.handle)))
        return InboundOutcome(p.InboundResult(
            message_id=seen.message_id, conversation_id=conv.id if conv else "",
            contact_id=conv.contact_id if conv else "", duplicate=True,
            opted_out=bool(ident and ident.opted_out)), None)

    now = now_ms()
    buf = ChangeBuffer(session, is_postgres=is_postgres)
    contact_changed = False
    handle = normalize_handle(channel.type, msg.handle)
    # Lock the identity (PostgreSQL): concurrent messages from one customer must not open two
    # conversations or lose each other's unread count. A new identity is guarded by its
    # unique key instead (the loser retries and finds it).
    q = select(m.ContactIdentity).where(
        m.ContactIdentity.channel_type == channel.type, m.ContactIdentity.handle == handle)
    ident = session.scalar(q.with_for_update() if is_postgres else q)
    if ident is None:
        contact = m.Contact(id=str(uuid.uuid4()), name=(msg.display_name or handle).strip(),
                            locale=None, attributes="{}", created_at=now)
        session.add(contact)
        ident = m.ContactIdentity(id=str(uuid.uuid4()), contact_id=contact.id,
                                  channel_type=channel.type, handle=handle, opted_out=False)
        session.add(ident)
        contact_changed = True
    keyword = opt_keyword(channel.type, msg.text)
    if keyword is not None and ident.opted_out != keyword:
        ident.opted_out = keyword
        contact_changed = True

    q = (
        select(m.Conversation)
        .where(m.Conversation.contact_id == ident.contact_id,
               m.Conversation.channel_id == channel.id,
               m.Conversation.status != "resolved")
        .order_by(m.Conversation.last_activity_at.desc())
        .limit(1)
    )
    # Locked like push locks it, so an agent's mark_read and this unread increment serialise.
    conv = session.scalar(q.with_for_update() if is_postgres else q)
    if conv is None:
        # A known contact may be new to this channel's team: it must reach that team too.
        contact_changed = True
        conv = m.Conversation(
            id=str(uuid.uuid4()), channel_id=channel.id, contact_id=ident.contact_id,
            team_id=channel.team_id, assignee_id=None, subject=msg.subject, status="open",
            snoozed_until=None, priority="normal", tags="[]", unread_count=0, preview="",
            last_activity_at=now, last_inbound_at=None, sla_due_at=None, created_at=now,
        )
        session.add(conv)
    elif conv.status in ("pending", "snoozed"):
        conv.status, conv.snoozed_until = "open", None
    message = m.Message(
        id=str(uuid.uuid4()), conversation_id=conv.id, direction="inbound", author_id=None,
        body=msg.text, template=None, delivery="received", mentions="[]", created_at=now,
    )
    session.add(message)
    session.add(m.InboundDedupe(channel_id=channel.id, provider_message_id=msg.provider_message_id,
                                message_id=message.id))
    conv.last_inbound_at = now
    conv.last_activity_at = now
    conv.unread_count += 1
    conv.preview = msg.text[:200]
    if conv.sla_due_at is None:
        conv.sla_due_at = sla_due(now, conv.priority)
    session.flush()
    if contact_changed:
        emit_contact(buf, ident.contact_id)
    emit_conversation(buf, conv)
    emit_message(buf, conv, message)
    head = buf.flush()
    return InboundOutcome(p.InboundResult(
        message_id=message.id, conversation_id=conv.id, contact_id=ident.contact_id,
        duplicate=False, opted_out=ident.opted_out), head)


def outbound_log(session: Session, channel_id: str, after: int, limit: int) -> p.OutboundList:
    rows = session.scalars(
        select(m.OutboundDelivery)
        .where(m.OutboundDelivery.channel_id == channel_id, m.OutboundDelivery.seq > after)
        .order_by(m.OutboundDelivery.seq)
        .limit(limit)
    ).all()
    return p.OutboundList(messages=[
        p.OutboundRecord(seq=r.seq, message_id=r.message_id, conversation_id=r.conversation_id,
                         to_handle=r.to_handle, body=r.body, template=r.template,
                         created_at=r.created_at)
        for r in rows
    ])
