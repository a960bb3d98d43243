"""Server-sent events (``GET /sync/events``) against a real server over loopback.

A desk keeps one event stream open; a data-less ``poke`` tells it to pull. These tests
measure that a poke arrives within a second of a change the agent can see, that its id is the
seq a pull ends at, that idle streams carry heartbeats, that ``Last-Event-ID`` resumes
correctly, and that agents are never poked for changes they cannot see.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import statistics
import threading
import time
import uuid
from typing import Any

import httpx
from httpx_sse import connect_sse

from server import admin
from server.db import Database
from server.feed import ChangeBuffer
from tests.server.harness import PREFIX, Api, LiveServer, Workspace, wait_until

EVENTS = f"{PREFIX}/sync/events"


class SseStream:
    """One open event stream, read line by line on a private event loop thread.

    Keeps every raw line (comments included) and the events parsed from them, each stamped
    with ``time.monotonic()`` on arrival, so tests can measure latency and see heartbeats.
    """

    def __init__(self, base_url: str, token: str | None, last_event_id: int | None = None
                 ) -> None:
        self.lines: list[tuple[float, str]] = []
        self.events: list[tuple[float, dict[str, str]]] = []
        self.comments: list[tuple[float, str]] = []
        self.status: int | None = None
        self.error: BaseException | None = None
        self.opened = threading.Event()
        self.ended = threading.Event()  # the server closed the stream
        self._task: asyncio.Task[None] | None = None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._consume(base_url + EVENTS, headers), self._loop)

    async def _consume(self, url: str, headers: dict[str, str]) -> None:
        self._task = asyncio.current_task()
        fields: dict[str, str] = {}
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=60.0)) as client, \
                    client.stream("GET", url, headers=headers) as resp:
                self.status = resp.status_code
                self.opened.set()
                async for line in resp.aiter_lines():
                    now = time.monotonic()
                    self.lines.append((now, line))
                    if line == "":
                        if fields:
                            self.events.append((now, fields))
                            fields = {}
                    elif line.startswith(":"):
                        self.comments.append((now, line[1:].strip()))
                    else:
                        name, _, value = line.partition(":")
                        fields[name] = value[1:] if value.startswith(" ") else value
                self.ended.set()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # seen by the test through .error
            self.error = exc
        finally:
            self.opened.set()

    async def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def close(self) -> None:
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._cancel(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> SseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- reading

    def wait_open(self, timeout: float = 5.0) -> SseStream:
        """Wait until the stream's first event (``retry:``) has been read."""
        assert wait_until(lambda: self.events or self.error, timeout), "stream did not open"
        assert self.error is None, repr(self.error)
        assert self.status == 200
        return self

    def pokes(self, since: float = 0.0) -> list[tuple[float, int]]:
        return [(t, int(ev["id"])) for t, ev in self.events
                if ev.get("event") == "poke" and t >= since]

    def wait_poke(self, since: float = 0.0, timeout: float = 3.0) -> tuple[float, int]:
        """The first poke that arrived at or after ``since`` (a monotonic time)."""
        assert wait_until(lambda: self.pokes(since), timeout, interval=0.005), (
            f"no poke within {timeout} s; lines: {[ln for _, ln in self.lines]}")
        return self.pokes(since)[0]

    def wait_poke_for(self, seq: int, timeout: float = 3.0) -> tuple[float, int]:
        """The first poke whose id is ``seq`` or later (the poke for a known change)."""
        def found() -> list[tuple[float, int]]:
            return [(t, i) for t, i in self.pokes() if i >= seq]

        assert wait_until(found, timeout, interval=0.005), (
            f"no poke for seq {seq} within {timeout} s; lines: {[ln for _, ln in self.lines]}")
        return found()[0]

    def heartbeats(self, since: float = 0.0) -> list[float]:
        return [t for t, c in self.comments if c == "heartbeat" and t >= since]

    def wait_heartbeat(self, since: float, timeout: float = 3.0) -> float:
        assert wait_until(lambda: self.heartbeats(since), timeout), "no heartbeat"
        return self.heartbeats(since)[0]


def _login(server_url: str, ws: Workspace, who: str) -> Api:
    return Api(server_url).login(ws.emails[who])


def _head(api: Api) -> int:
    return int(api.http.get("/healthz").json()["head_seq"])


