"""Disagreements the property test (test_filter_agreement.py) found between an inbox view's
SQL and its Python twin (``queries.matches``, ``queries._sort_key``), which decides the rows
the agent's unconfirmed intents change: one test each, each failing if it came back. A
disagreement shows as a row that jumps or vanishes when an intent is queued or confirmed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync import entities, mirror, outbox, queries, search
from sync.queries import InboxFilter, Sort
from sync.store import Store

ME = "agent-me"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "desk")
    s.open()
    yield s
    s.close()


def conversation(cid: str, **values: Any) -> dict[str, Any]:
    row = {"id": cid, "channel_id": "ch-email", "channel_type": "email",
           "contact_id": f"contact-{cid}", "contact_name": "Anon",
           "team_id": "team-a", "assignee_id": None, "subject": None, "preview": "",
           "status": "open", "snoozed_until": None, "priority": "normal", "tags": [],
           "unread_count": 0, "last_activity_at": 1_000, "last_inbound_at": None,
           "sla_due_at": None, "created_at": 0}
    row.update(values)
    return row


def fill(store: Store, rows: list[dict[str, Any]]) -> None:
    """The rows as a pull leaves them in the mirror (with their contacts)."""
    def write() -> None:
        with store.write_mirror() as conn:
            entities.apply_changes(conn, [
                *(("contact", r["contact_id"], "upsert",
                   {"id": r["contact_id"], "name": r["contact_name"], "identities": [],
                    "attributes": {}, "created_at": 0}) for r in rows),
                *(("conversation", r["id"], "upsert",
                   {k: v for k, v in r.items() if k != "contact_name"}) for r in rows)])

    store.write_sync(write)


def queue_priority_change(store: Store, rows: list[dict[str, Any]]) -> None:
    """An unsent intent on each row that leaves its text and its place in these views
    alone (its priority set to the one it has): the rows are now decided in Python."""
    def write() -> None:
        with store.write_outbox() as conn:
            for r in rows:
                outbox.enqueue(conn, "set_priority",
                               {"conversation_id": r["id"], "priority": r["priority"]}, 0)

    store.write_sync(write)


def found(store: Store, q: str, limit: int | None = None) -> set[str]:
    return set(queries.conversation_ids(store, InboxFilter(text=q), Sort.LAST_ACTIVITY, ME,
                                        limit=limit))


# Python's str.casefold() folds ß to ss and İ to i̇; the trigram index (FTS5) folds one
# character to one, by its own table. matches() used casefold(): a search for "strasse"
# listed "Straße" only while an intent on it was unsent, and a search for "İ" found nothing
# in the index (its one-character lookup lower()ed "İ" to two characters).
FOLDING = [conversation("a", preview="Straße 5"), conversation("b", preview="STRASSE 7"),
           conversation("c", contact_name="İlker Yılmaz"), conversation("d", subject="ΟΔΟΣ")]
FOLDED_SEARCHES = {"straße": {"a"}, "STRAẞE": {"a"}, "strasse": {"b"}, "İlker": {"c"},
                   "İ": {"c"}, "οδοσ": {"d"}, "οδος": {"d"}}


def test_a_search_lists_the_same_rows_with_or_without_the_agents_unsent_intents(
        store: Store) -> None:
    fill(store, FOLDING)
    before = {q: found(store, q) for q in FOLDED_SEARCHES}
    queue_priority_change(store, FOLDING)
    after = {q: found(store, q) for q in FOLDED_SEARCHES}
    assert before == after == FOLDED_SEARCHES


# LIKE folds ASCII letters only: where the desk searched with LIKE (a first screen of many
# matches, a one-letter search, a first bootstrap before the index exists) "é" missed
# "Élodie" and "kel" missed "KELVIN" spelt with the Kelvin sign, which the index finds.
CASES = [conversation("e", preview="Élodie"), conversation("f", preview="élan"),
         conversation("g", subject="\u212aELVIN"), conversation("h", preview="kettle"),
         conversation("i", contact_name="ſusan")]
CASE_SEARCHES = {"é": {"e", "f"}, "élo": {"e"}, "ÉLAN": {"f"}, "kel": {"g"}, "k": {"g", "h"},
                 "ket": {"h"}, "susan": {"i"}, "s": {"i"}}


@pytest.mark.parametrize("path", ["index", "first screen of many matches",
                                  "one letter by LIKE", "first bootstrap"])
def test_every_search_path_folds_case_as_the_index_does(
        store: Store, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(store, CASES)
    limit = None
    if path == "first screen of many matches":
        monkeypatch.setattr(search, "FEW_MATCHES", 0)
        limit = 10
    elif path == "one letter by LIKE":
        monkeypatch.setattr(search, "SHORT_SEARCH_MAX_TRIGRAMS", 0)
    elif path == "first bootstrap":  # no search triggers until its end: LIKE answers
        def drop() -> None:
            with store.write_mirror() as conn:
                mirror.drop_deferred_indexes(conn)

        store.write_sync(drop)
    assert {q: found(store, q, limit) for q in CASE_SEARCHES} == CASE_SEARCHES


def test_the_waiting_order_keeps_an_inbound_time_of_zero_when_an_intent_is_queued(
        store: Store) -> None:
    # The SQL orders by COALESCE(last_inbound_at, last_activity_at); the Python key took
    # ``last_inbound_at or last_activity_at``, so a row answered at 0 moved to 3000.
    rows = [conversation("zero", last_inbound_at=0, last_activity_at=3_000),
            conversation("later", last_inbound_at=None, last_activity_at=1_000)]
    fill(store, rows)
    waiting = queries.conversation_ids(store, InboxFilter(), Sort.WAITING, ME)
    queue_priority_change(store, rows[:1])
    assert queries.conversation_ids(store, InboxFilter(), Sort.WAITING, ME) == waiting \
        == ["zero", "later"]


def test_a_tag_view_searched_for_text_no_row_holds_is_empty(store: Store) -> None:
    # A one- or two-character search no indexed text begins is "no row" (WHERE 0), which
    # SQLite cannot plan with the tag view's INDEXED BY: "no query solution".
    fill(store, [conversation("t", tags=["vip"], preview="hello")])
    flt = InboxFilter(tag="vip", text="zq")
    for sort in Sort:
        assert queries.conversation_ids(store, flt, sort, ME) == []
        assert queries.conversation_ids(store, flt, sort, ME, limit=5) == []
    assert queries.conversation_count(store, flt, ME) == 0
    assert queries.conversation_ids(store, InboxFilter(tag="vip", text="he"),
                                    Sort.LAST_ACTIVITY, ME) == ["t"]


def test_fold_is_the_search_indexs_folding_for_every_character() -> None:
    # fold() asks FTS5 only about the characters Python knows a case of; FTS5 folds no other.
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
    db.execute("CREATE VIRTUAL TABLE terms USING fts5vocab(t, 'instance')")
    every = [c for c in map(chr, range(0x21, 0x20000))
             if not 0xD800 <= ord(c) < 0xE000 and c not in "\ufffe\uffff"]  # (not text)
    db.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", ((ord(c), c + "  ") for c in every))
    indexed = dict(db.execute("SELECT doc, substr(term, 1, 1) FROM terms"))
    assert {ord(c): search.fold(c) for c in every} == {ord(c): indexed[ord(c)] for c in every}
