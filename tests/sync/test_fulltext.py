"""Full-text search (sync/fulltext.py) over a real mirror file: the desk's own tables (made by
the Store's migrations), an articles table as the issue describes it, rows written as the desk
writes them (INSERT … ON CONFLICT DO UPDATE)."""

from __future__ import annotations

import html
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync import fulltext
from sync.store import Store

DAY_MS = 86_400_000
NOW = 1_800_000_000_000


class Mirror:
    """A desk's mirror with writers for the searched kinds."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        fulltext.register(self.db)
        # The mirror's articles table where this mirror has one, else the columns searched
        self.db.execute("CREATE TABLE IF NOT EXISTS articles (id TEXT PRIMARY KEY, title TEXT "
                        "NOT NULL, body TEXT NOT NULL, tags TEXT NOT NULL, locale TEXT)")
        self.article_columns = {r[1] for r in self.db.execute("PRAGMA table_info(articles)")}
        self.conversations = 0

    def message(self, id_: str, body: str, *, conversation: str = "c0",
                age_days: float = 1.0) -> None:
        self.db.execute(
            "INSERT INTO messages (id, conversation_id, direction, body, delivery, mentions, "
            "created_at) VALUES (?, ?, 'inbound', ?, 'received', '[]', ?) "
            "ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            (id_, conversation, body, int(NOW - age_days * DAY_MS)))

    def contact(self, id_: str, name: str, handles: tuple[str, ...] = (),
                locale: str | None = None) -> None:
        identities = json.dumps([{"channel_type": "email", "handle": h, "opted_out": False}
                                 for h in handles])
        self.db.execute(
            "INSERT INTO contacts (id, name, locale, identities, attributes, created_at) "
            "VALUES (?, ?, ?, ?, '{}', 0) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
            "identities = excluded.identities", (id_, name, locale, identities))

    def conversation(self, id_: str, subject: str | None, contact: str = "k0") -> None:
        self.db.execute(
            "INSERT INTO conversations (id, channel_id, channel_type, contact_id, team_id, "
            "subject, status, priority, tags, unread_count, preview, last_activity_at, "
            "created_at) VALUES (?, 'ch', 'email', ?, 't', ?, 'open', 'normal', '[]', 0, '', "
            "0, 0) ON CONFLICT (id) DO UPDATE SET subject = excluded.subject, "
            "status = excluded.status", (id_, contact, subject))

    def article(self, id_: str, title: str, body: str, tags: tuple[str, ...] = (),
                locale: str = "en") -> None:
        values = {"id": id_, "key": id_, "locale": locale, "title": title, "body": body,
                  "tags": json.dumps(list(tags)), "visibility": "internal", "team_ids": "[]",
                  "status": "published", "version": 1, "created_at": 0, "updated_at": 0}
        cols = [c for c in values if c in self.article_columns]
        self.db.execute(
            f"INSERT INTO articles ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            "ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body, "
            "tags = excluded.tags", [values[c] for c in cols])

    def ids(self, query: str, kind: str | None = None, **kw: object) -> list[str]:
        hits = fulltext.search(self.db, query, [kind] if kind else None, now_ms=NOW, **kw)
        return [h.id for h in hits]


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    store = Store(tmp_path / "desk")
    store.open()
    m = Mirror(store.mirror_path)
    assert fulltext.create(m.db) == ["message", "conversation", "contact", "article"]
    yield m
    m.db.close()
    store.close()


def test_english_words_in_any_order_not_only_the_phrase(mirror: Mirror) -> None:
    mirror.message("m1", "The remote control stopped working after the battery change")
    mirror.message("m2", "I changed the battery and the remote is fine now")
    mirror.message("m3", "My remote arrived today")
    assert sorted(mirror.ids("battery remote")) == ["m1", "m2"]
    assert sorted(mirror.ids("remote battery")) == ["m1", "m2"]


def test_english_inflections_find_each_other(mirror: Mirror) -> None:
    mirror.message("m1", "The printer is printing blank pages")
    mirror.message("m2", "I printed the invoice twice")
    mirror.message("m3", "Please print the label")
    mirror.message("m4", "The sprint review is tomorrow")
    for query in ("print", "printing", "printed", "PRINTS"):
        assert sorted(mirror.ids(query)) == ["m1", "m2", "m3"], query


def test_bm25_ranks_a_title_match_above_a_body_match(mirror: Mirror) -> None:
    mirror.article("body", "Shipping times", "If your warranty claim is late, write to us.")
    mirror.article("title", "Warranty claims", "Write to us with the receipt.")
    for n in range(20):  # a corpus, so that "warranty" is a rare word
        mirror.article(f"other{n}", f"Topic {n}", "Something else entirely about parcels.")
    assert mirror.ids("warranty", "article")[:2] == ["title", "body"]


def test_recency_is_blended_into_message_ranking(mirror: Mirror) -> None:
    mirror.message("old", "refund requested", age_days=300)
    mirror.message("new", "refund requested", age_days=0.5)
    assert mirror.ids("refund") == ["new", "old"]


def test_japanese_one_and_two_character_words_are_found(mirror: Mirror) -> None:
    mirror.message("m1", "注文した商品の返品をお願いします")
    mirror.message("m2", "テレビの音量が急に大きくなりました")
    mirror.article("a1", "両面印刷の設定", "プリンターで両面に印刷する方法です。", locale="ja")
    mirror.message("m3", "傘を忘れました")
    assert mirror.ids("返品") == ["m1"]
    assert mirror.ids("音量") == ["m2"]
    assert mirror.ids("両面") == ["a1"]
    assert mirror.ids("傘") == ["m3"]  # one character at the start of a run
    assert mirror.ids("量") == ["m2"]  # … and inside one
    assert mirror.ids("す", "message") == ["m1"]  # … and as a run's last character


def test_japanese_terms_never_match_their_characters_apart(mirror: Mirror) -> None:
    mirror.message("apart", "返信と商品について")
    mirror.message("reversed", "品返しの件")
    mirror.message("together", "返品について")
    assert mirror.ids("返品") == ["together"]
    assert mirror.ids("返品について") == ["together"]


def test_a_japanese_query_with_a_space_means_both_words(mirror: Mirror) -> None:
    mirror.message("both", "ロックを解除したら画面が暗いままです")
    mirror.message("screen", "画面が割れました")
    mirror.message("lock", "ロックできません")
    assert mirror.ids("画面 ロック") == ["both"]
    assert mirror.ids("画面　ロック") == ["both"]  # an ideographic space too


def test_mixed_english_and_japanese(mirror: Mirror) -> None:
    mirror.message("m1", "iPhoneの充電ケーブルが届きません")
    mirror.message("m2", "The iPhone charger arrived")
    assert sorted(mirror.ids("iphone")) == ["m1", "m2"]
    assert mirror.ids("iPhone 充電") == ["m1"]
    assert mirror.ids("充電 cable") == []


def test_width_and_case_are_normalized(mirror: Mirror) -> None:
    mirror.message("m1", "ＡＢＣ－１２３ の注文")
    mirror.message("m2", "ｶﾞｲﾄﾞを読みました")
    mirror.message("m3", "Café CRÈME")
    assert mirror.ids("abc") == ["m1"]
    assert mirror.ids("123") == ["m1"]
    assert mirror.ids("ガイド") == ["m2"]
    assert mirror.ids("ｶﾞｲﾄﾞ") == ["m2"]
    assert mirror.ids("cafe creme") == ["m3"]


def test_contacts_by_name_and_handle_and_conversations_by_subject(mirror: Mirror) -> None:
    mirror.contact("k1", "山田 太郎", ("taro.yamada@example.jp", "+81 90 1234 5678"), "ja")
    mirror.contact("k2", "Alice Smith", ("alice@example.com",), "en")
    mirror.conversation("c1", "Invoice for order 1234", contact="k2")
    mirror.conversation("c2", None, contact="k1")
    assert mirror.ids("山田") == ["k1"]
    assert mirror.ids("yamada") == ["k1"]
    assert mirror.ids("alice", "contact") == ["k2"]
    hits = fulltext.search(mirror.db, "invoice")
    assert [(h.kind, h.id) for h in hits] == [("conversation", "c1")]
    assert hits[0].title is not None and hits[0].title.text == "Invoice for order 1234"


def test_kind_and_locale_filters(mirror: Mirror) -> None:
    mirror.article("en", "Refund policy", "How refunds work", locale="en")
    mirror.article("ja", "Refund 返金", "返金の方法", locale="ja")
    mirror.message("m1", "refund please")
    assert mirror.ids("refund", "article", locale="ja") == ["ja"]
    assert sorted(mirror.ids("refund", "article")) == ["en", "ja"]
    assert mirror.ids("refund", "message") == ["m1"]


def test_snippets_mark_the_original_text_and_leave_escaping_to_the_caller(mirror: Mirror
                                                                         ) -> None:
    mirror.message("m1", "<b>Printing</b> fails & ＰＤＦ <script>x</script> 返品の件")
    (hit,) = fulltext.search(mirror.db, "print pdf 返品")
    s = hit.snippet
    assert s.text == "<b>Printing</b> fails & ＰＤＦ <script>x</script> 返品の件"
    assert [s.text[a:b] for a, b in s.marks] == ["Printing", "ＰＤＦ", "返品"]
    assert s.markup(html.escape, "[", "]") == (
        "&lt;b&gt;[Printing]&lt;/b&gt; fails &amp; [ＰＤＦ] &lt;script&gt;x&lt;/script&gt; "
        "[返品]の件")


def test_a_long_text_is_cut_around_its_first_match(mirror: Mirror) -> None:
    mirror.message("m1", "filler words " * 40 + "the warranty expired " + "more text " * 40)
    (hit,) = fulltext.search(mirror.db, "warranty")
    s = hit.snippet
    assert len(s.text) <= fulltext.SNIPPET_CHARS + 2
    assert s.text.startswith("…") and s.text.endswith("…")
    assert [s.text[a:b] for a, b in s.marks] == ["warranty"]


def test_updates_and_deletes_keep_the_index_consistent(mirror: Mirror) -> None:
    mirror.message("m1", "refund for the broken charger")
    mirror.message("m2", "返品の件")
    mirror.contact("k1", "Bob", ("bob@example.com",))
    mirror.conversation("c1", "Charger broken")
    mirror.article("a1", "Chargers", "Which charger fits", ("charger",))
    fulltext.integrity_check(mirror.db)

    mirror.message("m1", "exchange the remote instead")  # the desk's upsert: same rowid
    mirror.contact("k1", "Robert", ("robert@example.com",))
    mirror.conversation("c1", "Remote exchange")
    mirror.db.execute("UPDATE conversations SET status = 'resolved'")  # not indexed
    mirror.article("a1", "Remotes", "Which remote fits", ())
    mirror.db.execute("DELETE FROM messages WHERE id = 'm2'")
    fulltext.integrity_check(mirror.db)
    assert mirror.ids("charger") == []
    assert mirror.ids("返品") == []
    assert mirror.ids("bob") == []
    assert sorted(mirror.ids("remote")) == ["a1", "c1", "m1"]
    assert mirror.ids("robert") == ["k1"]


def test_integrity_check_notices_an_index_out_of_step(mirror: Mirror) -> None:
    mirror.message("m1", "refund for the broken charger")
    mirror.db.execute("DROP TRIGGER fulltext_message_update")
    mirror.db.execute("UPDATE messages SET body = 'something else'")
    with pytest.raises(sqlite3.DatabaseError, match="fulltext_message"):
        fulltext.integrity_check(mirror.db)


def test_a_bulk_build_indexes_rows_written_while_suspended(mirror: Mirror) -> None:
    fulltext.suspend(mirror.db)
    for n in range(200):
        mirror.message(f"m{n}", f"order {n} 配送 delayed" if n % 2 else f"parcel {n} 返金")
    assert mirror.ids("parcel") == []  # suspended: nothing indexed
    fulltext.build(mirror.db)
    fulltext.integrity_check(mirror.db)
    assert len(mirror.ids("parcel", limit=500)) == 100
    assert len(mirror.ids("配送 delay", limit=500)) == 100
    mirror.message("m0", "order 0 配送 delayed")  # the triggers are back
    assert len(mirror.ids("配送", limit=500)) == 101


HOSTILE = ['"', '""', "'", 'NEAR(', "NEAR(refund charger, 2)", "*", "refund*", "-refund",
           "- -", "AND", "OR", "NOT", "refund OR charger", "refund NOT charger",
           "title:refund", "body:refund", "{body}: refund", "^refund", "refund +", "(",
           ")", "(refund", '"refund', "refund\"", "\\", "%", "_", "返品\"", "\x00", "\x01x\x02",
           "🙂", "a" * 2000, "返" * 500, "　", ":", "col:", "rank:1", "rowid = 1"]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise_nor_become_syntax(mirror: Mirror, query: str) -> None:
    mirror.message("m1", "refund for the broken charger")
    mirror.message("m2", "NOT a refund OR charger and title here")
    mirror.message("m3", "返品の件")
    hits = fulltext.search(mirror.db, query)
    expression = fulltext.match_expression(query)
    # Every word is quoted: what FTS5 reads as syntax appears only as our own AND and '*'.
    if expression is not None:
        for part in expression.split(" AND "):
            assert part.startswith('"') and (part.endswith('"') or part.endswith('"*'))
    words = {"refund OR charger": {"m2"}, "refund NOT charger": {"m2"}}
    if query in words:
        assert {h.id for h in hits} == words[query]


def test_empty_and_unsearchable_queries_find_nothing(mirror: Mirror) -> None:
    mirror.message("m1", "refund")
    for query in ("", "   ", "!!!", "- * -"):
        assert fulltext.search(mirror.db, query) == []


def test_suspend_and_build_stay_inside_the_callers_transaction(mirror: Mirror) -> None:
    """A bootstrap page applies its rows, the index upkeep and its position in one
    transaction: neither suspend nor build may commit it half way."""
    mirror.message("m1", "parcel lost")
    mirror.db.execute("BEGIN IMMEDIATE")
    fulltext.suspend(mirror.db)
    assert mirror.db.in_transaction
    mirror.message("m2", "parcel found")
    fulltext.build(mirror.db)
    assert mirror.db.in_transaction
    mirror.db.execute("ROLLBACK")  # the page failed: everything it did goes
    assert mirror.ids("parcel") == ["m1"]
    fulltext.integrity_check(mirror.db)


def test_pulls_that_update_delete_and_readd_keep_a_synced_desks_index_current(
        server, ws, file_keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A desk bootstrapped from the real server (the index built once at its end), then
    pulls: an article edited (upserted: INSERT OR REPLACE, a new rowid), one archived (a
    tombstone), one published again (a new row), new messages. After each, the index agrees
    with the tables and search finds the new text, not the old."""
    from sync import cli
    from tests.server.harness import PREFIX, Api
    from tests.sync.test_cli import login_in_process

    sam = Api(server.url).login(ws.emails["sam"])

    def article(**fields: object) -> str:
        r = sam.post("/articles", json={"locale": "en", "status": "published", **fields})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def edit(article_id: str, **fields: object) -> None:
        r = sam.http.patch(f"{PREFIX}/articles/{article_id}", headers=sam.headers, json=fields)
        assert r.status_code == 200, r.text

    def act(article_id: str, action: str) -> None:
        r = sam.post(f"/articles/{article_id}/{action}")
        assert r.status_code == 200, r.text

    printer = article(key="printer", title="Printer prints blank pages", body="Clean the head.")
    parcel = article(key="parcel", title="Lost parcel", body="We send a new one.")
    refund = article(key="refund", title="Refunds", body="返金は5日以内です。")
    api = Api(server.url)
    api.inbound(ws, "a_email", "dora@example.com", "The kettle whistles")
    data = tmp_path / "desk"
    login_in_process(monkeypatch, data, server.url)

    def sync_and_check() -> sqlite3.Connection:
        assert cli.main(["--data-dir", str(data), "sync"]) == 0
        db = sqlite3.connect(data / "mirror.sqlite3")
        fulltext.register(db)
        fulltext.integrity_check(db)
        return db

    def ids(db: sqlite3.Connection, query: str) -> set[str]:
        return {h.id for h in fulltext.search(db, query)}

    db = sync_and_check()  # the bootstrap
    assert ids(db, "printing") == {printer} and ids(db, "返金") == {refund}
    assert len(ids(db, "kettle")) == 1
    db.close()

    edit(printer, title="Scanner jams", body="Open the lid.")
    act(parcel, "archive")
    act(refund, "archive")
    api.inbound(ws, "a_email", "dora@example.com", "Now the toaster smokes")
    db = sync_and_check()
    assert ids(db, "printing") == set() and ids(db, "scanner jam") == {printer}
    assert ids(db, "parcel") == set() and ids(db, "返金") == set()
    assert len(ids(db, "toaster")) == 1
    db.close()

    act(refund, "publish")  # back: a new row under the same id
    edit(refund, body="返金は7日以内です。")
    db = sync_and_check()
    assert ids(db, "返金") == {refund} and ids(db, "7日") == {refund}
    assert ids(db, "5日") == set()
    db.close()
    sam.close()
    api.close()


