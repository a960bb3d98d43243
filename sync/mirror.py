"""Applying server pages to the mirror. Every function here runs on the store's writer thread.

Each page is applied in one transaction together with the position it leads to (the next
bootstrap page token, or the pull cursor), so a crash between fetching and applying a page
simply fetches it again, and a resumed sync continues exactly where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, select

from protocol.entities import BOOTSTRAP_ORDER
from sync import entities, fulltext, outbox
from sync.models import BOOTSTRAP_DEFERRED_INDEXES
from sync.schema import (  # noqa: F401  (sync_state keys: mirror.CURSOR…)
    AGENT_EMAIL,
    AGENT_ID,
    BOOTSTRAP_DONE,
    BOOTSTRAP_TOKEN,
    BOOTSTRAP_TOTALS,
    BOOTSTRAPPED,
    CURSOR,
    LAST_EVENT_ID,
    LAST_SYNC_AT,
    SERVER_URL,
)
from sync.store import Store, dbapi


class PageError(Exception):
    """A page that does not parse as the protocol says: treated like a truncated answer."""


@dataclass
class BootstrapProgress:
    done: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    finished: bool = False
    cursor: int | None = None

    def fraction(self) -> float:
        total = sum(self.totals.values())
        if not total:
            return 1.0 if self.finished else 0.0
        return min(1.0, sum(self.done.values()) / total)


def parse_page(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PageError("the server's page was cut off or garbled") from exc
    if not isinstance(body, dict):
        raise PageError("the server's page is not an object")
    return body


def bootstrap_state(store: Store) -> tuple[bool, str | None, BootstrapProgress]:
    with store.read_mirror() as conn:
        done = store.get_state(conn, BOOTSTRAPPED) == "1"
        token = store.get_state(conn, BOOTSTRAP_TOKEN)
        progress = BootstrapProgress(
            done=orjson.loads(store.get_state(conn, BOOTSTRAP_DONE) or "{}"),
            totals=orjson.loads(store.get_state(conn, BOOTSTRAP_TOTALS) or "{}"),
            finished=done,
        )
    return done, token, progress


@dataclass
class BootstrapPage:
    """A parsed bootstrap page: its rows already in table order, ready for the writer."""

    groups: list[tuple[str, list[tuple[Any, ...]]]]  # (entity name, rows) runs
    next_token: str | None
    cursor: int | None
    totals: dict[str, int] | None


def parse_bootstrap_page(raw: bytes) -> BootstrapPage:
    """Parse a page (either format) and convert its rows; off the writer thread, so the
    writer only writes."""
    body = parse_page(raw)
    try:
        next_token = body["next_page_token"]
        cursor = body["cursor"]
        totals = body.get("totals") or None
        groups = _groups(body)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise PageError(f"bootstrap page is malformed ({exc!r})") from None
    if next_token is not None and not isinstance(next_token, str):
        raise PageError("bootstrap page token is not text")
    if next_token is None and not isinstance(cursor, int):
        raise PageError("the last bootstrap page has no cursor")
    if totals is not None and not isinstance(totals, dict):
        raise PageError("bootstrap totals are not an object")
    return BootstrapPage(groups, next_token, cursor, totals)


def _groups(body: dict[str, Any]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    out: list[tuple[str, list[tuple[Any, ...]]]] = []
    if "groups" in body:  # format=columns
        for group in body["groups"]:
            name, rows = group["entity"], group["rows"]
            entity = entities.entity_named(name)
            if entity is not None:
                convert = entities.row_converter(entity, tuple(group["columns"]))
                rows = list(map(convert, rows))
            out.append((name, rows))
        return out
    for item in body["items"]:
        name = item["entity"]
        if not out or out[-1][0] != name:
            out.append((name, []))
        entity = entities.entity_named(name)
        data = item["data"]
        out[-1][1].append(entities.SPECS[entity].to_values(data) if entity else ())
    return out


def apply_bootstrap_page(store: Store, page: BootstrapPage
                         ) -> tuple[BootstrapProgress, str | None]:
    """Apply one parsed page; returns progress and the next page's token (None when done)."""
    next_token, cursor = page.next_token, page.cursor
    with store.write_mirror() as conn:
        totals = orjson.loads(store.get_state(conn, BOOTSTRAP_TOTALS) or "{}")
        if page.totals:
            totals = page.totals
            store.set_state(conn, BOOTSTRAP_TOTALS, orjson.dumps(totals).decode())
        done = orjson.loads(store.get_state(conn, BOOTSTRAP_DONE) or "{}")
        if not done:
            drop_deferred_indexes(conn)
        for name, rows in page.groups:
            done[name] = done.get(name, 0) + len(rows)
            entity = entities.entity_named(name)
            if entity is not None:  # a kind from a newer server: counted, not kept
                entities.upsert_values(conn, entity, rows)
        store.set_state(conn, BOOTSTRAP_DONE, orjson.dumps(done).decode())
        if next_token is None:
            create_deferred_indexes(conn)
            store.set_state(conn, CURSOR, str(cursor))
            store.set_state(conn, BOOTSTRAPPED, "1")
            store.set_state(conn, BOOTSTRAP_TOKEN, None)
        else:
            store.set_state(conn, BOOTSTRAP_TOKEN, next_token)
    progress = BootstrapProgress(done=done, totals=totals, finished=next_token is None,
                                 cursor=cursor if next_token is None else None)
    if next_token is None:
        with store.write_outbox() as oconn:
            outbox.settle(oconn, int(cursor or 0))  # (never None here: checked in parsing)
    return progress, next_token


