"""Knowledge articles against the real server over loopback: supervisors write them (create,
edit, publish, archive, versions, restore), agents and trainees only read, bad input changes
nothing, and an article reaches exactly the desks that may see it, through bootstrap, pull
and the event stream, and leaves them (a tombstone) when it is archived, unpublished or
scoped away."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from server import models as m
from server.articles import FIELDS
from server.db import Database
from tests.server.harness import PREFIX, Api, LiveServer, Workspace
from tests.server.test_visibility import EventStream, head_seq


def _new(api: Api, **fields: Any) -> httpx.Response:
    body = {"key": "returns", "locale": "en", "title": "Returns", "body": "Send it back.",
            **fields}
    return api.post("/articles", json=body)


def _made(api: Api, **fields: Any) -> dict[str, Any]:
    r = _new(api, **fields)
    assert r.status_code == 201, r.text
    return r.json()


def _patch(api: Api, article_id: str, body: dict[str, Any]) -> httpx.Response:
    return api.http.patch(f"{PREFIX}/articles/{article_id}", headers=api.headers, json=body)


def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return r.json()


def _refused(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message"} and body["error"] == code, body
    return str(body["message"])


def _counts(db: Database) -> tuple[int, int, int, int]:
    with db.read() as s:
        return tuple(int(s.scalar(select(func.count()).select_from(t)) or 0)  # type: ignore
                     for t in (m.Article, m.ArticleVersion, m.ArticleTeam, m.ChangeRow))


def test_a_supervisor_edits_publishes_archives_and_restores_with_a_version_each(
        live_server: LiveServer, workspace: Workspace) -> None:
    sam = Api(live_server.url).login(workspace.emails["sam"])
    a = _made(sam, tags=[" returns ", "refund", "returns"], category="Orders")
    assert (a["status"], a["version"], a["visibility"], a["team_ids"]) == (
        "draft", 1, "internal", [])
    assert a["tags"] == ["returns", "refund"]  # trimmed, each once
    assert a["updated_by"] == workspace.agents["sam"]

    edited = _ok(_patch(sam, a["id"], {"title": "Returns and refunds", "body": "Within 30 days.",
                                       "base_version": 1}))
    assert (edited["version"], edited["title"], edited["category"]) == (
        2, "Returns and refunds", "Orders")
    same = _ok(_patch(sam, a["id"], {"title": "Returns and refunds"}))  # nothing differs
    assert same["version"] == 2
    assert _ok(sam.post(f"/articles/{a['id']}/publish"))["status"] == "published"
    assert _ok(sam.post(f"/articles/{a['id']}/publish"))["version"] == 3  # already: no new one
    archived = _ok(sam.post(f"/articles/{a['id']}/archive"))
    assert (archived["status"], archived["version"]) == ("archived", 4)

    versions = _ok(sam.get(f"/articles/{a['id']}/versions"))["versions"]
    assert [v["version"] for v in versions] == [4, 3, 2, 1]
    assert [v["changed"] for v in versions] == [["status"], ["status"], ["title", "body"],
                                                list(FIELDS)]
    assert {v["author_id"] for v in versions} == {workspace.agents["sam"]}
    assert versions[0]["created_at"] >= versions[-1]["created_at"] > 0
    assert (versions[2]["title"], versions[2]["status"]) == ("Returns and refunds", "draft")
    assert versions[3]["title"] == "Returns"

    # Restoring version 1 is a new version equal to it: its fields, its status too.
    restored = _ok(sam.post(f"/articles/{a['id']}/versions/1/restore"))
    assert restored["version"] == 5
    assert {f: restored[f] for f in FIELDS} == {f: versions[3][f] for f in FIELDS}
    newest = _ok(sam.get(f"/articles/{a['id']}/versions"))["versions"][0]
    assert (newest["version"], newest["changed"]) == (5, ["title", "body", "status"])
    assert _ok(sam.get(f"/articles/{a['id']}")) == restored

    _refused(sam.post(f"/articles/{a['id']}/versions/9/restore"), 404, "version_not_found")
    _refused(sam.post("/articles/no-such-article/publish"), 404, "article_not_found")
    message = _refused(_patch(sam, a["id"], {"title": "Lost update", "base_version": 2}),
                       409, "version_conflict")
    assert "version 5" in message
    assert _ok(sam.get(f"/articles/{a['id']}"))["title"] == "Returns"


def test_bad_input_is_refused_with_a_reason_and_nothing_is_half_written(
        live_server: LiveServer, workspace: Workspace, db: Database) -> None:
    sam = Api(live_server.url).login(workspace.emails["sam"])
    first = _made(sam, team_ids=[workspace.teams["A"]])
    ja = _made(sam, locale="ja", title="返品")  # the same key in Japanese: its translation
    assert (ja["key"], ja["locale"]) == ("returns", "ja")
    before = _counts(db)

    assert "returns" in _refused(_new(sam), 409, "article_key_taken")
    message = _refused(_new(sam, key="other", team_ids=[workspace.teams["A"], "no-such-team"]),
                       422, "unknown_team")
    assert "no-such-team" in message
    assert "title" in _refused(_new(sam, key="other", title="   "), 422, "invalid_request")
    _refused(_new(sam, key="../etc/passwd"), 422, "invalid_request")
    _refused(_new(sam, key="other", locale="English"), 422, "invalid_request")
    _refused(_new(sam, key="other", status="gone"), 422, "invalid_request")
    _refused(_new(sam, key="other", title="x\x00y"), 422, "invalid_request")
    _refused(sam.http.post(f"{PREFIX}/articles", headers={**sam.headers,
             "Content-Type": "application/json"}, content=b"{"), 400, "invalid_json")
    # An edit that fails on one field changes none: not the title given beside it either.
    _refused(_patch(sam, first["id"], {"title": "New", "team_ids": ["no-such-team"]}),
             422, "unknown_team")
    _refused(_patch(sam, first["id"], {"title": "New", "locale": "ja"}), 409,
             "article_key_taken")
    _refused(_patch(sam, first["id"], {"title": None}), 422, "invalid_request")
    _refused(_patch(sam, first["id"], {"status": "published"}), 422, "invalid_request")
    assert _counts(db) == before
    assert _ok(sam.get(f"/articles/{first['id']}")) == first
    # category may be cleared with null.
    assert _ok(_patch(sam, first["id"], {"category": None}))["version"] == 1  # was None
    assert _ok(_patch(sam, first["id"], {"category": "Orders"}))["category"] == "Orders"
    assert _ok(_patch(sam, first["id"], {"category": None}))["category"] is None


def test_agents_and_trainees_read_what_they_may_see_and_write_nothing(
        live_server: LiveServer, workspace: Workspace, db: Database) -> None:
    sam = Api(live_server.url).login(workspace.emails["sam"])
    everyone = _made(sam, key="everyone", status="published")
    team_a = _made(sam, key="team-a", status="published", team_ids=[workspace.teams["A"]])
    team_b = _made(sam, key="team-b", status="published", team_ids=[workspace.teams["B"]])
    draft = _made(sam, key="draft")
    before = _counts(db)
    for who in ("alice", "tina"):
        api = Api(live_server.url).login(workspace.emails[who])
        listed = _ok(api.get("/articles"))
        assert {x["id"] for x in listed["articles"]} == {everyone["id"], team_a["id"]}, who
        assert _ok(api.get(f"/articles/{team_a['id']}")) == team_a
        for hidden in (team_b, draft):  # as if it did not exist
            _refused(api.get(f"/articles/{hidden['id']}"), 404, "article_not_found")
        for r in (_new(api, key="mine"), _patch(api, everyone["id"], {"title": "Mine"}),
                  api.post(f"/articles/{everyone['id']}/archive"),
                  api.post(f"/articles/{draft['id']}/publish"),
                  api.post(f"/articles/{everyone['id']}/versions/1/restore"),
                  api.get(f"/articles/{everyone['id']}/versions")):
            assert "supervisors" in _refused(r, 403, "not_permitted"), who
    assert _counts(db) == before
    # A supervisor lists everything, in pages, and by filter.
    pages, after = [], None
    while True:
        page = _ok(sam.get("/articles", params={"limit": 3, **({"after": after} if after
                                                                  else {})}))
        pages.append(page["articles"])
        after = page["next_after"]
        if after is None:
            break
    assert [len(p) for p in pages] == [3, 1]
    assert [x["id"] for x in _ok(sam.get("/articles", params={"status": "draft"}))[
        "articles"]] == [draft["id"]]


def _ids(changes: list[Any], op: str) -> set[str]:
    return {c.id for c in changes if c.entity.value == "article" and c.op.value == op}


def test_an_article_reaches_only_the_desks_that_may_see_it_and_leaves_them(
        live_server: LiveServer, workspace: Workspace) -> None:
    sam = Api(live_server.url).login(workspace.emails["sam"])
    alice = Api(live_server.url).login(workspace.emails["alice"])  # team A
    bob = Api(live_server.url).login(workspace.emails["bob"])  # team B
    start = head_seq(sam)
    alice_events = EventStream(live_server.url, alice.token or "")
    bob_events = EventStream(live_server.url, bob.token or "")
    try:
        # Team B's article and a draft: alice is never poked for them, bob for B's only.
        started = time.monotonic()
        b_only = _made(sam, key="b-only", status="published", team_ids=[workspace.teams["B"]])
        draft = _made(sam, key="draft", team_ids=[])
        assert bob_events.next_poke(timeout=2.0) is not None
        assert alice_events.next_poke(timeout=max(0.0, 1.5 - (time.monotonic() - started))) \
            is None
        shared = _made(sam, key="shared", status="published",
                       team_ids=[workspace.teams["A"], workspace.teams["B"]])
        a_only = _made(sam, key="a-only", status="published", team_ids=[workspace.teams["A"]])
        assert alice_events.next_poke(timeout=2.0) is not None

        for columns in (False, True):
            items, _cursor = alice.bootstrap(columns=columns)
            got = {i.id for i in items if i.entity.value == "article"}
            assert got == {shared["id"], a_only["id"]}, columns
            items, _cursor = sam.bootstrap(columns=columns)
            assert {i.id for i in items if i.entity.value == "article"} == {
                b_only["id"], draft["id"], shared["id"], a_only["id"]}
        alice_changes, alice_cursor = alice.pull_all(start)
        assert _ids(alice_changes, "upsert") == {shared["id"], a_only["id"]}
        bob_changes, bob_cursor = bob.pull_all(start)
        assert _ids(bob_changes, "upsert") == {shared["id"], b_only["id"]}

        # Scoped away from alice's team, archived, unpublished: her desk gets tombstones.
        alice_events.drain()
        _ok(_patch(sam, a_only["id"], {"team_ids": [workspace.teams["B"]]}))
        assert alice_events.next_poke(timeout=2.0) is not None
        _ok(sam.post(f"/articles/{shared['id']}/archive"))
        changes, alice_cursor = alice.pull_all(alice_cursor)
        assert _ids(changes, "delete") == {a_only["id"], shared["id"]}
        assert _ids(changes, "upsert") == set()
        changes, bob_cursor = bob.pull_all(bob_cursor)
        assert _ids(changes, "upsert") == {a_only["id"]}  # bob gains it
        assert _ids(changes, "delete") == {shared["id"]}
        _ok(_patch(sam, b_only["id"], {"title": "Edited"}))  # an edit reaches bob only
        changes, bob_cursor = bob.pull_all(bob_cursor)
        assert [c.data["title"] for c in changes if c.id == b_only["id"]] == ["Edited"]
        changes, alice_cursor = alice.pull_all(alice_cursor)
        assert _ids(changes, "upsert") | _ids(changes, "delete") == set()
        # Published to everyone, then back to a draft by restoring its first version.
        _ok(sam.post(f"/articles/{draft['id']}/publish"))
        changes, alice_cursor = alice.pull_all(alice_cursor)
        assert _ids(changes, "upsert") == {draft["id"]}
        _ok(sam.post(f"/articles/{draft['id']}/versions/1/restore"))
        changes, alice_cursor = alice.pull_all(alice_cursor)
        assert _ids(changes, "delete") == {draft["id"]}
        # After all of it, alice's bootstrap and her pulls agree: none of these is hers.
        items, _cursor = alice.bootstrap()
        assert {i.id for i in items if i.entity.value == "article"} == set()
    finally:
        alice_events.close()
        bob_events.close()
    assert alice_events.error is None and bob_events.error is None


def test_the_desks_mirror_keeps_published_articles_and_drops_them_on_a_tombstone(
        live_server: LiveServer, workspace: Workspace, tmp_path: Path) -> None:
    """Through the desk's own page handling (sync.mirror) into its SQLite mirror."""
    from sync import mirror
    from sync.store import Store

    sam = Api(live_server.url).login(workspace.emails["sam"])
    alice = Api(live_server.url).login(workspace.emails["alice"])
    kept = _made(sam, key="kept", status="published", tags=["a"])
    store = Store(tmp_path / "desk")
    store.open()
    try:
        token = None
        while True:
            params: dict[str, Any] = {"format": "columns", **({"page_token": token}
                                                              if token else {})}
            raw = alice.get("/sync/bootstrap", params=params).content
            _progress, token = mirror.apply_bootstrap_page(store,
                                                           mirror.parse_bootstrap_page(raw))
            if token is None:
                break

        def rows() -> dict[str, tuple[Any, ...]]:
            with store.read_db("mirror") as conn:
                return {r[0]: r[1:] for r in conn.execute(
                    "SELECT id, title, tags, status, version FROM articles")}
        assert rows() == {kept["id"]: ("Returns", '["a"]', "published", 1)}
        _ok(_patch(sam, kept["id"], {"title": "Returns, edited"}))
        later = _made(sam, key="later", status="published")
        cursor = mirror.get_cursor(store)
        raw = alice.get("/sync/pull", params={"cursor": cursor}).content
        mirror.apply_pull_page(store, raw, cursor)
        assert rows() == {kept["id"]: ("Returns, edited", '["a"]', "published", 2),
                          later["id"]: ("Returns", "[]", "published", 1)}
        _ok(sam.post(f"/articles/{kept['id']}/archive"))
        cursor = mirror.get_cursor(store)
        raw = alice.get("/sync/pull", params={"cursor": cursor}).content
        assert any(c["op"] == "delete" for c in orjson.loads(raw)["changes"])
        mirror.apply_pull_page(store, raw, cursor)
        assert set(rows()) == {later["id"]}
    finally:
        store.close()
