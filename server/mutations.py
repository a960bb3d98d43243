"""Push: apply a client's intents at most once each, in order.

One push request is one transaction; each mutation runs in a database savepoint so a
rejection undoes only its own partial work. ``client_states.last_mutation_id`` moves in the
same transaction as the effects, so a response lost after commit makes the retry a
``duplicate``.

The handlers write with SQLAlchemy Core statements, not ORM flushes: a batch reads the
conversations it touches once, up front (after locking them), and keeps them as plain
objects. Every write a mutation makes runs inside its savepoint; the in-memory copies it
changed are put back when the savepoint is rolled back, so later mutations of the batch see
exactly what the database holds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Connection, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session

from protocol import events
from protocol import wire as p
from protocol.intents import INTENTS, Intent, InvalidArgs, Sender
from protocol.rules import REJECT_MESSAGES, send_refusal, window_state
from server import models as m
from server import serialize
from server.emit import (
    emit_contact,
    emit_conversation,
    emit_message,
    emit_row,
    emit_visibility_change,
)
from server.feed import ChangeBuffer, Viewer, now_ms

DEFAULT_TAG_COLOR = "#6b7280"

_CONVERSATIONS = m.Conversation.__table__
_MESSAGES = m.Message.__table__
_CONV_FIELDS = serialize.CONVERSATION_COLUMNS
_MESSAGE_INSERT = insert(_MESSAGES)


class Rejected(Exception):
    def __init__(self, reason: p.RejectReason, message: str | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.message = message or REJECT_MESSAGES[reason]


class ClientConflict(Exception):
    """The client id belongs to another agent."""


class Conv:
    """A conversation row as the batch knows it (the columns of ``m.Conversation``, by name,
    plus its channel's type)."""

    __slots__ = (*_CONV_FIELDS, "channel_type")

    id: str
    channel_id: str
    contact_id: str
    team_id: str
    assignee_id: str | None
    subject: str | None
    status: str
    snoozed_until: int | None
    priority: str
    tags: str
    unread_count: int
    preview: str
    last_activity_at: int
    last_inbound_at: int | None
    sla_due_at: int | None
    created_at: int
    channel_type: str

    def __init__(self, row: Iterable[Any]) -> None:
        for name, value in zip((*_CONV_FIELDS, "channel_type"), row, strict=True):
            setattr(self, name, value)

    def snapshot(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _CONV_FIELDS)

    def restore(self, values: tuple[Any, ...]) -> None:
        for name, value in zip(_CONV_FIELDS, values, strict=True):
            setattr(self, name, value)


_CONV_SELECT = select(
    *(_CONVERSATIONS.c[name] for name in _CONV_FIELDS), m.Channel.__table__.c.type
).join_from(_CONVERSATIONS, m.Channel.__table__,
            m.Channel.__table__.c.id == _CONVERSATIONS.c.channel_id)


def _load_conversations(conn: Connection, ids: list[str]) -> dict[str, Conv]:
    # (A batch has at most 500 mutations, so each of these IN lists has at most 500 ids.)
    return {row[0]: Conv(row) for row in conn.execute(
        _CONV_SELECT.where(_CONVERSATIONS.c.id.in_(ids)))}


@dataclass
class _Batch:
    """What one push batch has read so far. Its conversations cannot change under it: push()
    locked them (PostgreSQL) or holds the database's write lock (SQLite). A message id or tag
    name another transaction adds meanwhile (PostgreSQL) makes this batch's insert of the same
    key fail, and the whole request is retried."""

    conversations: dict[str, Conv] = field(default_factory=dict)
    # message id -> (conversation id, author id) for messages known to exist
    messages: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    tags: dict[str, bool] = field(default_factory=dict)  # tag name -> exists
    agent_names: dict[str, str] = field(default_factory=dict)


@dataclass
class _Ctx:
    conn: Connection
    buf: ChangeBuffer
    viewer: Viewer
    now: int
    batch: _Batch
    # Puts the batch's in-memory state back when the mutation's savepoint is rolled back.
    undo: list[Callable[[], None]] = field(default_factory=list)
    intent: Intent | None = None  # the declaration of the mutation being applied


def _conversation(ctx: _Ctx, a: Any) -> Conv:
    """The conversation ``a`` names, if the sender sees it (``Sender.SEES_CONVERSATION``)."""
    conv = ctx.batch.conversations.get(a.conversation_id)
    if conv is None:  # (the batch read, and locked, every conversation it names up front)
        raise Rejected(p.RejectReason.CONVERSATION_GONE)
    if not ctx.viewer.can_see(conv.team_id, conv.assignee_id):
        # Same answer as for a missing conversation would leak existence; this one is
        # honest to agents who just lost access (transferred away while offline).
        raise Rejected(p.RejectReason.NOT_PERMITTED)
    before = conv.snapshot()
    ctx.undo.append(lambda: conv.restore(before))
    return conv


# Who may send an intent (its declared ``sender``): the check, and what it hands the handler.
_SENDERS: dict[Sender, Callable[[_Ctx, Any], Conv]] = {
    Sender.SEES_CONVERSATION: _conversation,
}


def _row(conv: Conv) -> dict[str, Any]:
    """The conversation as an intent's effect reads it (tags as a list, as on the wire)."""
    row = {name: getattr(conv, name) for name in _CONV_FIELDS}
    row["tags"] = _tags(conv)
    return row


def _effect(ctx: _Ctx, conv: Conv, args: dict[str, Any]) -> dict[str, Any]:
    """The fields the intent's declared effect sets on ``conv`` (as stored), with the server's
    clock where the declaration says the server keeps its own; empty: nothing changes."""
    intent = ctx.intent
    assert intent is not None
    changes = intent.effect(_row(conv), args, ctx.now)
    for name in intent.server_clock:
        if name in changes:
            changes[name] = ctx.now
    if "tags" in changes:
        changes["tags"] = orjson.dumps(changes["tags"]).decode()
    return changes


def _change(ctx: _Ctx, conv: Conv, args: dict[str, Any]) -> dict[str, Any]:
    """Apply the intent's declared effect to ``conv``; returns the fields it set."""
    changes = _effect(ctx, conv, args)
    if changes:
        _update(ctx, conv, **changes)
    return changes


_UPDATES: dict[tuple[str, ...], Update] = {}


def _update(ctx: _Ctx, conv: Conv, **values: Any) -> None:
    """Change the conversation, in the database (inside the savepoint) and in the batch."""
    for name, value in values.items():
        setattr(conv, name, value)
    key = tuple(values)
    stmt = _UPDATES.get(key)
    if stmt is None:
        stmt = _UPDATES[key] = (
            update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("_id"))
            .values({name: bindparam(name) for name in key})
        )
    ctx.conn.execute(stmt, {"_id": conv.id, **values})


