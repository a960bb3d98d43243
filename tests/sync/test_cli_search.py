"""`relaydesk-sync search` on a desk synced from the real server over loopback, then run as
a process with the server gone (search reads the mirror only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sync import cli
from tests.server.harness import Api, LiveServer, Workspace
from tests.sync.test_cli import login_in_process, run, run_many


def publish(sam: Api, **fields: Any) -> dict[str, Any]:
    r = sam.post("/articles", json={"status": "published", **fields})
    assert r.status_code == 201, r.text
    return r.json()


def synced_desk(server: LiveServer, ws: Workspace, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """Alice's desk, synced: articles in English and Japanese, conversations in both."""
    with Api(server.url).login(ws.emails["sam"]) as sam:
        ids = {
            "printing": publish(sam, key="printing", locale="en", title="Printer prints blank "
                                "pages", body="Clean the print head, then print a test page.",
                                tags=["printer"])["id"],
            "returns_ja": publish(sam, key="returns", locale="ja", title="返品の手続き",
                                  body="商品の返品は30日以内に受け付けます。")["id"],
            "returns_en": publish(sam, key="returns", locale="en", title="Returning an item",
                                  body="Items can be returned within 30 days.")["id"],
        }
    api = Api(server.url)
    ids["conv_en"] = api.inbound(ws, "a_email", "dora@example.com", "My printer printed "
                                 "nothing at all", subject="Printing trouble").conversation_id
    ja = api.inbound(ws, "a_sms", "+819000000001", "返品したいです", display_name="山田花子")
    ids["conv_ja"], ids["msg_ja"] = ja.conversation_id, ja.message_id
    # 返 and 品 apart (返信と商品): a two-character term must not find this
    ids["msg_apart"] = api.inbound(ws, "a_sms", "+819000000001", "返信と商品の件").message_id
    ids["conv_b"] = api.inbound(ws, "b_sms", "+15550100002", "printing in team B"
                                ).conversation_id  # alice may not see it
    api.close()
    data = tmp_path / "desk"
    login_in_process(monkeypatch, data, server.url)
    assert cli.main(["--data-dir", str(data), "sync"]) == 0
    return data, ids


def test_search_finds_english_inflections_and_japanese_terms_offline(
        server, ws, file_keyring, tmp_path, monkeypatch) -> None:
    data, ids = synced_desk(server, ws, tmp_path, monkeypatch)
    server.stop()  # offline from here: search needs the mirror only
    d = ("--data-dir", str(data))
    english, japanese, articles_ja, text = run_many(
        file_keyring,
        ((*d, "search", "printing", "--json"), ""),
        ((*d, "--json", "search", "返品"), ""),
        ((*d, "search", "返品", "--type", "article", "--locale", "ja", "--json"), ""),
        ((*d, "search", "head print", "--type", "article"), ""),
    )
    for r in (english, japanese, articles_ja, text):
        assert r.code == 0, r

    found = english.json()
    assert all(set(r) >= {"kind", "id", "title", "snippet", "score"} for r in found)
    by_id = {r["id"]: r for r in found}
    # print / printed / printing / prints: one word for the index (porter)
    assert by_id[ids["printing"]]["kind"] == "article"
    assert by_id[ids["printing"]]["title"] == "Printer prints blank pages"
    assert by_id[ids["conv_en"]]["title"] == "Printing trouble"
    message = next(r for r in found if r["kind"] == "message")
    assert message["snippet"] == "My printer printed nothing at all"
    assert message["title"] == "Printing trouble"  # its conversation's subject
    assert message["conversation_id"] == ids["conv_en"]
    assert ids["conv_b"] not in by_id and not any("team B" in r["snippet"] for r in found)
    kinds = [r["kind"] for r in found]
    assert kinds == sorted(kinds, key=cli.SEARCH_KINDS.index)  # grouped by kind
    for kind in set(kinds):
        scores = [r["score"] for r in found if r["kind"] == kind]
        assert scores == sorted(scores, reverse=True)

    hits = {(r["kind"], r["id"]): r for r in japanese.json()}
    assert ("message", ids["msg_ja"]) in hits
    assert ("message", ids["msg_apart"]) not in hits  # 返 … 品 apart is not 返品
    assert hits[("message", ids["msg_ja"])]["title"] == "山田花子"  # no subject: the contact
    assert ("article", ids["returns_ja"]) in hits
    assert ("article", ids["returns_en"]) not in hits

    assert [(r["kind"], r["id"], r["title"]) for r in articles_ja.json()] == [
        ("article", ids["returns_ja"], "返品の手続き")]

    assert ids["printing"] in text.stdout and "Printer prints blank pages" in text.stdout
    assert text.stdout.count("article") == 1


def test_search_usage_errors(file_keyring, tmp_path, capsys) -> None:
    data = str(tmp_path / "never-synced")
    assert cli.main(["--data-dir", data, "search", "refund"]) == 2
    assert "nothing synced" in capsys.readouterr().err
    assert not (tmp_path / "never-synced").exists()  # searching creates nothing
    for bad in (["--limit", "0"], ["--type", "ticket"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(["--data-dir", data, "search", "refund", *bad])
        assert exc.value.code == 2
    r = run(file_keyring, "--help")
    assert "search" in r.stdout and "suggest" in r.stdout