def _latest_seq(api: Api, cursor: int) -> tuple[int, int]:
    """(seq of the newest change this agent can see after ``cursor``, the pull's cursor)."""
    changes, new_cursor = api.pull_all(cursor)
    assert changes, "expected at least one change"
    return max(ch.seq for ch in changes), new_cursor


def start_processes(factory: Any, database_url: str, n: int, *extra: str) -> list[Any]:
    """Start ``n`` server processes at once (each migrates the database on start-up)."""
    procs: list[Any] = [None] * n
    errors: list[BaseException] = []

    def start(i: int) -> None:
        try:
            procs[i] = factory(database_url, *extra)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return procs


# --------------------------------------------------------------------------- tests


def test_poke_arrives_within_a_second_with_the_latest_seq(live_server: LiveServer,
                                                          workspace: Workspace) -> None:
    ws = workspace
    with _login(live_server.url, ws, "alice") as alice, \
            _login(live_server.url, ws, "bob") as bob, \
            SseStream(live_server.url, alice.token) as a_stream, \
            SseStream(live_server.url, bob.token) as b_stream:
        _items, cursor = alice.bootstrap()
        a_stream.wait_open()
        b_stream.wait_open()
        assert a_stream.events[0][1] == {"retry": "2000"}  # the first thing a stream says
        latencies = []
        for i in range(5):
            sent = time.monotonic()
            alice.inbound(ws, "a_sms", f"+1555000{i}", f"hello {i}")
            arrived, poke_id = a_stream.wait_poke(since=sent)
            latencies.append(arrived - sent)
            latest, cursor = _latest_seq(alice, cursor)
            assert poke_id == latest == cursor
        print(f"\nSSE poke latency after inbound (s): max {max(latencies):.4f}, "
              f"median {statistics.median(latencies):.4f}")
        assert max(latencies) < 1.0, latencies

        # Bob (team B) is not poked for team A's traffic: his stream has gone on to a heartbeat
        # after the last change (so it looked at the new head) without saying "poke".
        b_stream.wait_heartbeat(since=arrived)
        assert b_stream.pokes() == []
        sent = time.monotonic()
        bob.inbound(ws, "b_sms", "+15559999", "for team B")
        _t, b_poke = b_stream.wait_poke(since=sent)
        assert b_poke == bob.pull(cursor).cursor
        # ... and Alice's stream stays quiet about team B.
        a_stream.wait_heartbeat(since=time.monotonic())
        assert a_stream.pokes(since=sent) == []


def test_httpx_sse_client_reads_the_stream(live_server: LiveServer,
                                           workspace: Workspace) -> None:
    """The stream is well-formed SSE for the client library the desk uses (httpx-sse)."""
    ws = workspace
    seen: list[Any] = []
    ready = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=live_server.url, timeout=10) as client, \
                connect_sse(client, "GET", EVENTS, headers=tina.headers) as source:
            for sse in source.iter_sse():
                seen.append(sse)
                ready.set()
                if sse.event == "poke":
                    return

    with _login(live_server.url, ws, "tina") as tina, _login(live_server.url, ws, "alice") as alice:
        _items, cursor = tina.bootstrap()
        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        assert ready.wait(5)
        alice.inbound(ws, "a_whatsapp", "+4470000001", "hi there")
        thread.join(3)
        assert not thread.is_alive()
        assert seen[0].retry == 2000
        poke = seen[-1]
        assert (poke.event, poke.data) == ("poke", "")
        assert int(poke.id) == _latest_seq(tina, cursor)[0]


def test_idle_stream_sends_heartbeat_comments(live_server: LiveServer,
                                              workspace: Workspace) -> None:
    with _login(live_server.url, workspace, "alice") as alice, \
            SseStream(live_server.url, alice.token) as stream:
        assert wait_until(lambda: len(stream.heartbeats()) >= 2, timeout=4)
        raw = [ln for _, ln in stream.lines]
        assert raw[:2] == ["retry: 2000", ""]
        assert raw[2:4] == [": heartbeat", ""]
        assert stream.pokes() == []
        beats = stream.heartbeats()
        gaps = [b - a for a, b in itertools.pairwise(beats)]
        # heartbeat_s is 1 s in the live server: neither silent nor chattering
        assert all(0.7 < g < 1.6 for g in gaps), gaps
        assert stream.opened.is_set() and stream.error is None


