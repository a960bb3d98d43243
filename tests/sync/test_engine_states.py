"""What the engine tells the GUI and the CLI: its states, their sentences, progress, counts."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from protocol.wire import API_PREFIX
from sync import models
from sync.client import Tokens
from sync.credentials import CredentialStore
from sync.engine import EngineOptions, EngineState, EngineStatus
from sync.mirror import BootstrapProgress
from tests.server.harness import Api, expected_state
from tests.sync.helpers import wait_for

QUIET = dict(use_events=False, poll_interval_s=600.0, safety_poll_s=600.0)




def is_sentence(text: str) -> bool:
    return len(text) > 8 and text[0].isupper() and text.rstrip().endswith((".", "…"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def idle_desk(make_desk, server, ws, **kw):
    """Signed in and up to date with the worker idle: exactly one cycle ran after login."""
    desk = await make_desk(server.url, login=False, options=EngineOptions(**QUIET), **kw)
    assert await wait_for(lambda: desk.engine.cycles >= 1)  # start's cycle: not signed in
    await desk.engine.login(ws.emails["alice"], "correct-horse-1")
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE)
    assert desk.engine.cycles == 2
    return desk


def opted_out_conversation(api: Api, ws) -> str:
    api.inbound(ws, "a_sms", "+15550100077", "Hello")
    return api.inbound(ws, "a_sms", "+15550100077", "STOP").conversation_id


@pytest.mark.asyncio
async def test_sign_in_required_before_login(server, ws, make_desk):
    seen: list[EngineStatus] = []
    desk = await make_desk(server.url, start=False, login=False)
    desk.engine.subscribe(seen.append)
    await desk.engine.start()  # the suite's keyring is the null backend: nothing stored
    assert await wait_for(lambda: desk.engine.cycles >= 1)
    status = desk.engine.status
    assert status.state is EngineState.SIGN_IN_REQUIRED
    assert is_sentence(status.message), status.message
    assert "sign in" in status.message.lower()
    assert status.credentials_secure is False
    assert status.last_sync_at is None
    assert all(s.state is not EngineState.UP_TO_DATE for s in seen)

    # Queued work is accepted and counted while signed out.
    api = Api(server.url)
    conv = api.inbound(ws, "a_sms", "+15550100001", "Hi").conversation_id
    api.close()
    await desk.engine.enqueue("add_note", {"conversation_id": conv, "body": "later"})
    assert desk.engine.status.pending == 1
    assert desk.engine.status.state is EngineState.SIGN_IN_REQUIRED

    await desk.engine.login(ws.emails["alice"], "correct-horse-1")
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE
                          and desk.engine.status.pending == 0)
    assert desk.engine.status.credentials_secure is False  # still: memory only


@pytest.mark.asyncio
async def test_bootstrap_reports_progress_per_entity(server, ws, server_db, make_desk):
    api = Api(server.url)
    for i in range(30):
        key = "a_sms" if i % 3 else "a_email"
        handle = f"+1555020{i:04d}" if key == "a_sms" else f"cust{i}@example.com"
        api.inbound(ws, key, handle, f"Question {i}")
    api.close()
    seen: list[EngineStatus] = []
    desk = await make_desk(server.url, start=False, login=False,
                           options=EngineOptions(bootstrap_limit=5, **QUIET))
    desk.engine.subscribe(seen.append)
    await desk.engine.start()
    await desk.engine.login(ws.emails["alice"], "correct-horse-1")
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE)

    want = Counter(entity for entity, _ in expected_state(server_db, ws.agents["alice"]))
    progress = [s.progress for s in seen
                if s.state is EngineState.BOOTSTRAPPING and s.progress is not None]
    distinct = [p for i, p in enumerate(progress) if i == 0 or p != progress[i - 1]]
    assert len(distinct) >= sum(want.values()) // 5  # one step per page of five
    assert distinct[0].done == {} or sum(distinct[0].done.values()) <= 5
    for before, after in itertools.pairwise(distinct):
        for entity, n in before.done.items():
            assert after.done.get(entity, 0) >= n, (before, after)
        if before.totals:  # before the first page the totals are unknown (see below)
            assert after.fraction() >= before.fraction()
    assert all(not p.finished for p in distinct[:-1])
    last = distinct[-1]
    assert last.finished and last.fraction() == 1.0
    assert last.done == dict(want)
    assert {k: v for k, v in last.totals.items() if v} == dict(want)
    assert is_sentence(next(s.message for s in seen if s.state is EngineState.BOOTSTRAPPING))
    # Afterwards the progress is gone and the state says so.
    assert desk.engine.status.progress is None
    assert desk.engine.status.message == "Up to date."


def test_progress_before_the_first_page_is_zero():
    # A progress bar must not jump to 100 % before the totals are known.
    assert BootstrapProgress().fraction() == 0.0
    assert BootstrapProgress(finished=True).fraction() == 1.0


@pytest.mark.asyncio
async def test_syncing_then_up_to_date_with_last_sync_time(server, ws, make_desk):
    seen: list[EngineStatus] = []
    desk = await make_desk(server.url, start=False, login=False,
                           options=EngineOptions(**QUIET))
    desk.engine.subscribe(seen.append)
    await desk.engine.start()
    before = int(time.time() * 1000)
    await desk.engine.login(ws.emails["alice"], "correct-horse-1")
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE)
    states = [s.state for s in seen]
    assert states.index(EngineState.SYNCING) < states.index(EngineState.UP_TO_DATE)
    assert all(s.last_sync_at is None for s in seen[:states.index(EngineState.UP_TO_DATE)])
    first = desk.engine.status.last_sync_at
    assert first is not None and before <= first <= int(time.time() * 1000)

    # A later cycle moves the time on without leaving "up to date" (no flicker).
    seen.clear()
    desk.engine.trigger("test")
    assert await wait_for(lambda: (desk.engine.status.last_sync_at or 0) > first)
    assert {s.state for s in seen} == {EngineState.UP_TO_DATE}


@pytest.mark.asyncio
async def test_offline_says_so_and_retries(server, ws, file_keyring, make_desk):
    url = f"http://127.0.0.1:{closed_port()}"
    stamp = int(time.time() * 1000)
    CredentialStore(url, ws.emails["alice"]).save(
        Tokens("access-token-x", stamp + 3_600_000, "refresh-token-x", stamp + 86_400_000))
    desk = await make_desk(url, email=None, login=False,
                           options=EngineOptions(backoff_base_s=0.05, backoff_cap_s=0.2,
                                                 use_events=False))
    assert await wait_for(lambda: desk.engine.status.state is EngineState.OFFLINE)
    status = desk.engine.status
    assert is_sentence(status.message) and url in status.message, status.message
    assert status.retry_in_s is not None and 0 <= status.retry_in_s <= 0.2
    assert status.credentials_secure is True

    # It keeps retrying by itself, and queued work is counted meanwhile.
    cycles = desk.engine.cycles
    assert await wait_for(lambda: desk.engine.cycles >= cycles + 3, timeout=5)
    api = Api(server.url)
    conv = api.inbound(ws, "a_sms", "+15550100001", "Hi").conversation_id
    api.close()
    await desk.engine.enqueue("send_message", {"conversation_id": conv, "body": "soon"})
    assert desk.engine.status.pending == 1
    assert await wait_for(lambda: desk.engine.cycles >= cycles + 5, timeout=5)
    assert await wait_for(lambda: desk.engine.status.state is EngineState.OFFLINE)
    assert desk.engine.status.pending == 1


@pytest.mark.asyncio
async def test_pending_and_rejected_counts_follow_the_outbox(server, ws, make_desk):
    api = Api(server.url)
    ok_conv = api.inbound(ws, "a_sms", "+15550100001", "Hi").conversation_id
    stopped = opted_out_conversation(api, ws)
    engine = (await idle_desk(make_desk, server, ws)).engine
    assert (engine.status.pending, engine.status.rejected) == (0, 0)

    await engine.enqueue("send_message", {"conversation_id": ok_conv, "body": "Hello!"})
    assert engine.status.pending == 1  # counted as soon as it is queued
    assert await wait_for(lambda: engine.status.pending == 0)
    assert engine.status.rejected == 0

    rejected = await engine.enqueue("send_message", {"conversation_id": stopped,
                                                     "body": "Promo"})
    assert engine.status.pending == 1
    assert await wait_for(lambda: engine.status.rejected == 1 and engine.status.pending == 0)
    assert engine.status.state is EngineState.UP_TO_DATE  # a rejection is not an error

    await engine.retry_intent(rejected.id)
    assert (engine.status.pending, engine.status.rejected) == (1, 0)
    assert await wait_for(lambda: engine.status.rejected == 1 and engine.status.pending == 0)
    await engine.discard_intent(rejected.id)
    assert (engine.status.pending, engine.status.rejected) == (0, 0)
    assert [o.body for o in api.outbound(ws, "a_sms")].count("Promo") == 0
    api.close()


class HoldPulls(httpx.AsyncBaseTransport):
    """The real connection, but the answer to one armed pull is held back until released."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.armed = False
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.armed and request.url.path == f"{API_PREFIX}/sync/pull":
            self.armed = False
            self.held.set()
            await self.release.wait()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.asyncio
async def test_a_trigger_during_a_cycle_causes_another_cycle(server, ws, make_desk):
    gate = HoldPulls()
    desk = await idle_desk(make_desk, server, ws, transport=gate)
    engine = desk.engine
    start = engine.cycles

    gate.armed = True
    engine.trigger("first")
    assert await wait_for(lambda: gate.held.is_set())
    assert engine.cycles == start + 1
    # While that cycle waits for an answer the server already gave, something changes.
    api = Api(server.url)
    new = api.inbound(ws, "a_sms", "+15550100001", "Arrived mid-cycle")
    api.close()
    engine.trigger("poke")
    engine.trigger("poke again")  # several triggers mean one more cycle, not several
    gate.release.set()

    def mirrored() -> bool:
        with desk.store.read_mirror() as conn:
            return conn.execute(select(models.messages.c.id).where(
                models.messages.c.id == new.message_id)).first() is not None

    assert await wait_for(mirrored)
    assert await wait_for(lambda: engine.cycles == start + 2)
    await asyncio.sleep(0.3)
    assert engine.cycles == start + 2
    assert engine.status.state is EngineState.UP_TO_DATE
