"""What the desk reads: inbox views, conversation rows, threads, contacts, reference data.

Plain functions over a Store's reader connections (call them off the GUI thread, e.g. through
``Store.run_read``), returning frozen dataclasses: widgets never see a connection or a row.
They read through plain ``sqlite3`` (``Store.read_db``): the desk's first screen is read
without loading SQLAlchemy.

Every answer is the overlay's: mirror rows with the agent's unconfirmed intents laid over,
so a conversation assigned to me offline is in "Mine" at once.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import orjson

from protocol.rules import WindowState
from sync import outbox, overlay, schema, search
from sync.domain import conversation_window
from sync.outbox import IntentRecord
from sync.store import Store

PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
ACTIVE_STATUSES = ("open", "pending")
ALL_STATUSES = ("open", "pending", "snoozed", "resolved")
T = TypeVar("T")


# --------------------------------------------------------------------------- filters


class Sort(StrEnum):
    LAST_ACTIVITY = "last_activity"  # newest activity first
    WAITING = "waiting"  # the customer waiting longest first (oldest unanswered inbound)
    PRIORITY = "priority"  # urgent first, then newest activity


@dataclass(frozen=True)
class InboxFilter:
    """One inbox view. ``None`` fields do not filter. ``assignee`` is "me", "none" or an id."""

    assignee: str | None = None
    team_id: str | None = None
    channel_id: str | None = None
    statuses: tuple[str, ...] | None = ACTIVE_STATUSES
    tag: str | None = None
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"assignee": self.assignee, "team_id": self.team_id,
                "channel_id": self.channel_id,
                "statuses": list(self.statuses) if self.statuses is not None else None,
                "tag": self.tag, "text": self.text}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> InboxFilter:
        statuses = raw.get("statuses")
        return cls(assignee=raw.get("assignee"), team_id=raw.get("team_id"),
                   channel_id=raw.get("channel_id"),
                   statuses=tuple(statuses) if statuses is not None else None,
                   tag=raw.get("tag"), text=raw.get("text") or "")


def matches(flt: InboxFilter, row: dict[str, Any], contact_name: str, me: str | None) -> bool:
    """The same filter as the SQL, for rows the overlay changed (same semantics)."""
    if flt.assignee == "me" and (me is None or row.get("assignee_id") != me):
        return False
    if flt.assignee == "none" and row.get("assignee_id") is not None:
        return False
    if flt.assignee not in (None, "me", "none") and row.get("assignee_id") != flt.assignee:
        return False
    if flt.team_id and row.get("team_id") != flt.team_id:
        return False
    if flt.channel_id and row.get("channel_id") != flt.channel_id:
        return False
    if flt.statuses is not None and row.get("status") not in flt.statuses:
        return False
    if flt.tag and flt.tag not in (row.get("tags") or []):
        return False
    q = flt.text.strip()
    if not q:
        return True
    # Case folded as the SQL's search folds (FTS5's table), not as str.casefold() does.
    q = search.fold(q)
    return any(q in search.fold(v or "")
               for v in (row.get("subject"), row.get("preview"), contact_name))


def _sort_key(sort: Sort, row: dict[str, Any]) -> tuple[Any, ...]:
    """``_ORDER_SQL`` in Python, for one row (a time of 0 is a time, as for COALESCE)."""
    if sort is Sort.WAITING:
        waiting = row.get("sla_due_at") is not None or (row.get("unread_count") or 0) > 0
        inbound = row.get("last_inbound_at")
        return (0 if waiting else 1, row["last_activity_at"] if inbound is None else inbound,
                row["id"])
    if sort is Sort.PRIORITY:
        return (PRIORITY_RANK.get(row.get("priority") or "normal", 2),
                -row["last_activity_at"], row["id"])
    return (-row["last_activity_at"], row["id"])


# The ORDER BY of each sort: the very expressions of the inbox indexes (sync/models.py), so
# SQLite walks an index in order instead of sorting.
_ORDER_SQL = {sort: ", ".join((*schema.SORT_TERMS[sort.value], "id")) for sort in Sort}

_KEY_COLUMNS = "id, last_activity_at, last_inbound_at, sla_due_at, unread_count, priority"

class Interrupted(Exception):
    """A read stopped by ``Interrupt.interrupt()``."""


class Interrupt:
    """Lets another thread stop a long read that nobody wants any more (an inbox view the
    agent has already left): the read's statement is interrupted and it raises Interrupted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._stopped = False

    def interrupt(self) -> None:
        with self._lock:
            self._stopped = True
            if self._db is not None:
                self._db.interrupt()  # sqlite3_interrupt: safe from any thread

    @contextlib.contextmanager
    def watching(self, db: sqlite3.Connection) -> Iterator[None]:
        with self._lock:
            if self._stopped:
                raise Interrupted
            self._db = db
        try:
            yield
        except sqlite3.OperationalError as exc:
            if self._stopped and "interrupt" in str(exc):
                raise Interrupted from exc
            raise
        finally:
            with self._lock:
                self._db = None


