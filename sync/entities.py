"""Which mirror table holds each feed entity, and how a wire payload becomes a row.

Adding an entity kind: a model in ``sync/models.py``, a migration, and one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Table, delete, insert
from sqlalchemy.engine import Connection

from sync import models as mm
from sync.protocol import Entity


@dataclass(frozen=True)
class EntitySpec:
    entity: Entity
    table: Table
    json_fields: frozenset[str]
    # On delete, also remove rows of these (table, foreign column) — e.g. a conversation's
    # messages when the agent loses sight of the conversation.
    cascade: tuple[tuple[Table, str], ...] = ()

    def to_row(self, data: dict[str, Any]) -> dict[str, Any]:
        row = {}
        for col in self.table.columns.keys():  # noqa: SIM118 (ColumnCollection)
            value = data.get(col)
            if col in self.json_fields:
                value = orjson.dumps(value if value is not None else self._empty(col)).decode()
            row[col] = value
        return row

    def _empty(self, col: str) -> Any:
        return {} if col == "attributes" else []


def _spec(entity: Entity, model: type, json_fields: Iterable[str] = (),
          cascade: tuple[tuple[Table, str], ...] = ()) -> EntitySpec:
    return EntitySpec(entity, model.__table__, frozenset(json_fields), cascade)  # type: ignore[attr-defined]


SPECS: dict[Entity, EntitySpec] = {
    s.entity: s
    for s in (
        _spec(Entity.TEAM, mm.Team),
        _spec(Entity.AGENT, mm.Agent, ["team_ids"]),
        _spec(Entity.CHANNEL, mm.Channel),
        _spec(Entity.TAG, mm.Tag),
        _spec(Entity.TEMPLATE, mm.Template),
        _spec(Entity.CANNED_REPLY, mm.CannedReply),
        _spec(Entity.CONTACT, mm.Contact, ["identities", "attributes"]),
        _spec(Entity.CONVERSATION, mm.Conversation, ["tags"],
              cascade=((mm.Message.__table__, "conversation_id"),)),
        _spec(Entity.MESSAGE, mm.Message, ["mentions"]),
    )
}


def upsert_rows(conn: Connection, entity: Entity, rows: list[dict[str, Any]]) -> None:
    """Insert or replace rows of one entity kind (executemany)."""
    if rows:
        conn.execute(insert(SPECS[entity].table).prefix_with("OR REPLACE"), rows)


def delete_ids(conn: Connection, entity: Entity, ids: list[str]) -> None:
    spec = SPECS[entity]
    if not ids:
        return
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        conn.execute(delete(spec.table).where(spec.table.c.id.in_(chunk)))
        for child, column in spec.cascade:
            conn.execute(delete(child).where(child.c[column].in_(chunk)))


def apply_changes(conn: Connection, changes: Iterable[tuple[str, str, str, dict | None]],
                  on_unknown: Callable[[str], None] | None = None) -> int:
    """Apply (entity, id, op, data) in order, batching runs of the same kind and op.

    Within one page a later change of the same row wins, so replaying a page (or one with
    duplicates) is harmless.
    """
    count = 0
    batch_key: tuple[Entity, str] | None = None
    upserts: list[dict[str, Any]] = []
    deletes: list[str] = []

    def flush() -> None:
        if batch_key is None:
            return
        entity, op = batch_key
        if op == "upsert":
            upsert_rows(conn, entity, upserts)
        else:
            delete_ids(conn, entity, deletes)
        upserts.clear()
        deletes.clear()

    for entity_name, entity_id, op, data in changes:
        try:
            entity = Entity(entity_name)
        except ValueError:
            # A newer server may send kinds this desk does not know yet: skip, don't fail.
            if on_unknown:
                on_unknown(entity_name)
            continue
        key = (entity, op)
        if key != batch_key:
            flush()
            batch_key = key
        if op == "upsert" and data is not None:
            upserts.append(SPECS[entity].to_row(data))
        elif op == "delete":
            deletes.append(entity_id)
        count += 1
    flush()
    return count