def _add_message(ctx: _Ctx, conv: Conv, message_id: str, direction: str,
                 author_id: str | None, body: str, template: str | None,
                 mentions: str) -> SimpleNamespace:
    msg = SimpleNamespace(
        id=message_id, conversation_id=conv.id, direction=direction, author_id=author_id,
        body=body, template=template, delivery="sent", mentions=mentions, created_at=ctx.now,
    )
    ctx.conn.execute(_MESSAGE_INSERT, vars(msg))
    messages = ctx.batch.messages
    messages[message_id] = (conv.id, author_id)
    ctx.undo.append(lambda: messages.pop(message_id, None))
    return msg


def _system_message(ctx: _Ctx, conv: Conv, body: str) -> None:
    msg = _add_message(ctx, conv, str(uuid.uuid4()), "system", None, body, None, "[]")
    emit_message(ctx.buf, conv, msg)


def _agent_name(ctx: _Ctx, agent_id: str | None) -> str:
    if agent_id is None:
        return "nobody"
    names = ctx.batch.agent_names
    name = names.get(agent_id)
    if name is None:
        name = names[agent_id] = ctx.conn.scalar(
            select(m.Agent.name).where(m.Agent.id == agent_id)) or agent_id
    return name


def _existing_message(ctx: _Ctx, message_id: str, conversation_id: str) -> bool:
    existing = ctx.batch.messages.get(message_id)
    if existing is None:
        return False
    if existing[0] != conversation_id or existing[1] != ctx.viewer.agent_id:
        raise Rejected(p.RejectReason.INVALID, "That message id is already used.")
    return True