def _live_by_conversation(store: Store) -> dict[str, list[IntentRecord]]:
    with store.read_db("outbox") as db:
        intents = outbox.unsettled(db)
    out: dict[str, list[IntentRecord]] = {}
    for intent in intents:
        if intent.conversation_id:
            out.setdefault(intent.conversation_id, []).append(intent)
    return out


def _live_intents(store: Store) -> dict[str, list[IntentRecord]]:
    """The conversations the agent's unconfirmed (not refused) intents change, with them."""
    return {cid: ints for cid, ints in _live_by_conversation(store).items()
            if any(i.state != outbox.REJECTED for i in ints)}


def _dicts(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def _view_sql(db: sqlite3.Connection, flt: InboxFilter, sort: Sort, me: str | None,
              first_rows: bool = False, count: bool = False,
              among: Sequence[str] | None = None) -> tuple[str, dict[str, Any]]:
    """One SELECT of the view's ids in order, shaped so SQLite answers it from one index
    walk (see the inbox indexes in sync/models.py): the active conversations (open, pending)
    and the others have partial indexes of their own, each in each sort's order.
    ``first_rows``: only the first rows will be read (a search then tests rows as the walk
    goes); ``count``: SELECT count(*) instead, in no order; ``among``: only these ids."""
    where: list[str] = []
    params: dict[str, Any] = {}
    hint = ""
    default_order = sort is Sort.LAST_ACTIVITY
    statuses = flt.statuses
    if statuses is not None:
        wanted = set(statuses)
        if wanted and wanted <= set(ACTIVE_STATUSES):
            where.append(schema.ACTIVE_WHERE)
        elif wanted and not wanted & set(ACTIVE_STATUSES):
            where.append(schema.INACTIVE_WHERE)
        if wanted != set(ACTIVE_STATUSES):
            names = [f":st{i}" for i in range(len(statuses))]
            where.append(f"status IN ({', '.join(names) or 'NULL'})")
            params.update({f"st{i}": s for i, s in enumerate(statuses)})
    if flt.assignee == "me":
        where.append("assignee_id = :assignee")
        params["assignee"] = me or ""
    elif flt.assignee == "none":
        where.append("assignee_id IS NULL")
    elif flt.assignee:
        where.append("assignee_id = :assignee")
        params["assignee"] = flt.assignee
    # A team's or channel's own index is in last-activity order; in the other orders the
    # filtered walk of the all-active index beats reading the team's rows and sorting them
    # ("+" keeps SQLite from choosing the team index there).
    plus = "" if default_order else "+"
    if flt.team_id:
        where.append(f"{plus}team_id = :team")
        params["team"] = flt.team_id
    if flt.channel_id:
        where.append(f"{plus}channel_id = :channel")
        params["channel"] = flt.channel_id
    if flt.tag:
        # Candidates by a substring test of the JSON text (a row with the tag contains it
        # quoted, unless its JSON escapes something: those are checked too), then exactly.
        params["tag"] = flt.tag
        params["tag_json"] = orjson.dumps(flt.tag).decode()
        where.append("(instr(tags, :tag_json) > 0 OR instr(tags, '\\') > 0) AND EXISTS "
                     "(SELECT 1 FROM json_each(conversations.tags) j WHERE j.value = :tag)")
        if where[0] == schema.ACTIVE_WHERE and not flt.assignee:
            # The tagged conversations are few: their own small index, then a sort.
            where.insert(1, schema.TAGGED_WHERE)
            hint = "INDEXED BY ix_conversations_tagged"
    q = flt.text.strip()
    if q:
        found = search.text_condition(db, q, params, first_rows=first_rows)
        if found == search.NO_ROW:  # SQLite has no plan for WHERE 0 along a forced index
            hint = ""
        where.append(found)
    if among is not None:
        where.append(f"id IN ({', '.join(f':among{n}' for n in range(len(among))) or 'NULL'})")
        params.update({f"among{n}": cid for n, cid in enumerate(among)})
    if count:
        return (f"SELECT count(*) FROM conversations {hint} "
                f"WHERE {' AND '.join(where) or '1'}"), params
    sql = (f"SELECT id FROM conversations {hint} WHERE {' AND '.join(where) or '1'} "
           f"ORDER BY {_ORDER_SQL[sort]}")
    return sql, params


def _fetch_ids(db: sqlite3.Connection, sql: str, params: dict[str, Any], limit: int | None
               ) -> list[str]:
    """The ids as one string from one step of SQLite, split in Python. Row by row, the
    reader thread takes the GIL back after every row: with the GUI thread busy painting,
    that made 60,000 ids take over a second instead of ~30 ms. (SQLite keeps a subquery's
    ORDER BY under group_concat(); the tests check the order of every view.)"""
    if limit is not None:
        sql = f"{sql} LIMIT {int(limit)}"
    count, joined = db.execute(
        f"SELECT count(*), group_concat(id, char(31)) FROM ({sql})", params).fetchone()
    ids = joined.split("\x1f") if joined else []
    if len(ids) != count:  # an id with a unit separator in it (no server makes those)
        return [r[0] for r in db.execute(sql, params)]
    return ids


def _view_ids(db: sqlite3.Connection, flt: InboxFilter, sort: Sort, me: str | None,
              limit: int | None) -> list[str]:
    sql, params = _view_sql(db, flt, sort, me, first_rows=limit is not None)
    return _unhinted(lambda s: _fetch_ids(db, s, params, limit), sql)


def _unhinted(run: Callable[[str], T], sql: str) -> T:
    try:
        return run(sql)
    except sqlite3.OperationalError as exc:
        if "no such index" not in str(exc):
            raise
    # A first bootstrap drops the inbox indexes until its end: the same view, slower.
    return run(sql.replace("INDEXED BY ix_conversations_tagged", ""))


def view_query_plan(store: Store, flt: InboxFilter, sort: Sort = Sort.LAST_ACTIVITY,
                    me: str | None = None) -> list[str]:
    """SQLite's plan for one view's id query, one line per step (EXPLAIN QUERY PLAN): for
    diagnostics, and the tests that keep every view a walk along an index."""
    with store.read_db("mirror") as db:
        sql, params = _view_sql(db, flt, sort, me)
        return [str(r[3]) for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def conversation_ids(store: Store, flt: InboxFilter, sort: Sort = Sort.LAST_ACTIVITY,
                     me: str | None = None, limit: int | None = None,
                     interrupt: Interrupt | None = None) -> list[str]:
    """The ids of one view, in order (only the first ``limit`` when given: a quick first
    screen before the whole list). Conversations with unconfirmed intents are decided on
    their overlaid values (a handful), the rest by one SQL query along an index.
    ``interrupt``: another thread may stop the query (it then raises Interrupted)."""
    live = _live_intents(store)
    with store.read_db("mirror") as db:
        # With a limit, enough rows that dropping the overlaid ones still leaves ``limit``.
        with interrupt.watching(db) if interrupt is not None else contextlib.nullcontext():
            ids = _view_ids(db, flt, sort, me, None if limit is None else limit + len(live))
        if not live:
            return ids
        changed = _raw_conversations(db, list(live))
    extra: list[dict[str, Any]] = []
    for cid, raw in changed.items():
        over = overlay.apply_to_conversation(raw, live[cid])
        if matches(flt, over, raw.get("contact_name") or "", me):
            extra.append(over)
    keep = [i for i in ids if i not in live]
    out = _merge_sorted(store, keep, extra, sort) if extra else keep
    return out if limit is None else out[:limit]


def conversation_count(store: Store, flt: InboxFilter, me: str | None = None) -> int:
    """How many conversations one view holds (``len(conversation_ids(...))``) by counting
    along the view's index, without reading the ids."""
    live = _live_intents(store)
    with store.read_db("mirror") as db:

        def count(among: Sequence[str] | None) -> int:
            sql, params = _view_sql(db, flt, Sort.LAST_ACTIVITY, me, count=True, among=among)
            return int(_unhinted(lambda s: db.execute(s, params).fetchone()[0], sql))

        total = count(None)
        if not live:
            return total
        # The overlaid conversations count as their overlaid values say, not as the mirror's.
        total -= count(list(live))
        changed = _raw_conversations(db, list(live))
    return total + sum(
        1 for cid, raw in changed.items()
        if matches(flt, overlay.apply_to_conversation(raw, live[cid]),
                   raw.get("contact_name") or "", me))


def _merge_sorted(store: Store, keep: list[str], extra: list[dict[str, Any]], sort: Sort
                  ) -> list[str]:
    """Insert a few overlaid rows into an ordered id list: a binary search per row, each
    probe reading one row's sort key (a handful of reads, not the whole list)."""
    extra.sort(key=lambda r: _sort_key(sort, r))
    names = _KEY_COLUMNS.split(", ")
    with store.read_db("mirror") as db:

        @functools.cache
        def key_of(cid: str) -> tuple[Any, ...]:
            row = db.execute(f"SELECT {_KEY_COLUMNS} FROM conversations WHERE id = ?",
                             (cid,)).fetchone()
            return _sort_key(sort, dict(zip(names, row, strict=True)))

        positions = [bisect.bisect_left(keep, _sort_key(sort, row), key=key_of)
                     for row in extra]
    out = list(keep)
    for offset, (pos, row) in enumerate(zip(positions, extra, strict=True)):
        out.insert(pos + offset, row["id"])
    return out


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class ConversationRow:
    id: str
    channel_id: str
    channel_type: str
    channel_name: str
    contact_id: str
    contact_name: str
    team_id: str
    team_name: str
    assignee_id: str | None
    assignee_name: str | None
    subject: str | None
    preview: str
    status: str
    snoozed_until: int | None
    priority: str
    tags: tuple[str, ...]
    unread_count: int
    last_activity_at: int
    last_inbound_at: int | None
    sla_due_at: int | None
    created_at: int
    window: WindowState
    pending_intents: int = 0  # unconfirmed changes the agent made to it
    failed_intents: int = 0  # rejected ones, waiting for Retry or Discard
    contact_locale: str | None = None  # the customer's language ("ja", "en-GB"), if known


_ROW_SQL = """
SELECT c.*, k.name AS contact_name, k.identities AS contact_identities,
       k.locale AS contact_locale, ch.name AS channel_name, t.name AS team_name
FROM conversations c
LEFT JOIN contacts k ON k.id = c.contact_id
LEFT JOIN channels ch ON ch.id = c.channel_id
LEFT JOIN teams t ON t.id = c.team_id
"""


def _raw_conversations(db: sqlite3.Connection, ids: Sequence[str]
                       ) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        marks = ", ".join("?" * len(chunk))
        for row in _dicts(db.execute(f"{_ROW_SQL} WHERE c.id IN ({marks})", chunk)):
            out[row["id"]] = row
    return out


def _agent_names(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT id, name FROM agents"))


def _to_row(raw: dict[str, Any], intents: list[IntentRecord], names: dict[str, str],
            team_names: dict[str, str], now_ms: int) -> ConversationRow:
    over = overlay.apply_to_conversation(raw, intents)
    contact = {"identities": raw.get("contact_identities") or "[]"}
    assignee = over.get("assignee_id")
    return ConversationRow(
        id=over["id"], channel_id=over["channel_id"], channel_type=over["channel_type"],
        channel_name=raw.get("channel_name") or over["channel_type"],
        contact_id=over["contact_id"], contact_name=raw.get("contact_name") or "",
        team_id=over["team_id"],
        team_name=team_names.get(over["team_id"]) or raw.get("team_name") or "",
        assignee_id=assignee, assignee_name=names.get(assignee) if assignee else None,
        subject=over.get("subject"), preview=over.get("preview") or "",
        status=over["status"], snoozed_until=over.get("snoozed_until"),
        priority=over["priority"], tags=tuple(over["tags"]),
        unread_count=int(over.get("unread_count") or 0),
        last_activity_at=int(over["last_activity_at"]),
        last_inbound_at=over.get("last_inbound_at"), sla_due_at=over.get("sla_due_at"),
        created_at=int(over["created_at"]),
        window=conversation_window(over, contact, now_ms),
        pending_intents=int(over.get("pending_intents") or 0),
        failed_intents=sum(1 for i in intents if i.state == outbox.REJECTED),
        contact_locale=raw.get("contact_locale"),
    )


def conversation_rows(store: Store, ids: Sequence[str], now_ms: int
                      ) -> dict[str, ConversationRow]:
    """Rows for these ids (missing ids are simply absent: deleted or moved away)."""
    live = _live_by_conversation(store)
    with store.read_db("mirror") as db:
        raws = _raw_conversations(db, ids)
        names = _agent_names(db)
        teams = dict(db.execute("SELECT id, name FROM teams"))
    return {cid: _to_row(raw, live.get(cid, []), names, teams, now_ms)
            for cid, raw in raws.items()}


# --------------------------------------------------------------------------- navigation


@dataclass(frozen=True)
class NavCounts:
    """Active (open + pending) conversations per view; statuses count every status."""

    mine: int = 0
    unassigned: int = 0
    all: int = 0
    teams: dict[str, int] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)


def _tally(counts: dict[str, Any], row: dict[str, Any], me: str | None, sign: int) -> None:
    """Add (``sign`` 1) or take out (-1) one conversation's part in the navigation counts."""
    def bump(group: str, key: str) -> None:
        counts[group][key] = counts[group].get(key, 0) + sign

    bump("statuses", row["status"])
    if row["status"] not in ACTIVE_STATUSES:
        return
    counts["all"] += sign
    if me is not None and row.get("assignee_id") == me:
        counts["mine"] += sign
    if row.get("assignee_id") is None:
        counts["unassigned"] += sign
    bump("teams", row["team_id"])
    bump("channels", row["channel_id"])
    tags = row.get("tags") or []
    for tag in set(orjson.loads(tags) if isinstance(tags, str | bytes) else tags):
        if isinstance(tag, str):
            bump("tags", tag)


def nav_counts(store: Store, me: str | None) -> NavCounts:
    """Counts as the views show them: from the mirror, each walking one small index in its
    order, with the conversations the agent's unconfirmed intents change (a handful)
    counted by their overlaid values, as ``conversation_ids`` lists them."""
    live = _live_intents(store)
    active, inactive = schema.ACTIVE_WHERE, schema.INACTIVE_WHERE
    with store.read_db("mirror") as db:

        def one(sql: str, *args: Any) -> int:
            return int(db.execute(sql, args).fetchone()[0] or 0)

        mine = one(f"SELECT count(*) FROM conversations WHERE assignee_id = ? AND {active}",
                   me or "")
        unassigned = one(
            f"SELECT count(*) FROM conversations WHERE assignee_id IS NULL AND {active}")
        teams = dict(db.execute(f"SELECT team_id, count(*) FROM conversations WHERE {active} "
                                "GROUP BY team_id").fetchall())
        channels = dict(db.execute(f"SELECT channel_id, count(*) FROM conversations "
                                   f"WHERE {active} GROUP BY channel_id").fetchall())
        total = sum(teams.values())  # team_id is never NULL: every active row is in a team
        is_open = one(f"SELECT count(*) FROM conversations WHERE {active} AND status = 'open'")
        statuses = {s: n for s, n in (("open", is_open), ("pending", total - is_open)) if n}
        statuses.update(db.execute(f"SELECT status, count(*) FROM conversations "
                                   f"WHERE {inactive} GROUP BY status").fetchall())
        tags: dict[str, int] = {}
        for raw, n in db.execute(f"SELECT tags, count(*) FROM conversations "
                                 f"WHERE {active} AND {schema.TAGGED_WHERE} GROUP BY tags"):
            for tag in set(orjson.loads(raw or "[]")):
                if isinstance(tag, str):
                    tags[tag] = tags.get(tag, 0) + n
        changed = _raw_conversations(db, list(live)) if live else {}
    if not changed:
        return NavCounts(mine=mine, unassigned=unassigned, all=total, teams=teams,
                         channels=channels, statuses=statuses, tags=tags)
    counts: dict[str, Any] = {"mine": mine, "unassigned": unassigned, "all": total,
                              "teams": teams, "channels": channels, "statuses": statuses,
                              "tags": tags}
    for cid, raw in changed.items():
        _tally(counts, raw, me, -1)
        _tally(counts, overlay.apply_to_conversation(raw, live[cid]), me, 1)
    for group in ("teams", "channels", "statuses", "tags"):
        counts[group] = {k: n for k, n in counts[group].items() if n > 0}
    return NavCounts(**counts)


# --------------------------------------------------------------------------- reference data


@dataclass(frozen=True)
class AgentInfo:
    id: str
    name: str
    email: str
    role: str
    team_ids: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class Named:
    id: str
    name: str
    kind: str = ""  # a channel's type, a tag's colour


@dataclass(frozen=True)
class CannedReplyInfo:
    id: str
    shortcut: str
    title: str
    body: str
    team_id: str | None
    locale: str | None = None  # the language it is written in; None: any


@dataclass(frozen=True)
class TemplateInfo:
    id: str
    name: str
    channel_type: str
    locale: str
    body: str


@dataclass(frozen=True)
class Directory:
    """The small tables: who, which teams, channels, tags, canned replies and templates."""

    agents: tuple[AgentInfo, ...] = ()
    teams: tuple[Named, ...] = ()
    channels: tuple[Named, ...] = ()
    tags: tuple[Named, ...] = ()
    canned_replies: tuple[CannedReplyInfo, ...] = ()
    templates: tuple[TemplateInfo, ...] = ()

    def agent(self, agent_id: str | None) -> AgentInfo | None:
        return next((a for a in self.agents if a.id == agent_id), None)


def directory(store: Store) -> Directory:
    with store.read_db("mirror") as db:
        agents = tuple(
            AgentInfo(id_, name, email, role, tuple(orjson.loads(team_ids or "[]")),
                      bool(active))
            for id_, name, email, role, team_ids, active in db.execute(
                "SELECT id, name, email, role, team_ids, active FROM agents ORDER BY name"))
        teams = tuple(Named(*r) for r in db.execute("SELECT id, name FROM teams ORDER BY name"))
        channels = tuple(Named(*r) for r in db.execute(
            "SELECT id, name, type FROM channels ORDER BY name"))
        tags = tuple(Named(*r) for r in db.execute(
            "SELECT id, name, color FROM tags ORDER BY name"))
        canned = tuple(CannedReplyInfo(*r) for r in db.execute(
            "SELECT id, shortcut, title, body, team_id, locale FROM canned_replies "
            "ORDER BY shortcut"))
        templates = tuple(TemplateInfo(*r) for r in db.execute(
            "SELECT id, name, channel_type, locale, body FROM templates ORDER BY name"))
    return Directory(agents, teams, channels, tags, canned, templates)


# --------------------------------------------------------------------------- thread


@dataclass(frozen=True)
class ThreadPage:
    items: tuple[overlay.ThreadItem, ...]
    has_older: bool  # more history before the first item


def thread_page(store: Store, conversation_id: str, me: str | None, limit: int = 200,
                before: tuple[int, str] | None = None, now_ms: int | None = None
                ) -> ThreadPage:
    """The newest ``limit`` messages (or those before ``before`` = (created_at, id) of an
    item a page gave), with the agent's unconfirmed replies and notes laid over (only on
    the newest page) and their own messages at the time they wrote them; a refused one
    says whether Retry can get it through (its window at ``now_ms``, else now)."""
    params: dict[str, Any] = {"cid": conversation_id, "limit": limit + 1}
    cond = ""
    with store.read_db("mirror") as db:
        if before is not None:
            # The item may show the agent's time: pages are cut at the server's.
            stored = db.execute("SELECT created_at FROM messages WHERE id = ?",
                                (before[1],)).fetchone()
            cond = "AND (created_at < :bt OR (created_at = :bt AND id < :bid))"
            params.update(bt=stored[0] if stored else before[0], bid=before[1])
        rows = list(_dicts(db.execute(
            f"SELECT * FROM messages WHERE conversation_id = :cid {cond} "
            "ORDER BY created_at DESC, id DESC LIMIT :limit", params)))
    has_older = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    intents: list[IntentRecord] = []
    with store.read_db("outbox") as db:
        if before is None:
            intents = outbox.unsettled(db, conversation_id)
        mine = [r["id"] for r in rows if r["direction"] in ("outbound", "note")]
        written = outbox.written_times(db, mine) if mine else {}
    window = None
    if any(i.state == outbox.REJECTED for i in intents):
        window = _window_now(store, conversation_id,
                             now_ms if now_ms is not None else int(time.time() * 1000))
    return ThreadPage(tuple(overlay.thread(rows, intents, me, written, window)), has_older)


def _window_now(store: Store, conversation_id: str, now_ms: int) -> WindowState | None:
    """The conversation's messaging window at ``now_ms`` (None: not in the mirror)."""
    with store.read_db("mirror") as db:
        found = next(_dicts(db.execute(
            "SELECT c.channel_type, c.last_inbound_at, k.identities FROM conversations c "
            "LEFT JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?",
            (conversation_id,))), None)
    if found is None:
        return None
    return conversation_window(found, {"identities": found["identities"] or "[]"}, now_ms)


# --------------------------------------------------------------------------- contacts


@dataclass(frozen=True)
class Identity:
    channel_type: str
    address: str
    opted_out: bool


@dataclass(frozen=True)
class ContactView:
    """The 360° view: who the customer is on every channel and all their conversations."""

    id: str
    name: str
    locale: str | None
    identities: tuple[Identity, ...]
    attributes: dict[str, Any]
    conversations: tuple[ConversationRow, ...]


def contact_view(store: Store, contact_id: str, now_ms: int) -> ContactView | None:
    with store.read_db("mirror") as db:
        row = next(_dicts(db.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,))),
                   None)
        if row is None:
            return None
        ids = [r[0] for r in db.execute(
            "SELECT id FROM conversations WHERE contact_id = ? "
            "ORDER BY last_activity_at DESC LIMIT 200", (contact_id,))]
    rows = conversation_rows(store, ids, now_ms)
    idents = tuple(
        Identity(i.get("channel_type", ""), str(i.get("address") or i.get("handle") or ""),
                 bool(i.get("opted_out")))
        for i in orjson.loads(row["identities"] or "[]"))
    attributes = orjson.loads(row["attributes"] or "{}")
    return ContactView(row["id"], row["name"], row["locale"], idents,
                       attributes if isinstance(attributes, dict) else {},
                       tuple(rows[i] for i in ids if i in rows))


def intents_for_review(store: Store) -> list[IntentRecord]:
    """Everything in the outbox, oldest first (the status bar's list with reasons)."""
    with store.read_db("outbox") as db:
        return outbox.unsettled(db)


def conversations_touched(intents: Iterable[IntentRecord]) -> set[str]:
    return {i.conversation_id for i in intents if i.conversation_id}
