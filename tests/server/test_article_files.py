"""The knowledge base as Markdown files (``relaydesk-server articles import/export``) on a real
database, and the demo's knowledge base seeded through the same code: a round trip gives the
same bytes, a re-import changes in place, a bad file is named with its reason while the rest
import, and a team-scoped demo article reaches only its team's agents."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from server import article_files
from server import models as m
from server.db import Database
from server.seed import seed_demo
from tests.server.harness import Api, LiveServer, Mirror, Workspace
from tests.server.test_cli import cli

SAM = "sam@test.relaydesk"  # the harness workspace's supervisor

# Files as people write them (not in the export's canonical form): no locale suffix, flow
# lists, CRLF, a BOM, blank lines around the body, teams by name and by id, quoting.
RETURNS_EN = """\
---
title: "Returns: the 30-day rule"
locale: en
tags: [returns, refund]
category: Orders
visibility: public
---


Send it back **within 30 days**.

- a list
"""
RETURNS_JA = """\
---
title: 返品について
tags: [返品, 返金]
visibility: public
teams: [Team Alpha]
---
ご購入から30日以内であれば、返品を承ります。

返品は「注文履歴」から。両面、音量、画面 ロック。
"""
DRAFT = ("\ufeff---\r\ntitle: 'Yes'\r\nlocale: en\r\nstatus: draft\r\nvisibility: internal"
         "\r\nteams:\r\n- {team_b}\r\n- Team Alpha\r\n---\r\nA draft: no.\r\n")


def _write(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


def _good(folder: Path, ws: Workspace) -> Path:
    return _write(folder, {"returns.md": RETURNS_EN, "returns.ja.md": RETURNS_JA,
                           "holiday-plan.md": DRAFT.format(team_b=ws.teams["B"])})


def _counts(db: Database) -> tuple[int, int]:
    with db.read() as s:
        return (int(s.scalar(select(func.count()).select_from(m.Article)) or 0),
                int(s.scalar(select(func.count()).select_from(m.ArticleVersion)) or 0))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_import_export_import_export_gives_the_same_bytes(
        db: Database, workspace: Workspace, tmp_path: Path) -> None:
    first = article_files.import_folder(db, _good(tmp_path / "src", workspace), SAM)
    assert first.ok and sorted(first.created) == ["holiday-plan.md", "returns.ja.md",
                                                  "returns.md"]
    once = article_files.export_folder(db, tmp_path / "out1")
    assert sorted(once.written) == ["holiday-plan.en.md", "returns.en.md", "returns.ja.md"]
    exported = _files(tmp_path / "out1")

    # The canonical form: fields in one order, teams by name sorted, LF, UTF-8 (Japanese as
    # itself, not escaped), one newline at the end.
    assert exported["holiday-plan.en.md"] == (
        b"---\ntitle: 'Yes'\nlocale: en\nvisibility: internal\nteams:\n- Team Alpha\n"
        b"- Team Beta\nstatus: draft\n---\n\nA draft: no.\n")
    assert exported["returns.en.md"].startswith(
        b"---\ntitle: 'Returns: the 30-day rule'\nlocale: en\ncategory: Orders\ntags:\n"
        b"- returns\n- refund\nvisibility: public\nstatus: published\n---\n\nSend it back")
    japanese = "返品は「注文履歴」から。両面、音量、画面 ロック。\n".encode()
    assert japanese in exported["returns.ja.md"]
    assert all(b"\r" not in data and data.endswith(b"\n") for data in exported.values())

    again = article_files.import_folder(db, tmp_path / "out1", SAM)
    assert again.ok and sorted(again.unchanged) == sorted(exported) and not again.updated
    article_files.export_folder(db, tmp_path / "out2")
    assert _files(tmp_path / "out2") == exported
    assert article_files.export_folder(db, tmp_path / "out1").written == []  # left untouched


def test_japanese_text_is_stored_as_written(db: Database, workspace: Workspace,
                                            tmp_path: Path) -> None:
    assert article_files.import_folder(db, _good(tmp_path / "src", workspace), SAM).ok
    with db.read() as s:
        row = s.scalar(select(m.Article).where(m.Article.key == "returns",
                                               m.Article.locale == "ja"))
        assert row is not None
        assert (row.title, orjson.loads(row.tags)) == ("返品について", ["返品", "返金"])
        assert row.body == ("ご購入から30日以内であれば、返品を承ります。\n\n"
                            "返品は「注文履歴」から。両面、音量、画面 ロック。")
        teams = set(s.scalars(select(m.ArticleTeam.team_id)
                              .where(m.ArticleTeam.article_id == row.id)))
    assert teams == {workspace.teams["A"]}


def test_a_second_import_updates_in_place_with_a_version_only_when_something_changed(
        db: Database, workspace: Workspace, tmp_path: Path) -> None:
    src = _good(tmp_path / "src", workspace)
    assert article_files.import_folder(db, src, SAM).ok
    assert _counts(db) == (3, 3)

    same = article_files.import_folder(db, src, SAM)
    assert (same.created, same.updated, len(same.unchanged)) == ([], [], 3)
    assert _counts(db) == (3, 3)

    (src / "returns.md").write_text(RETURNS_EN.replace("30 days", "thirty days"))
    (src / "returns.ja.md").write_text(RETURNS_JA.replace("[Team Alpha]", "[]"))
    changed = article_files.import_folder(db, src, "SAM@test.relaydesk")
    assert sorted(changed.updated) == ["returns.ja.md", "returns.md"]
    assert changed.unchanged == ["holiday-plan.md"]
    assert _counts(db) == (3, 5)  # no duplicates; one new version for each changed file
    with db.read() as s:
        versions = s.execute(select(m.ArticleVersion.version, m.ArticleVersion.changed,
                                    m.ArticleVersion.author_id)
                             .join(m.Article, m.Article.id == m.ArticleVersion.article_id)
                             .where(m.Article.key == "returns")
                             .order_by(m.Article.locale, m.ArticleVersion.version)).all()
    assert [(v, orjson.loads(c), a) for v, c, a in versions] == [
        (1, list(article_files.articles.FIELDS), workspace.agents["sam"]),
        (2, ["body"], workspace.agents["sam"]),
        (1, list(article_files.articles.FIELDS), workspace.agents["sam"]),
        (2, ["team_ids"], workspace.agents["sam"]),
    ]


BAD_FILES: dict[str, tuple[bytes, str]] = {  # name: (content, a part of the reason)
    "no-title.md": (b"---\nlocale: en\n---\nBody\n", "no title"),
    "blank-title.md": (b"---\ntitle: '  '\nlocale: en\n---\n", "no title"),
    "jp.md": (b"---\ntitle: x\nlocale: jp\n---\n", "unknown locale 'jp'"),
    "klingon.md": (b"---\ntitle: x\nlocale: en_US\n---\n", "not a language tag"),
    "secret.md": (b"---\ntitle: x\nlocale: en\nvisibility: secret\n---\n",
                  "unknown visibility 'secret'"),
    "gamma.md": (b"---\ntitle: x\nlocale: en\nteams: [Team Gamma]\n---\n",
                 "no team named 'Team Gamma'"),
    "broken-yaml.md": (b"---\ntitle: [unclosed\nlocale: en\n---\n", "not valid YAML"),
    "latin1.md": ("---\ntitle: Caf\u00e9\nlocale: en\n---\n".encode("latin-1"),
                  "not UTF-8"),
    "huge.md": (b"---\ntitle: x\nlocale: en\n---\n" + b"a" * article_files.MAX_FILE_BYTES,
                "too big"),
    "long-body.md": (b"---\ntitle: x\nlocale: en\n---\n" + b"a" * 200_001,
                     "the body has 200,001 characters (the limit is 200,000)"),
    "plain.md": (b"# Just Markdown\n", "no front matter"),
    "unclosed.md": (b"---\ntitle: x\nlocale: en\n", "no closing '---'"),
    "typo.md": (b"---\ntitle: x\nlocale: en\nvisiblity: public\n---\n",
                "unknown field 'visiblity'"),
    "numbers.md": (b"---\ntitle: 2024\nlocale: en\n---\n", "title: must be text"),
    "mismatch.en.md": (b"---\ntitle: x\nlocale: ja\n---\n", "the file name says locale 'en'"),
    "bad name.md": (b"---\ntitle: x\nlocale: en\n---\n", "the file name must be"),
    "archived-x.md": (b"---\ntitle: x\nlocale: en\nstatus: gone\n---\n",
                      "unknown status 'gone'"),
    "faq.md": (b"---\ntitle: FAQ\nlocale: en\n---\n", "faq.en.md is the same article"),
    "faq.en.md": (b"---\ntitle: FAQ\n---\n", "faq.md is the same article"),
}


def test_the_cli_reports_each_bad_file_by_name_and_imports_the_rest(
        database_url: str, db: Database, workspace: Workspace, tmp_path: Path) -> None:
    src = _good(tmp_path / "src", workspace)
    _write(src, {name: data for name, (data, _) in BAD_FILES.items()})
    (src / "notes.txt").write_text("not an article: ignored")

    res = cli("articles", "import", str(src), "--as", SAM, "--database-url", database_url)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == len(BAD_FILES), res.stderr
    for name, (_, reason) in BAD_FILES.items():
        line = next((x for x in lines if x.startswith(f"relaydesk-server: {name}: ")), None)
        assert line is not None and reason in line, (name, res.stderr)
    assert (f"3 created, 0 updated, 0 unchanged, {len(BAD_FILES)} failed."
            in res.stdout), res.stdout
    with db.read() as s:
        keys = {(k, loc) for k, loc in s.execute(select(m.Article.key, m.Article.locale))}
    assert keys == {("returns", "en"), ("returns", "ja"), ("holiday-plan", "en")}

    for name in BAD_FILES:
        (src / name).unlink()
    ok = cli("articles", "import", str(src), "--as", SAM, "--database-url", database_url)
    assert (ok.returncode, ok.stderr) == (0, ""), ok.stderr
    assert "0 created, 0 updated, 3 unchanged, 0 failed." in ok.stdout

    out = cli("articles", "export", str(tmp_path / "out"), "--database-url", database_url)
    assert out.returncode == 0, out.stderr
    assert "Exported 3 articles" in out.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "holiday-plan.en.md", "returns.en.md", "returns.ja.md"]


@pytest.mark.parametrize(("author", "reason"), [
    ("nobody@test.relaydesk", "no agent with the email"),
    ("alice@test.relaydesk", "only supervisors write articles"),
])
def test_an_import_acts_as_a_supervisor(database_url: str, workspace: Workspace,
                                        tmp_path: Path, author: str, reason: str) -> None:
    res = cli("articles", "import", str(_good(tmp_path / "src", workspace)), "--as", author,
              "--database-url", database_url)
    assert res.returncode == 2 and reason in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_a_missing_folder_is_a_usage_error(database_url: str, workspace: Workspace,
                                           tmp_path: Path) -> None:
    res = cli("articles", "import", str(tmp_path / "nope"), "--as", SAM,
              "--database-url", database_url)
    assert res.returncode == 2 and "is not a folder" in res.stderr, res.stderr


# --------------------------------------------------------------------------- the demo


def test_the_demo_knowledge_base_is_seeded_and_exports_as_shipped(
        db: Database, tmp_path: Path) -> None:
    assert seed_demo(db).created
    article_files.export_folder(db, tmp_path / "kb")
    shipped = Path(article_files.__file__).parent / "demo_articles"
    assert _files(tmp_path / "kb") == _files(shipped)  # the shipped files are canonical
    with db.read() as s:
        rows = s.execute(select(m.Article.key, m.Article.locale, m.Article.status,
                                m.Article.visibility, m.Agent.email)
                         .join(m.Agent, m.Agent.id == m.Article.updated_by)).all()
    keys = {loc: {k for k, locale, *_ in rows if locale == loc} for loc in ("en", "ja")}
    assert len(rows) >= 40 and len(keys["en"] & keys["ja"]) >= 20
    assert keys["en"] - keys["ja"] and keys["ja"] - keys["en"]  # a few in one language only
    assert {r.email for r in rows} == {"supervisor@demo.relaydesk.test"}
    assert {"draft", "published"} <= {r.status for r in rows}
    assert {"internal", "public"} <= {r.visibility for r in rows}


def test_a_demo_agent_receives_only_the_articles_of_their_teams(
        db: Database, tmp_path: Path) -> None:
    seed_demo(db)
    with db.read() as s:
        team_names = {t.id: t.name for t in s.scalars(select(m.Team))}
        scopes: dict[str, set[str]] = {}
        for article_id, team_id in s.execute(select(m.ArticleTeam.article_id,
                                                    m.ArticleTeam.team_id)):
            scopes.setdefault(article_id, set()).add(team_names[team_id])
        drafts = set(s.scalars(select(m.Article.id).where(m.Article.status == "draft")))
        everyone = {a for a in s.scalars(select(m.Article.id)) if a not in scopes} - drafts
    assert {"Billing", "Customer Support", "日本サポート"} <= set().union(*scopes.values())

    server = LiveServer(db.url.render_as_string(hide_password=False), tmp_path)
    server.start()
    try:
        # Kenji Sato is in 日本サポート only; Emily Carter in Customer Support only.
        for email, password, team in (("kenji.sato@demo.relaydesk.test", "demo-kenji",
                                       "日本サポート"),
                                      ("emily.carter@demo.relaydesk.test", "demo-emily",
                                       "Customer Support")):
            with Api(server.url) as api:
                api.login(email, password)
                seen = set(Mirror().sync(api).of("article"))
                fed = {c.id for c in api.pull_all(0)[0] if c.entity.value == "article"}
            mine = {a for a, teams in scopes.items() if team in teams} - drafts
            assert seen == fed == everyone | mine, email
            assert mine  # the team has articles of its own, and gets them
            assert not seen & drafts
    finally:
        server.stop()
