"""Suggested articles (sync/suggest.py) on a desk synced from the real server: articles
written through the server's REST by a supervisor, conversations through the inbound webhook.
The desk is the supervisor's, whose mirror holds drafts too (never suggested)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync import cli, fulltext, suggest
from tests.server.harness import Api
from tests.sync.test_cli import login_in_process, run

ARTICLES = [  # (key, locale, title, body, tags, status)
    ("kettle", "en", "Kettle does not heat", "Check the base and the fuse of the kettle.",
     ["appliance"], "published"),
    ("kettle", "ja", "湯沸かし器が温まらない", "台座とヒューズを確認してください。", [],
     "published"),
    ("printer", "en", "Printer prints blank pages", "Clean the print head.", [], "published"),
    ("refund", "en", "Refunds", "A refund reaches your card within five days.", ["refund"],
     "published"),
    ("returns", "ja", "返品の手続き", "商品の返品は30日以内に受け付けます。", [], "published"),
    ("returns", "en", "Returning an item", "Items can be returned within 30 days.", [],
     "published"),
    ("kettle-draft", "en", "Kettle recall (draft)", "Kettle kettle kettle heat.", [], "draft"),
]


@pytest.fixture
def desk(server, ws, file_keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[tuple[Path, dict[str, Any]]]:
    ids: dict[str, Any] = {}
    with Api(server.url).login(ws.emails["sam"]) as sam:
        for key, locale, title, body, tags, status in ARTICLES:
            r = sam.post("/articles", json={"key": key, "locale": locale, "title": title,
                                            "body": body, "tags": tags, "status": status})
            assert r.status_code == 201, r.text
            ids[(key, locale)] = r.json()["id"]
    api = Api(server.url)
    ids["kettle"] = api.inbound(ws, "a_email", "dora@example.com", "My kettle stopped "
                                "heating water", subject="Kettle").conversation_id
    ids["newest"] = api.inbound(ws, "a_email", "erik@example.com", "I would like a refund",
                                subject="Printer").conversation_id
    ids["ja"] = api.inbound(ws, "a_sms", "+819000000001", "返品したいです").conversation_id
    ids["mixed"] = api.inbound(ws, "a_sms", "+819000000002", "kettle と printer が壊れました"
                               ).conversation_id
    ids["english_ja_contact"] = api.inbound(ws, "a_email", "kenji@example.jp",
                                            "How do I return an item?").conversation_id
    ids["nothing"] = api.inbound(ws, "a_email", "zed@example.com", "Hi there").conversation_id
    api.close()
    data = tmp_path / "sam"
    login_in_process(monkeypatch, data, server.url, email=ws.emails["sam"])
    assert cli.main(["--data-dir", str(data), "sync"]) == 0
    yield data, ids


def mirror(data: Path) -> sqlite3.Connection:
    db = sqlite3.connect(data / "mirror.sqlite3")
    fulltext.register(db)
    return db


def shown(db: sqlite3.Connection, conversation_id: str) -> list[tuple[str, str, bool]]:
    return [(s.key, s.locale, s.translated) for s in suggest.suggest(db, conversation_id)]


def test_suggestions_follow_what_the_customer_wrote_in_their_language(desk) -> None:
    data, ids = desk
    db = mirror(data)
    try:
        kettle = suggest.suggest(db, ids["kettle"])
        assert kettle[0].key == "kettle" and kettle[0].locale == "en"
        assert kettle[0].title == "Kettle does not heat" and not kettle[0].translated
        assert "kettle-draft" not in {s.key for s in kettle}  # a draft is never suggested
        assert len({s.key for s in kettle}) == len(kettle)  # one language of each article

        # The customer's message weighs more than the subject
        assert shown(db, ids["newest"])[:2] == [("refund", "en", False),
                                                ("printer", "en", False)]

        # Japanese by script (the contact has no locale): the Japanese article
        assert shown(db, ids["ja"])[0] == ("returns", "ja", False)
        assert suggest.conversation_language(db, ids["ja"]) == "ja"

        # Found through English words, shown in Japanese where a translation exists, else
        # in the original
        mixed = shown(db, ids["mixed"])
        assert ("kettle", "ja", True) in mixed and ("printer", "en", False) in mixed

        # The contact's locale outranks the script they write in
        assert shown(db, ids["english_ja_contact"])[0] == ("returns", "en", False)
        with db:
            db.execute("UPDATE contacts SET locale = 'ja-JP' WHERE id = (SELECT contact_id "
                       "FROM conversations WHERE id = ?)", (ids["english_ja_contact"],))
        assert shown(db, ids["english_ja_contact"])[0] == ("returns", "ja", True)

        assert suggest.suggest(db, ids["nothing"]) == []  # only stopwords
        with pytest.raises(suggest.UnknownConversation):
            suggest.suggest(db, "no-such-conversation")
    finally:
        db.close()


def test_suggest_command(desk, file_keyring, capsys) -> None:
    data, ids = desk
    r = run(file_keyring, "--data-dir", str(data), "suggest", ids["mixed"], "--json")
    assert r.code == 0, r
    got = {(s["key"], s["locale"]): s for s in r.json()}
    kettle = got[("kettle", "ja")]
    assert kettle["id"] == ids[("kettle", "ja")] and kettle["title"] == "湯沸かし器が温まらない"
    assert kettle["translated"] is True and kettle["score"] > 0
    assert set(kettle) == {"id", "key", "locale", "title", "snippet", "score", "translated"}
    assert cli.main(["--data-dir", str(data), "suggest", "no-such-conversation"]) == 2
    assert "no conversation no-such-conversation" in capsys.readouterr().err
