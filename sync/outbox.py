"""The outbox: intents the agent made, kept durably until the server confirmed them and the
mirror shows their effect. Nothing here is ever dropped silently.

Functions take a Connection on the outbox database; writes must run on the store's writer
thread (``Store.run_write``).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, text, update

from sync.models import intents
from sync.names import MutationName, MutationStatus

if TYPE_CHECKING:
    from sync import protocol as p

PENDING, APPLIED, REJECTED = "pending", "applied", "rejected"


class InvalidIntent(ValueError):
    """The intent cannot be queued as given; the message says why."""


@dataclass(frozen=True)
class IntentRecord:
    id: int
    mutation_id: int
    name: str
    args: dict[str, Any]
    conversation_id: str | None
    state: str
    attempts: int
    change_seq: int | None
    error_code: str | None
    error_message: str | None
    created_at: int

    @property
    def message_id(self) -> str | None:
        return self.args.get("message_id")


def _record(row: Any) -> IntentRecord:
    return IntentRecord(
        id=row.id, mutation_id=row.mutation_id, name=row.name, args=orjson.loads(row.args),
        conversation_id=row.conversation_id, state=row.state, attempts=row.attempts,
        change_seq=row.change_seq, error_code=row.error_code, error_message=row.error_message,
        created_at=row.created_at,
    )


def _meta(conn: Connection, key: str) -> str | None:
    return conn.execute(text("SELECT value FROM outbox_meta WHERE key = :k"), {"k": key}).scalar()


def _set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(text("INSERT OR REPLACE INTO outbox_meta (key, value) VALUES (:k, :v)"),
                 {"k": key, "v": value})


def client_id(conn: Connection) -> str:
    """This installation's push identity (created on first use)."""
    value = _meta(conn, "client_id")
    if value is None:
        value = "desk-" + secrets.token_hex(12)
        _set_meta(conn, "client_id", value)
    return value


def _next_mutation_id(conn: Connection) -> int:
    value = int(_meta(conn, "next_mutation_id") or "1")
    _set_meta(conn, "next_mutation_id", str(value + 1))
    return value