def test_resume_with_last_event_id(live_server: LiveServer, workspace: Workspace) -> None:
    ws = workspace
    with _login(live_server.url, ws, "alice") as alice, _login(live_server.url, ws, "bob") as bob:
        with SseStream(live_server.url, alice.token) as stream:
            stream.wait_open()
            alice.inbound(ws, "a_email", "kim@example.com", "first")
            _t, seen = stream.wait_poke()
        # Disconnected: two more changes for Alice, then one she cannot see.
        alice.inbound(ws, "a_email", "kim@example.com", "second")
        alice.inbound(ws, "a_line", "U123", "third")
        latest, _ = _latest_seq(alice, seen)
        bob.inbound(ws, "b_email", "lee@example.com", "not for alice")
        assert bob.pull(latest).cursor > latest

        # Resuming from the old id pokes at once with the newest seq she can see.
        with SseStream(live_server.url, alice.token, last_event_id=seen) as stream:
            _t, poke_id = stream.wait_poke()
            assert poke_id == latest
            # at once: the poke comes straight after "retry", before any heartbeat
            assert [ev.get("event") for _, ev in stream.events[:2]] == [None, "poke"]
            assert stream.heartbeats() == []

        # Resuming up to date (her latest id, although the head moved on for team B) stays
        # quiet until something new for her commits.
        with SseStream(live_server.url, alice.token, last_event_id=latest) as stream:
            stream.wait_open()
            stream.wait_heartbeat(since=0.0)
            assert stream.pokes() == []
            sent = time.monotonic()
            alice.inbound(ws, "a_email", "kim@example.com", "fourth")
            _t, poke_id = stream.wait_poke(since=sent)
            newest, _ = _latest_seq(alice, latest)
            assert poke_id == newest > latest


