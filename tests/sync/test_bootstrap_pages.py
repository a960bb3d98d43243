"""Bootstrap pages as the desk reads them (``format=columns``), written into a real mirror:
a newer server's extra kinds and fields neither fail the page nor reach the mirror, a
missing list is empty, and a page that does not parse is a page error (retried), never a crash.
(The engine's whole bootstrap over loopback is covered by test_engine_basic and the faults.)
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

import orjson
import pytest

from sync import mirror
from sync.store import Store


def page(groups: list[dict[str, Any]], **extra: Any) -> bytes:
    body = {"groups": groups, "next_page_token": None, "cursor": 7, "snapshot_seq": 7,
            "totals": {"team": 1, "agent": 1, "hologram": 1}}
    body.update(extra)
    return orjson.dumps(body)


def test_a_newer_servers_kinds_and_fields_are_skipped_and_missing_fields_are_empty(
        store: Store) -> None:
    raw = page([
        {"entity": "team", "columns": ["motto", "name", "id"],
         "rows": [["always on", "Support", "t1"]]},
        {"entity": "hologram", "columns": ["id", "shape"], "rows": [["h1", "cube"]]},
        # no team_ids (a JSON field): an empty list
        {"entity": "agent", "columns": ["id", "email", "name", "role", "active"],
         "rows": [["a1", "ann@example.com", "Ann", "agent", True]]},
    ])
    parsed = mirror.parse_bootstrap_page(raw)
    progress, token = store.write_sync(mirror.apply_bootstrap_page, store, parsed)
    assert token is None and progress.finished and progress.cursor == 7
    assert progress.done == {"team": 1, "hologram": 1, "agent": 1}
    with contextlib.closing(sqlite3.connect(store.mirror_path)) as db:
        assert db.execute("SELECT id, name FROM teams").fetchall() == [("t1", "Support")]
        assert db.execute("SELECT id, email, name, role, team_ids, active FROM agents"
                          ).fetchall() == [("a1", "ann@example.com", "Ann", "agent", "[]", 1)]
        assert "hologram" not in {r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert mirror.get_cursor(store) == 7


def test_json_fields_arrive_as_json_values_and_are_stored_as_json_text(store: Store) -> None:
    raw = page([{"entity": "agent", "columns": ["id", "email", "name", "role", "team_ids",
                                                "active"],
                 "rows": [["a1", "ann@example.com", "Ann", "agent", ["t1", "t2"], True]]}])
    store.write_sync(mirror.apply_bootstrap_page, store, mirror.parse_bootstrap_page(raw))
    with contextlib.closing(sqlite3.connect(store.mirror_path)) as db:
        assert db.execute("SELECT team_ids, active FROM agents").fetchall() == [
            ('["t1","t2"]', 1)]


@pytest.mark.parametrize("groups", [
    [{"entity": "team", "columns": ["id", "name"], "rows": [["t1"]]}],  # a row too short
    [{"entity": "team", "columns": ["id", "name"], "rows": "t1,Support"}],  # rows not a list
    [{"entity": "team", "rows": [["t1", "Support"]]}],  # no columns
    "teams",  # groups not a list
], ids=["short-row", "rows-not-a-list", "no-columns", "groups-not-a-list"])
def test_a_malformed_page_is_a_page_error_and_writes_nothing(store: Store, groups: Any) -> None:
    with pytest.raises(mirror.PageError):
        mirror.parse_bootstrap_page(page(groups))
    with pytest.raises(mirror.PageError):
        mirror.parse_bootstrap_page(page([], cursor=None))  # a last page needs its cursor
    with contextlib.closing(sqlite3.connect(store.mirror_path)) as db:
        assert db.execute("SELECT count(*) FROM teams").fetchone() == (0,)
