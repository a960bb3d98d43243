"""A Hypothesis state machine drives two desks against one real server (issue 3).

Alice (an agent of team A) and Sam (the supervisor) each run a real desk — Store, ApiClient,
SyncEngine — on their own data directory. They reach a real server on loopback through
``FlakyNetwork``, an httpx transport around the real connection that can be switched to refuse
connections, to lose every answer after the server committed, or to hang one request after
the server committed it while the desk is killed. Hypothesis interleaves the desks' intents,
customers' inbound messages (including STOP/START), other agents' pushes through the API,
disconnects, reconnects, sync cycles, crashes (mid-cycle), clean restarts and cache rebuilds,
and checks:

- after every step: a bootstrapped mirror that has caught up past its bootstrap holds exactly
  the agent's change feed applied up to the mirror's cursor, so a conversation taken away
  never comes back unless the feed brought it back;
- after reconnecting and syncing (a rule, and the end of every run): both mirrors equal the
  server's tables as the agent may see them; every intent took effect exactly once (one
  outbound delivery per reply with its body, one note per note, one applied mutation record
  per intent, push ids 1..N without gaps, no delivery nobody asked for); every rejection is
  legitimate (Alice acting on a conversation that left her sight, a reply to a contact who
  opted out) and kept with its reason and shown as failed; at the end the test discards them
  and the outbox is empty; ``PRAGMA integrity_check`` passes on all four files.

Each run gets a fresh server database (a copy of one prepared workspace) and fresh desks.
The engines are not started: the machine runs every sync cycle itself, so each server change
happens in a known step and the legitimacy of a rejection can be judged. Background cycles,
server-sent pokes and the CLI beside the desk are covered by the engine and CLI tests.

``RELAYDESK_HYPOTHESIS_PROFILE=nightly`` runs many more and longer sequences.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from protocol.rules import opt_keyword
from protocol.wire import RejectReason
from server import models as sm
from server.db import Database
from server.feed import Viewer, read_head, visible_clause
from sync import entities, mirror, outbox, overlay
from sync.client import ApiClient
from sync.engine import EngineOptions, SyncEngine
from sync.outbox import IntentRecord, InvalidIntent
from sync.store import CLEAN_MARKER, Store
from tests.server.harness import (
    PASSWORD,
    Api,
    LiveServer,
    Workspace,
    build_workspace,
    expected_state,
)
from tests.sync.helpers import as_rows, mirror_rows

PROFILES = {
    "ci": settings(max_examples=15, stateful_step_count=25, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                   print_blob=True),
    "nightly": settings(max_examples=300, stateful_step_count=60, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow,
                                               HealthCheck.filter_too_much],
                        print_blob=True),
}
PROFILE = PROFILES[os.environ.get("RELAYDESK_HYPOTHESIS_PROFILE", "ci")]

DESKS = ("alice", "sam")
CHANNELS = ("a_sms", "a_email", "a_whatsapp", "a_web_chat", "b_sms", "b_email", "b_whatsapp")
KINDS = ("send_message", "add_note", "set_status", "set_priority", "add_tag", "remove_tag",
         "assign", "mark_read")
TAGS = ("vip", "billing", "late", "返品")
DAY_MS = 86_400_000
# Small pages so bootstrap and pull take several round trips (and can stop between them).
OPTIONS = dict(pull_limit=3, bootstrap_limit=20, use_events=False, backoff_base_s=0.01,
               backoff_cap_s=0.05)

BODIES = st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != "")
CUSTOMER_TEXT = st.one_of(  # providers never deliver NUL (the server answers 422)
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
            max_size=30).filter(
        lambda s: s.strip() != "" and opt_keyword("sms", s) is None),
    st.sampled_from(["STOP", "START"]),
)


def handle_for(channel_key: str, who: int) -> str:
    kind = channel_key.split("_", 1)[1]
    if kind == "email":
        return f"customer{who}@example.com"
    if kind == "web_chat":
        return f"visitor-{who}"
    return f"+1555010{who:04d}"


# --------------------------------------------------------------------------- the network


class FlakyNetwork(httpx.AsyncBaseTransport):
    """The real connection to the server, with a switch for the test.

    up: requests go through. refuse: nothing reaches the server (ConnectError).
    lose: the server receives and commits each request, the answer is lost (ReadError).
    flaky: like lose for every third request only, so cycles stop half-way through.
    ``hang_after(n)``: the n-th request from now reaches the server, then its answer never
    comes (until the task is cancelled, which is how the test kills a desk mid-cycle).
    """

    UP, REFUSE, LOSE, FLAKY = "up", "refuse", "lose", "flaky"

    def __init__(self, mode: str = UP) -> None:
        self.inner = httpx.AsyncHTTPTransport(verify=False)  # plain HTTP on loopback
        self.mode = mode
        self.requests = 0
        self._hang_at: int | None = None
        self.hung = asyncio.Event()

    def hang_after(self, n: int) -> None:
        self._hang_at = self.requests + n + 1
        self.hung = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.mode == self.REFUSE:
            raise httpx.ConnectError("network unreachable (test)", request=request)
        self.requests += 1
        response = await self.inner.handle_async_request(request)
        lost = self.mode == self.LOSE or (self.mode == self.FLAKY and self.requests % 3 == 0)
        if lost or self.requests == self._hang_at:
            await response.aread()  # the server has finished (and committed) this request
            await response.aclose()
            if self.requests == self._hang_at:
                self.hung.set()
                await asyncio.Event().wait()  # forever: the desk dies waiting
            raise httpx.ReadError("connection reset by peer (test)", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# --------------------------------------------------------------------------- helpers






def describe_diff(actual: dict, expected: dict) -> str:
    extra = sorted(k for k in actual if k not in expected)
    missing = sorted(k for k in expected if k not in actual)
    changed = sorted(k for k in actual if k in expected and actual[k] != expected[k])
    lines = [f"extra (should be gone): {extra[:8]}", f"missing: {missing[:8]}"]
    for k in changed[:4]:
        diff = {c: (actual[k].get(c), expected[k].get(c)) for c in expected[k]
                if actual[k].get(c) != expected[k].get(c)}
        lines.append(f"changed {k}: {diff}")
    return "\n".join(lines)


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check").fetchall())
    finally:
        conn.close()


def abandon(store: Store) -> None:
    """What a killed process leaves behind: its committed transactions and no clean-shutdown
    marker. (Closing the connections stands in for the OS closing a dead process's files.)"""
    store.release()


class FeedView:
    """An agent's change feed on the server, applied up to a position (the reference a
    caught-up mirror must equal)."""

    def __init__(self, db: Database, viewer: Viewer) -> None:
        self.db, self.viewer = db, viewer
        self.cursor = 0
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def at(self, cursor: int) -> dict[tuple[str, str], dict[str, Any]]:
        if cursor < self.cursor:
            self.cursor, self.rows = 0, {}
        with self.db.read() as s:
            changes = s.execute(
                select(sm.ChangeRow.entity, sm.ChangeRow.entity_id, sm.ChangeRow.op,
                       sm.ChangeRow.data)
                .where(sm.ChangeRow.seq > self.cursor, sm.ChangeRow.seq <= cursor,
                       visible_clause(self.viewer))
                .order_by(sm.ChangeRow.seq)
            ).all()
        for entity, entity_id, op, data in changes:
            if op == "upsert":
                self.rows[(entity, entity_id)] = orjson.loads(data)
            else:
                self.rows.pop((entity, entity_id), None)
                if entity == "conversation":
                    for key in [k for k, v in self.rows.items()
                                if k[0] == "message" and v.get("conversation_id") == entity_id]:
                        del self.rows[key]
        self.cursor = cursor
        return as_rows(self.rows)


@dataclass
class Tracked:
    """An intent the test made, and what became of it."""

    desk: str
    local_id: int
    name: str
    args: dict[str, Any]
    conversation_id: str
    mutation_ids: list[int]
    since_obs: int  # observation count when it was (re)queued
    discarded: bool = False
    settled: bool = False  # seen leaving the outbox after the server applied it


@dataclass
class Desk:
    name: str
    email: str
    agent_id: str
    viewer: Viewer
    data_dir: Path
    store: Store
    api: ApiClient
    engine: SyncEngine
    net: FlakyNetwork
    feed: FeedView
    signed_in: bool = False
    fence: int | None = None  # feed head when its current bootstrap finished
    client_id: str | None = None
    dirty: bool = True  # its mirror may have changed since the last check
    last_conv: str | None = None
    intents: dict[int, Tracked] = field(default_factory=dict)


# --------------------------------------------------------------------------- the machine


class DeskMachine(RuleBasedStateMachine):
    # Set by the test function.
    template: Path
    ws: Workspace
    root: Path
    counter = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = self.root / f"run{next(self.counter)}"
        self.dir.mkdir(parents=True)
        for suffix in ("", "-wal"):
            if Path(str(self.template) + suffix).exists():
                shutil.copy(str(self.template) + suffix, str(self.dir / "server.sqlite3") + suffix)
        self.db = Database(f"sqlite:///{self.dir / 'server.sqlite3'}")
        self.server = LiveServer(self.db.url.render_as_string(hide_password=False),
                                 self.dir / "server-data")
        self.server.start()
        self.customers = Api(self.server.url)
        self.others: dict[str, tuple[Api, str, itertools.count]] = {}
        self.other_sends: dict[str, str] = {}  # message id -> body, applied
        self.obs = 0
        self.last_invisible: dict[tuple[str, str], int] = {}  # (agent id, conv) -> obs
        self.last_opted_out: dict[str, int] = {}  # conv -> obs
        self.desks: dict[str, Desk] = {}
        ws = self.ws
        teams = {"alice": ["A"], "sam": ["A", "B"]}
        for name in DESKS:
            viewer = Viewer(ws.agents[name], "supervisor" if name == "sam" else "agent",
                            frozenset(ws.teams[t] for t in teams[name]))
            data_dir = self.dir / name
            net = FlakyNetwork()
            store, api, engine = self._open(data_dir, net)
            self.desks[name] = Desk(name, ws.emails[name], ws.agents[name], viewer, data_dir,
                                    store, api, engine, net, FeedView(self.db, viewer))

    # ------------------------------------------------------------------ plumbing

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def _open(self, data_dir: Path, net: FlakyNetwork) -> tuple[Store, ApiClient, SyncEngine]:
        store = Store(data_dir)
        report = store.open()
        assert not report.rebuilt_mirror, f"a healthy mirror was rebuilt: {report.problem}"
        api = ApiClient(self.server.url, transport=net)
        engine = SyncEngine(store, api, None, EngineOptions(**OPTIONS))
        return store, api, engine

    async def _sign_in(self, desk: Desk) -> None:
        if not desk.signed_in and desk.net.mode == FlakyNetwork.UP:
            await desk.engine.login(desk.email, PASSWORD)
            desk.signed_in = True

    async def _cycle(self, desk: Desk) -> bool:
        desk.dirty = True
        await self._sign_in(desk)
        return await desk.engine.run_cycle_guarded()

    def _conversations(self) -> list[Any]:
        with self.db.read() as s:
            return s.execute(select(sm.Conversation.id, sm.Conversation.team_id,
                                    sm.Conversation.assignee_id)).all()

    def _visible_to(self, viewer: Viewer) -> list[str]:
        return sorted(c.id for c in self._conversations()
                      if viewer.can_see(c.team_id, c.assignee_id))

    def _desk_conversations(self, desk: Desk) -> list[str]:
        """What the desk offers the agent to act on: the conversations of its mirror."""
        with desk.store.read_mirror() as conn:
            return sorted(conn.execute(select(entities.SPECS[entities.Entity.CONVERSATION]
                                              .table.c.id)).scalars())

    def _other(self, who: str) -> tuple[Api, str, itertools.count]:
        if who not in self.others:
            api = Api(self.server.url).login(self.ws.emails[who])
            self.others[who] = (api, f"other-{who}-{uuid.uuid4().hex[:8]}", itertools.count(1))
        return self.others[who]

    def _track(self, desk: Desk, record: IntentRecord) -> None:
        tracked = desk.intents.get(record.id)
        if tracked is None:
            desk.intents[record.id] = Tracked(desk.name, record.id, record.name, record.args,
                                              record.conversation_id or "",
                                              [record.mutation_id], self.obs)
        else:
            tracked.mutation_ids.append(record.mutation_id)
            tracked.since_obs = self.obs

    # ------------------------------------------------------------------ observation

    def observe(self) -> None:
        """Record who could see what (to judge rejections); check each mirror is the feed."""
        self.obs += 1
        with self.db.read() as s:
            head = read_head(s)[0]
            opted = s.execute(
                select(sm.Conversation.id)
                .join(sm.Channel, sm.Channel.id == sm.Conversation.channel_id)
                .join(sm.ContactIdentity,
                      (sm.ContactIdentity.contact_id == sm.Conversation.contact_id)
                      & (sm.ContactIdentity.channel_type == sm.Channel.type))
                .where(sm.ContactIdentity.opted_out.is_(True))
            ).scalars().all()
        for conv_id in opted:
            self.last_opted_out[conv_id] = self.obs
        conversations = self._conversations()
        for desk in self.desks.values():
            for c in conversations:
                if not desk.viewer.can_see(c.team_id, c.assignee_id):
                    self.last_invisible[(desk.agent_id, c.id)] = self.obs
            self._check_follows_feed(desk, head)
            self._check_settled(desk)

    def _check_settled(self, desk: Desk) -> None:
        """An intent leaves the outbox (and so the overlay) only once the server applied it
        and the mirror holds the change it made: nothing vanishes and comes back."""
        with desk.store.read_outbox() as conn:
            present = {i.id for i in outbox.unsettled(conn)}
        gone = [t for t in desk.intents.values()
                if t.local_id not in present and not t.discarded and not t.settled]
        if not gone:
            return
        cursor = mirror.get_cursor(desk.store)
        with self.db.read() as s:
            for t in gone:
                record = s.get(sm.MutationRecord, (desk.client_id, t.mutation_ids[-1]))
                assert record is not None, f"{t} left the outbox but never reached the server"
                assert record.status == "applied", (t, record.status, record.error_code)
                assert record.change_seq is None or record.change_seq <= cursor, (
                    f"{t} left the outbox before its change {record.change_seq} was pulled "
                    f"(the mirror is at {cursor})")
                t.settled = True

    def _check_follows_feed(self, desk: Desk, head: int) -> None:
        if not desk.dirty:
            return  # only cycles, restarts and rebuilds write the mirror
        desk.dirty = False
        with desk.store.read_mirror() as conn:
            bootstrapped = desk.store.get_state(conn, mirror.BOOTSTRAPPED) == "1"
            cursor = int(desk.store.get_state(conn, mirror.CURSOR) or "0")
        if not bootstrapped:
            desk.fence = None
            return
        if desk.fence is None:
            # Bootstrap pages after the first may carry rows newer than the snapshot; the
            # mirror is exact again once it has pulled past everything written meanwhile.
            desk.fence = head
        if cursor < desk.fence:
            desk.dirty = True  # check again once it has caught up
            return
        actual = mirror_rows(desk.store)
        expected = desk.feed.at(cursor)
        assert actual == expected, (
            f"{desk.name}'s mirror at cursor {cursor} is not its feed applied up to there "
            f"(a row that came back after its delete shows under 'extra'):\n"
            + describe_diff(actual, expected))

    @invariant()
    def mirrors_follow_the_feed(self) -> None:
        self.observe()

    # ------------------------------------------------------------------ rules

    @initialize(first=st.lists(st.tuples(st.sampled_from(CHANNELS), st.integers(0, 3)),
                               min_size=2, max_size=5))
    def open_desks(self, first: list[tuple[str, int]]) -> None:
        for key, who in first:
            self.customers.inbound(self.ws, key, handle_for(key, who), "Hello?")
        for desk in self.desks.values():
            assert self.run(self._cycle(desk)), desk.engine.status
            desk.client_id = desk.store.write_sync(self._client_id, desk.store)

    @staticmethod
    def _client_id(store: Store) -> str:
        with store.write_outbox() as conn:
            return outbox.client_id(conn)

    @rule(key=st.sampled_from(CHANNELS), who=st.integers(0, 3), text=CUSTOMER_TEXT)
    def customer_writes(self, key: str, who: int, text: str) -> None:
        self.customers.inbound(self.ws, key, handle_for(key, who), text)

    @rule(name=st.sampled_from(DESKS), pick=st.integers(0, 10_000),
          kind=st.sampled_from(KINDS), data=st.data())
    def agent_acts(self, name: str, pick: int, kind: str, data: st.DataObject) -> None:
        desk = self.desks[name]
        convs = self._desk_conversations(desk)
        if not convs:
            return
        conv = convs[pick % len(convs)]
        if desk.last_conv in convs and data.draw(st.booleans(), label="same conversation"):
            conv = desk.last_conv  # agents do several things to one conversation in a row
        self._desk_acts(desk, conv, kind, data)

    def _desk_acts(self, desk: Desk, conv: str, kind: str, data: st.DataObject) -> None:
        desk.last_conv = conv
        args = self._args(kind, conv, data)
        if "\x00" in args.get("body", ""):
            # No database can store it: refused at once with a reason, nothing queued.
            with desk.store.read_outbox() as conn:
                before = outbox.unsettled(conn)
            with pytest.raises(InvalidIntent, match="NUL"):
                self.run(desk.engine.enqueue(kind, args))
            with desk.store.read_outbox() as conn:
                assert outbox.unsettled(conn) == before
            return
        record = self.run(desk.engine.enqueue(kind, args))
        self._track(desk, record)
        if kind in ("send_message", "add_note"):
            # Shown in the thread at once, as pending, exactly once.
            with desk.store.read_mirror() as conn:
                msgs = [dict(r) for r in conn.execute(
                    select(entities.SPECS[entities.Entity.MESSAGE].table)
                    .where(entities.SPECS[entities.Entity.MESSAGE].table.c.conversation_id
                           == conv)).mappings()]
            with desk.store.read_outbox() as conn:
                intents = outbox.unsettled(conn, conv)
            items = [i for i in overlay.thread(msgs, intents, desk.agent_id)
                     if i.id == record.message_id]
            assert [i.local_state for i in items] == [overlay.LOCAL_PENDING]
            assert items[0].body == args["body"]

    def _args(self, kind: str, conv: str, data: st.DataObject) -> dict[str, Any]:
        ws = self.ws
        args: dict[str, Any] = {"conversation_id": conv}
        if kind in ("send_message", "add_note"):
            args["body"] = data.draw(BODIES, label="body")
        elif kind == "set_status":
            status = data.draw(st.sampled_from(["open", "pending", "resolved", "snoozed"]),
                               label="status")
            args["status"] = status
            if status == "snoozed":
                args["snoozed_until"] = int(time.time() * 1000) + DAY_MS
        elif kind == "set_priority":
            args["priority"] = data.draw(st.sampled_from(["low", "normal", "high", "urgent"]),
                                         label="priority")
        elif kind in ("add_tag", "remove_tag"):
            args["tag"] = data.draw(st.sampled_from(TAGS), label="tag")
        elif kind == "assign":
            args.update(data.draw(st.sampled_from([
                {"team_id": ws.teams["B"], "agent_id": None},  # away from alice
                {"team_id": ws.teams["A"]},
                {"agent_id": ws.agents["bob"]},
                {"agent_id": ws.agents["alice"]},
                {"agent_id": None},
                {"team_id": ws.teams["B"], "agent_id": ws.agents["alice"]},
            ]), label="assign"))
        return args

    @rule(who=st.sampled_from(["tina", "bob"]), pick=st.integers(0, 10_000),
          action=st.sampled_from(["move", "assign_alice", "add_tag", "set_status", "add_note",
                                  "send_message"]),
          body=BODIES)
    def other_agent_acts(self, who: str, pick: int, action: str, body: str) -> None:
        """Tina (team A) and Bob (team B) work on the server through their own clients."""
        convs = self._visible_to(self._viewer(who))
        if not convs:
            return
        self._other_pushes(who, convs[pick % len(convs)], action, body, pick)

    @rule(pick=st.integers(0, 10_000), kind=st.sampled_from(KINDS), data=st.data())
    def conversation_moves_away_under_alice(self, pick: int, kind: str,
                                            data: st.DataObject) -> None:
        """Tina hands one of Alice's conversations to team B; Alice, not synced yet, keeps
        working on it. The server must refuse with a reason; nothing may be lost silently."""
        alice = self.desks["alice"]
        tina = set(self._visible_to(self._viewer("tina")))
        convs = [c for c in self._desk_conversations(alice) if c in tina]
        if not convs:
            return
        conv = convs[pick % len(convs)]
        self._other_pushes("tina", conv, "move", "", pick)
        self._desk_acts(alice, conv, kind, data)

    def _viewer(self, who: str) -> Viewer:
        return Viewer(self.ws.agents[who], "agent",
                      frozenset({self.ws.teams["A" if who == "tina" else "B"]}))

    def _other_pushes(self, who: str, conv: str, action: str, body: str, pick: int) -> None:
        ws = self.ws
        api, client_id, ids = self._other(who)
        name, args = action, {"conversation_id": conv}
        if action == "move":
            name = "assign"
            args["team_id"] = ws.teams["B" if who == "tina" else "A"]
        elif action == "assign_alice":
            name, args["agent_id"] = "assign", ws.agents["alice"]
        elif action == "add_tag":
            args["tag"] = TAGS[pick % len(TAGS)]
        elif action == "set_status":
            args["status"] = ("open", "pending", "resolved")[pick % 3]
        else:
            args.update(body=body, message_id=str(uuid.uuid4()))
        result = api.push(client_id, [{"id": next(ids), "name": name, "args": args}]).results[0]
        if result.status.value == "rejected":
            assert result.error is not None
            if "\x00" in args.get("body", ""):
                assert result.error.code is RejectReason.INVALID, result
            else:
                assert (name, result.error.code) == ("send_message",
                                                     RejectReason.CONTACT_OPTED_OUT), result
        elif name == "send_message":
            self.other_sends[args["message_id"]] = body

    @rule(name=st.sampled_from(DESKS),
          mode=st.sampled_from([FlakyNetwork.UP, FlakyNetwork.REFUSE, FlakyNetwork.LOSE,
                                FlakyNetwork.FLAKY]))
    def network_changes(self, name: str, mode: str) -> None:
        self.desks[name].net.mode = mode

    @rule(name=st.sampled_from(DESKS))
    def sync_cycle(self, name: str) -> None:
        desk = self.desks[name]
        synced = self.run(self._cycle(desk))
        if desk.net.mode == FlakyNetwork.UP:
            assert synced, desk.engine.status

    @rule(name=st.sampled_from(DESKS), crash=st.booleans(), hang_after=st.integers(0, 3))
    def restart(self, name: str, crash: bool, hang_after: int) -> None:
        """Close the desk and open it again on the same data directory. A crash kills it in
        the middle of a cycle: the n-th request reached the server, its answer never came."""
        desk = self.desks[name]
        with desk.store.read_outbox() as conn:
            before = [(i.id, i.state) for i in outbox.unsettled(conn)]
        if crash:
            if desk.net.mode == FlakyNetwork.UP:
                self.run(self._sign_in(desk))
                self.run(self._die_mid_cycle(desk, hang_after))
            self.run(desk.api.aclose())
            abandon(desk.store)
            assert not (desk.data_dir / CLEAN_MARKER).exists()
        else:
            self.run(desk.engine.stop())
            self.run(desk.api.aclose())
            desk.store.close()
            assert (desk.data_dir / CLEAN_MARKER).exists()
        desk.net = FlakyNetwork(desk.net.mode)
        desk.store, desk.api, desk.engine = self._open(desk.data_dir, desk.net)
        desk.signed_in = False  # in-memory sign-in: the agent signs in again
        desk.dirty = True
        assert not list(desk.data_dir.glob("mirror.sqlite3.corrupt-*"))
        with desk.store.read_outbox() as conn:
            after = {i.id: i.state for i in outbox.unsettled(conn)}
        # Nothing queued is lost (some may have been confirmed and settled meanwhile).
        for intent_id, state in before:
            if intent_id not in after:
                assert state != outbox.REJECTED or desk.intents[intent_id].discarded

    async def _die_mid_cycle(self, desk: Desk, hang_after: int) -> None:
        desk.net.hang_after(hang_after)
        task = asyncio.ensure_future(desk.engine.run_cycle_guarded())
        hung = asyncio.ensure_future(desk.net.hung.wait())
        await asyncio.wait({task, hung}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        event("crash: killed mid-cycle" if hung.done() and not task.done()
              else "crash: after the cycle")
        for t in (task, hung):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t

    @rule(name=st.sampled_from(DESKS))
    def rebuild_cache(self, name: str) -> None:
        desk = self.desks[name]
        with desk.store.read_outbox() as conn:
            before = outbox.unsettled(conn)
        self.run(desk.store.run_write(desk.store.rebuild_mirror))
        desk.dirty = True
        assert self._desk_conversations(desk) == []
        with desk.store.read_outbox() as conn:
            assert outbox.unsettled(conn) == before  # the outbox is untouched

    @rule(name=st.sampled_from(DESKS), pick=st.integers(0, 10_000), retry=st.booleans())
    def agent_handles_a_rejection(self, name: str, pick: int, retry: bool) -> None:
        desk = self.desks[name]
        with desk.store.read_outbox() as conn:
            rejected = [i for i in outbox.unsettled(conn) if i.state == outbox.REJECTED]
        if not rejected:
            return
        intent = rejected[pick % len(rejected)]
        self._check_rejection(desk, intent)
        if retry:
            self._track(desk, self.run(desk.engine.retry_intent(intent.id)))
        else:
            self.run(desk.engine.discard_intent(intent.id))
            desk.intents[intent.id].discarded = True

    @rule()
    def reconnect_and_converge(self) -> None:
        self.run(self._converge(final=False))

    # ------------------------------------------------------------------ the big check

    def _check_rejection(self, desk: Desk, intent: IntentRecord) -> None:
        tracked = desk.intents[intent.id]
        assert intent.error_code and intent.error_message, "a rejection must carry a reason"
        event(f"rejected: {intent.name} {intent.error_code}")
        conv = intent.conversation_id or ""
        if intent.error_code == RejectReason.NOT_PERMITTED:
            # Legitimate only if the conversation left this agent's sight after the intent
            # was queued — seen by the test, or done by an earlier intent of the same desk.
            moved = self.last_invisible.get((desk.agent_id, conv), -1) >= tracked.since_obs
            own = any(t.name == "assign" and t.conversation_id == conv and t.local_id < intent.id
                      for t in desk.intents.values())
            assert moved or own, f"{desk.name}: not_permitted on a visible conversation {intent}"
        elif intent.error_code == RejectReason.CONTACT_OPTED_OUT:
            assert intent.name == "send_message"
            assert self.last_opted_out.get(conv, -1) >= tracked.since_obs, intent
        else:
            raise AssertionError(f"{desk.name}: unexpected rejection {intent}")
        if intent.name in ("send_message", "add_note"):
            with desk.store.read_mirror() as conn:
                msgs = [dict(r) for r in conn.execute(
                    select(entities.SPECS[entities.Entity.MESSAGE].table)).mappings()]
            items = [i for i in overlay.thread(msgs, [intent], desk.agent_id)
                     if i.intent_id == intent.id]
            assert len(items) == 1 and items[0].local_state == overlay.LOCAL_FAILED
            assert items[0].error_message == intent.error_message

    async def _converge(self, final: bool) -> None:
        for desk in self.desks.values():
            desk.net.mode = FlakyNetwork.UP
        problems: list[str] = []
        for _round in range(5):
            problems = []
            for desk in self.desks.values():
                if not await self._cycle(desk):
                    problems.append(f"{desk.name}: {desk.engine.status}")
                self.observe()
            for desk in self.desks.values():
                with desk.store.read_outbox() as conn:
                    counts = outbox.counts(conn)
                if counts[outbox.PENDING] or counts[outbox.APPLIED]:
                    problems.append(f"{desk.name}: outbox not drained {counts}")
                expected = as_rows(self._expected(desk))
                actual = mirror_rows(desk.store)
                if actual != expected:
                    problems.append(f"{desk.name}'s mirror differs from the server:\n"
                                    + describe_diff(actual, expected))
            if not problems:
                break
        assert not problems, "\n".join(problems)

        for desk in self.desks.values():
            for path in (desk.store.mirror_path, desk.store.outbox_path):
                assert integrity(path) == "ok", path
            with desk.store.read_outbox() as conn:
                left = outbox.unsettled(conn)
            assert all(i.state == outbox.REJECTED for i in left), left
            for intent in left:
                self._check_rejection(desk, intent)
                if final:
                    await desk.engine.discard_intent(intent.id)
                    desk.intents[intent.id].discarded = True
            with desk.store.read_outbox() as conn:
                still = {i.id for i in outbox.unsettled(conn)}
                assert outbox.client_id(conn) == desk.client_id  # never renumbered here
            if final:
                assert still == set(), "the outbox must end empty"
            self._check_exactly_once(desk, still)
        self._check_no_stray_deliveries()

    def _expected(self, desk: Desk) -> dict[tuple[str, str], dict[str, Any]]:
        return expected_state(self.db, desk.agent_id)

    def _check_exactly_once(self, desk: Desk, in_outbox: set[int]) -> None:
        with self.db.read() as s:
            records = {r.mutation_id: r for r in s.scalars(
                select(sm.MutationRecord).where(sm.MutationRecord.client_id == desk.client_id))}
            used = sorted(m for t in desk.intents.values() for m in t.mutation_ids)
            assert sorted(records) == used == list(range(1, len(used) + 1)), (
                "push ids must be 1..N, each used by exactly one intent")
            for t in desk.intents.values():
                for mid in t.mutation_ids:
                    assert records[mid].name == t.name
                if t.local_id in in_outbox:
                    continue  # rejected, still waiting for the agent
                final = records[t.mutation_ids[-1]]
                deliveries = s.scalars(select(sm.OutboundDelivery).where(
                    sm.OutboundDelivery.message_id == t.args.get("message_id"))).all()
                message = (s.get(sm.Message, t.args["message_id"])
                           if "message_id" in t.args else None)
                if t.discarded:
                    assert final.status == "rejected", (t, final.status)
                    assert deliveries == [] and message is None, t
                    continue
                assert final.status == "applied", (t, final.status, final.error_code)
                if t.name == "send_message":
                    assert [d.body for d in deliveries] == [t.args["body"]], t
                    assert message is not None and message.direction == "outbound"
                elif t.name == "add_note":
                    assert deliveries == []
                    assert message is not None and message.direction == "note"
                    assert message.body == t.args["body"]

    def _check_no_stray_deliveries(self) -> None:
        wanted = set(self.other_sends)
        for desk in self.desks.values():
            wanted |= {t.args["message_id"] for t in desk.intents.values()
                       if t.name == "send_message" and not t.discarded}
        with self.db.read() as s:
            delivered = s.scalars(select(sm.OutboundDelivery.message_id)).all()
            assert s.scalar(select(func.count()).select_from(sm.OutboundDelivery)) == len(
                set(delivered))
        # Rejected replies still in an outbox are in ``wanted`` but not delivered.
        assert set(delivered) <= wanted, set(delivered) - wanted

    # ------------------------------------------------------------------ teardown

    def teardown(self) -> None:
        try:
            if all(d.store.is_open for d in self.desks.values()):
                self.run(self._converge(final=True))
        finally:
            for desk in self.desks.values():
                with contextlib.suppress(Exception):
                    self.run(desk.engine.stop())
                with contextlib.suppress(Exception):
                    self.run(desk.api.aclose())
                with contextlib.suppress(Exception):
                    desk.store.close()
            for api, _, _ in self.others.values():
                api.close()
            self.customers.close()
            self.server.stop()
            self.db.dispose()
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Workspace]:
    """One server database with the test workspace, copied for every run."""
    path = tmp_path_factory.mktemp("template") / "server.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    ws = build_workspace(db)
    db.dispose()
    return path, ws


@pytest.mark.slow
def test_desks_survive_random_faults(prepared: tuple[Path, Workspace], tmp_path: Path) -> None:
    template, ws = prepared

    class Machine(DeskMachine):
        pass

    Machine.template, Machine.ws, Machine.root = template, ws, tmp_path
    run_state_machine_as_test(Machine, settings=PROFILE)
