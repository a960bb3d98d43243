"""Workspaces to start from: the demo (realistic, small) and synthetic (large, for benchmarks)."""

from __future__ import annotations

import os
import random
import uuid
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from protocol.rules import sla_due
from server import admin, article_files, auth, serialize
from server import models as m
from server.db import Database
from server.demo_data import DemoWorkspace, build_demo_workspace
from server.emit import emit_contact, emit_conversation, emit_message, emit_row
from server.feed import SCOPED, ChangeBuffer, now_ms

MINUTE_MS = 60_000


@dataclass
class DemoSeedResult:
    created: bool
    workspace: DemoWorkspace
    channel_secrets: dict[str, tuple[str, str]]  # channel name -> (id, secret); new seeds only


def seed_demo(db: Database) -> DemoSeedResult:
    """Insert the demo workspace unless it is there already (idempotent)."""
    ws = build_demo_workspace()
    first_email = ws.agents[0].email
    with db.write() as s:
        if s.scalar(select(m.Agent.id).where(m.Agent.email == first_email)) is not None:
            return DemoSeedResult(False, ws, {})
        buf = ChangeBuffer(s, is_postgres=db.is_postgres)
        now = now_ms()
        teams: dict[str, m.Team] = {}
        for t in ws.teams:
            existing = s.scalar(select(m.Team).where(m.Team.name == t.name))
            teams[t.key] = existing or admin.add_team(s, buf, t.name)
        agents: dict[str, m.Agent] = {}
        for a in ws.agents:
            agents[a.email] = admin.add_agent(
                s, buf, email=a.email, name=a.name, role=a.role,
                teams=[teams[k].id for k in a.teams], password=a.password,
            )
        secrets: dict[str, tuple[str, str]] = {}
        channels: dict[str, m.Channel] = {}
        for c in ws.channels:
            new = admin.add_channel(s, buf, type_=c.type, name=c.name, team=teams[c.team].id)
            channels[c.key] = new.channel
            secrets[c.name] = (new.channel.id, new.secret)
        for tag in ws.tags:
            if s.scalar(select(m.Tag.id).where(m.Tag.name == tag.name)) is None:
                row = m.Tag(id=str(uuid.uuid4()), name=tag.name, color=tag.color)
                s.add(row)
                emit_row(buf, "tag", serialize.tag(row))
        for tpl in ws.templates:
            row = m.Template(id=str(uuid.uuid4()), name=tpl.name, channel_type=tpl.channel_type,
                             locale=tpl.locale, body=tpl.body)
            s.add(row)
            emit_row(buf, "template", serialize.template(row))
        for cr in ws.canned_replies:
            team_id = teams[cr.team].id if cr.team else None
            row = m.CannedReply(id=str(uuid.uuid4()), shortcut=cr.shortcut, title=cr.title,
                                body=cr.body, team_id=team_id, locale=cr.locale)
            s.add(row)
            emit_row(buf, "canned_reply", serialize.canned_reply(row))
        contacts: dict[str, m.Contact] = {}
        for c in ws.contacts:
            row = m.Contact(id=str(uuid.uuid4()), name=c.name, locale=c.locale,
                            attributes=orjson.dumps(c.attributes).decode(),
                            created_at=now - 90 * 24 * 60 * MINUTE_MS)
            s.add(row)
            for ident in c.identities:
                s.add(m.ContactIdentity(id=str(uuid.uuid4()), contact_id=row.id,
                                        channel_type=ident.channel_type, handle=ident.handle,
                                        opted_out=ident.opted_out))
            contacts[c.key] = row
        s.flush()
        for conv_spec in ws.conversations:
            channel = channels[conv_spec.channel]
            msgs = conv_spec.messages
            inbound_times = [now - x.minutes_ago * MINUTE_MS for x in msgs
                             if x.direction == "inbound"]
            last_at = now - msgs[-1].minutes_ago * MINUTE_MS if msgs else now
            last_inbound = max(inbound_times) if inbound_times else None
            answered = bool(msgs) and msgs[-1].direction == "outbound"
            conv = m.Conversation(
                id=str(uuid.uuid4()), channel_id=channel.id,
                contact_id=contacts[conv_spec.contact].id, team_id=channel.team_id,
                assignee_id=agents[conv_spec.assignee].id if conv_spec.assignee else None,
                subject=conv_spec.subject, status=conv_spec.status,
                snoozed_until=(now + conv_spec.snoozed_minutes * MINUTE_MS
                               if conv_spec.status == "snoozed" and conv_spec.snoozed_minutes
                               else None),
                priority=conv_spec.priority, tags=orjson.dumps(list(conv_spec.tags)).decode(),
                unread_count=0 if answered or conv_spec.status == "resolved" else
                sum(1 for _ in _trailing_inbound(msgs)),
                preview=next((x.body for x in reversed(msgs) if x.direction
                              in ("inbound", "outbound")), "")[:200],
                last_activity_at=last_at, last_inbound_at=last_inbound,
                sla_due_at=(sla_due(last_inbound, conv_spec.priority)
                            if last_inbound and not answered and conv_spec.status != "resolved"
                            else None),
                created_at=now - msgs[0].minutes_ago * MINUTE_MS if msgs else now,
            )
            s.add(conv)
            s.flush()
            emit_conversation(buf, conv)
            for i, spec in enumerate(msgs):
                msg = m.Message(
                    id=str(uuid.uuid4()), conversation_id=conv.id, direction=spec.direction,
                    author_id=agents[spec.author].id if spec.author in agents else None,
                    body=spec.body, template=None,
                    delivery="received" if spec.direction == "inbound" else "sent",
                    mentions="[]",
                    created_at=now - spec.minutes_ago * MINUTE_MS + i,  # stable order
                )
                s.add(msg)
                emit_message(buf, conv, msg)
        s.flush()
        for contact in contacts.values():
            emit_contact(buf, contact.id)
        buf.flush()
        _seed_demo_articles(s, ws, is_postgres=db.is_postgres)
    return DemoSeedResult(True, ws, secrets)


