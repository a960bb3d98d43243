"""The change feed: recording changes, and reading them back per agent (pull).

Ordering guarantee: a transaction appends its changes as its last step, after incrementing
the single ``feed_head`` row. That row lock makes feed writers commit in sequence order, so a
reader that sees seq N also sees every seq below N. A pull reads the head first and only
returns changes up to it, so a change can never be skipped by a later-numbered one that
committed first.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from server import models as m

PUBLIC = "public"
SCOPED = "scoped"
DIRECT = "direct"

# A pull looks at no more than this many sequence positions, so an agent who can see little
# of a busy feed gets quick answers (with has_more) instead of one long scan.
SCAN_WINDOW = 50_000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Viewer:
    """The signed-in agent a request acts for."""

    agent_id: str
    role: str
    team_ids: frozenset[str]

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def can_see(self, team_id: str | None, assignee_id: str | None) -> bool:
        return (
            self.is_supervisor
            or (team_id is not None and team_id in self.team_ids)
            or (assignee_id is not None and assignee_id == self.agent_id)
        )


@dataclass
class _Pending:
    entity: str
    entity_id: str
    op: str
    audience: str
    team_id: str | None
    agent_id: str | None
    data: str | None


@dataclass
class ChangeBuffer:
    """Collects one transaction's changes; ``flush`` numbers and writes them."""

    session: Session
    is_postgres: bool = False
    rows: list[_Pending] = field(default_factory=list)

    def upsert(
        self,
        entity: str,
        entity_id: str,
        data: dict[str, Any],
        *,
        audience: str,
        team_id: str | None = None,
        agent_id: str | None = None,
    ) -> None:
        self.rows.append(
            _Pending(entity, entity_id, "upsert", audience, team_id, agent_id,
                     orjson.dumps(data).decode())
        )

    def delete(
        self,
        entity: str,
        entity_id: str,
        *,
        audience: str,
        team_id: str | None = None,
        agent_id: str | None = None,
    ) -> None:
        self.rows.append(_Pending(entity, entity_id, "delete", audience, team_id, agent_id, None))

    def mark(self) -> int:
        """A position to roll back to when a savepoint is rolled back."""
        return len(self.rows)

    def rollback_to(self, mark: int) -> None:
        del self.rows[mark:]

    def flush(self) -> int | None:
        """Assign sequence numbers and insert; returns the last seq, or None if nothing."""
        if not self.rows:
            return None
        n = len(self.rows)
        head = self.session.execute(
            update(m.FeedHead)
            .where(m.FeedHead.id == 1)
            .values(seq=m.FeedHead.seq + n)
            .returning(m.FeedHead.seq)
        ).scalar_one()
        first = head - n + 1
        created = now_ms()
        self.session.connection().execute(
            insert(m.ChangeRow.__table__),
            [
                {
                    "seq": first + i,
                    "entity": r.entity,
                    "entity_id": r.entity_id,
                    "op": r.op,
                    "audience": r.audience,
                    "team_id": r.team_id,
                    "agent_id": r.agent_id,
                    "data": r.data,
                    "created_at": created,
                }
                for i, r in enumerate(self.rows)
            ],
        )
        if self.is_postgres:
            # Delivered at commit, to every server process listening (SSE fan-out).
            self.session.execute(select(func.pg_notify("relaydesk_changes", str(head))))
        self.rows.clear()
        return head


def visible_clause(viewer: Viewer) -> Any:
    direct = and_(m.ChangeRow.audience == DIRECT, m.ChangeRow.agent_id == viewer.agent_id)
    if viewer.is_supervisor:
        return or_(m.ChangeRow.audience.in_((PUBLIC, SCOPED)), direct)
    scoped_match = [m.ChangeRow.agent_id == viewer.agent_id]
    if viewer.team_ids:
        scoped_match.append(m.ChangeRow.team_id.in_(sorted(viewer.team_ids)))
    return or_(
        m.ChangeRow.audience == PUBLIC,
        and_(m.ChangeRow.audience == SCOPED, or_(*scoped_match)),
        direct,
    )


def read_head(session: Session) -> tuple[int, int]:
    """(head seq, pruned_through) — read before the changes themselves."""
    row = session.execute(select(m.FeedHead.seq, m.FeedHead.pruned_through)).one()
    return int(row[0]), int(row[1])


class ResyncRequired(Exception):
    """The cursor cannot be continued: the client must bootstrap again."""


@dataclass
class PullPage:
    rows: list[tuple[int, str, str, str, str | None]]
    cursor: int
    has_more: bool


def pull(session: Session, viewer: Viewer, cursor: int, limit: int, resync_before: int) -> PullPage:
    head, pruned = read_head(session)
    if cursor < pruned or cursor < resync_before or cursor > head:
        raise ResyncRequired
    upper = min(head, cursor + SCAN_WINDOW)
    result = session.connection().execute(
        select(
            m.ChangeRow.seq, m.ChangeRow.entity, m.ChangeRow.entity_id, m.ChangeRow.op,
            m.ChangeRow.data,
        )
        .where(m.ChangeRow.seq > cursor, m.ChangeRow.seq <= upper, visible_clause(viewer))
        .order_by(m.ChangeRow.seq)
        .limit(limit)
    )
    try:
        # The driver's own tuples: these integers and strings need no result processing, and
        # skipping SQLAlchemy's row objects saves about a third of a pull's time.
        rows: list[tuple[int, str, str, str, str | None]] = list(result.cursor.fetchall())
    finally:
        result.close()
    if read_head(session)[1] > cursor:
        # PostgreSQL reads each statement at a new snapshot: a prune that committed after the
        # head was read may have removed rows this page should have had.
        raise ResyncRequired
    new_cursor = int(rows[-1][0]) if len(rows) == limit else upper
    return PullPage(
        rows=_last_per_entity(rows),
        cursor=new_cursor,
        has_more=new_cursor < head,
    )


def _last_per_entity(
    rows: list[tuple[int, str, str, str, str | None]],
) -> list[tuple[int, str, str, str, str | None]]:
    """Drop changes superseded later in the same page (one entity, several rows)."""
    last: dict[tuple[str, str], int] = {}
    for i, r in enumerate(rows):
        last[(r[1], r[2])] = i
    if len(last) == len(rows):
        return rows
    return [r for i, r in enumerate(rows) if last[(r[1], r[2])] == i]


def encode_changes(rows: Iterable[tuple[int, str, str, str, str | None]]) -> bytes:
    """JSON array of changes, splicing the stored payload text without re-parsing it."""
    parts = [
        b'{"seq":%d,"entity":"%s","id":%s,"op":"%s","data":%s}'
        % (seq, entity.encode(), orjson.dumps(eid), op.encode(),
           data.encode() if data is not None else b"null")
        for seq, entity, eid, op, data in rows
    ]
    return b"[" + b",".join(parts) + b"]"


def latest_visible_seq(session: Session, viewer: Viewer, after: int, upto: int) -> int | None:
    """The newest change in (after, upto] this viewer can see, for server-sent pokes."""
    if upto <= after:
        return None
    return session.scalar(
        select(func.max(m.ChangeRow.seq)).where(
            m.ChangeRow.seq > after, m.ChangeRow.seq <= upto, visible_clause(viewer)
        )
    )
