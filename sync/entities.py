"""Which mirror table holds each feed entity, and how a wire payload becomes a row.

Everything here derives from the kinds declared in ``protocol.entities`` (the tables from
``sync.models``, which derives them too); adding a kind needs nothing here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Table, delete
from sqlalchemy.engine import Connection

from protocol.entities import KINDS, Type
from protocol.names import Entity
from sync import models as mm

SEARCHABLE_TABLES = frozenset(s.table for s in mm.SEARCH_INDEXES)

_dumps = orjson.dumps


@dataclass(frozen=True)
class EntitySpec:
    entity: Entity
    table: Table
    # JSON fields, with what an absent or null one is stored as: {} for a map, else [].
    json_empty: dict[str, Any]
    # On delete, also remove rows of these (table, foreign column) — e.g. a conversation's
    # messages when the agent loses sight of the conversation.
    cascade: tuple[tuple[Table, str], ...] = ()
    # Derived once: the columns in table order, the upsert statement, and each JSON field's
    # position in ``columns`` with what an absent or null one is stored as.
    columns: tuple[str, ...] = field(init=False)
    upsert_sql: str = field(init=False, repr=False)
    json_at: tuple[tuple[int, Any], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        columns = tuple(self.table.columns.keys())
        sql = (f"INSERT OR REPLACE INTO {self.table.name} ({', '.join(columns)}) "
               f"VALUES ({', '.join('?' * len(columns))})")
        if self.table.name in SEARCHABLE_TABLES:
            # An update in place keeps the rowid, so the search index (keyed by rowid) is
            # touched only when the searched text itself changes (its trigger's WHEN).
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
            sql = (f"INSERT INTO {self.table.name} ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' * len(columns))}) "
                   f"ON CONFLICT(id) DO UPDATE SET {updates}")
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "upsert_sql", sql)
        object.__setattr__(self, "json_at", tuple(
            (i, self.json_empty[c]) for i, c in enumerate(columns) if c in self.json_empty))

    def to_values(self, data: dict[str, Any]) -> tuple[Any, ...]:
        """A payload as the row's values in column order: a missing key is NULL, a JSON field
        is JSON text (an absent or null one is ``[]``, or ``{}`` for a map)."""
        return _with_json_text(list(map(data.get, self.columns)), self.json_at)

    def to_row(self, data: dict[str, Any]) -> dict[str, Any]:
        return dict(zip(self.columns, self.to_values(data), strict=True))


def _with_json_text(values: list[Any], json_at: tuple[tuple[int, Any], ...]
                    ) -> tuple[Any, ...]:
    """``values`` with each JSON field at its position made JSON text (absent or null: its
    empty value)."""
    for i, empty in json_at:
        value = values[i]
        values[i] = _dumps(value if value is not None else empty).decode()
    return tuple(values)


@functools.lru_cache(maxsize=64)
def row_converter(entity: Entity, wire_columns: tuple[str, ...]
                  ) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """For rows sent as value lists in ``wire_columns`` order (a ``format=columns`` bootstrap
    page): a function giving the row's values in table order, as ``to_values`` does for a
    payload; fields the table lacks are ignored, columns the page lacks are NULL/empty."""
    spec = SPECS[entity]
    where = {name: i for i, name in enumerate(wire_columns)}
    if not all(column in where for column in spec.columns):
        # A server without some of this table's fields: the row as a payload (rare).
        def from_payload(row: Sequence[Any]) -> tuple[Any, ...]:
            return spec.to_values(dict(zip(wire_columns, row, strict=True)))
        return from_payload
    positions = [where[column] for column in spec.columns]
    pick = itemgetter(*positions) if len(positions) > 1 else lambda row: (row[positions[0]],)

    def values(row: Sequence[Any]) -> tuple[Any, ...]:
        return _with_json_text(list(pick(row)), spec.json_at)
    return values


SPECS: dict[Entity, EntitySpec] = {
    kind.entity: EntitySpec(
        kind.entity, mm.MIRROR_TABLES[kind.entity],
        {f.name: {} if f.type is Type.TEXT_MAP else [] for f in kind.fields if f.type.is_json},
        tuple((mm.MIRROR_TABLES[child], column) for child, column in kind.children))
    for kind in KINDS
}

_BY_NAME: dict[str, Entity] = {e.value: e for e in Entity}


def entity_named(name: object) -> Entity | None:
    """The kind a wire name stands for; None for one this desk does not know."""
    return _BY_NAME.get(name) if isinstance(name, str) else None


def upsert_values(conn: Connection, entity: Entity, rows: list[tuple[Any, ...]]) -> None:
    """Insert or replace rows given as ``EntitySpec.to_values`` tuples: one driver-level
    executemany, without SQLAlchemy's per-row parameter processing (the bootstrap's hot path;
    the mirror's column types need no conversion)."""
    if rows:
        conn.exec_driver_sql(SPECS[entity].upsert_sql, rows)


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
    upserts: list[tuple[Any, ...]] = []
    deletes: list[str] = []

    def flush() -> None:
        if batch_key is None:
            return
        entity, op = batch_key
        if op == "upsert":
            upsert_values(conn, entity, upserts)
        else:
            delete_ids(conn, entity, deletes)
        upserts.clear()
        deletes.clear()

    for entity_name, entity_id, op, data in changes:
        entity = entity_named(entity_name)
        if entity is None:
            # A newer server may send kinds this desk does not know yet: skip, don't fail.
            if on_unknown:
                on_unknown(entity_name)
            continue
        key = (entity, op)
        if key != batch_key:
            flush()
            batch_key = key
        if op == "upsert" and data is not None:
            upserts.append(SPECS[entity].to_values(data))
        elif op == "delete":
            deletes.append(entity_id)
        count += 1
    flush()
    return count
