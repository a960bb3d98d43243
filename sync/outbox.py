"""The outbox: intents the agent made, kept durably until the server confirmed them and the
mirror shows their effect. Nothing here is ever dropped silently.

Functions take a connection on the outbox database: the writer's SQLAlchemy Connection (in
its transaction) or a plain ``sqlite3`` one (the desk's readers, ``Store.read_db``). The SQL
is plain text run on the sqlite3 connection underneath, so reading the outbox needs no
SQLAlchemy (the desk's first paint reads it). Writes must run on the store's writer thread
(``Store.run_write``).
"""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import orjson

from protocol.intents import INTENTS, InvalidArgs
from protocol.names import MutationName, MutationStatus
from protocol.rules import WindowState
from protocol.rules import retry_may_pass as _retry_may_pass
from sync.store import dbapi

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from protocol import wire as p

    Db = Connection | sqlite3.Connection

PENDING, APPLIED, REJECTED = "pending", "applied", "rejected"

# Intents the desk makes by itself (opening a conversation marks it read): sent like the
# others, but not the agent's work, so "what is waiting" does not count them.
AUTOMATIC = frozenset({MutationName.MARK_READ.value})

# outbox_meta: the highest mutation id (of the current client id) a push has claimed.
CLAIMED_THROUGH = "claimed_through"


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
    not_before: int | None = None  # epoch ms: held back from pushes until then

    @property
    def message_id(self) -> str | None:
        return self.args.get("message_id")


# The intents table's columns, in the order ``_record`` reads them.
_COLUMNS = ("id, mutation_id, name, args, conversation_id, state, attempts, change_seq, "
            "error_code, error_message, created_at, not_before")
_SELECT = f"SELECT {_COLUMNS} FROM intents"


def _record(row: tuple[Any, ...]) -> IntentRecord:
    (id_, mutation_id, name, args, conversation_id, state, attempts, change_seq, error_code,
     error_message, created_at, not_before) = row
    return IntentRecord(
        id=id_, mutation_id=mutation_id, name=name, args=orjson.loads(args),
        conversation_id=conversation_id, state=state, attempts=attempts,
        change_seq=change_seq, error_code=error_code, error_message=error_message,
        created_at=created_at, not_before=not_before,
    )


def _one(db: sqlite3.Connection, intent_id: int) -> IntentRecord | None:
    row = db.execute(f"{_SELECT} WHERE id = ?", (intent_id,)).fetchone()
    return None if row is None else _record(row)


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM outbox_meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO outbox_meta (key, value) VALUES (?, ?)", (key, value))


def client_id(conn: Db) -> str:
    """This installation's push identity (created on first use)."""
    db = dbapi(conn)
    value = _meta(db, "client_id")
    if value is None:
        value = "desk-" + secrets.token_hex(12)
        _set_meta(db, "client_id", value)
    return value


def _next_mutation_id(db: sqlite3.Connection) -> int:
    value = int(_meta(db, "next_mutation_id") or "1")
    _set_meta(db, "next_mutation_id", str(value + 1))
    return value