class _AlreadyDone(Exception):
    """The effect exists already (same client message id): answer duplicate, change nothing."""


def send_message(ctx: _Ctx, conv: Conv, a: p.SendMessageArgs, raw: dict[str, Any]) -> None:
    if _existing_message(ctx, a.message_id, conv.id):
        raise _AlreadyDone
    channel_type = conv.channel_type
    identity = ctx.conn.execute(
        select(m.ContactIdentity.handle, m.ContactIdentity.opted_out).where(
            m.ContactIdentity.contact_id == conv.contact_id,
            m.ContactIdentity.channel_type == channel_type,
        )
    ).first()
    if identity is None:
        raise Rejected(p.RejectReason.INVALID, "The contact has no address on this channel.")
    handle, opted_out = identity
    state = window_state(channel_type, conv.last_inbound_at, ctx.now, opted_out=bool(opted_out))
    refusal = send_refusal(state, template=a.template, human_agent_tag=a.human_agent_tag)
    if refusal is not None:
        raise Rejected(refusal)
    body = a.body
    if a.template:
        tpl_body = ctx.conn.execute(
            select(m.Template.body).where(
                m.Template.name == a.template, m.Template.channel_type == channel_type
            )
        ).first()
        if tpl_body is None:
            raise Rejected(p.RejectReason.UNKNOWN_TEMPLATE)
        body = body or tpl_body[0]
    if not body.strip():
        raise Rejected(p.RejectReason.INVALID, "A reply cannot be empty.")
    msg = _add_message(ctx, conv, a.message_id, "outbound", ctx.viewer.agent_id, body,
                       a.template, "[]")
    # The loopback provider: what a real provider would send, recorded once per message id.
    ctx.conn.execute(insert(m.OutboundDelivery.__table__), {
        "channel_id": conv.channel_id, "message_id": msg.id, "conversation_id": conv.id,
        "to_handle": handle, "body": body, "template": a.template, "created_at": ctx.now,
    })
    # The effect sees the text sent: a template's, where the desk has only its name.
    _change(ctx, conv, {**raw, "body": body})
    emit_message(ctx.buf, conv, msg)
    emit_conversation(ctx.buf, conv, conv.channel_type)


def add_note(ctx: _Ctx, conv: Conv, a: p.AddNoteArgs, raw: dict[str, Any]) -> None:
    if _existing_message(ctx, a.message_id, conv.id):
        raise _AlreadyDone
    mentions = sorted(set(a.mentions))
    if mentions:
        known = set(ctx.conn.scalars(select(m.Agent.id).where(m.Agent.id.in_(mentions))))
        if known != set(mentions):
            raise Rejected(p.RejectReason.UNKNOWN_AGENT, "A mentioned agent does not exist.")
    msg = _add_message(ctx, conv, a.message_id, "note", ctx.viewer.agent_id, a.body, None,
                       orjson.dumps(mentions).decode())
    emit_message(ctx.buf, conv, msg)


def set_status(ctx: _Ctx, conv: Conv, a: p.SetStatusArgs, raw: dict[str, Any]) -> None:
    if a.status is p.ConversationStatus.SNOOZED and (
            a.snoozed_until is None or a.snoozed_until <= ctx.now):
        raise Rejected(p.RejectReason.INVALID, "Snooze needs a time in the future.")
    if not _change(ctx, conv, raw):
        return
    until = conv.snoozed_until
    by = _agent_name(ctx, ctx.viewer.agent_id)
    _system_message(ctx, conv, events.SNOOZED_UNTIL.format(until=events.instant(until), by=by)
                    if until is not None else
                    events.STATUS_SET.format(status=a.status.value, by=by))
    emit_conversation(ctx.buf, conv, conv.channel_type)


def _names_whom(raw: dict[str, Any]) -> None:
    if "agent_id" not in raw and "team_id" not in raw:
        raise Rejected(p.RejectReason.INVALID, "Say whom to assign to (agent_id and/or team_id).")