def test_upgrading_a_desk_indexes_the_rows_it_already_has(tmp_path: Path) -> None:
    """m0005 on a desk at m0004: its messages and articles become searchable at once, and
    the index is kept from then on (the Store's connections have the functions)."""
    from alembic import command
    from alembic.config import Config

    from sync.store import MIGRATIONS

    data = tmp_path / "old"
    data.mkdir()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS / "mirror"))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{data / 'mirror.sqlite3'}")
    command.upgrade(cfg, "m0004")
    old = Mirror(data / "mirror.sqlite3")
    old.message("m1", "The parcel never came")
    old.article("a1", "Lost parcels", "We send another one.")
    old.db.close()

    store = Store(data)
    store.open()
    try:
        with store.read_db("mirror") as db:
            assert {h.id for h in fulltext.search(db, "parcels")} == {"m1", "a1"}
            fulltext.integrity_check(db)

        def write() -> None:
            with store.write_mirror() as conn:
                conn.exec_driver_sql("UPDATE messages SET body = 'the parcel came' "
                                     "WHERE id = 'm1'")
        store.write_sync(write)
        with store.read_db("mirror") as db:
            assert {h.id for h in fulltext.search(db, "came")} == {"m1"}
            fulltext.integrity_check(db)
    finally:
        store.close()