def _seed_demo_articles(s: Session, ws: DemoWorkspace, *, is_postgres: bool) -> None:
    """The demo's knowledge base (``server/demo_articles``), through the import's own code,
    written by the demo supervisor."""
    author = article_files.supervisor(s, next(a.email for a in ws.agents
                                             if a.role == "supervisor"))
    teams = article_files.team_ids_by_reference(s)
    for article in article_files.demo_articles():
        article_files.save_article(s, author, article, teams, is_postgres=is_postgres)


def _trailing_inbound(msgs: tuple) -> list:
    out = []
    for x in reversed(msgs):
        if x.direction == "inbound":
            out.append(x)
        elif x.direction in ("outbound",):
            break
    return out


# --------------------------------------------------------------------------- synthetic

SYNTHETIC_PASSWORD = "synthetic-password"
SYNTHETIC_SUPERVISOR = "bench-supervisor@synthetic.test"
SYNTHETIC_AGENTS = 50
_WORDS = (
    "order refund delivery parcel invoice warranty screen remote battery charger account "
    "password address return label tracking number thanks please when today tomorrow "
    "broken works again cannot replace exchange receipt store online payment card update"
).split()
_JA = ("注文", "返金", "配送", "請求書", "保証", "画面", "リモコン", "電池", "パスワード", "住所",
       "返品", "追跡番号", "ありがとうございます", "お願いします", "本日", "明日", "交換")
_DAY_MS = 86_400_000
_STATUSES = ("open", "open", "pending", "resolved", "resolved")
_PRIORITIES = ("normal",) * 6 + ("high", "low", "urgent")
_UNREAD = (0, 0, 1, 2)