def assign(ctx: _Ctx, conv: Conv, a: p.AssignArgs, raw: dict[str, Any]) -> None:
    before = (conv.team_id, conv.assignee_id)
    if "agent_id" in raw and a.agent_id is not None:
        active = ctx.conn.execute(
            select(m.Agent.active).where(m.Agent.id == a.agent_id)).first()
        if active is None or not active[0]:
            raise Rejected(p.RejectReason.UNKNOWN_AGENT)
    if "team_id" in raw:
        if a.team_id is None:
            raise Rejected(p.RejectReason.INVALID, "A conversation always belongs to a team.")
        if ctx.conn.scalar(select(m.Team.id).where(m.Team.id == a.team_id)) is None:
            raise Rejected(p.RejectReason.UNKNOWN_TEAM)
    # Written before the audiences are worked out: they read the conversations table.
    if not _change(ctx, conv, raw):
        return
    after = (conv.team_id, conv.assignee_id)
    emit_visibility_change(ctx.buf, conv, before, after)
    if before[1] != after[1]:
        by = _agent_name(ctx, ctx.viewer.agent_id)
        if conv.assignee_id is None:
            sentence = events.UNASSIGNED.format(by=by)
        elif conv.assignee_id == ctx.viewer.agent_id:
            sentence = events.SELF_ASSIGNED.format(by=by)
        else:
            sentence = events.ASSIGNED.format(agent=_agent_name(ctx, conv.assignee_id), by=by)
        _system_message(ctx, conv, sentence)
    if before[0] != after[0]:
        team_name = ctx.conn.scalar(select(m.Team.name).where(m.Team.id == conv.team_id))
        _system_message(ctx, conv, events.MOVED_TO_TEAM.format(
            team=team_name or conv.team_id))
    emit_conversation(ctx.buf, conv, conv.channel_type)
    if before[0] != after[0]:
        emit_contact(ctx.buf, conv.contact_id)


def _tags(conv: Conv) -> list[str]:
    return list(orjson.loads(conv.tags or "[]"))


def _tag_exists(ctx: _Ctx, name: str) -> bool:
    known = ctx.batch.tags
    exists = known.get(name)
    if exists is None:
        exists = known[name] = ctx.conn.scalar(
            select(m.Tag.id).where(m.Tag.name == name)) is not None
    return exists


def add_tag(ctx: _Ctx, conv: Conv, a: p.TagArgs, raw: dict[str, Any]) -> None:
    name = a.tag.strip()
    if not name:
        raise Rejected(p.RejectReason.INVALID, "A tag needs a name.")
    changes = _effect(ctx, conv, raw)
    if not changes:
        return
    if not _tag_exists(ctx, name):
        tag = SimpleNamespace(id=str(uuid.uuid4()), name=name, color=DEFAULT_TAG_COLOR)
        ctx.conn.execute(insert(m.Tag.__table__), vars(tag))
        known = ctx.batch.tags
        known[name] = True
        ctx.undo.append(lambda: known.__setitem__(name, False))
        emit_row(ctx.buf, "tag", serialize.tag(tag))  # type: ignore[arg-type]
    _update(ctx, conv, **changes)
    emit_conversation(ctx.buf, conv, conv.channel_type)


def row_change(ctx: _Ctx, conv: Conv, a: Any, raw: dict[str, Any]) -> None:
    """An intent whose whole server side is its declared effect on the conversation."""
    if _change(ctx, conv, raw):
        emit_conversation(ctx.buf, conv, conv.channel_type)