@dataclass
class PullResult:
    applied: int
    cursor: int
    has_more: bool
    last_mutation_id: int


def apply_pull_page(store: Store, raw: bytes, expected_cursor: int) -> PullResult:
    """Apply one pull page and its cursor in one transaction, then settle the outbox."""
    body = parse_page(raw)
    try:
        changes = body["changes"]
        cursor = int(body["cursor"])
        has_more = bool(body["has_more"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PageError(f"pull page is malformed ({exc})") from None
    with store.write_mirror() as conn:
        current = int(store.get_state(conn, CURSOR) or "0")
        if current != expected_cursor:
            # Another writer (the CLI beside the desk) moved on meanwhile: drop this page.
            return PullResult(0, current, True, int(body.get("last_mutation_id") or 0))
        applied = entities.apply_changes(
            conn,
            ((c["entity"], c["id"], c["op"], c.get("data")) for c in changes
             if c["seq"] > current),
        )
        store.set_state(conn, CURSOR, str(max(cursor, current)))
    with store.write_outbox() as oconn:
        outbox.settle(oconn, cursor)
    return PullResult(applied, max(cursor, current), has_more,
                      int(body.get("last_mutation_id") or 0))


def drop_deferred_indexes(conn: Connection) -> None:
    """Before the first page of a bootstrap: the bulk tables fill without index upkeep
    (the inbox's indexes, the search indexes' triggers; the full-text index is emptied)."""
    for index in BOOTSTRAP_DEFERRED_INDEXES:
        index.drop(conn, checkfirst=True)
    fulltext.suspend(dbapi(conn))


def create_deferred_indexes(conn: Connection) -> None:
    """With the last bootstrap page (same transaction), so a bootstrapped mirror has them:
    the full-text index is built here once, from every row, and its triggers keep it."""
    for index in BOOTSTRAP_DEFERRED_INDEXES:
        index.create(conn, checkfirst=True)
    fulltext.build(dbapi(conn))


def get_cursor(store: Store) -> int:
    return int(store.read_state(CURSOR) or "0")


def clear_mirror(store: Store) -> None:
    """Forget all server data (410 / reset-cache) but keep who we are; the outbox stays."""
    with store.write_mirror() as conn:
        drop_deferred_indexes(conn)  # the next bootstrap builds them once at its end
        for spec in entities.SPECS.values():
            conn.execute(delete(spec.table))
        for key in (CURSOR, BOOTSTRAPPED, BOOTSTRAP_TOKEN, BOOTSTRAP_TOTALS, BOOTSTRAP_DONE,
                    LAST_EVENT_ID):
            store.set_state(conn, key, None)


def entity_counts(conn: Connection) -> dict[str, int]:
    out = {}
    for entity in BOOTSTRAP_ORDER:
        table = entities.SPECS[entity].table
        out[entity.value] = int(conn.execute(select(func.count()).select_from(table)).scalar()
                                or 0)
    return out

