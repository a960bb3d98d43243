"""Inbox views, search and counts on a real mirror: the answers of ``sync.queries`` equal the
plain definition of each view (a filter and a sort over every row, in Python), whichever
index, search index or fallback answers them; and the views keep the shape that makes them
fast on 100k conversations (one walk along an index, no sort)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy.schema import CreateIndex

from protocol.wire import Entity
from sync import entities, mirror, outbox, overlay, queries, search
from sync import models as mm
from sync.client import ApiClient
from sync.credentials import CredentialStore
from sync.engine import EngineOptions, EngineState, SyncEngine
from sync.queries import InboxFilter, Sort
from sync.store import MIGRATIONS, Store
from tests.server.harness import PASSWORD, Api, LiveServer, Workspace
from tests.sync.helpers import server, server_db, shared, wait_for, ws  # noqa: F401 (fixtures)

# (channel key, customer's name, subject (email only), first message): English and Japanese,
# text that ends in a two-character word, quotes and LIKE's wildcards.
CUSTOMERS = [
    ("a_email", "Mia Clark", "Refund for order 1042", "Hello, I would like a refund please."),
    ("b_email", "山田 太郎", "返金のお願い", "注文した商品の返金をお願いします。"),
    ("a_email", "Noah Evans", "配送の遅れ", "荷物がまだ届きません。追跡番号を教えてください"),
    ("b_email", "Olivia Brown", "Invoice question", "Is the 50% discount on the invoice?"),
    ("a_sms", "Liam Smith", None, "Where is my parcel? Tracking says delivered."),
    ("b_sms", "佐藤 花子", None, "全額返金"),
    ("a_web_chat", "Emma Jones", None, "はい"),
    ("b_web_chat", "Lucas Martin", None, 'He said "hello" twice and then left'),
    ("a_whatsapp", "Ava Wilson", None, "The a_b test shows the wrong price"),
    ("b_whatsapp", "Ethan Taylor", None, "OK thanks, that works"),
    ("a_line", "高橋 一郎", None, "パスワードを忘れました"),
    ("b_line", "Sophia Moore", None, "My screen is broken after the update"),
    ("a_messenger", "Mason Lee", None, "Can I change my delivery address?"),
    ("b_messenger", "Isabella Hall", None, "Battery drains fast, please help"),
    ("a_instagram", "Logan King", None, "Do you ship to Japan? 日本に発送できますか"),
    ("b_instagram", "Mia Clarkson", None, "refund REFUND Refund"),
]
TAGS = ("vip", "refund", "返金", 'say "hi"')


@dataclass
class Built:
    path: Path  # the mirror's data directory (copy it before changing anything)
    me: str  # the signed-in supervisor's agent id
    ws: Workspace


def _desk(store: Store, url: str, email: str) -> SyncEngine:
    return SyncEngine(store, ApiClient(url), CredentialStore(url, email),
                      EngineOptions(bootstrap_limit=7, pull_limit=50))


async def _build(url: str, data_dir: Path, workspace: Workspace, conversation_ids: list[str]
                 ) -> str:
    """Sign in as the supervisor (a first bootstrap, small pages), then vary the
    conversations through intents the server applies and the pull brings back."""
    store = Store(data_dir)
    store.open()
    engine = _desk(store, url, workspace.emails["sam"])
    try:
        await engine.start()
        await engine.login(workspace.emails["sam"], PASSWORD)
        assert await wait_for(lambda: engine.status.state is EngineState.UP_TO_DATE, 30)
        me = workspace.agents["sam"]
        for n, cid in enumerate(conversation_ids):
            team_a = CUSTOMERS[n % len(CUSTOMERS)][0].startswith("a_")
            if n % 5 in (0, 3):
                await engine.enqueue("assign", {"conversation_id": cid, "agent_id": me})
            elif n % 5 == 1:
                agent = workspace.agents["alice" if team_a else "bob"]
                await engine.enqueue("assign", {"conversation_id": cid, "agent_id": agent})
            status = ("open", "pending", "open", "resolved", "snoozed", "open", "pending")[n % 7]
            if status != "open":
                args: dict[str, Any] = {"conversation_id": cid, "status": status}
                if status == "snoozed":
                    args["snoozed_until"] = 4_000_000_000_000
                await engine.enqueue("set_status", args)
            priority = ("normal", "urgent", "high", "normal", "low", "urgent")[n % 6]
            if priority != "normal":
                await engine.enqueue("set_priority", {"conversation_id": cid,
                                                      "priority": priority})
            for k, tag in enumerate(TAGS):
                if (n + k) % (k + 2) == 0:
                    await engine.enqueue("add_tag", {"conversation_id": cid, "tag": tag})
            if n % 4 == 2:
                await engine.enqueue("mark_read", {"conversation_id": cid})
            if n % 6 == 5:  # answered: no SLA owed, nothing unread
                await engine.enqueue("send_message", {"conversation_id": cid,
                                                      "message_id": str(uuid.uuid4()),
                                                      "body": "Thanks, on it."})
        assert await wait_for(lambda: not queries.intents_for_review(store), 60)
        return me
    finally:
        await engine.stop()
        await engine.api.aclose()
        store.close()


def handle(channel: str, round_: int, n: int) -> str:
    return f"cust{round_}-{n}@example.com" if "email" in channel else f"+1555{round_}{n:06d}"


@pytest.fixture(scope="module")
def built(server: LiveServer, ws: Workspace,  # noqa: F811 (fixtures)
          tmp_path_factory: pytest.TempPathFactory) -> Built:
    api = Api(server.url)
    ids = []
    for round_ in range(3):  # 48 conversations
        for n, (channel, name, subject, text) in enumerate(CUSTOMERS):
            res = api.inbound(ws, channel, handle(channel, round_, n), text,
                              display_name=name, subject=subject)
            ids.append(res.conversation_id)
    for n, (channel, _name, _subject, text) in enumerate(CUSTOMERS[:6]):  # a second message
        api.inbound(ws, channel, handle(channel, 0, n), f"{text} (again)")
    path = tmp_path_factory.mktemp("queries") / "desk"
    me = asyncio.run(_build(server.url, path, ws, ids))
    return Built(path, me, ws)


@pytest.fixture
def store(built: Built) -> Iterator[Store]:
    s = Store(built.path)
    s.open()
    yield s
    s.close()


@pytest.fixture
def copy(built: Built, tmp_path: Path) -> Iterator[Store]:
    """A store on a copy of the built mirror, free to change."""
    shutil.copytree(built.path, tmp_path / "copy")
    s = Store(tmp_path / "copy")
    s.open()
    yield s
    s.close()


# --------------------------------------------------------------------------- the definitions


def all_rows(store: Store) -> list[dict[str, Any]]:
    with store.read_mirror() as conn:
        rows = [dict(r) for r in conn.exec_driver_sql(
            "SELECT c.*, k.name AS contact_name FROM conversations c "
            "LEFT JOIN contacts k ON k.id = c.contact_id").mappings()]
    for r in rows:
        r["tags"] = orjson.loads(r["tags"])
    return rows


def plain_view(rows: list[dict[str, Any]], flt: InboxFilter, sort: Sort, me: str) -> list[str]:
    """What a view is, said plainly."""
    q = flt.text.strip().casefold()

    def wanted(r: dict[str, Any]) -> bool:
        return ((flt.assignee is None
                 or (flt.assignee == "me" and r["assignee_id"] == me)
                 or (flt.assignee == "none" and r["assignee_id"] is None)
                 or (flt.assignee not in ("me", "none") and r["assignee_id"] == flt.assignee))
                and flt.team_id in (None, r["team_id"])
                and flt.channel_id in (None, r["channel_id"])
                and (flt.statuses is None or r["status"] in flt.statuses)
                and (flt.tag is None or flt.tag in r["tags"])
                and (not q or any(q in (v or "").casefold() for v in
                                  (r["subject"], r["preview"], r["contact_name"]))))

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        if sort is Sort.WAITING:
            owed = r["sla_due_at"] is not None or r["unread_count"] > 0
            inbound = r["last_inbound_at"]
            return (0 if owed else 1, inbound if inbound is not None else r["last_activity_at"],
                    r["id"])
        if sort is Sort.PRIORITY:
            rank = {"urgent": 0, "high": 1, "normal": 2}.get(r["priority"], 3)
            return (rank, -r["last_activity_at"], r["id"])
        return (-r["last_activity_at"], r["id"])

    return [r["id"] for r in sorted(filter(wanted, rows), key=key)]


SEARCHES = ("refund", "REFUND please", "返金", "返金のお願い", "のお願", "全額返金", "はい",
            "届きません", "山田", "Clark", "clarkson", "ok", "x", "e", "a_b", "50%", '"hello"',
            "追跡番号", "no such words anywhere", "again)")


def views(built: Built) -> list[InboxFilter]:
    w = built.ws
    out = [InboxFilter(assignee="me"), InboxFilter(assignee="none"), InboxFilter(),
           InboxFilter(assignee=w.agents["alice"]),
           *(InboxFilter(team_id=t) for t in w.teams.values()),
           *(InboxFilter(channel_id=w.channels[k]) for k in ("a_email", "b_sms", "a_line")),
           *(InboxFilter(statuses=(s,)) for s in queries.ALL_STATUSES),
           InboxFilter(statuses=("snoozed", "resolved")), InboxFilter(statuses=("open",
                                                                               "resolved")),
           InboxFilter(statuses=None), InboxFilter(statuses=()),
           *(InboxFilter(tag=t) for t in TAGS), InboxFilter(tag="vip", statuses=None),
           InboxFilter(tag="refund", assignee="none"),
           InboxFilter(tag="refund", team_id=w.teams["A"], statuses=("pending",)),
           InboxFilter(assignee="me", team_id=w.teams["B"]),
           *(InboxFilter(text=q) for q in SEARCHES),
           InboxFilter(assignee="me", text="refund"), InboxFilter(statuses=None, text="返金"),
           InboxFilter(statuses=("resolved",), text="e"),
           InboxFilter(team_id=w.teams["A"], text="パスワード")]
    return out


def assert_views_match(store: Store, built: Built) -> None:
    rows = all_rows(store)
    assert len(rows) >= 40
    for flt in views(built):
        for sort in Sort:
            expected = plain_view(rows, flt, sort, built.me)
            got = queries.conversation_ids(store, flt, sort, built.me)
            assert got == expected, (flt, sort)
            assert queries.conversation_ids(store, flt, sort, built.me, limit=5) == expected[:5]


# --------------------------------------------------------------------------- views


def test_every_view_in_every_order_is_its_plain_definition(store: Store, built: Built) -> None:
    rows = all_rows(store)
    # The fixture gave the views something to tell apart.
    assert {r["status"] for r in rows} == set(queries.ALL_STATUSES)
    assert {r["priority"] for r in rows} == {"urgent", "high", "normal", "low"}
    assert sum(r["assignee_id"] == built.me for r in rows) >= 5
    assert all(any(t in r["tags"] for r in rows) for t in TAGS)
    assert {r["sla_due_at"] is None for r in rows} == {True, False}
    assert_views_match(store, built)


def test_japanese_substring_search_finds_a_japanese_subject(store: Store, built: Built) -> None:
    rows = {r["id"]: r for r in all_rows(store)}
    found = queries.conversation_ids(store, InboxFilter(statuses=None, text="のお願"),
                                     Sort.LAST_ACTIVITY, built.me)
    assert found and all("のお願" in (rows[i]["subject"] or rows[i]["preview"])
                         for i in found)
    assert any(rows[i]["subject"] == "返金のお願い" for i in found)


def test_one_and_two_character_searches_find_text_anywhere(store: Store, built: Built) -> None:
    rows = {r["id"]: r for r in all_rows(store)}
    everything = InboxFilter(statuses=None)

    def search(q: str) -> set[str]:
        return set(queries.conversation_ids(store, InboxFilter(statuses=None, text=q),
                                            Sort.LAST_ACTIVITY, built.me))

    whole = search("はい")  # a whole preview of two characters
    assert whole and {rows[i]["preview"] for i in whole} <= {"はい", "はい (again)"}
    at_end = search("返金")  # "全額返金" ends with it; also inside subjects and previews
    assert any(rows[i]["preview"] == "全額返金" for i in at_end)
    assert any(rows[i]["subject"] == "返金のお願い" for i in at_end)
    assert search("OK") == search("ok") != set()  # either case
    assert search("山田") == {i for i, r in rows.items() if r["contact_name"] == "山田 太郎"}
    assert search("y") < set(queries.conversation_ids(store, everything, Sort.LAST_ACTIVITY))


def test_search_of_many_matches_walks_the_view_and_agrees(
        store: Store, built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    # Past FEW_MATCHES the view's index is walked and each row tested against the matches;
    # on this small mirror that takes making FEW_MATCHES zero.
    monkeypatch.setattr(search, "FEW_MATCHES", 0)
    assert_views_match(store, built)
    plan = queries.view_query_plan(store, InboxFilter(text="refund"), Sort.LAST_ACTIVITY,
                                   built.me)
    assert not any("TEMP B-TREE FOR ORDER BY" in step for step in plan), plan


def test_without_search_indexes_or_view_indexes_the_answers_stay_the_same(
        copy: Store, built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    # Short searches of a common letter use LIKE.
    monkeypatch.setattr(search, "SHORT_SEARCH_MAX_TRIGRAMS", 0)
    assert_views_match(copy, built)
    # A first bootstrap drops the view indexes and the search triggers until its end (and
    # where SQLite has no trigram FTS5 there are none): LIKE and plain scans answer.
    monkeypatch.undo()
    copy.write_sync(lambda: _with_mirror(copy, mirror.drop_deferred_indexes))
    with copy.read_mirror() as conn:
        names = set(conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars())
    assert "ix_conversations_tagged" not in names
    assert "conversations_fts_insert" not in names
    assert_views_match(copy, built)
    assert queries.nav_counts(copy, built.me) == plain_counts(all_rows(copy), built.me)


def _with_mirror(store: Store, fn: Any) -> None:
    with store.write_mirror() as conn:
        fn(conn)


# --------------------------------------------------------------------------- the shape


def test_navigation_views_walk_one_index_in_order_without_sorting(store: Store,
                                                                  built: Built) -> None:
    w = built.ws
    plan = queries.view_query_plan(store, InboxFilter(assignee="me"), Sort.LAST_ACTIVITY,
                                   built.me)
    assert plan == ["SEARCH conversations USING COVERING INDEX "
                    "ix_conversations_assignee_activity (assignee_id=?)"]
    for flt in (InboxFilter(assignee="me"), InboxFilter(assignee="none"), InboxFilter(),
                InboxFilter(team_id=w.teams["A"]), InboxFilter(channel_id=w.channels["a_sms"]),
                InboxFilter(statuses=("open",)), InboxFilter(statuses=("resolved",)),
                InboxFilter(statuses=("snoozed",))):
        for sort in Sort:
            plan = queries.view_query_plan(store, flt, sort, built.me)
            assert len(plan) == 1 and "USING COVERING INDEX ix_conversations_" in plan[0], (
                flt, sort, plan)
    # A tag's view reads its small index of tagged conversations, then sorts the few.
    plan = queries.view_query_plan(store, InboxFilter(tag="vip"), Sort.WAITING, built.me)
    assert "USING COVERING INDEX ix_conversations_tagged" in plan[0], plan


def test_the_migration_makes_the_indexes_and_triggers_the_models_describe(
        tmp_path: Path) -> None:
    fresh = Store(tmp_path / "fresh")
    fresh.open()
    try:
        with fresh.read_mirror() as conn:
            sql = dict(conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").all())
            for index in mm.INBOX_INDEXES:
                made = str(CreateIndex(index).compile(dialect=conn.dialect))
                assert " ".join(made.split()) == " ".join(sql[index.name].split())
            assert "ix_conversations_activity" not in sql
            for search in mm.SEARCH_INDEXES:
                assert [sql[name] for name in search.triggers] == search.trigger_ddl()
                for ddl in search.table_ddl():
                    assert ddl in sql.values()
    finally:
        fresh.close()


def test_upgrading_a_mirror_indexes_the_rows_it_already_has(tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir()
    url = f"sqlite:///{data / 'mirror.sqlite3'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS / "mirror"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "m0001")
    base = {"channel_id": "ch", "channel_type": "email", "contact_id": "k1", "team_id": "t",
            "assignee_id": None, "status": "open", "priority": "normal", "tags": [],
            "unread_count": 0, "last_activity_at": 1, "created_at": 1}
    conversations = [{**base, "id": "c1", "subject": "ご返金について", "preview": "x"},
                     {**base, "id": "c2", "subject": None, "preview": "Parcel lost"}]
    with sqlite3.connect(data / "mirror.sqlite3") as db:
        spec = entities.SPECS[Entity.CONVERSATION]
        db.executemany(spec.upsert_sql, [spec.to_values(c) for c in conversations])
        contacts = entities.SPECS[Entity.CONTACT]
        db.execute(contacts.upsert_sql, contacts.to_values(
            {"id": "k1", "name": "Kenji", "identities": [], "created_at": 1}))
    store = Store(data)
    store.open()
    try:
        def ids(q: str) -> list[str]:
            return queries.conversation_ids(store, InboxFilter(text=q))

        assert (ids("返金"), ids("parcel"), ids("kenj"), ids("nothing")) == (
            ["c1"], ["c2"], ["c1", "c2"], [])
    finally:
        store.close()


# --------------------------------------------------------------------------- counts


def plain_counts(rows: list[dict[str, Any]], me: str) -> queries.NavCounts:
    active = [r for r in rows if r["status"] in queries.ACTIVE_STATUSES]

    def tally(values: list[str]) -> dict[str, int]:
        return {v: values.count(v) for v in set(values)}

    return queries.NavCounts(
        mine=sum(r["assignee_id"] == me for r in active),
        unassigned=sum(r["assignee_id"] is None for r in active), all=len(active),
        teams=tally([r["team_id"] for r in active]),
        channels=tally([r["channel_id"] for r in active]),
        statuses=tally([r["status"] for r in rows]),
        tags=tally([t for r in active for t in set(r["tags"])]))


def test_nav_counts_are_the_plain_counts(store: Store, built: Built) -> None:
    counts = queries.nav_counts(store, built.me)
    assert counts == plain_counts(all_rows(store), built.me)
    assert counts.mine > 0 and set(counts.tags) == set(TAGS)
    assert queries.nav_counts(store, None).mine == 0


def test_nav_counts_count_the_agents_unsent_changes_as_the_views_list_them(
        copy: Store, built: Built) -> None:
    """Offline changes move conversations between views at once: the counts beside the
    views move with them (Mine must not say 21 when its list shows 20)."""
    me, w = built.me, built.ws
    unassigned = queries.conversation_ids(copy, InboxFilter(assignee="none"))
    mine = queries.conversation_ids(copy, InboxFilter(assignee="me"), me=me)
    resolved = queries.conversation_ids(copy, InboxFilter(statuses=("resolved",)))
    queued = [("assign", {"conversation_id": unassigned[0], "agent_id": me}),
              ("assign", {"conversation_id": unassigned[1], "agent_id": me}),
              ("set_status", {"conversation_id": mine[0], "status": "resolved"}),
              ("assign", {"conversation_id": mine[1], "agent_id": None}),
              ("add_tag", {"conversation_id": mine[2], "tag": "brand-new"}),
              ("remove_tag", {"conversation_id": mine[2], "tag": "vip"}),
              ("set_status", {"conversation_id": resolved[0], "status": "open"}),
              ("assign", {"conversation_id": unassigned[2], "team_id": w.teams["B"]}),
              ("mark_read", {"conversation_id": unassigned[3]})]
    before = queries.nav_counts(copy, me)

    def queue() -> None:
        with copy.write_outbox() as conn:
            for name, args in queued:
                outbox.enqueue(conn, name, args, 1)
            # A refused change moves nothing (the list shows the server's values).
            refused = outbox.enqueue(conn, "set_status", {"conversation_id": mine[3],
                                                          "status": "resolved"}, 1)
            conn.exec_driver_sql("UPDATE intents SET state = 'rejected' WHERE id = ?",
                                 (refused.id,))

    copy.write_sync(queue)

    counts = queries.nav_counts(copy, me)
    live: dict[str, list[outbox.IntentRecord]] = {}
    with copy.read_outbox() as conn:
        for intent in outbox.unsettled(conn):
            live.setdefault(intent.conversation_id or "", []).append(intent)
    overlaid = [overlay.apply_to_conversation(r, live.get(r["id"], [])) for r in all_rows(copy)]
    assert counts == plain_counts(overlaid, me)
    assert counts != before and counts.tags.get("brand-new") == 1
    # Each count is what its view lists.
    for count, flt in ((counts.mine, InboxFilter(assignee="me")),
                       (counts.unassigned, InboxFilter(assignee="none")),
                       (counts.all, InboxFilter()),
                       (counts.teams[w.teams["B"]], InboxFilter(team_id=w.teams["B"])),
                       (counts.statuses["resolved"], InboxFilter(statuses=("resolved",))),
                       (counts.tags["brand-new"], InboxFilter(tag="brand-new"))):
        assert count == len(queries.conversation_ids(copy, flt, me=me)), flt


# --------------------------------------------------------------------------- upkeep


@pytest.mark.asyncio
async def test_search_follows_new_messages_and_the_overlay(
        server: LiveServer, ws: Workspace, built: Built, tmp_path: Path) -> None:  # noqa: F811
    shutil.copytree(built.path, tmp_path / "desk")
    store = Store(tmp_path / "desk")
    store.open()
    engine = _desk(store, server.url, ws.emails["sam"])
    api = Api(server.url)
    try:
        await engine.start()
        await engine.login(ws.emails["sam"], PASSWORD)
        assert await wait_for(lambda: engine.status.state is EngineState.UP_TO_DATE, 30)
        everything = InboxFilter(statuses=None)

        def search(q: str) -> list[str]:
            return queries.conversation_ids(store, InboxFilter(statuses=None, text=q),
                                            Sort.LAST_ACTIVITY, built.me)

        old = search("Battery drains")
        assert old
        # The customer writes again: the row is replaced in the mirror (INSERT OR REPLACE),
        # its new preview is found and the old one no longer.
        res = api.inbound(ws, "b_messenger", handle("b_messenger", 1, 13), "コードが断線しました")
        assert await wait_for(lambda: search("断線") == [res.conversation_id], 15)
        assert res.conversation_id not in search("Battery drains")
        with store.read_mirror() as conn:  # the index agrees with the table, row for row
            conn.exec_driver_sql("INSERT INTO conversations_fts (conversations_fts, rank) "
                                 "VALUES ('integrity-check', 1)")
            conn.exec_driver_sql("INSERT INTO contacts_fts (contacts_fts, rank) "
                                 "VALUES ('integrity-check', 1)")
        assert_views_match(store, built)

        # Offline, an assignment shows in Mine at once, in its place, limit or not.
        await engine.stop()
        target = queries.conversation_ids(store, InboxFilter(assignee="none"))[-1]
        await engine.enqueue("assign", {"conversation_id": target, "agent_id": built.me})
        mine = queries.conversation_ids(store, InboxFilter(assignee="me"), Sort.PRIORITY,
                                        built.me)
        assert target in mine
        rows = queries.conversation_rows(store, mine, 0)
        ranks = [(queries.PRIORITY_RANK[rows[i].priority], -rows[i].last_activity_at, i)
                 for i in mine]
        assert ranks == sorted(ranks)
        assert queries.conversation_ids(store, InboxFilter(assignee="me"), Sort.PRIORITY,
                                        built.me, limit=3) == mine[:3]
        assert target not in queries.conversation_ids(store, InboxFilter(assignee="none"))
        assert len(queries.conversation_ids(store, everything)) == len(all_rows(store))
    finally:
        await engine.stop()
        await engine.api.aclose()
        store.close()


def test_a_change_that_leaves_the_text_alone_keeps_the_search_index_untouched(
        tmp_path: Path) -> None:
    """Conversations are upserted in place: same rowid, and the search index is rewritten
    only when the subject or preview changed (a status change used to re-index it all)."""
    store = Store(tmp_path)
    store.open()
    row = {"id": "c1", "channel_id": "ch", "channel_type": "email", "contact_id": "k1",
           "team_id": "t", "assignee_id": None, "status": "open", "priority": "normal",
           "tags": [], "unread_count": 0, "last_activity_at": 1, "created_at": 1,
           "subject": "Parcel lost", "preview": "Where is my parcel?"}

    def upsert(**changes: Any) -> None:
        row.update(changes)
        with store.write_mirror() as conn:
            entities.apply_changes(conn, [("conversation", "c1", "upsert", dict(row))])

    def index_state() -> tuple[int, list[tuple[Any, ...]]]:
        with store.read_mirror() as conn:
            rowid = conn.exec_driver_sql("SELECT rowid FROM conversations").scalar()
            blocks = conn.exec_driver_sql(
                "SELECT id, block FROM conversations_fts_data ORDER BY id").all()
        return rowid, [tuple(b) for b in blocks]

    try:
        upsert()
        before = index_state()
        upsert(status="pending", assignee_id="a1", unread_count=3)
        assert index_state() == before  # same rowid, not one index block written
        upsert(preview="It arrived, thanks")
        assert index_state()[0] == before[0]
        with store.read_mirror() as conn:
            assert conn.exec_driver_sql("SELECT status FROM conversations").scalar() == \
                "pending"
            conn.exec_driver_sql("INSERT INTO conversations_fts (conversations_fts, rank) "
                                 "VALUES ('integrity-check', 1)")
        text = InboxFilter(statuses=None, text="arrived")
        assert queries.conversation_ids(store, text, Sort.LAST_ACTIVITY, None) == ["c1"]
        gone = InboxFilter(statuses=None, text="Where is my")
        assert queries.conversation_ids(store, gone, Sort.LAST_ACTIVITY, None) == []
    finally:
        store.close()