@dataclass
class SyntheticResult:
    conversations: int
    messages: int
    supervisor: str
    agents: list[str]
    password: str


# One random byte picks a word (a table of 256, so some words are a little more frequent).
_WORD_BY_BYTE = tuple(_WORDS[i % len(_WORDS)] for i in range(256))
_JA_BY_BYTE = tuple(_JA[i % len(_JA)] for i in range(256))


def _text(rng: random.Random) -> str:
    """3–12 Japanese words (30 %) or 6–40 English ones, from 42 random bytes."""
    b = rng.randbytes(42)
    if b[0] < 77:
        return "".join(map(_JA_BY_BYTE.__getitem__, b[2:5 + b[1] % 10])) + "。"
    return " ".join(map(_WORD_BY_BYTE.__getitem__, b[2:8 + b[1] % 35])).capitalize() + "."


def seed_synthetic(
    db: Database, conversations: int, messages_per_conversation: int, *, seed: int = 7,
    progress: Callable[[int, int], None] | None = None, chunk: int = 5000,
) -> SyntheticResult:
    """Bulk-insert a large workspace, recording its changes in the feed as a server would.

    Rows go in through the driver (``executemany`` on SQLite, ``COPY`` on PostgreSQL), one
    transaction per chunk of conversations; each chunk's feed changes are numbered from the
    feed head in that same transaction, exactly as :class:`ChangeBuffer` would number them.
    """
    rng = random.Random(seed)
    channel_types = ["email", "web_chat", "sms", "whatsapp", "messenger", "instagram", "line"]
    with db.write() as s:
        buf = ChangeBuffer(s, is_postgres=db.is_postgres)
        teams = []
        for i in range(4):
            name = f"Synthetic {i + 1}"
            teams.append(s.scalar(select(m.Team).where(m.Team.name == name))
                         or admin.add_team(s, buf, name))
        agent_emails = [f"bench-agent-{i:02d}@synthetic.test" for i in range(SYNTHETIC_AGENTS)]
        agents = []
        password_hash: str | None = None  # one scrypt for all: they share a known password
        for i, email in enumerate([SYNTHETIC_SUPERVISOR, *agent_emails]):
            existing = s.scalar(select(m.Agent).where(m.Agent.email == email))
            if existing is None:
                role = "supervisor" if i == 0 else "agent"
                team_ids = [t.id for t in teams] if i == 0 else [teams[i % len(teams)].id]
                password_hash = password_hash or auth.hash_password(SYNTHETIC_PASSWORD)
                existing = _add_synthetic_agent(s, buf, email, f"Bench {i:02d}", role, team_ids,
                                                password_hash)
            agents.append(existing)
        channels: list[m.Channel] = []
        for t in teams:
            for ct in channel_types:
                name = f"{t.name} {ct}"
                row = s.scalar(select(m.Channel).where(m.Channel.name == name))
                channels.append(row or admin.add_channel(s, buf, type_=ct, name=name,
                                                         team=t.id).channel)
        buf.flush()
    team_members = {t.id: [a.id for a in agents[1:] if agents.index(a) % len(teams) ==
                           teams.index(t)] for t in teams}
    now = now_ms()
    sizes = [min(chunk, conversations - k) for k in range(0, conversations, chunk)]
    total_messages = 0
    done = 0

    # One connection for the whole load, so the page cache stays warm between chunks.
    with db.write_engine.connect() as conn:
        restore = _tune_for_bulk(conn, db)
        try:
            for n in sizes:
                rows = _generate_chunk(rng, n, messages_per_conversation, channels,
                                       team_members, now)
                _write_chunk(conn, db.is_postgres, rows, now)
                total_messages += len(rows.messages)
                done += n
                if progress:
                    progress(done, conversations)
        finally:
            restore()
    return SyntheticResult(conversations, total_messages, SYNTHETIC_SUPERVISOR, agent_emails,
                           SYNTHETIC_PASSWORD)