def validate(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Check an intent against the wire schema before it is queued (bad input: clear error)."""
    try:
        mutation = MutationName(name)
    except ValueError:
        raise InvalidIntent(f"unknown action {name!r}") from None
    from pydantic import ValidationError  # (the wire models load with the first intent)

    from sync import protocol as p

    try:
        model = p.MUTATION_ARGS[mutation].model_validate(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise InvalidIntent(f"{name}: {where}: {first.get('msg')}") from None
    # exclude_unset keeps "key present" meaningful (assign: agent_id null unassigns)
    return model.model_dump(mode="json", exclude_unset=True)


def enqueue(conn: Connection, name: str, args: dict[str, Any], now_ms: int) -> IntentRecord:
    """Durably queue an intent; returns it with its mutation id."""
    args = dict(args)
    if name in (MutationName.SEND_MESSAGE, MutationName.ADD_NOTE) and not args.get("message_id"):
        args["message_id"] = str(uuid.uuid4())
    clean = validate(name, args)
    client_id(conn)
    mutation_id = _next_mutation_id(conn)
    new_id = conn.execute(
        insert(intents).values(
            mutation_id=mutation_id, name=name, args=orjson.dumps(clean).decode(),
            conversation_id=clean.get("conversation_id"), state=PENDING, attempts=0,
            created_at=now_ms,
        ).returning(intents.c.id)
    ).scalar_one()
    row = conn.execute(select(intents).where(intents.c.id == new_id)).one()
    return _record(row)


def pending(conn: Connection, limit: int = 500, after: int | None = None) -> list[IntentRecord]:
    """The oldest pending intents, in mutation id order; with ``after``, only those whose
    mutation id is higher (the batch that follows one still being pushed)."""
    q = select(intents).where(intents.c.state == PENDING)
    if after is not None:
        q = q.where(intents.c.mutation_id > after)
    rows = conn.execute(q.order_by(intents.c.mutation_id).limit(limit)).all()
    return [_record(r) for r in rows]


def unsettled(conn: Connection, conversation_id: str | None = None) -> list[IntentRecord]:
    """Everything the overlay shows: pending, applied-not-yet-pulled and rejected."""
    q = select(intents).order_by(intents.c.id)
    if conversation_id is not None:
        q = q.where(intents.c.conversation_id == conversation_id)
    return [_record(r) for r in conn.execute(q).all()]


def counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(intents.c.state, func.count()).group_by(intents.c.state)).all()
    out = {PENDING: 0, APPLIED: 0, REJECTED: 0}
    out.update({state: n for state, n in rows})
    return out


def mark_attempt(conn: Connection, mutation_ids: list[int]) -> None:
    if mutation_ids:
        conn.execute(update(intents).where(intents.c.mutation_id.in_(mutation_ids))
                     .values(attempts=intents.c.attempts + 1))


_INTENTS = intents
_MARK_REJECTED = (
    update(_INTENTS).where(_INTENTS.c.mutation_id == bindparam("b_mutation_id"))
    .values(state=REJECTED, error_code=bindparam("b_error_code"),
            error_message=bindparam("b_error_message"), settled_at=bindparam("b_settled_at"))
)
_MARK_APPLIED = (
    update(_INTENTS).where(_INTENTS.c.mutation_id == bindparam("b_mutation_id"))
    .values(state=APPLIED, change_seq=bindparam("b_change_seq"),
            settled_at=bindparam("b_settled_at"))
)


def record_results(conn: Connection, response: p.PushResponse, now_ms: int) -> tuple[int, int]:
    """Apply the server's answers; returns (applied, rejected) counts."""
    # Keyed by mutation id: one row each (the last answer wins, as statement by statement).
    rejected: dict[int, dict[str, Any]] = {}
    applied: dict[int, dict[str, Any]] = {}
    for result in response.results:
        status = result.status
        if status is MutationStatus.DUPLICATE:
            status = result.original_status or MutationStatus.APPLIED
        applied.pop(result.id, None)
        rejected.pop(result.id, None)
        if status is MutationStatus.REJECTED:
            rejected[result.id] = {
                "b_mutation_id": result.id,
                "b_error_code": result.error.code.value if result.error else "rejected",
                "b_error_message": result.error.message if result.error else None,
                "b_settled_at": now_ms,
            }
        else:
            applied[result.id] = {"b_mutation_id": result.id,
                                  "b_change_seq": result.change_seq, "b_settled_at": now_ms}
    # One statement executed for many rows each (a statement per intent cost more than the
    # server's work on it).
    if rejected:
        conn.execute(_MARK_REJECTED, list(rejected.values()))
    if applied:
        conn.execute(_MARK_APPLIED, list(applied.values()))
    return len(applied), len(rejected)


def settle(conn: Connection, cursor: int) -> int:
    """Drop applied intents whose effect the mirror now shows (their change was pulled)."""
    result = conn.execute(delete(intents).where(
        intents.c.state == APPLIED,
        (intents.c.change_seq.is_(None)) | (intents.c.change_seq <= cursor),
    ))
    return result.rowcount or 0


def retry(conn: Connection, intent_id: int) -> IntentRecord:
    """Queue a rejected intent again (after the agent fixed the cause)."""
    row = conn.execute(select(intents).where(intents.c.id == intent_id)).one_or_none()
    if row is None or row.state != REJECTED:
        raise InvalidIntent("only a rejected intent can be retried")
    conn.execute(update(intents).where(intents.c.id == intent_id).values(
        state=PENDING, mutation_id=_next_mutation_id(conn), error_code=None,
        error_message=None, settled_at=None))
    return _record(conn.execute(select(intents).where(intents.c.id == intent_id)).one())


def discard(conn: Connection, intent_id: int) -> None:
    """The agent gives up on a rejected intent."""
    row = conn.execute(select(intents).where(intents.c.id == intent_id)).one_or_none()
    if row is None:
        return
    if row.state != REJECTED:
        raise InvalidIntent("only a rejected intent can be discarded")
    conn.execute(delete(intents).where(intents.c.id == intent_id))


def start_new_client(conn: Connection) -> str:
    """The server lost track of our ids (its database was reset): renumber pending intents
    from 1 under a fresh client id. Pending message ids are kept, so nothing is sent twice."""
    new = "desk-" + secrets.token_hex(12)
    _set_meta(conn, "client_id", new)
    rows = conn.execute(select(intents.c.id).where(intents.c.state == PENDING)
                        .order_by(intents.c.mutation_id)).scalars().all()
    # Move every row out of the way first (mutation_id is unique): the new numbering starts
    # at 1 again and must not meet the old ids of applied or rejected intents. Those keep
    # unique negative ids; they only await settlement (or the agent).
    conn.execute(update(intents).values(mutation_id=-intents.c.id))
    next_id = 1
    for intent_id in rows:
        conn.execute(update(intents).where(intents.c.id == intent_id).values(mutation_id=next_id))
        next_id += 1
    _set_meta(conn, "next_mutation_id", str(next_id))
    return new
