"""The server agrees with each entity kind's declaration (protocol.entities): the payloads
it writes carry the declared fields in the declared order, bootstrap's column lists are
them, and each kind's rows reach exactly its declared audience. Every disagreement is named.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from protocol.entities import KINDS, Audience
from server import models as m
from server.db import Database
from server.seed import seed_demo
from tests.server.harness import Api, LiveServer

_MODELS: dict[str, Any] = {"team": m.Team, "agent": m.Agent, "channel": m.Channel,
                           "tag": m.Tag, "template": m.Template, "canned_reply": m.CannedReply,
                           "contact": m.Contact, "conversation": m.Conversation,
                           "message": m.Message, "article": m.Article}


def _pages(api: Api, fmt: str) -> list[dict[str, Any]]:
    pages, token = [], None
    while True:
        params: dict[str, Any] = {"format": fmt, "limit": 500}
        if token:
            params["page_token"] = token
        r = api.get("/sync/bootstrap", params=params)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        token = pages[-1]["next_page_token"]
        if token is None:
            return pages


def _expected_ids(db: Database, kind_name: str, audience: Audience, agent: m.Agent,
                  teams: set[str]) -> set[str]:
    """The ids the declaration says this agent may see, worked out from the database."""
    with db.read() as s:
        model = _MODELS[kind_name]
        if agent.role == "supervisor" or audience is Audience.EVERYONE:
            return set(s.scalars(select(model.id)))
        if audience is Audience.TEAM:
            return {row.id for row in s.scalars(select(model))
                    if row.team_id is None or row.team_id in teams}
        visible = {c.id: c for c in s.scalars(select(m.Conversation))
                   if c.team_id in teams or c.assignee_id == agent.id}
        if audience is Audience.PUBLISHED:
            scopes: dict[str, set[str]] = {}
            for link in s.scalars(select(m.ArticleTeam)):
                scopes.setdefault(link.article_id, set()).add(link.team_id)
            return {row.id for row in s.scalars(select(model))
                    if row.status == "published"
                    and (not scopes.get(row.id) or scopes[row.id] & teams)}
        if audience is Audience.CONTACT:
            return {c.contact_id for c in visible.values()}
        if kind_name == "conversation":
            return set(visible)
        return {row.id for row in s.scalars(select(model)) if row.conversation_id in visible}


def _write_articles(api: Api, teams: list[str]) -> None:
    """Articles of every status and scope (the demo has none yet), one of them re-scoped."""
    made = []
    for n, (status, scope) in enumerate((("published", []), ("published", teams[:1]),
                                         ("published", teams[1:2]), ("draft", []),
                                         ("archived", teams[:1]), ("published", teams[:2]))):
        r = api.post("/articles", json={"key": f"kind-check-{n}", "locale": "en",
                                        "title": f"Article {n}", "body": "Text",
                                        "tags": ["t"], "team_ids": scope, "status": status})
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    r = api.http.patch(f"/api/v1/articles/{made[1]}", headers=api.headers,
                       json={"team_ids": teams[1:2], "category": "Moved"})
    assert r.status_code == 200, r.text


def test_payloads_columns_and_audiences_are_the_declared_ones(database_url: str, tmp_path):
    db = Database(database_url)
    db.migrate()
    seeded = seed_demo(db)
    server = LiveServer(database_url, tmp_path, heartbeat_s=1.0)
    server.start()
    wrong: list[str] = []
    try:
        with db.read() as s:
            teams = list(s.scalars(select(m.Team.id).order_by(m.Team.name)))
        supervisor = next(a for a in seeded.workspace.agents if a.role == "supervisor")
        with Api(server.url) as api:
            _write_articles(api.login(supervisor.email, supervisor.password), teams)
        for email, password, role in ((a.email, a.password, a.role)
                                       for a in seeded.workspace.agents):
            if role not in ("agent", "supervisor"):
                continue
            with Api(server.url) as api:
                api.login(email, password)
                items = [i for page in _pages(api, "items") for i in page["items"]]
                groups = [g for page in _pages(api, "columns") for g in page["groups"]]
                changes = api.pull_all(0)[0]
            with db.read() as s:
                agent = s.scalar(select(m.Agent).where(m.Agent.email == email))
                teams = set(s.scalars(select(m.TeamMember.team_id)
                                      .where(m.TeamMember.agent_id == agent.id)))
                s.expunge(agent)
            for kind in KINDS:
                name, fields = kind.entity.value, list(kind.field_names)
                for item in (i for i in items if i["entity"] == name):
                    if list(item["data"]) != fields:
                        wrong.append(f"bootstrap payload of {name}: {list(item['data'])}")
                        break
                for group in (g for g in groups if g["entity"] == name):
                    if group["columns"] != fields:
                        wrong.append(f"bootstrap columns of {name}: {group['columns']}")
                for change in (c for c in changes if c.entity.value == name and c.data):
                    if list(change.data) != fields:
                        wrong.append(f"feed payload of {name}: {list(change.data)}")
                        break
                got = {i["id"] for i in items if i["entity"] == name}
                want = _expected_ids(db, name, kind.audience, agent, teams)
                if got != want:
                    wrong.append(f"{email} ({role}) sees {len(got)} {name} rows, the "
                                 f"declared audience {kind.audience.value} {len(want)}")
            assert any(i["entity"] == "message" for i in items)
    finally:
        server.stop()
        db.dispose()
    assert not wrong, "the server disagrees with protocol.entities:\n" + "\n".join(wrong)


# Declared fields the server does not keep in the kind's own table: it works them out when it
# writes the payload (a join), so a change to them is a change to that query, named here.
_JOINED = {("agent", "team_ids"): "team_members", ("contact", "identities"): "contact_identities",
           ("conversation", "channel_type"): "channels.type",
           ("article", "team_ids"): "article_teams"}


def test_each_migrated_server_table_holds_its_kinds_declared_fields(database_url: str) -> None:
    """The server's migrations stay hand-written; each table they make is held to the
    declaration: a column per declared field (NULL allowed exactly where the field is
    nullable), or a field the server joins in (``_JOINED``)."""
    from sqlalchemy import inspect

    db = Database(database_url)
    db.migrate()
    wrong: list[str] = []
    try:
        found = inspect(db.engine)
        for kind in KINDS:
            table = _MODELS[kind.entity.value].__tablename__
            columns = {c["name"]: c for c in found.get_columns(table)}
            for field in kind.fields:
                if (kind.entity.value, field.name) in _JOINED:
                    if field.name in columns:
                        wrong.append(f"{table}.{field.name}: stored, but said to be joined")
                    continue
                column = columns.get(field.name)
                if column is None:
                    wrong.append(f"{table}: no column {field.name!r} "
                                 f"(declared for {kind.entity.value})")
                elif field.name != "id" and bool(column["nullable"]) != field.nullable:
                    wrong.append(f"{table}.{field.name}: nullable={column['nullable']}, "
                                 f"declared nullable={field.nullable}")
    finally:
        db.dispose()
    assert not wrong, "the server's tables disagree with protocol.entities:\n" + "\n".join(wrong)