def _add_synthetic_agent(
    s: Session, buf: ChangeBuffer, email: str, name: str, role: str, team_ids: list[str],
    password_hash: str,
) -> m.Agent:
    """``admin.add_agent`` without its checks and with a precomputed password hash."""
    agent = m.Agent(id=str(uuid.uuid4()), email=email, name=name, role=role,
                    password_hash=password_hash, active=True, resync_before_seq=0,
                    created_at=now_ms())
    s.add(agent)
    s.flush()
    for team_id in team_ids:
        s.add(m.TeamMember(team_id=team_id, agent_id=agent.id))
    s.flush()
    emit_row(buf, "agent", serialize.load_agent(s, agent.id) or {"id": agent.id})
    return agent


# Rows in column order: the same tuples feed the driver and (by attribute) the serializers,
# so the feed payloads are exactly what serialize.* makes of the stored rows.
_ContactRow = namedtuple("_ContactRow", "id name locale attributes created_at")
_IdentityRow = namedtuple("_IdentityRow", "id contact_id channel_type handle opted_out")
_ConversationRow = namedtuple(
    "_ConversationRow",
    "id channel_id contact_id team_id assignee_id subject status snoozed_until priority tags "
    "unread_count preview last_activity_at last_inbound_at sla_due_at created_at",
)
_MessageRow = namedtuple(
    "_MessageRow",
    "id conversation_id direction author_id body template delivery mentions created_at",
)
_CHANGE_COLUMNS = ("seq", "entity", "entity_id", "op", "audience", "team_id", "agent_id", "data",
                   "created_at")