def test_events_need_a_valid_token(live_server: LiveServer, workspace: Workspace) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        r = http.get(EVENTS)
        assert r.status_code == 401
        assert r.json()["error"] == "auth_required"
        assert r.headers["WWW-Authenticate"] == "Bearer"
        r = http.get(EVENTS, headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/json")
    with _login(live_server.url, workspace, "alice") as alice:
        r = alice.post("/auth/logout")
        assert r.status_code == 204
        with SseStream(live_server.url, alice.token) as stream:
            assert stream.opened.wait(5)
            assert stream.status == 401
            assert stream.events == []


def test_stream_follows_the_agents_current_teams(live_server: LiveServer, db: Database,
                                                 workspace: Workspace) -> None:
    """Moving an agent between teams applies to an open stream: pokes for the new team, none
    for the old one (a poke is a hint, but it still tells when the other team is busy)."""
    ws = workspace
    with _login(live_server.url, ws, "alice") as alice, _login(live_server.url, ws, "bob") as bob, \
            SseStream(live_server.url, alice.token) as stream:
        stream.wait_open()
        with db.write() as s:
            admin.set_agent_teams(s, ChangeBuffer(s, is_postgres=db.is_postgres),
                                  ws.emails["alice"], [ws.teams["B"]])
        _t, moved = stream.wait_poke_for(_head(bob))  # her own profile changed

        bob.inbound(ws, "b_sms", "+15550001", "for team B, now Alice's too")
        head = _head(bob)
        _t, poke = stream.wait_poke_for(head)
        assert poke == head

        with Api(live_server.url) as provider:
            provider.inbound(ws, "a_sms", "+15550002", "team A, no longer Alice's")
        stream.wait_heartbeat(since=time.monotonic())
        assert [i for _t, i in stream.pokes()] == [moved, head]


def test_stream_ends_when_the_sign_in_ends(live_server: LiveServer,
                                           workspace: Workspace) -> None:
    """After logout the stream closes (within a heartbeat); reconnecting gets 401, which
    sends the desk to sign in again instead of listening on a dead session."""
    with _login(live_server.url, workspace, "alice") as alice, \
            SseStream(live_server.url, alice.token) as stream:
        stream.wait_open()
        assert alice.post("/auth/logout").status_code == 204
        assert stream.ended.wait(3), "the stream outlived the sign-in"
        assert stream.error is None
    with SseStream(live_server.url, alice.token) as again:
        assert again.opened.wait(5)
        assert again.status == 401


def test_push_pokes_every_agent_who_can_see_the_change(live_server: LiveServer,
                                                       workspace: Workspace) -> None:
    ws = workspace
    with _login(live_server.url, ws, "alice") as alice, \
            _login(live_server.url, ws, "tina") as tina, \
            _login(live_server.url, ws, "bob") as bob:
        conv = alice.inbound(ws, "a_web_chat", "visitor-7", "where is my order?").conversation_id
        _items, cursor = bob.bootstrap()
        with SseStream(live_server.url, alice.token) as a_stream, \
                SseStream(live_server.url, tina.token) as t_stream, \
                SseStream(live_server.url, bob.token) as b_stream:
            for s in (a_stream, t_stream, b_stream):
                s.wait_open()
            sent = time.monotonic()
            res = alice.push(f"c-{uuid.uuid4().hex[:12]}", [
                {"id": 1, "name": "add_tag", "args": {"conversation_id": conv, "tag": "vip"}},
                {"id": 2, "name": "set_priority",
                 "args": {"conversation_id": conv, "priority": "high"}},
            ])
            assert [r.status.value for r in res.results] == ["applied", "applied"]
            last_seq = res.results[-1].change_seq
            for s in (a_stream, t_stream):
                _t, poke_id = s.wait_poke(since=sent)
                assert poke_id == last_seq
            # Bob sees the new public tag, not the team A conversation: his poke names the tag.
            _t, b_poke = b_stream.wait_poke(since=sent)
            bob_changes, _ = bob.pull_all(cursor)
            assert [(c.entity.value, c.seq) for c in bob_changes] == [("tag", b_poke)]
            assert b_poke < last_seq


def test_two_processes_on_one_database_poke_each_other(database_url: str, workspace: Workspace,
                                                       server_process_factory: Any) -> None:
    """Several server processes share one database (SQLite file: head poll; PostgreSQL:
    LISTEN/NOTIFY); a write through one pokes streams connected to the other."""
    ws = workspace
    one, two = start_processes(server_process_factory, database_url, 2, "--heartbeat", "1")
    with _login(one.url, ws, "alice") as alice1, _login(two.url, ws, "alice") as alice2, \
            SseStream(two.url, alice1.token) as on_two, \
            SseStream(one.url, alice2.token) as on_one:
        on_two.wait_open()
        on_one.wait_open()
        _items, cursor = alice2.bootstrap()
        latencies = []
        for i in range(2):
            sent = time.monotonic()
            conv = alice1.inbound(ws, "a_sms", f"+1666000{i}", "through one").conversation_id
            latest, cursor = _latest_seq(alice2, cursor)
            arrived, poke_id = on_two.wait_poke_for(latest, timeout=3.0)
            latencies.append(arrived - sent)
            assert poke_id == latest

            sent = time.monotonic()
            res = alice2.push(f"p2-{i}-{uuid.uuid4().hex[:8]}", [
                {"id": 1, "name": "set_priority",
                 "args": {"conversation_id": conv, "priority": "urgent"}}])
            seq = res.results[0].change_seq
            assert seq is not None
            arrived, poke_id = on_one.wait_poke_for(seq, timeout=3.0)
            latencies.append(arrived - sent)
            assert poke_id == seq
            _latest, cursor = _latest_seq(alice1, cursor)
        print(f"\ncross-process poke latency ({database_url.split(':')[0]}): "
              f"{', '.join(f'{x:.3f}' for x in latencies)} s")
        assert max(latencies) < 1.5, latencies


def test_a_malformed_or_out_of_range_last_event_id_gets_400(
    live_server: LiveServer, workspace: Workspace
) -> None:
    """Python refuses to parse more than 4,300 digits (that was a 500); a feed position is a
    BIGINT. Latin-1 '²' passes str.isdigit() but not int()."""
    with Api(live_server.url) as alice:
        alice.login(workspace.emails["alice"])
        with httpx.Client(base_url=live_server.url, timeout=10) as http:
            for value in ("9" * 5000, str(2**63), "-1", "12a", "0x10", "1.5", "\xb2", "1 2"):
                r = http.get(EVENTS, headers={**alice.headers,
                                              "Last-Event-ID": value.encode("latin-1")})
                assert r.status_code == 400, (value[:20], r.text)
                assert r.json()["error"] == "bad_last_event_id"
                assert set(r.json()) <= {"error", "message", "retry_after"}
            # Without a sign-in, that comes first; in range, the stream opens.
            r = http.get(EVENTS, headers={"Last-Event-ID": "9" * 5000})
            assert r.status_code == 401
        for value in (str(2**63 - 1), "0"):
            with httpx.Client(base_url=live_server.url, timeout=10) as http, \
                    http.stream("GET", EVENTS, headers={**alice.headers,
                                                        "Last-Event-ID": value}) as r:
                assert r.status_code == 200