# Each declared intent's handler (protocol.intents; a test checks none is missing): called
# once the sender may send it, with the conversation, the checked and the raw arguments.
_HANDLERS: dict[str, Callable[[_Ctx, Conv, Any, dict[str, Any]], None]] = {
    p.MutationName.SEND_MESSAGE: send_message,
    p.MutationName.ADD_NOTE: add_note,
    p.MutationName.SET_STATUS: set_status,
    p.MutationName.ASSIGN: assign,
    p.MutationName.SET_PRIORITY: row_change,
    p.MutationName.ADD_TAG: add_tag,
    p.MutationName.REMOVE_TAG: row_change,
    p.MutationName.MARK_READ: row_change,
}
# Refusals of the raw arguments alone, answered before who may send it is looked at.
_ARGUMENT_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    p.MutationName.ASSIGN: _names_whom,
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
    intent = INTENTS.get(mut.name)
    if intent is None:
        raise Rejected(p.RejectReason.UNKNOWN_MUTATION,
                       f"The server does not know the change {mut.name!r}.")
    try:
        args = intent.validate(mut.args)
    except InvalidArgs as exc:
        raise Rejected(p.RejectReason.INVALID, f"Invalid {exc}") from None
    ctx.intent = intent
    check = _ARGUMENT_CHECKS.get(intent.name)
    if check is not None:
        check(mut.args)
    conv = _SENDERS[intent.sender](ctx, args)
    _HANDLERS[intent.name](ctx, conv, args, mut.args)



_CLIENT_STATES = m.ClientState.__table__
_RECORDS = m.MutationRecord.__table__


def _client_state(conn: Connection, client_id: str, agent_id: str, lock: bool) -> int:
    """The client's last settled mutation id (0 for a new client); the row is created if
    missing and locked on PostgreSQL."""
    q = select(_CLIENT_STATES.c.agent_id, _CLIENT_STATES.c.last_mutation_id).where(
        _CLIENT_STATES.c.client_id == client_id)
    if lock:
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:
        # Two first pushes racing: the loser's insert fails and its request is retried.
        conn.execute(insert(_CLIENT_STATES), {"client_id": client_id, "agent_id": agent_id,
                                              "last_mutation_id": 0})
        return 0
    if row[0] != agent_id:
        raise ClientConflict
    return int(row[1])


def last_mutation_id(session: Session, client_id: str | None, agent_id: str) -> int:
    if not client_id or not _CLIENT_ID.fullmatch(client_id):
        return 0  # not a client id push accepts, so nothing was ever settled for it
    state = session.get(m.ClientState, client_id)
    if state is None or state.agent_id != agent_id:
        return 0
    return state.last_mutation_id


def _duplicates(conn: Connection, client_id: str, ids: list[int]
                ) -> dict[int, tuple[str, str | None, str | None, int | None]]:
    """First outcomes of already settled mutations: id -> (status, error code, message, seq)."""
    return {int(row[0]): (row[1], row[2], row[3], row[4]) for row in conn.execute(
        select(_RECORDS.c.mutation_id, _RECORDS.c.status, _RECORDS.c.error_code,
               _RECORDS.c.error_message, _RECORDS.c.change_seq)
        .where(_RECORDS.c.client_id == client_id, _RECORDS.c.mutation_id.in_(ids)))}


def _preload(conn: Connection, batch: _Batch, mutations: list[p.Mutation], *,
             lock: bool) -> None:
    """Read, in a few statements, the conversations, client message ids and tags the batch
    names; with ``lock`` (PostgreSQL), lock its conversations first."""
    conv_ids: set[str] = set()
    message_ids: set[str] = set()
    tag_names: set[str] = set()
    for mut in mutations:
        cid = mut.args.get("conversation_id")
        if isinstance(cid, str) and "\x00" not in cid:
            conv_ids.add(cid)
        mid = mut.args.get("message_id")
        if isinstance(mid, str) and "\x00" not in mid:
            message_ids.add(mid)
        tag = mut.args.get("tag") if mut.name == p.MutationName.ADD_TAG.value else None
        if isinstance(tag, str) and "\x00" not in tag and tag.strip():
            tag_names.add(tag.strip())
    if conv_ids:
        ids = sorted(conv_ids)
        if lock:
            # Every conversation the batch touches, up front and in id order: taking the
            # locks one mutation at a time, in batch order, deadlocks concurrent batches.
            conn.execute(select(_CONVERSATIONS.c.id).where(_CONVERSATIONS.c.id.in_(ids))
                         .order_by(_CONVERSATIONS.c.id).with_for_update())
        batch.conversations.update(_load_conversations(conn, ids))
    if message_ids:
        for mid, conversation_id, author_id in conn.execute(
            select(_MESSAGES.c.id, _MESSAGES.c.conversation_id, _MESSAGES.c.author_id)
            .where(_MESSAGES.c.id.in_(sorted(message_ids)))
        ):
            batch.messages[mid] = (conversation_id, author_id)
    if tag_names:
        names = sorted(tag_names)
        batch.tags.update(dict.fromkeys(names, False))
        batch.tags.update(dict.fromkeys(conn.scalars(
            select(m.Tag.name).where(m.Tag.name.in_(names))), True))


