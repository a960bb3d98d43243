"""The sync feed over loopback HTTP: bootstrap + pull reproduce the server's state exactly.

Every test drives the real server (``live_server``) through the same endpoints a desk uses and
compares what a client would hold (``Mirror``) with ``expected_state``, which is computed
straight from the tables and shares no code with the feed or bootstrap.
"""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from protocol import wire as p
from server.db import Database
from tests.server.harness import Api, LiveServer, Mirror, Workspace, expected_state

AGENTS = ("alice", "tina", "bob", "sam")
FUTURE = 4_102_444_800_000  # 2100-01-01


# --------------------------------------------------------------------------- helpers


class Outbox:
    """One desk installation's intents: a client id and monotonic mutation ids."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.client_id = f"test-{uuid.uuid4().hex}"
        self.next_id = 1

    def push(self, *mutations: tuple[str, dict[str, Any]]) -> p.PushResponse:
        batch = []
        for name, args in mutations:
            batch.append({"id": self.next_id, "name": name, "args": args})
            self.next_id += 1
        return self.api.push(self.client_id, batch)

    def apply(self, name: str, **args: Any) -> p.MutationResult:
        result = self.push((name, args)).results[0]
        assert result.status is p.MutationStatus.APPLIED, result
        return result


@dataclass
class Desk:
    api: Api
    outbox: Outbox
    agent_id: str


@dataclass
class History:
    ws: Workspace
    desks: dict[str, Desk]
    inbound_api: Api
    convs: dict[str, str] = field(default_factory=dict)
    articles: dict[str, str] = field(default_factory=dict)  # key -> id

    def inbound(self, key: str, channel: str, handle: str, text: str, **extra: Any) -> str:
        res = self.inbound_api.inbound(self.ws, channel, handle, text, **extra)
        assert not res.duplicate
        self.convs.setdefault(key, res.conversation_id)
        return res.conversation_id


def sign_in(server: LiveServer, ws: Workspace, who: str) -> Api:
    return Api(server.url).login(ws.emails[who])


def open_desks(server: LiveServer, ws: Workspace) -> dict[str, Desk]:
    desks = {}
    for who in AGENTS:
        api = sign_in(server, ws, who)
        desks[who] = Desk(api, Outbox(api), ws.agents[who])
    return desks


def close_desks(history: History) -> None:
    for desk in history.desks.values():
        desk.api.close()
    history.inbound_api.close()


def new_message_id() -> str:
    return str(uuid.uuid4())


def play_phase_one(h: History) -> None:
    """Inbound on several channels of both teams, replies, notes, status/priority/tags."""
    ws, alice, bob = h.ws, h.desks["alice"], h.desks["bob"]
    c1 = h.inbound("carol", "a_email", "carol@example.com", "Where is my order?",
                   subject="Order 42", display_name="Carol")
    h.inbound("dave", "a_whatsapp", "+15550001", "hi there", display_name="Dave")
    c3 = h.inbound("erin", "b_sms", "+15550002", "hello")
    c4 = h.inbound("frank", "b_messenger", "frank.fb", "a question")
    h.inbound("gina", "a_line", "U-gina", "注文について質問があります")
    assert h.inbound("carol", "a_email", "carol@example.com", "Any news?") == c1
    alice.outbox.apply("send_message", conversation_id=c1, message_id=new_message_id(),
                       body="It ships tomorrow.")
    alice.outbox.apply("add_note", conversation_id=c1, message_id=new_message_id(),
                       body="@tina please follow up", mentions=[ws.agents["tina"]])
    alice.outbox.apply("set_priority", conversation_id=c1, priority="high")
    alice.outbox.apply("add_tag", conversation_id=c1, tag="vip")
    alice.outbox.apply("set_status", conversation_id=h.convs["dave"], status="pending")
    alice.outbox.apply("mark_read", conversation_id=c1)
    bob.outbox.apply("send_message", conversation_id=c3, message_id=new_message_id(),
                     body="Hi Erin")
    bob.outbox.apply("set_status", conversation_id=c4, status="snoozed", snoozed_until=FUTURE)
    bob.outbox.apply("add_tag", conversation_id=c3, tag="billing")
    sam = h.desks["sam"].api
    for key, status, teams in (("everyone", "published", []), ("team-a", "published", ["A"]),
                               ("team-b", "published", ["B"]), ("draft", "draft", [])):
        r = sam.post("/articles", json={"key": key, "locale": "en", "title": key,
                                        "status": status,
                                        "team_ids": [ws.teams[t] for t in teams]})
        assert r.status_code == 201, r.text
        h.articles[key] = r.json()["id"]


def _article(h: History, method: str, key: str, action: str = "",
             body: dict[str, Any] | None = None) -> None:
    api = h.desks["sam"].api
    r = api.http.request(method, f"{p.API_PREFIX}/articles/{h.articles[key]}{action}",
                         headers=api.headers, json=body)
    assert r.status_code == 200, r.text


def play_phase_two(h: History) -> None:
    """Reassignments across teams (revoke and grant), more traffic, a resolved conversation."""
    ws, alice, bob = h.ws, h.desks["alice"], h.desks["bob"]
    tina, sam = h.desks["tina"], h.desks["sam"]
    c1, c2, c3, c4, c5 = (h.convs[k] for k in ("carol", "dave", "erin", "frank", "gina"))
    alice.outbox.apply("assign", conversation_id=c2, team_id=ws.teams["B"])  # away from A
    bob.outbox.apply("assign", conversation_id=c3, agent_id=ws.agents["alice"])  # A-agent gains
    tina.outbox.apply("add_note", conversation_id=c5, message_id=new_message_id(),
                      body="Customer writes in Japanese")
    assert h.inbound("dave", "a_whatsapp", "+15550001", "still there?") == c2
    sam.outbox.apply("assign", conversation_id=c4, agent_id=ws.agents["tina"])
    alice.outbox.apply("send_message", conversation_id=c3, message_id=new_message_id(),
                       body="Taking this one")
    bob.outbox.apply("remove_tag", conversation_id=c3, tag="billing")
    bob.outbox.apply("assign", conversation_id=c3, agent_id=None)  # alice loses it again
    alice.outbox.apply("set_status", conversation_id=c1, status="resolved")
    c6 = h.inbound("carol-2", "a_email", "carol@example.com", "One more thing")
    assert c6 != c1
    sam.outbox.apply("assign", conversation_id=c5, team_id=ws.teams["B"])
    sam.outbox.apply("assign", conversation_id=c5, team_id=ws.teams["A"])
    h.inbound("hank", "b_instagram", "hank.ig", "hey")
    h.inbound("ivy", "a_web_chat", "visitor-ivy", "chat")
    # Articles scoped away from team A, archived, published, edited.
    _article(h, "PATCH", "team-a", body={"team_ids": [ws.teams["B"]]})
    _article(h, "POST", "everyone", "/archive")
    _article(h, "POST", "draft", "/publish")
    _article(h, "PATCH", "team-b", body={"title": "Team B, edited"})


def describe_diff(actual: dict[Any, Any], expected: dict[Any, Any]) -> str:
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    lines = [f"missing: {missing}", f"extra: {extra}"]
    for k in changed[:5]:
        lines.append(f"changed {k}: mirror={actual[k]} server={expected[k]}")
    return "\n".join(lines)


def assert_converged(mirror: Mirror, db: Database, agent_id: str) -> None:
    expected = expected_state(db, agent_id)
    assert mirror.rows == expected, describe_diff(mirror.rows, expected)


def full_sync(api: Api, boot_limit: int | None = None, pull_limit: int | None = None,
              columns: bool = False) -> Mirror:
    mirror = Mirror()
    items, cursor = api.bootstrap(limit=boot_limit, columns=columns)
    mirror.apply_bootstrap(items, cursor)
    changes, mirror.cursor = api.pull_all(cursor, limit=pull_limit)
    mirror.apply_changes(changes)
    return mirror


def pull_pages(api: Api, cursor: int, limit: int | None = None) -> list[p.PullResponse]:
    pages = []
    while True:
        page = api.pull(cursor, limit)
        pages.append(page)
        cursor = page.cursor
        if not page.has_more:
            return pages


def check_pages(start: int, pages: list[p.PullResponse]) -> None:
    """Cursor and seq monotonicity, and no entity twice in a page."""
    cursor = start
    for page in pages:
        seqs = [c.seq for c in page.changes]
        assert seqs == sorted(set(seqs)), f"seqs not strictly increasing: {seqs}"
        assert all(cursor < s <= page.cursor for s in seqs), (cursor, seqs, page.cursor)
        keys = [(c.entity, c.id) for c in page.changes]
        assert len(keys) == len(set(keys)), f"entity twice in one page: {keys}"
        if page.changes or page.has_more:
            assert page.cursor > cursor, (cursor, page.cursor)
        else:
            assert page.cursor >= cursor
        cursor = page.cursor
    assert not pages[-1].has_more


@pytest.fixture
def history(live_server: LiveServer, workspace: Workspace) -> Iterator[History]:
    h = History(workspace, open_desks(live_server, workspace), Api(live_server.url))
    yield h
    close_desks(h)


# --------------------------------------------------------------------------- convergence


@pytest.mark.parametrize("sizes", [(3, 2, False), (None, None, False), (3, 2, True)],
                         ids=["small-pages", "default-pages", "small-column-pages"])
def test_bootstrap_and_pull_reproduce_server_state(
    history: History, db: Database, sizes: tuple[int | None, int | None, bool]
) -> None:
    boot_limit, pull_limit, columns = sizes
    # Clients that bootstrapped before anything happened and only pull from then on.
    early = {who: full_sync(d.api, boot_limit, pull_limit, columns)
             for who, d in history.desks.items()}
    play_phase_one(history)
    # Clients that bootstrap in the middle of the history...
    middle = {who: full_sync(d.api, boot_limit, pull_limit, columns)
              for who, d in history.desks.items()}
    for who, mirror in middle.items():
        assert_converged(mirror, db, history.desks[who].agent_id)
    play_phase_two(history)
    for who, desk in history.desks.items():
        # ...then pull the rest; and fresh clients bootstrapping at the end.
        for mirror in (early[who], middle[who]):
            start = mirror.cursor
            pages = pull_pages(desk.api, start, pull_limit)
            check_pages(start, pages)
            for page in pages:
                mirror.apply_changes(page.changes)
            assert_converged(mirror, db, desk.agent_id)
        assert_converged(full_sync(desk.api, boot_limit, pull_limit, columns), db,
                         desk.agent_id)
    assert_history_not_vacuous(history, db)


def assert_history_not_vacuous(history: History, db: Database) -> None:
    """The scripted history really moves conversations across teams and agents."""
    ws, convs = history.ws, history.convs
    alice = expected_state(db, ws.agents["alice"])
    bob = expected_state(db, ws.agents["bob"])
    tina = expected_state(db, ws.agents["tina"])
    sam = expected_state(db, ws.agents["sam"])
    assert ("conversation", convs["dave"]) in bob and ("conversation", convs["dave"]) not in alice
    assert ("conversation", convs["erin"]) not in alice
    assert ("conversation", convs["gina"]) in alice
    assert ("conversation", convs["frank"]) in tina  # assigned to her from team B
    assert len([k for k in sam if k[0] == "conversation"]) == 8
    assert {k[0] for k in sam} == {e.value for e in p.Entity}


def test_contact_writing_to_a_second_team_reaches_that_team(history: History,
                                                             db: Database) -> None:
    """A known contact opening a conversation on another team's channel: that team's desks,
    which never saw the contact, get it through pull (not only through a new bootstrap)."""
    bob = history.desks["bob"]
    mirror = full_sync(bob.api)
    history.inbound("carol", "a_email", "carol@example.com", "first, to team A")
    history.inbound("carol-b", "b_email", "carol@example.com", "now to team B")
    changes, mirror.cursor = bob.api.pull_all(mirror.cursor)
    mirror.apply_changes(changes)
    assert_converged(mirror, db, bob.agent_id)


def test_writes_between_bootstrap_pages_are_not_lost(history: History, db: Database) -> None:
    play_phase_one(history)
    ws = history.ws
    for who in ("alice", "bob"):
        desk = history.desks[who]
        first = desk.api.get("/sync/bootstrap", params={"limit": 3})
        assert first.status_code == 200, first.text
        page = p.BootstrapResponse.model_validate(first.json())
        items = list(page.items)
        snapshot = page.snapshot_seq
        n_pages = 1
        while page.next_page_token is not None:
            if n_pages == 1:
                # Between pages: new conversations, replies, a move to the other team.
                history.inbound(f"late-{who}", "a_sms", f"+1555{who}", "late arrival")
                history.inbound(f"late-b-{who}", "b_sms", f"+1556{who}", "late arrival B")
                history.desks["alice"].outbox.apply(
                    "send_message", conversation_id=history.convs["carol"],
                    message_id=new_message_id(), body="written mid-bootstrap")
                there, back = ("B", "A") if who == "alice" else ("A", "B")
                history.desks["sam"].outbox.apply(
                    "assign", conversation_id=history.convs["gina"], team_id=ws.teams[there])
                history.desks["sam"].outbox.apply(
                    "assign", conversation_id=history.convs["frank"], team_id=ws.teams[back])
            r = desk.api.get("/sync/bootstrap",
                             params={"limit": 3, "page_token": page.next_page_token})
            assert r.status_code == 200, r.text
            page = p.BootstrapResponse.model_validate(r.json())
            assert page.snapshot_seq == snapshot
            assert page.totals is None
            items.extend(page.items)
            n_pages += 1
        assert n_pages > 2
        assert page.cursor == snapshot
        mirror = Mirror()
        mirror.apply_bootstrap(items, snapshot)
        changes, mirror.cursor = desk.api.pull_all(snapshot, limit=2)
        mirror.apply_changes(changes)
        assert_converged(mirror, db, desk.agent_id)


# --------------------------------------------------------------------------- pull paging


def test_pull_resumes_from_any_page(history: History, db: Database) -> None:
    alice = history.desks["alice"]
    items, start = alice.api.bootstrap()
    play_phase_one(history)
    play_phase_two(history)
    pages = pull_pages(alice.api, start, limit=2)
    check_pages(start, pages)
    assert len(pages) > 5
    one_run = Mirror()
    one_run.apply_bootstrap(items, start)
    for page in pages:
        one_run.apply_changes(page.changes)
    assert_converged(one_run, db, alice.agent_id)
    # Resuming with the cursor returned after any page continues exactly where that page
    # ended (by induction, the rest of the run is then the same as the uninterrupted one).
    for k in range(len(pages) - 1):
        assert alice.api.pull(pages[k].cursor, limit=2) == pages[k + 1], f"after page {k}"
    all_changes = [c for page in pages for c in page.changes]
    for stop_after in (1, len(pages) // 2, len(pages) - 1):
        # A desk that stopped after page k (a crash, a dropped connection) and resumes
        # with the cursor it stored: same final mirror as one run.
        resumed = Mirror()
        resumed.apply_bootstrap(items, start)
        for page in pages[:stop_after]:
            resumed.apply_changes(page.changes)
        rest, end = alice.api.pull_all(pages[stop_after - 1].cursor, limit=2)
        assert [c for page in pages[:stop_after] for c in page.changes] + rest == all_changes
        resumed.apply_changes(rest)
        assert end == pages[-1].cursor
        assert resumed.rows == one_run.rows
    # At the end: pulling again from the final cursor returns nothing, at any page size.
    final = pages[-1].cursor
    for limit in (None, 1):
        again = alice.api.pull(final, limit)
        assert again.changes == [] and not again.has_more and again.cursor == final


def test_page_never_holds_one_entity_twice(history: History) -> None:
    conv = history.inbound("carol", "a_email", "carol@example.com", "hello")
    alice = history.desks["alice"]
    start = alice.api.pull(0).cursor
    alice.outbox.push(("set_priority", {"conversation_id": conv, "priority": "urgent"}),
                      ("add_tag", {"conversation_id": conv, "tag": "vip"}),
                      ("mark_read", {"conversation_id": conv}))
    page = alice.api.pull(start)
    convs = [c for c in page.changes if c.entity is p.Entity.CONVERSATION]
    assert len(convs) == 1
    assert convs[0].data is not None
    # The one change left is the newest state.
    assert convs[0].data["priority"] == "urgent"
    assert convs[0].data["tags"] == ["vip"]
    assert convs[0].data["unread_count"] == 0


def test_bad_page_token(live_server: LiveServer, workspace: Workspace) -> None:
    with sign_in(live_server, workspace, "alice") as api:
        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        for token in ("not a token!", "AAAA", b64(b"[1, 2]"), b64(b'{"a": 1}'),
                      b64(b'[0, 99, ""]'), b64(b'[-1, 0, ""]'), b64(b'["0", 0, ""]'),
                      b64(b'"x"'), b64(b"[0, 0, 5]"), b64(b'[0, 8, "a\\u0000b"]'),
                      b64(b"[18446744073709551616, 0, \"\"]"), "\x00"):
            r = api.get("/sync/bootstrap", params={"page_token": token})
            assert r.status_code == 400, (token, r.status_code, r.text)
            body = p.ErrorBody.model_validate(r.json())
            assert body.error == "bad_page_token" and body.message


def test_cursor_beyond_head_is_gone(live_server: LiveServer, workspace: Workspace) -> None:
    with sign_in(live_server, workspace, "alice") as api:
        head = api.pull(0).cursor
        assert api.get("/sync/pull", params={"cursor": head}).status_code == 200
        r = api.get("/sync/pull", params={"cursor": head + 1})
        assert r.status_code == 410, r.text
        assert p.ErrorBody.model_validate(r.json()).error == "resync_required"


def test_first_page_totals_match_items(history: History) -> None:
    play_phase_one(history)
    for desk in history.desks.values():
        r = desk.api.get("/sync/bootstrap", params={"limit": 4})
        first = p.BootstrapResponse.model_validate(r.json())
        assert first.totals is not None
        items, _cursor = desk.api.bootstrap(limit=4)
        sent = Counter(item.entity.value for item in items)
        assert first.totals == {e.value: sent.get(e.value, 0) for e in p.Entity}
        single, _ = desk.api.bootstrap()
        assert Counter(i.entity.value for i in single) == sent


def _strictly_valid(entity: p.Entity, data: dict[str, Any]) -> None:
    model = p.ENTITY_MODELS[entity]
    # Strict JSON validation: no "5" for 5, no 1 for true; and the hand-written serializers
    # send exactly the model's fields (no drift in either direction).
    model.model_validate_json(orjson.dumps(data), strict=True)
    assert set(data) == set(model.model_fields), (entity, sorted(data))


def test_every_payload_validates_against_the_protocol(history: History) -> None:
    play_phase_one(history)
    play_phase_two(history)
    seen: set[p.Entity] = set()
    for who in ("sam", "alice"):
        api = history.desks[who].api
        items, _ = api.bootstrap(limit=7)
        for item in items:
            _strictly_valid(item.entity, item.data)
            assert item.data["id"] == item.id
            seen.add(item.entity)
        changes, _ = api.pull_all(0)
        for ch in changes:
            if ch.op is p.Op.UPSERT:
                assert ch.data is not None
                _strictly_valid(ch.entity, ch.data)
                assert ch.data["id"] == ch.id
                seen.add(ch.entity)
            else:
                assert ch.data is None
    assert seen == set(p.Entity)
