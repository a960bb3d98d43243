"""Push: apply a client's intents at most once each, in order.

One push request is one transaction; each mutation runs in a database savepoint so a
rejection undoes only its own partial work. ``client_states.last_mutation_id`` moves in the
same transaction as the effects, so a response lost after commit makes the retry a
``duplicate``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import models as m
from server import serialize
from server.emit import (
    emit_contact,
    emit_conversation,
    emit_message,
    emit_public,
    emit_visibility_change,
)
from server.feed import ChangeBuffer, Viewer, now_ms
from sync import protocol as p
from sync.rules import REJECT_MESSAGES, send_refusal, sla_due, window_state

DEFAULT_TAG_COLOR = "#6b7280"


class Rejected(Exception):
    def __init__(self, reason: p.RejectReason, message: str | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.message = message or REJECT_MESSAGES[reason]


class ClientConflict(Exception):
    """The client id belongs to another agent."""


@dataclass
class _Ctx:
    session: Session
    buf: ChangeBuffer
    viewer: Viewer
    now: int


def _conversation(ctx: _Ctx, conversation_id: str) -> m.Conversation:
    # push() has locked every conversation of the batch already (PostgreSQL; SQLite locks
    # the database): a plain identity-map lookup is enough, and free for repeats.
    conv = ctx.session.get(m.Conversation, conversation_id)
    if conv is None:
        raise Rejected(p.RejectReason.CONVERSATION_GONE)
    if not ctx.viewer.can_see(conv.team_id, conv.assignee_id):
        # Same answer as for a missing conversation would leak existence; this one is
        # honest to agents who just lost access (transferred away while offline).
        raise Rejected(p.RejectReason.NOT_PERMITTED)
    return conv


def _system_message(ctx: _Ctx, conv: m.Conversation, body: str) -> None:
    msg = m.Message(
        id=str(uuid.uuid4()), conversation_id=conv.id, direction="system", author_id=None,
        body=body, template=None, delivery="sent", mentions="[]", created_at=ctx.now,
    )
    ctx.session.add(msg)
    emit_message(ctx.buf, conv, msg)


def _agent_name(ctx: _Ctx, agent_id: str | None) -> str:
    if agent_id is None:
        return "nobody"
    return ctx.session.scalar(select(m.Agent.name).where(m.Agent.id == agent_id)) or agent_id


def _existing_message(ctx: _Ctx, message_id: str, conversation_id: str) -> bool:
    existing = ctx.session.get(m.Message, message_id)
    if existing is None:
        return False
    if existing.conversation_id != conversation_id or existing.author_id != ctx.viewer.agent_id:
        raise Rejected(p.RejectReason.INVALID, "That message id is already used.")
    return True


class _AlreadyDone(Exception):
    """The effect exists already (same client message id): answer duplicate, change nothing."""


def send_message(ctx: _Ctx, a: p.SendMessageArgs) -> None:
    conv = _conversation(ctx, a.conversation_id)
    if _existing_message(ctx, a.message_id, conv.id):
        raise _AlreadyDone
    channel = ctx.session.get(m.Channel, conv.channel_id)
    assert channel is not None
    identity = ctx.session.scalar(
        select(m.ContactIdentity).where(
            m.ContactIdentity.contact_id == conv.contact_id,
            m.ContactIdentity.channel_type == channel.type,
        )
    )
    if identity is None:
        raise Rejected(p.RejectReason.INVALID, "The contact has no address on this channel.")
    state = window_state(channel.type, conv.last_inbound_at, ctx.now, opted_out=identity.opted_out)
    refusal = send_refusal(state, template=a.template, human_agent_tag=a.human_agent_tag)
    if refusal is not None:
        raise Rejected(refusal)
    body = a.body
    if a.template:
        tpl = ctx.session.scalar(
            select(m.Template).where(
                m.Template.name == a.template, m.Template.channel_type == channel.type
            )
        )
        if tpl is None:
            raise Rejected(p.RejectReason.UNKNOWN_TEMPLATE)
        body = body or tpl.body
    if not body.strip():
        raise Rejected(p.RejectReason.INVALID, "A reply cannot be empty.")
    msg = m.Message(
        id=a.message_id, conversation_id=conv.id, direction="outbound",
        author_id=ctx.viewer.agent_id, body=body, template=a.template, delivery="sent",
        mentions="[]", created_at=ctx.now,
    )
    ctx.session.add(msg)
    # The loopback provider: what a real provider would send, recorded once per message id.
    ctx.session.add(m.OutboundDelivery(
        channel_id=channel.id, message_id=msg.id, conversation_id=conv.id,
        to_handle=identity.handle, body=body, template=a.template, created_at=ctx.now,
    ))
    conv.last_activity_at = ctx.now
    conv.preview = body[:200]
    conv.unread_count = 0
    conv.sla_due_at = None
    ctx.session.flush()
    emit_message(ctx.buf, conv, msg)
    emit_conversation(ctx.buf, conv)


def add_note(ctx: _Ctx, a: p.AddNoteArgs) -> None:
    conv = _conversation(ctx, a.conversation_id)
    if _existing_message(ctx, a.message_id, conv.id):
        raise _AlreadyDone
    mentions = sorted(set(a.mentions))
    if mentions:
        known = set(ctx.session.scalars(select(m.Agent.id).where(m.Agent.id.in_(mentions))))
        if known != set(mentions):
            raise Rejected(p.RejectReason.UNKNOWN_AGENT, "A mentioned agent does not exist.")
    msg = m.Message(
        id=a.message_id, conversation_id=conv.id, direction="note",
        author_id=ctx.viewer.agent_id, body=a.body, template=None, delivery="sent",
        mentions=orjson.dumps(mentions).decode(), created_at=ctx.now,
    )
    ctx.session.add(msg)
    ctx.session.flush()
    emit_message(ctx.buf, conv, msg)


def set_status(ctx: _Ctx, a: p.SetStatusArgs) -> None:
    conv = _conversation(ctx, a.conversation_id)
    until = None
    if a.status is p.ConversationStatus.SNOOZED:
        if a.snoozed_until is None or a.snoozed_until <= ctx.now:
            raise Rejected(p.RejectReason.INVALID, "Snooze needs a time in the future.")
        until = a.snoozed_until
    if conv.status == a.status.value and conv.snoozed_until == until:
        return
    conv.status = a.status.value
    conv.snoozed_until = until
    if a.status is p.ConversationStatus.RESOLVED:
        conv.sla_due_at = None
    by = _agent_name(ctx, ctx.viewer.agent_id)
    _system_message(ctx, conv, f"Status set to {a.status.value} by {by}")
    emit_conversation(ctx.buf, conv)


def assign(ctx: _Ctx, a: p.AssignArgs, raw: dict[str, Any]) -> None:
    if "agent_id" not in raw and "team_id" not in raw:
        raise Rejected(p.RejectReason.INVALID, "Say whom to assign to (agent_id and/or team_id).")
    conv = _conversation(ctx, a.conversation_id)
    before = (conv.team_id, conv.assignee_id)
    if "agent_id" in raw and a.agent_id is not None:
        agent = ctx.session.get(m.Agent, a.agent_id)
        if agent is None or not agent.active:
            raise Rejected(p.RejectReason.UNKNOWN_AGENT)
    if "team_id" in raw:
        if a.team_id is None:
            raise Rejected(p.RejectReason.INVALID, "A conversation always belongs to a team.")
        if ctx.session.get(m.Team, a.team_id) is None:
            raise Rejected(p.RejectReason.UNKNOWN_TEAM)
        conv.team_id = a.team_id
    if "agent_id" in raw:
        conv.assignee_id = a.agent_id
    after = (conv.team_id, conv.assignee_id)
    if before == after:
        return
    ctx.session.flush()
    emit_visibility_change(ctx.buf, conv, before, after)
    if before[1] != after[1]:
        _system_message(ctx, conv, f"Assigned to {_agent_name(ctx, conv.assignee_id)} by "
                                   f"{_agent_name(ctx, ctx.viewer.agent_id)}")
    if before[0] != after[0]:
        team = ctx.session.get(m.Team, conv.team_id)
        _system_message(ctx, conv, f"Moved to team {team.name if team else conv.team_id}")
    emit_conversation(ctx.buf, conv)
    if before[0] != after[0]:
        emit_contact(ctx.buf, conv.contact_id)


def set_priority(ctx: _Ctx, a: p.SetPriorityArgs) -> None:
    conv = _conversation(ctx, a.conversation_id)
    if conv.priority == a.priority.value:
        return
    conv.priority = a.priority.value
    if conv.sla_due_at is not None and conv.last_inbound_at is not None:
        conv.sla_due_at = sla_due(conv.last_inbound_at, conv.priority)
    emit_conversation(ctx.buf, conv)


def _tags(conv: m.Conversation) -> list[str]:
    return list(orjson.loads(conv.tags or "[]"))


def add_tag(ctx: _Ctx, a: p.TagArgs) -> None:
    conv = _conversation(ctx, a.conversation_id)
    name = a.tag.strip()
    if not name:
        raise Rejected(p.RejectReason.INVALID, "A tag needs a name.")
    tags = _tags(conv)
    if name in tags:
        return
    if ctx.session.scalar(select(m.Tag).where(m.Tag.name == name)) is None:
        tag = m.Tag(id=str(uuid.uuid4()), name=name, color=DEFAULT_TAG_COLOR)
        ctx.session.add(tag)
        emit_public(ctx.buf, "tag", tag.id, serialize.tag(tag))
    conv.tags = orjson.dumps([*tags, name]).decode()
    emit_conversation(ctx.buf, conv)


def remove_tag(ctx: _Ctx, a: p.TagArgs) -> None:
    conv = _conversation(ctx, a.conversation_id)
    tags = _tags(conv)
    if a.tag not in tags:
        return
    conv.tags = orjson.dumps([t for t in tags if t != a.tag]).decode()
    emit_conversation(ctx.buf, conv)


def mark_read(ctx: _Ctx, a: p.MarkReadArgs) -> None:
    conv = _conversation(ctx, a.conversation_id)
    if conv.unread_count == 0:
        return
    conv.unread_count = 0
    emit_conversation(ctx.buf, conv)


_HANDLERS: dict[p.MutationName, Callable[..., None]] = {
    p.MutationName.SEND_MESSAGE: send_message,
    p.MutationName.ADD_NOTE: add_note,
    p.MutationName.SET_STATUS: set_status,
    p.MutationName.SET_PRIORITY: set_priority,
    p.MutationName.ADD_TAG: add_tag,
    p.MutationName.REMOVE_TAG: remove_tag,
    p.MutationName.MARK_READ: mark_read,
}


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def _unstorable(value: Any) -> str | None:
    """Why a JSON value could not be stored (on every engine), or None when it can."""
    if isinstance(value, str):
        return "text may not contain NUL characters" if "\x00" in value else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if _INT64_MIN <= value <= _INT64_MAX else "a number is out of range"
    if isinstance(value, dict):
        items: list[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        problem = _unstorable(item)
        if problem:
            return problem
    return None


def _apply_one(ctx: _Ctx, mut: p.Mutation) -> None:
    # A value no database column can hold must be a rejection, not a failed request: a
    # failed request would be retried forever and block every intent queued behind it.
    problem = _unstorable(mut.args)
    if problem is not None:
        raise Rejected(p.RejectReason.INVALID, f"Invalid {mut.name!r}: {problem}.")
    try:
        name = p.MutationName(mut.name)
    except ValueError:
        raise Rejected(p.RejectReason.UNKNOWN_MUTATION,
                       f"The server does not know the change {mut.name!r}.") from None
    try:
        args = p.MUTATION_ARGS[name].model_validate(mut.args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise Rejected(p.RejectReason.INVALID,
                       f"Invalid {name.value}: {where}: {first.get('msg')}") from None
    if name is p.MutationName.ASSIGN:
        assign(ctx, args, mut.args)
    else:
        _HANDLERS[name](ctx, args)


def _client_state(session: Session, client_id: str, agent_id: str, lock: bool) -> m.ClientState:
    q = select(m.ClientState).where(m.ClientState.client_id == client_id)
    if lock:
        q = q.with_for_update()
    state = session.scalar(q)
    if state is None:
        state = m.ClientState(client_id=client_id, agent_id=agent_id, last_mutation_id=0)
        session.add(state)
        session.flush()
    if state.agent_id != agent_id:
        raise ClientConflict
    return state


def last_mutation_id(session: Session, client_id: str | None, agent_id: str) -> int:
    if not client_id or not _CLIENT_ID.fullmatch(client_id):
        return 0  # not a client id push accepts, so nothing was ever settled for it
    state = session.get(m.ClientState, client_id)
    if state is None or state.agent_id != agent_id:
        return 0
    return state.last_mutation_id


def push(session: Session, viewer: Viewer, req: p.PushRequest, *, is_postgres: bool
         ) -> tuple[p.PushResponse, int | None]:
    """Apply a batch; returns the response and the last change seq written (for pokes)."""
    state = _client_state(session, req.client_id, viewer.agent_id, lock=is_postgres)
    # Tracked locally and written once with the batch's last statements: the row is locked
    # (PostgreSQL) or the database is (SQLite) until commit either way.
    last = state.last_mutation_id
    conn = session.connection()
    if is_postgres:
        # Lock every conversation the batch touches up front, in id order: taking the locks
        # one mutation at a time, in batch order, deadlocks concurrent batches.
        ids = sorted({str(mut.args["conversation_id"]) for mut in req.mutations
                      if mut.id > last
                      and isinstance(mut.args.get("conversation_id"), str)
                      and "\x00" not in mut.args["conversation_id"]})
        if ids:
            session.execute(select(m.Conversation.id).where(m.Conversation.id.in_(ids))
                            .order_by(m.Conversation.id).with_for_update())
    results: list[p.MutationResult] = []
    records: list[m.MutationRecord] = []
    pending_seq: list[tuple[int, int]] = []  # (index in results, buffer mark after its changes)
    buf = ChangeBuffer(session, is_postgres=is_postgres)
    stopped = False
    for mut in req.mutations:
        if mut.id <= last:
            rec = session.get(m.MutationRecord, (req.client_id, mut.id))
            results.append(p.MutationResult(
                id=mut.id, status=p.MutationStatus.DUPLICATE,
                original_status=p.MutationStatus(rec.status) if rec else None,
                error=(p.MutationError(code=p.RejectReason(rec.error_code),
                                       message=rec.error_message or "")
                       if rec and rec.error_code else None),
                change_seq=rec.change_seq if rec else None,
            ))
            continue
        if mut.id != last + 1:
            stopped = True
            break
        ctx = _Ctx(session, buf, viewer, now_ms())
        mark = buf.mark()
        status, error = p.MutationStatus.APPLIED, None
        # A database savepoint, not the ORM's: Session.begin_nested() snapshots the whole
        # identity map each time, which made a 100-mutation batch quadratic. Each mutation
        # flushes its effects before its savepoint is released; after a rollback, unflushed
        # new objects are dropped and the rest reloaded from the database, so the ORM never
        # keeps state the savepoint undid.
        # Plain SQL with one fixed name: SQLAlchemy compiles each uniquely named savepoint anew.
        conn.exec_driver_sql("SAVEPOINT rd_mutation")
        try:
            _apply_one(ctx, mut)
            session.flush()
            conn.exec_driver_sql("RELEASE SAVEPOINT rd_mutation")
        except (Rejected, _AlreadyDone) as exc:
            conn.exec_driver_sql("ROLLBACK TO SAVEPOINT rd_mutation")
            conn.exec_driver_sql("RELEASE SAVEPOINT rd_mutation")
            for obj in list(session.new):
                session.expunge(obj)
            session.expire_all()
            buf.rollback_to(mark)
            if isinstance(exc, Rejected):
                status = p.MutationStatus.REJECTED
                error = p.MutationError(code=exc.reason, message=exc.message)
            else:
                status = p.MutationStatus.DUPLICATE
        last = mut.id
        results.append(p.MutationResult(
            id=mut.id, status=status, error=error,
            original_status=p.MutationStatus.APPLIED if status is p.MutationStatus.DUPLICATE
            else None,
        ))
        if buf.mark() > mark:
            pending_seq.append((len(results) - 1, buf.mark()))
        records.append(m.MutationRecord(
            client_id=req.client_id, mutation_id=mut.id, name=mut.name.replace("\x00", "?"),
            status=(p.MutationStatus.APPLIED if status is p.MutationStatus.DUPLICATE
                    else status).value,
            error_code=error.code.value if error else None,
            error_message=error.message if error else None,
            change_seq=None, created_at=ctx.now,
        ))
    # Number the batch's changes last: the feed-head lock is held only until commit.
    n_rows = buf.mark()
    head = buf.flush()
    if head is not None:
        first = head - n_rows + 1
        for index, end_mark in pending_seq:
            results[index].change_seq = first + end_mark - 1
    by_id = {r.id: r for r in results}
    for rec in records:
        rec.change_seq = by_id[rec.mutation_id].change_seq
    session.add_all(records)
    state.last_mutation_id = last
    return (
        p.PushResponse(results=results, last_mutation_id=last,
                       stopped_at_gap=stopped),
        head,
    )