def push(session: Session, viewer: Viewer, req: p.PushRequest, *, is_postgres: bool
         ) -> tuple[p.PushResponse, int | None]:
    """Apply a batch; returns the response and the last change seq written (for pokes)."""
    conn = session.connection()
    # Tracked locally and written once with the batch's last statements: the row is locked
    # (PostgreSQL) or the database is (SQLite) until commit either way.
    first_last = last = _client_state(conn, req.client_id, viewer.agent_id, lock=is_postgres)
    todo = [mut for mut in req.mutations if mut.id > last]
    batch = _Batch()
    if todo:
        _preload(conn, batch, todo, lock=is_postgres)
    dup_ids = [mut.id for mut in req.mutations if mut.id <= last]
    done = _duplicates(conn, req.client_id, dup_ids) if dup_ids else {}
    results: list[p.MutationResult] = []
    records: list[dict[str, Any]] = []
    pending_seq: list[tuple[int, int]] = []  # (index in results, buffer mark after its changes)
    buf = ChangeBuffer(session, is_postgres=is_postgres)
    stopped = False
    # The driver's own cursor for the savepoints (see below).
    savepoint = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for mut in req.mutations:
            if mut.id <= last:
                rec = done.get(mut.id)
                results.append(p.MutationResult(
                    id=mut.id, status=p.MutationStatus.DUPLICATE,
                    original_status=p.MutationStatus(rec[0]) if rec else None,
                    error=(p.MutationError(code=p.RejectReason(rec[1]), message=rec[2] or "")
                           if rec and rec[1] else None),
                    change_seq=rec[3] if rec else None,
                ))
                continue
            if mut.id != last + 1:
                stopped = True
                break
            ctx = _Ctx(conn, buf, viewer, now_ms(), batch)
            mark = buf.mark()
            status, error = p.MutationStatus.APPLIED, None
            # A database savepoint per mutation: a rejection undoes only its own writes, and
            # ``ctx.undo`` puts back what the batch had read and the mutation changed.
            # Plain SQL with one fixed name, on the driver's cursor: SQLAlchemy would compile
            # each uniquely named savepoint anew, and costs more than the statement itself.
            savepoint.execute("SAVEPOINT rd_mutation")
            try:
                _apply_one(ctx, mut)
                savepoint.execute("RELEASE SAVEPOINT rd_mutation")
            except (Rejected, _AlreadyDone) as exc:
                savepoint.execute("ROLLBACK TO SAVEPOINT rd_mutation")
                savepoint.execute("RELEASE SAVEPOINT rd_mutation")
                for put_back in reversed(ctx.undo):
                    put_back()
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
            records.append({
                "client_id": req.client_id, "mutation_id": mut.id,
                "name": mut.name.replace("\x00", "?"),
                "status": (p.MutationStatus.APPLIED if status is p.MutationStatus.DUPLICATE
                           else status).value,
                "error_code": error.code.value if error else None,
                "error_message": error.message if error else None,
                "change_seq": None, "created_at": ctx.now,
            })
    finally:
        savepoint.close()
    # Number the batch's changes last: the feed-head lock is held only until commit.
    n_rows = buf.mark()
    head = buf.flush()
    if head is not None:
        first = head - n_rows + 1
        for index, end_mark in pending_seq:
            results[index].change_seq = first + end_mark - 1
    if records:
        by_id = {r.id: r for r in results}
        for rec in records:
            rec["change_seq"] = by_id[rec["mutation_id"]].change_seq
        conn.execute(insert(_RECORDS), records)
    if last != first_last:
        conn.execute(update(_CLIENT_STATES).where(_CLIENT_STATES.c.client_id == req.client_id)
                     .values(last_mutation_id=last))
    return (
        p.PushResponse(results=results, last_mutation_id=last,
                       stopped_at_gap=stopped),
        head,
    )
