"""Visibility: an agent receives and may change only what their teams (or an assignment) let
them see — in every endpoint: bootstrap, pull, push and server-sent pokes."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from protocol import wire as p
from server import models as m
from server.db import Database
from tests.server.harness import Api, LiveServer, Workspace, expected_state
from tests.server.test_feed import Outbox, describe_diff, full_sync, sign_in

Status = p.MutationStatus
BETA_SECRET = "beta-only-text-7f3a"


@dataclass
class Scene:
    ws: Workspace
    apis: dict[str, Api]
    a_convs: list[str]
    b_convs: list[str]
    b_ids: set[str]  # every id of team-B-only data: conversations, messages, contacts...


def _team_b_ids(db: Database, ws: Workspace) -> set[str]:
    b = ws.teams["B"]
    with db.read() as s:
        convs = list(s.scalars(select(m.Conversation).where(m.Conversation.team_id == b)))
        ids = {c.id for c in convs} | {c.contact_id for c in convs}
        ids |= set(s.scalars(select(m.Message.id).where(
            m.Message.conversation_id.in_([c.id for c in convs]))))
        ids |= set(s.scalars(select(m.Channel.id).where(m.Channel.team_id == b)))
        ids |= set(s.scalars(select(m.CannedReply.id).where(m.CannedReply.team_id == b)))
    return ids


@pytest.fixture
def scene(live_server: LiveServer, workspace: Workspace, db: Database) -> Iterator[Scene]:
    apis = {who: sign_in(live_server, workspace, who) for who in ("alice", "tina", "bob", "sam")}
    a = apis["alice"]
    a_convs = [a.inbound(workspace, "a_email", "ann@example.com", "team A question",
                         subject="A subject").conversation_id,
               a.inbound(workspace, "a_sms", "+15551000", "team A sms").conversation_id]
    b_convs = [a.inbound(workspace, "b_email", "bea@example.com", BETA_SECRET,
                         subject=f"{BETA_SECRET} subject").conversation_id,
               a.inbound(workspace, "b_whatsapp", "+15552000", BETA_SECRET).conversation_id]
    bob = Outbox(apis["bob"])
    bob.apply("send_message", conversation_id=b_convs[0], message_id=str(uuid.uuid4()),
              body=f"{BETA_SECRET} reply")
    bob.apply("add_note", conversation_id=b_convs[1], message_id=str(uuid.uuid4()),
              body=f"{BETA_SECRET} note")
    bob.apply("add_tag", conversation_id=b_convs[0], tag="beta-tag")
    yield Scene(workspace, apis, a_convs, b_convs, _team_b_ids(db, workspace))
    for api in apis.values():
        api.close()


def raw_feed(api: Api, limit: int = 3) -> list[bytes]:
    """Every response body of a whole bootstrap and a whole pull, as received."""
    bodies: list[bytes] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if token:
            params["page_token"] = token
        r = api.get("/sync/bootstrap", params=params)
        assert r.status_code == 200
        bodies.append(r.content)
        token = r.json()["next_page_token"]
        if token is None:
            break
    cursor = 0
    while True:
        r = api.get("/sync/pull", params={"cursor": cursor, "limit": limit})
        assert r.status_code == 200
        bodies.append(r.content)
        cursor = r.json()["cursor"]
        if not r.json()["has_more"]:
            return bodies


def test_team_a_never_receives_team_b_data(scene: Scene, db: Database) -> None:
    assert len(scene.b_ids) >= 2 + 2 + 4 + 7 + 1  # convs, contacts, messages, channels, canned
    for who in ("alice", "tina"):
        bodies = raw_feed(scene.apis[who])
        for body in bodies:
            assert BETA_SECRET.encode() not in body, who
            for secret_id in scene.b_ids:
                assert secret_id.encode() not in body, (who, secret_id)
        mirror = full_sync(scene.apis[who])
        assert set(mirror.of("conversation")) == set(scene.a_convs)
        assert {c["team_id"] for c in mirror.of("channel").values()} == {scene.ws.teams["A"]}
        assert {c["shortcut"] for c in mirror.of("canned_reply").values()} == {
            "hello", "alpha-only"}
        expected = expected_state(db, scene.ws.agents[who])
        assert mirror.rows == expected, describe_diff(mirror.rows, expected)
    # Bob, symmetrically, sees B and not A; and the secret really is in B's feed.
    bob_bodies = b"".join(raw_feed(scene.apis["bob"]))
    assert BETA_SECRET.encode() in bob_bodies
    for conv in scene.a_convs:
        assert conv.encode() not in bob_bodies


def test_team_a_cannot_change_team_b(scene: Scene, db: Database) -> None:
    box = Outbox(scene.apis["alice"])
    conv = scene.b_convs[0]
    with db.read() as s:
        before = s.get(m.Conversation, conv)
        n_messages = s.scalar(select(func.count()).select_from(m.Message)
                              .where(m.Message.conversation_id == conv))
    alice_id = scene.ws.agents["alice"]
    attempts = [
        ("send_message", {"conversation_id": conv, "message_id": str(uuid.uuid4()),
                          "body": "hi"}),
        ("add_note", {"conversation_id": conv, "message_id": str(uuid.uuid4()), "body": "x"}),
        ("set_status", {"conversation_id": conv, "status": "resolved"}),
        ("assign", {"conversation_id": conv, "agent_id": alice_id}),  # can't take it either
        ("assign", {"conversation_id": conv, "team_id": scene.ws.teams["A"]}),
        ("set_priority", {"conversation_id": conv, "priority": "urgent"}),
        ("add_tag", {"conversation_id": conv, "tag": "stolen"}),
        ("remove_tag", {"conversation_id": conv, "tag": "beta-tag"}),
        ("mark_read", {"conversation_id": conv}),
    ]
    resp = box.push(*attempts)
    for result in resp.results:
        assert result.status is Status.REJECTED
        assert result.error is not None and result.error.code is p.RejectReason.NOT_PERMITTED
    assert resp.last_mutation_id == len(attempts)
    with db.read() as s:
        after = s.get(m.Conversation, conv)
        assert after is not None and before is not None
        assert (after.team_id, after.assignee_id, after.status, after.priority, after.tags,
                after.unread_count) == (before.team_id, before.assignee_id, before.status,
                                        before.priority, before.tags, before.unread_count)
        assert s.scalar(select(func.count()).select_from(m.Message)
                        .where(m.Message.conversation_id == conv)) == n_messages
        assert s.scalar(select(m.Tag).where(m.Tag.name == "stolen")) is None


class EventStream:
    """``GET /sync/events`` read on a thread, the way a desk listens; pokes go to a queue."""

    def __init__(self, base_url: str, token: str) -> None:
        self.pokes: queue.Queue[int] = queue.Queue()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(5.0))
        self._headers = {"Authorization": f"Bearer {token}"}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.ready.wait(5), f"event stream did not open: {self.error!r}"

    def _run(self) -> None:
        try:
            with self._client.stream("GET", f"{p.API_PREFIX}/sync/events",
                                     headers=self._headers) as r:
                assert r.status_code == 200, r.status_code
                event: dict[str, str] = {}
                for line in r.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        if "retry" in event:
                            self.ready.set()  # the server is past its starting point
                        if event.get("event") == "poke":
                            self.pokes.put(int(event["id"]))
                        event = {}
                    elif not line.startswith(":"):  # ": heartbeat" comments
                        name, _, value = line.partition(":")
                        event[name] = value.removeprefix(" ")
        except BaseException as exc:
            if not self._stop.is_set():
                self.error = exc
                self.ready.set()

    def drain(self) -> list[int]:
        out = []
        while not self.pokes.empty():
            out.append(self.pokes.get_nowait())
        return out

    def next_poke(self, timeout: float) -> int | None:
        try:
            return self.pokes.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3)  # wakes on the next heartbeat (1 s in the test server)
        self._client.close()


def head_seq(api: Api) -> int:
    return int(api.http.get("/healthz").json()["head_seq"])


def test_pokes_only_for_visible_changes(scene: Scene, live_server: LiveServer) -> None:
    alice, bob = scene.apis["alice"], scene.apis["bob"]
    alice_events = EventStream(live_server.url, alice.token or "")
    bob_events = EventStream(live_server.url, bob.token or "")
    try:
        # A change only team A can see: alice is poked, bob is not.
        before = head_seq(alice)
        started = time.monotonic()
        alice.inbound(scene.ws, "a_email", "ann@example.com", "a change for team A")
        poke = alice_events.next_poke(timeout=2.0)
        assert poke is not None and poke > before
        assert bob_events.next_poke(timeout=max(0.0, 1.5 - (time.monotonic() - started))) \
            is None
        # And the other way round (so bob's stream is demonstrably live).
        before = head_seq(alice)
        started = time.monotonic()
        alice.inbound(scene.ws, "b_sms", "+15553000", "a change for team B")
        poke = bob_events.next_poke(timeout=2.0)
        assert poke is not None and poke > before
        remaining = max(0.0, 1.5 - (time.monotonic() - started))
        assert [x for x in alice_events.drain() if x > before] == []
        assert alice_events.next_poke(timeout=remaining) is None
        # A push by bob on a team-B conversation doesn't poke alice either, but a grant does.
        Outbox(bob).apply("assign", conversation_id=scene.b_convs[1],
                          agent_id=scene.ws.agents["alice"])
        assert alice_events.next_poke(timeout=2.0) is not None
    finally:
        alice_events.close()
        bob_events.close()
    assert alice_events.error is None and bob_events.error is None


def test_assignee_outside_the_team_sees_exactly_that_conversation(scene: Scene,
                                                                   db: Database) -> None:
    alice = scene.apis["alice"]
    alice_id = scene.ws.agents["alice"]
    mirror = full_sync(alice)
    bob = Outbox(scene.apis["bob"])
    granted = scene.b_convs[0]
    bob.apply("assign", conversation_id=granted, agent_id=alice_id)
    changes, mirror.cursor = alice.pull_all(mirror.cursor, limit=2)
    mirror.apply_changes(changes)
    assert set(mirror.of("conversation")) == {*scene.a_convs, granted}
    with db.read() as s:
        granted_messages = set(s.scalars(select(m.Message.id)
                                         .where(m.Message.conversation_id == granted)))
        contact = s.scalar(select(m.Conversation.contact_id)
                           .where(m.Conversation.id == granted))
    assert {k for k, v in mirror.of("message").items()
            if v["conversation_id"] == granted} == granted_messages
    assert contact in mirror.of("contact")
    assert scene.b_convs[1] not in mirror.of("conversation")
    assert {c["team_id"] for c in mirror.of("channel").values()} == {scene.ws.teams["A"]}
    expected = expected_state(db, alice_id)
    assert mirror.rows == expected, describe_diff(mirror.rows, expected)
    # A fresh bootstrap agrees; and alice may now work on it.
    fresh = full_sync(alice, 3, 2)
    assert fresh.rows == expected, describe_diff(fresh.rows, expected)
    box = Outbox(alice)
    box.apply("add_note", conversation_id=granted, message_id=str(uuid.uuid4()), body="mine")
    # Taken away again: deleted from her mirror, with its messages and contact.
    bob.apply("assign", conversation_id=granted, agent_id=scene.ws.agents["bob"])
    changes, mirror.cursor = alice.pull_all(mirror.cursor, limit=2)
    mirror.apply_changes(changes)
    assert set(mirror.of("conversation")) == set(scene.a_convs)
    assert contact not in mirror.of("contact")
    assert not [v for v in mirror.of("message").values() if v["conversation_id"] == granted]
    expected = expected_state(db, alice_id)
    assert mirror.rows == expected, describe_diff(mirror.rows, expected)
    result = box.push(("mark_read", {"conversation_id": granted})).results[0]
    assert result.error is not None and result.error.code is p.RejectReason.NOT_PERMITTED


def test_supervisor_sees_everything(scene: Scene, db: Database) -> None:
    sam = scene.apis["sam"]
    mirror = full_sync(sam, 4, 3)
    with db.read() as s:
        n_convs = s.scalar(select(func.count()).select_from(m.Conversation))
        n_msgs = s.scalar(select(func.count()).select_from(m.Message))
        n_channels = s.scalar(select(func.count()).select_from(m.Channel))
        n_canned = s.scalar(select(func.count()).select_from(m.CannedReply))
    assert set(mirror.of("conversation")) == {*scene.a_convs, *scene.b_convs}
    assert (len(mirror.of("conversation")), len(mirror.of("message")),
            len(mirror.of("channel")), len(mirror.of("canned_reply"))) == (
        n_convs, n_msgs, n_channels, n_canned)
    expected = expected_state(db, scene.ws.agents["sam"])
    assert mirror.rows == expected, describe_diff(mirror.rows, expected)
    # And may act on both teams.
    box = Outbox(sam)
    for conv in (scene.a_convs[0], scene.b_convs[0]):
        box.apply("set_priority", conversation_id=conv, priority="high")
    # A move between teams does not take anything from a supervisor.
    box.apply("assign", conversation_id=scene.b_convs[1], team_id=scene.ws.teams["A"])
    changes, mirror.cursor = sam.pull_all(mirror.cursor)
    assert not [c for c in changes if c.op is p.Op.DELETE]
    mirror.apply_changes(changes)
    assert mirror.rows == expected_state(db, scene.ws.agents["sam"])


def test_trainee_sees_team_a_like_alice(scene: Scene, db: Database) -> None:
    alice = full_sync(scene.apis["alice"])
    tina = full_sync(scene.apis["tina"], 5, 2)
    assert tina.rows == alice.rows
    box = Outbox(scene.apis["tina"])
    box.apply("mark_read", conversation_id=scene.a_convs[0])
    result = box.push(("mark_read", {"conversation_id": scene.b_convs[0]})).results[0]
    assert result.error is not None and result.error.code is p.RejectReason.NOT_PERMITTED