_TABLES: list[tuple[str, tuple[str, ...]]] = [
    ("contacts", _ContactRow._fields),
    ("contact_identities", _IdentityRow._fields),
    ("conversations", _ConversationRow._fields),
    ("messages", _MessageRow._fields),
    ("changes", _CHANGE_COLUMNS),
]
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _uuids(n: int) -> list[str]:
    """``n`` random (version 4) UUID strings, several times faster than ``uuid.uuid4()``."""
    raw = os.urandom(16 * n).hex()
    v = _VARIANT
    return [
        f"{raw[i:i + 8]}-{raw[i + 8:i + 12]}-4{raw[i + 13:i + 16]}-{v[raw[i + 16]]}"
        f"{raw[i + 17:i + 20]}-{raw[i + 20:i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


@dataclass
class _Chunk:
    contacts: list[_ContactRow]
    identities: list[_IdentityRow]
    conversations: list[_ConversationRow]
    messages: list[_MessageRow]
    # (entity, id, op, audience, team_id, agent_id, data, created_at): a change row less its
    # seq, in the order the feed numbers them (contacts, conversations, messages)
    changes: list[tuple]


def _generate_chunk(
    rng: random.Random, n: int, per_conv: int, channels: list[m.Channel],
    team_members: dict[str, list[str]], now: int,
) -> _Chunk:
    """``n`` conversations, each with a new contact and ``per_conv`` messages, and the
    changes a server would have recorded for them (scoped to the conversation's team and
    assignee; a contact is visible wherever its one conversation is)."""
    ids = iter(_uuids(n * (3 + per_conv)))
    contacts: list[_ContactRow] = []
    idents: list[_IdentityRow] = []
    convs: list[_ConversationRow] = []
    msgs: list[_MessageRow] = []
    contact_changes: list[tuple] = []
    conv_changes: list[tuple] = []
    msg_changes: list[tuple] = []
    randint, random_, choice, text = rng.randint, rng.random, rng.choice, _text
    dumps, msg_data = orjson.dumps, serialize.message
    for _ in range(n):
        channel = choice(channels)
        contact_id = next(ids)
        contact = _ContactRow(contact_id, f"Customer {contact_id[:8]}", None, "{}",
                              now - 400 * _DAY_MS)
        ident = _IdentityRow(next(ids), contact_id, channel.type,
                             f"{channel.type}-{contact_id}", False)
        contacts.append(contact)
        idents.append(ident)
        conv_id = next(ids)
        start = now - randint(0, 60 * _DAY_MS)
        team_id = channel.team_id
        members = team_members.get(team_id) or [None]
        assignee = choice(members) if random_() < 0.7 else None
        times = sorted([start + randint(0, _DAY_MS) for _ in range(per_conv)])
        last_inbound = None
        preview = ""
        for j, t in enumerate(times):
            inbound = j % 2 == 0
            body = text(rng)
            msg = _MessageRow(next(ids), conv_id, "inbound" if inbound else "outbound",
                              None if inbound else assignee, body, None,
                              "received" if inbound else "sent", "[]", t)
            msgs.append(msg)
            msg_changes.append(("message", msg.id, "upsert", SCOPED, team_id, assignee,
                                dumps(msg_data(msg)).decode(), now))
            if inbound:
                last_inbound = t
            preview = body[:200]
        conv = _ConversationRow(
            conv_id, channel.id, contact_id, team_id, assignee,
            text(rng)[:80] if channel.type == "email" else None,
            choice(_STATUSES), None, choice(_PRIORITIES), "[]", choice(_UNREAD), preview,
            times[-1] if times else start, last_inbound, None, start,
        )
        convs.append(conv)
        conv_changes.append(("conversation", conv_id, "upsert", SCOPED, team_id, assignee,
                             dumps(serialize.conversation(conv, channel.type)).decode(), now))
        contact_changes.append(("contact", contact_id, "upsert", SCOPED, team_id, assignee,
                                dumps(serialize.contact(contact, [ident])).decode(), now))
    return _Chunk(contacts, idents, convs, msgs, contact_changes + conv_changes + msg_changes)


def _tune_for_bulk(conn: Connection, db: Database) -> Callable[[], None]:
    """Give this SQLite connection a page cache big enough for the indexes being filled
    (random UUID keys); returns how to put it back."""
    if not db.is_sqlite:
        return lambda: None
    driver = conn.connection.driver_connection
    before = driver.execute("PRAGMA cache_size").fetchone()[0]  # type: ignore[union-attr]
    driver.execute("PRAGMA cache_size=-1048576")  # type: ignore[union-attr]  # 1 GiB
    return lambda: driver.execute(f"PRAGMA cache_size={int(before)}")  # type: ignore[union-attr]


def _write_chunk(conn: Connection, is_postgres: bool, rows: _Chunk, now: int) -> None:
    """Insert one chunk and number its changes from the feed head, in one transaction."""
    n = len(rows.changes)
    with conn.begin():
        head = conn.execute(update(m.FeedHead).where(m.FeedHead.id == 1)
                            .values(seq=m.FeedHead.seq + n)
                            .returning(m.FeedHead.seq)).scalar_one()
        first = head - n + 1
        changes = [(first + k, *c) for k, c in enumerate(rows.changes)]
        tables = [sorted(rows.contacts), sorted(rows.identities), sorted(rows.conversations),
                  sorted(rows.messages), changes]
        driver = conn.connection.driver_connection
        if is_postgres:
            with driver.cursor() as cur:  # type: ignore[union-attr]
                for (table, columns), table_rows in zip(_TABLES, tables, strict=True):
                    if table_rows:
                        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                            for row in table_rows:
                                copy.write_row(row)
            conn.execute(select(func.pg_notify("relaydesk_changes", str(head))))
        else:
            cur = driver.cursor()  # type: ignore[union-attr]
            try:
                for (table, columns), table_rows in zip(_TABLES, tables, strict=True):
                    marks = ", ".join("?" * len(columns))
                    cur.executemany(
                        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", table_rows
                    )
            finally:
                cur.close()


def demo_credentials(ws: DemoWorkspace) -> list[tuple[str, str, str]]:
    return [(a.email, a.password, a.role) for a in ws.agents]
