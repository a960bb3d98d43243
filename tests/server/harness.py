"""Test harness: real servers (in a thread or as a process), a known workspace, an API client
and an independent model of what each agent should see."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from protocol import wire as p
from server import admin, serialize
from server import models as m
from server.app import create_app
from server.config import ServerSettings
from server.db import Database
from server.emit import emit_row
from server.feed import ChangeBuffer

PASSWORD = "correct-horse-1"
PREFIX = p.API_PREFIX


# --------------------------------------------------------------------------- servers


class LiveServer:
    """The real ASGI app served by uvicorn on a loopback port, in a background thread."""

    def __init__(self, database_url: str, data_dir: Path, port: int = 0,
                 **overrides: Any) -> None:
        """``port`` 0 picks a free one; a given port lets a restarted server keep its URL."""
        self.settings = ServerSettings(database_url=database_url, data_dir=data_dir)
        for key, value in overrides.items():
            setattr(self.settings, key, value)
        # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (as serve does).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(self.settings)
        # proxy_headers=False as `serve` has it: the app decides whom to trust.
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning",
                                                     access_log=False,
                                                     timeout_graceful_shutdown=1,
                                                     proxy_headers=False))
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


class ServerProcess:
    """``relaydesk-server serve`` as a child process, the way an admin runs it."""

    def __init__(self, database_url: str, data_dir: Path, extra: list[str]) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.extra = extra
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 30) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", "0",
             "--database-url", self.database_url, "--data-dir", str(self.data_dir),
             *self.extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if "listening on" in line:
                self.url = line.split("listening on ", 1)[1].split()[0]
                return
            if self.proc.poll() is not None:
                break
        err = self.proc.stderr.read() if self.proc.stderr else ""
        raise RuntimeError(f"server process did not start: {line!r} {err}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------- workspace


@dataclass
class Workspace:
    teams: dict[str, str]  # name -> id
    agents: dict[str, str]  # short name -> id
    emails: dict[str, str]  # short name -> email
    channels: dict[str, str]  # key ("a_sms") -> id
    secrets: dict[str, str]  # channel id -> secret
    channel_types: dict[str, str] = field(default_factory=dict)  # channel id -> type


def build_workspace(db: Database) -> Workspace:
    """Two teams; agents alice (A), tina (A, trainee), bob (B), sam (supervisor)."""
    ws = Workspace({}, {}, {}, {}, {})
    with db.write() as s:
        buf = ChangeBuffer(s, is_postgres=db.is_postgres)
        for key, name in (("A", "Team Alpha"), ("B", "Team Beta")):
            ws.teams[key] = admin.add_team(s, buf, name).id
        for short, role, teams in (
            ("alice", "agent", ["A"]), ("tina", "trainee", ["A"]), ("bob", "agent", ["B"]),
            ("sam", "supervisor", ["A", "B"]),
        ):
            email = f"{short}@test.relaydesk"
            ws.emails[short] = email
            ws.agents[short] = admin.add_agent(
                s, buf, email=email, name=short.title(), role=role,
                teams=[ws.teams[t] for t in teams], password=PASSWORD).id
        for team in ("A", "B"):
            for ctype in p.ChannelType:
                new = admin.add_channel(s, buf, type_=ctype.value,
                                        name=f"{team} {ctype.value}", team=ws.teams[team])
                key = f"{team.lower()}_{ctype.value}"
                ws.channels[key] = new.channel.id
                ws.secrets[new.channel.id] = new.secret
                ws.channel_types[new.channel.id] = ctype.value
        for name, locale, body in (("order_update", "en", "Your order {{1}} has an update."),
                                   ("order_update", "ja", "ご注文{{1}}について更新があります。")):
            row = m.Template(id=str(uuid.uuid4()), name=name, channel_type="whatsapp",
                             locale=locale, body=body)
            s.add(row)
            emit_row(buf, "template", serialize.template(row))
        for shortcut, team in (("hello", None), ("alpha-only", "A"), ("beta-only", "B")):
            row = m.CannedReply(id=str(uuid.uuid4()), shortcut=shortcut, title=shortcut,
                                body=f"Hi {{{{contact.first_name}}}} ({shortcut})",
                                team_id=ws.teams[team] if team else None)
            s.add(row)
            s.flush()
            emit_row(buf, "canned_reply", serialize.canned_reply(row))
        buf.flush()
    return ws


# --------------------------------------------------------------------------- client


class Api:
    """A thin synchronous client for the HTTP API, as a test would drive it."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.token: str | None = None
        self.refresh_token: str | None = None
        self.agent: dict[str, Any] | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def login(self, email: str, password: str = PASSWORD) -> Api:
        r = self.http.post(f"{PREFIX}/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        body = p.LoginResponse.model_validate(r.json())
        self.token, self.refresh_token = body.access_token, body.refresh_token
        self.agent = body.agent.model_dump()
        return self

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(f"{PREFIX}{path}", headers=self.headers, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.post(f"{PREFIX}{path}", headers=self.headers, **kw)

    def bootstrap(self, limit: int | None = None, columns: bool = False
                  ) -> tuple[list[p.BootstrapItem], int]:
        """Every page's rows as items; ``columns`` asks for ``format=columns`` pages and
        turns their rows back into items."""
        items: list[p.BootstrapItem] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"format": "columns"} if columns else {}
            if token:
                params["page_token"] = token
            if limit:
                params["limit"] = limit
            r = self.get("/sync/bootstrap", params=params)
            assert r.status_code == 200, r.text
            page: p.BootstrapResponse | p.BootstrapColumnsResponse
            if columns:
                page = p.BootstrapColumnsResponse.model_validate(r.json())
                for group in page.groups:
                    for row in group.rows:
                        data = dict(zip(group.columns, row, strict=True))
                        items.append(p.BootstrapItem(entity=group.entity, id=data["id"],
                                                     data=data))
            else:
                page = p.BootstrapResponse.model_validate(r.json())
                items.extend(page.items)
            if page.next_page_token is None:
                assert page.cursor is not None
                return items, page.cursor
            token = page.next_page_token

    def pull(self, cursor: int, limit: int | None = None, client_id: str | None = None
             ) -> p.PullResponse:
        params: dict[str, Any] = {"cursor": cursor}
        if limit:
            params["limit"] = limit
        if client_id:
            params["client_id"] = client_id
        r = self.get("/sync/pull", params=params)
        assert r.status_code == 200, r.text
        return p.PullResponse.model_validate(r.json())

    def pull_all(self, cursor: int, limit: int | None = None) -> tuple[list[p.Change], int]:
        changes: list[p.Change] = []
        while True:
            page = self.pull(cursor, limit)
            changes.extend(page.changes)
            cursor = page.cursor
            if not page.has_more:
                return changes, cursor

    def push(self, client_id: str, mutations: list[dict[str, Any]]) -> p.PushResponse:
        r = self.post("/sync/push", json={"client_id": client_id, "mutations": mutations})
        assert r.status_code == 200, r.text
        return p.PushResponse.model_validate(r.json())

    def inbound(self, ws: Workspace, channel_key: str, handle: str, text: str,
                provider_id: str | None = None, **extra: Any) -> p.InboundResult:
        cid = ws.channels[channel_key]
        r = self.http.post(
            f"{PREFIX}/channels/{cid}/inbound",
            headers={"X-Relaydesk-Channel-Secret": ws.secrets[cid]},
            json={"handle": handle, "text": text,
                  "provider_message_id": provider_id or uuid.uuid4().hex, **extra},
        )
        assert r.status_code == 200, r.text
        return p.InboundResult.model_validate(r.json())

    def outbound(self, ws: Workspace, channel_key: str) -> list[p.OutboundRecord]:
        cid = ws.channels[channel_key]
        r = self.http.get(f"{PREFIX}/channels/{cid}/outbound",
                          headers={"X-Relaydesk-Channel-Secret": ws.secrets[cid]})
        assert r.status_code == 200, r.text
        return p.OutboundList.model_validate(r.json()).messages


# --------------------------------------------------------------------------- mirrors


class Mirror:
    """What a client holds after applying bootstrap and pull the way the protocol says."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.cursor = 0

    def apply_bootstrap(self, items: list[p.BootstrapItem], cursor: int) -> None:
        for item in items:
            self.rows[(item.entity.value, item.id)] = item.data
        self.cursor = cursor

    def apply_changes(self, changes: list[p.Change]) -> None:
        for ch in changes:
            key = (ch.entity.value, ch.id)
            if ch.op is p.Op.UPSERT:
                assert ch.data is not None
                self.rows[key] = ch.data
            else:
                self.rows.pop(key, None)
                if ch.entity is p.Entity.CONVERSATION:
                    for k in [k for k, v in self.rows.items()
                              if k[0] == "message" and v.get("conversation_id") == ch.id]:
                        del self.rows[k]

    def sync(self, api: Api) -> Mirror:
        if not self.rows:
            items, cursor = api.bootstrap()
            self.apply_bootstrap(items, cursor)
        changes, self.cursor = api.pull_all(self.cursor)
        self.apply_changes(changes)
        return self

    def of(self, entity: str) -> dict[str, dict[str, Any]]:
        return {k[1]: v for k, v in self.rows.items() if k[0] == entity}


def expected_state(db: Database, agent_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The rows ``agent_id`` may see, computed straight from the tables (independent of the
    feed and bootstrap code)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with db.read() as s:
        me = s.get(m.Agent, agent_id)
        assert me is not None
        my_teams = set(s.scalars(select(m.TeamMember.team_id)
                                 .where(m.TeamMember.agent_id == agent_id)))
        sup = me.role == "supervisor"

        def sees(team_id: str | None, assignee: str | None) -> bool:
            return sup or team_id in my_teams or (assignee is not None and assignee == agent_id)

        for t in s.scalars(select(m.Team)):
            out[("team", t.id)] = serialize.team(t)
        for a in s.scalars(select(m.Agent)):
            out[("agent", a.id)] = serialize.load_agent(s, a.id) or {}
        for c in s.scalars(select(m.Channel)):
            if sup or c.team_id in my_teams:
                out[("channel", c.id)] = serialize.channel(c)
        for t in s.scalars(select(m.Tag)):
            out[("tag", t.id)] = serialize.tag(t)
        for t in s.scalars(select(m.Template)):
            out[("template", t.id)] = serialize.template(t)
        for cr in s.scalars(select(m.CannedReply)):
            if sup or cr.team_id is None or cr.team_id in my_teams:
                out[("canned_reply", cr.id)] = serialize.canned_reply(cr)
        visible_convs = set()
        contacts = set()
        for conv in s.scalars(select(m.Conversation)):
            if sees(conv.team_id, conv.assignee_id):
                visible_convs.add(conv.id)
                contacts.add(conv.contact_id)
                out[("conversation", conv.id)] = serialize.load_conversation(s, conv)
        for cid in contacts:
            out[("contact", cid)] = serialize.load_contact(s, cid) or {}
        for msg in s.scalars(select(m.Message)):
            if msg.conversation_id in visible_convs:
                out[("message", msg.id)] = serialize.message(msg)
        for article in s.scalars(select(m.Article)):
            data = serialize.load_article(s, article.id) or {}
            if sup or (article.status == "published"
                       and (not data["team_ids"] or my_teams & set(data["team_ids"]))):
                out[("article", article.id)] = data
    return out


def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