def validate(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Check an intent against its declared model before it is queued (bad input: clear
    error). The wire models load with the first intent."""
    intent = INTENTS.get(name)
    if intent is None:
        raise InvalidIntent(f"unknown action {name!r}")
    try:
        model = intent.validate(args)
    except InvalidArgs as exc:
        raise InvalidIntent(str(exc)) from None
    # exclude_unset keeps "key present" meaningful (assign: agent_id null unassigns)
    return model.model_dump(mode="json", exclude_unset=True)


def enqueue(conn: Db, name: str, args: dict[str, Any], now_ms: int,
            not_before: int | None = None) -> IntentRecord:
    """Durably queue an intent; returns it with its mutation id. With ``not_before`` (epoch
    ms) no push takes it, nor anything queued after it, before that time."""
    args = dict(args)
    if name in (MutationName.SEND_MESSAGE, MutationName.ADD_NOTE) and not args.get("message_id"):
        args["message_id"] = str(uuid.uuid4())
    clean = validate(name, args)
    db = dbapi(conn)
    client_id(db)
    mutation_id = _next_mutation_id(db)
    cur = db.execute(
        "INSERT INTO intents (mutation_id, name, args, conversation_id, state, attempts, "
        "created_at, not_before) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        (mutation_id, name, orjson.dumps(clean).decode(), clean.get("conversation_id"),
         PENDING, now_ms, not_before))
    record = _one(db, cur.lastrowid or 0)
    assert record is not None
    return record


def pending(conn: Db, limit: int = 500, after: int | None = None) -> list[IntentRecord]:
    """The oldest pending intents, in mutation id order; with ``after``, only those whose
    mutation id is higher (the batch that follows one still being pushed)."""
    later, params = ("", (PENDING, limit)) if after is None else (
        "AND mutation_id > ? ", (PENDING, after, limit))
    rows = dbapi(conn).execute(
        f"{_SELECT} WHERE state = ? {later}ORDER BY mutation_id LIMIT ?", params)
    return [_record(r) for r in rows]


def claim(conn: Db, now_ms: int, limit: int = 500, after: int | None = None
          ) -> tuple[list[IntentRecord], int | None]:
    """Hand the next pending intents to a push: ``pending(limit, after)`` up to the first one
    held back (``not_before`` still ahead), each counted as attempted and the claimed mutation
    ids recorded, in one transaction. Returns them and the time the first held one is due
    (None when none holds the queue). Whatever a push sends must come from here: ``cancel``
    relies on it (an intent is either cancelled before it is claimed, or claimed and never
    cancelled)."""
    batch = pending(conn, limit, after)
    held_until = None
    for n, intent in enumerate(batch):
        if intent.not_before is not None and intent.not_before > now_ms:
            batch, held_until = batch[:n], intent.not_before
            break
    if batch:
        db = dbapi(conn)
        mark_attempt(db, [i.mutation_id for i in batch])
        top = batch[-1].mutation_id
        if top > _claimed_through(db):
            _set_meta(db, CLAIMED_THROUGH, str(top))
        batch = [replace(i, attempts=i.attempts + 1) for i in batch]
    return batch, held_until


def release(conn: Db, first: int) -> None:
    """The push that claimed intents from mutation id ``first`` on provably never sent them
    (no connection was made): that claim is counted back, so the ones no earlier push took
    can be cancelled again. Attempts left from earlier pushes keep theirs uncancellable."""
    db = dbapi(conn)
    top = _claimed_through(db)
    db.execute("UPDATE intents SET attempts = attempts - 1 WHERE state = ? AND attempts > 0 "
               "AND mutation_id BETWEEN ? AND ?", (PENDING, first, top))
    still = db.execute("SELECT max(mutation_id) FROM intents WHERE attempts > 0 "
                       "AND mutation_id BETWEEN ? AND ?", (first, top)).fetchone()[0]
    _set_meta(db, CLAIMED_THROUGH, str(max(first - 1, still or 0)))


def _claimed_through(db: sqlite3.Connection) -> int:
    return int(_meta(db, CLAIMED_THROUGH) or "0")


def cancel(conn: Db, intent_id: int) -> bool:
    """Take back an intent the agent undid, if it never left the desk: a pending intent no
    push has claimed (or a rejected one: it changed nothing). The intents queued after it are
    renumbered down by one, so the push ids stay gapless. False when it may have reached the
    server (claimed by a push, or applied: the caller reverses it instead) or is gone."""
    db = dbapi(conn)
    record = _one(db, intent_id)
    if record is None or record.state == APPLIED:
        return False
    if record.state == REJECTED:
        db.execute("DELETE FROM intents WHERE id = ?", (intent_id,))
        return True
    if record.attempts > 0 or record.mutation_id <= _claimed_through(db):
        return False
    db.execute("DELETE FROM intents WHERE id = ?", (intent_id,))
    # Every later id is above the claimed ones too: no push has carried any of them.
    later = db.execute("SELECT id FROM intents WHERE mutation_id > ? ORDER BY mutation_id",
                       (record.mutation_id,)).fetchall()
    # In ascending order, one row at a time: each moves into the id freed just before it.
    db.executemany("UPDATE intents SET mutation_id = mutation_id - 1 WHERE id = ?", later)
    _set_meta(db, "next_mutation_id", str(int(_meta(db, "next_mutation_id") or "1") - 1))
    return True


def unsettled(conn: Db, conversation_id: str | None = None) -> list[IntentRecord]:
    """Everything the overlay shows: pending, applied-not-yet-pulled and rejected."""
    db = dbapi(conn)
    if conversation_id is None:
        rows = db.execute(f"{_SELECT} ORDER BY id")
    else:
        rows = db.execute(f"{_SELECT} WHERE conversation_id = ? ORDER BY id",
                          (conversation_id,))
    return [_record(r) for r in rows]


def retry_may_pass(intent: IntentRecord, window: WindowState | None) -> bool:
    """Whether Retry can get a refused intent through, with its conversation's messaging
    window as it is now (``protocol.rules.retry_may_pass``)."""
    return _retry_may_pass(intent.error_code, window, template=intent.args.get("template"),
                           human_agent_tag=bool(intent.args.get("human_agent_tag")))


def counts(conn: Db) -> dict[str, int]:
    out = {PENDING: 0, APPLIED: 0, REJECTED: 0}
    out.update(dbapi(conn).execute("SELECT state, count(*) FROM intents GROUP BY state"))
    return out


def agent_counts(conn: Db) -> tuple[int, int]:
    """(waiting, refused): what the agent did that the server has not confirmed yet (the
    AUTOMATIC intents left out), and every refused intent (each needs the agent, whatever
    made it)."""
    marks = ", ".join("?" * len(AUTOMATIC))
    waiting, refused = dbapi(conn).execute(
        f"SELECT count(*) FILTER (WHERE state IN (?, ?) AND name NOT IN ({marks})), "
        "count(*) FILTER (WHERE state = ?) FROM intents",
        (PENDING, APPLIED, *sorted(AUTOMATIC), REJECTED)).fetchone()
    return int(waiting), int(refused)


def mark_attempt(conn: Db, mutation_ids: list[int]) -> None:
    db = dbapi(conn)
    for start in range(0, len(mutation_ids), 500):
        chunk = mutation_ids[start:start + 500]
        db.execute(f"UPDATE intents SET attempts = attempts + 1 "
                   f"WHERE mutation_id IN ({', '.join('?' * len(chunk))})", chunk)


_MARK_REJECTED = ("UPDATE intents SET state = 'rejected', error_code = :error_code, "
                  "error_message = :error_message, settled_at = :settled_at "
                  "WHERE mutation_id = :mutation_id")
_MARK_APPLIED = ("UPDATE intents SET state = 'applied', change_seq = :change_seq, "
                 "settled_at = :settled_at WHERE mutation_id = :mutation_id")


def record_results(conn: Db, response: p.PushResponse, now_ms: int) -> tuple[int, int]:
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
                "mutation_id": result.id,
                "error_code": result.error.code.value if result.error else "rejected",
                "error_message": result.error.message if result.error else None,
                "settled_at": now_ms,
            }
        else:
            applied[result.id] = {"mutation_id": result.id,
                                  "change_seq": result.change_seq, "settled_at": now_ms}
    # One statement executed for many rows each (a statement per intent cost more than the
    # server's work on it).
    db = dbapi(conn)
    if rejected:
        db.executemany(_MARK_REJECTED, list(rejected.values()))
    if applied:
        db.executemany(_MARK_APPLIED, list(applied.values()))
    return len(applied), len(rejected)


_SETTLED = "state = ? AND (change_seq IS NULL OR change_seq <= ?)"


def settle(conn: Db, cursor: int) -> int:
    """Drop applied intents whose effect the mirror now shows (their change was pulled); the
    time the agent wrote a reply or note stays (``written_times``)."""
    db = dbapi(conn)
    db.execute(
        "INSERT OR IGNORE INTO sent_messages (message_id, written_at) "
        "SELECT json_extract(args, '$.message_id'), created_at FROM intents "
        f"WHERE {_SETTLED} AND name IN (?, ?) "
        "AND json_extract(args, '$.message_id') IS NOT NULL",
        (APPLIED, cursor, MutationName.SEND_MESSAGE.value, MutationName.ADD_NOTE.value))
    cur = db.execute(f"DELETE FROM intents WHERE {_SETTLED}", (APPLIED, cursor))
    return max(cur.rowcount, 0)


def written_times(conn: Db, message_ids: Sequence[str]) -> dict[str, int]:
    """When the agent wrote those of these messages this desk sent (epoch ms), by id."""
    db = dbapi(conn)
    out: dict[str, int] = {}
    for start in range(0, len(message_ids), 500):
        chunk = list(message_ids[start:start + 500])
        marks = ", ".join("?" * len(chunk))
        out.update(db.execute("SELECT message_id, written_at FROM sent_messages "
                              f"WHERE message_id IN ({marks})", chunk))
    return out


def retry(conn: Db, intent_id: int) -> IntentRecord:
    """Queue a rejected intent again (after the agent fixed the cause)."""
    db = dbapi(conn)
    record = _one(db, intent_id)
    if record is None or record.state != REJECTED:
        raise InvalidIntent("only a rejected intent can be retried")
    db.execute("UPDATE intents SET state = ?, mutation_id = ?, error_code = NULL, "
               "error_message = NULL, settled_at = NULL WHERE id = ?",
               (PENDING, _next_mutation_id(db), intent_id))
    record = _one(db, intent_id)
    assert record is not None
    return record


def discard(conn: Db, intent_id: int) -> None:
    """The agent gives up on a rejected intent."""
    db = dbapi(conn)
    record = _one(db, intent_id)
    if record is None:
        return
    if record.state != REJECTED:
        raise InvalidIntent("only a rejected intent can be discarded")
    db.execute("DELETE FROM intents WHERE id = ?", (intent_id,))


def start_new_client(conn: Db) -> str:
    """The server lost track of our ids (its database was reset): renumber pending intents
    from 1 under a fresh client id. Pending message ids are kept, so nothing is sent twice."""
    db = dbapi(conn)
    new = "desk-" + secrets.token_hex(12)
    _set_meta(db, "client_id", new)
    rows = [r[0] for r in db.execute("SELECT id FROM intents WHERE state = ? "
                                     "ORDER BY mutation_id", (PENDING,))]
    # Move every row out of the way first (mutation_id is unique): the new numbering starts
    # at 1 again and must not meet the old ids of applied or rejected intents. Those keep
    # unique negative ids; they only await settlement (or the agent).
    db.execute("UPDATE intents SET mutation_id = -id")
    db.executemany("UPDATE intents SET mutation_id = ? WHERE id = ?",
                   [(n, intent_id) for n, intent_id in enumerate(rows, start=1)])
    _set_meta(db, "next_mutation_id", str(len(rows) + 1))
    _set_meta(db, CLAIMED_THROUGH, "0")  # no push has carried an id of the new client yet
    return new
