"""Knowing whether the server is there (issue 11): a dead event stream is noticed within its
heartbeat's silence limit, a killed server at once, and a server that comes back within the
short retry cap while the agent waits for it. Real server over loopback; the network's faults
through a real TCP proxy, or by really stopping the server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from server.db import Database
from sync.client import DEFAULT_HEARTBEAT_S, announced_heartbeat, silence_limit
from sync.engine import EngineOptions, EngineState, EngineStatus
from tests.server.harness import Api, LiveServer, Workspace
from tests.sync.faults import FaultyTransport, Mode, TcpProxy
from tests.sync.helpers import wait_for

HEARTBEAT_S = 1.0  # the test server's (LiveServer(heartbeat_s=1.0), as the suite's fixture)
LIMIT = silence_limit(HEARTBEAT_S)


def realistic(**overrides: float) -> EngineOptions:
    """The engine's own defaults (a 60 s backoff cap, 5 min safety polls while live), told
    only the test server's heartbeat."""
    return EngineOptions(heartbeat_s=HEARTBEAT_S, **overrides)


async def _live_and_up_to_date(desk) -> None:
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE
                          and desk.engine.status.live, 20)


def test_the_silence_limit_follows_the_heartbeat_the_server_announces() -> None:
    assert silence_limit(2.0) == 5.0  # a 2 s heartbeat: a dead stream known within ~5 s
    assert silence_limit(DEFAULT_HEARTBEAT_S) > DEFAULT_HEARTBEAT_S
    assert announced_heartbeat("2") == 2.0 and announced_heartbeat("2.5") == 2.5
    for unusable in (None, "", "soon", "0", "-1", "nan", "inf", "86400"):
        assert announced_heartbeat(unusable) is None, unusable


@pytest.mark.asyncio
async def test_a_silent_event_stream_means_offline_within_its_limit(server, ws, make_desk):
    """The network drops everything but closes nothing (a dead Wi-Fi, a sleeping router):
    only the missing heartbeats tell. A request caught on it would wait for its read
    time-out (60 s); the desk gives it up and is back as soon as the network is."""
    conversation = Api(server.url).inbound(ws, "a_sms", "+15550109901", "Hi").conversation_id
    transport = FaultyTransport()
    with TcpProxy(server.port) as proxy:
        desk = await make_desk(proxy.url, email=ws.emails["alice"], transport=transport,
                               options=realistic())
        engine = desk.engine
        await _live_and_up_to_date(desk)
        stuck = transport.hold("GET", "/sync/pull")  # a pull the network never answers
        engine.trigger("test")
        await asyncio.wait_for(stuck.entered.wait(), 10)
        await engine.enqueue("add_tag", {"conversation_id": conversation, "tag": "vip"})

        went = time.monotonic()
        proxy.set_mode(Mode.SWALLOW)  # requests still go out; no answer comes back
        assert await wait_for(lambda: engine.status.state is EngineState.OFFLINE,
                              LIMIT + 3 * HEARTBEAT_S), engine.status
        assert time.monotonic() - went < LIMIT + 3 * HEARTBEAT_S
        assert not engine.status.live

        await asyncio.sleep(LIMIT)
        proxy.set_mode(Mode.FORWARD)
        assert await wait_for(lambda: engine.status.state is EngineState.UP_TO_DATE
                              and engine.status.pending == 0,
                              2 * LIMIT + engine.options.attended_backoff_cap_s + 3
                              ), engine.status
        assert not stuck.release.is_set()  # given up on, never answered


@pytest.mark.asyncio
async def test_the_desk_times_silence_by_the_heartbeat_the_server_announces(server, ws,
                                                                            make_desk):
    """A desk left at its defaults (which assume the protocol's 15 s heartbeat) learns the
    server's 1 s from X-Relaydesk-Heartbeat, so a silent stream is known within ~3 s."""
    assert EngineOptions().heartbeat_s > 3 * HEARTBEAT_S
    with TcpProxy(server.port) as proxy:
        desk = await make_desk(proxy.url, email=ws.emails["alice"])
        engine = desk.engine
        await _live_and_up_to_date(desk)
        went = time.monotonic()
        proxy.set_mode(Mode.SWALLOW)
        assert await wait_for(lambda: engine.status.state is EngineState.OFFLINE,
                              LIMIT + 3 * HEARTBEAT_S), engine.status
        assert time.monotonic() - went < LIMIT + 3 * HEARTBEAT_S


@pytest.mark.asyncio
async def test_a_killed_server_means_offline_at_once_and_its_return_is_found_soon(
        server_db: Database, ws: Workspace, make_desk, tmp_path: Path) -> None:
    url = server_db.url.render_as_string(hide_password=False)
    srv = LiveServer(url, tmp_path / "srv", heartbeat_s=HEARTBEAT_S)
    srv.start()
    port = srv.port
    try:
        # A fast base so the long cap would be reached in seconds: 0.5, 1, 2, 4, 8…
        desk = await make_desk(srv.url, email=ws.emails["alice"],
                               options=realistic(backoff_base_s=0.5,
                                                 attended_backoff_cap_s=2.0))
        engine = desk.engine
        await _live_and_up_to_date(desk)
        conversation = Api(srv.url).inbound(ws, "a_sms", "+15550109902", "Hi").conversation_id
        assert await wait_for(lambda: engine.status.state is EngineState.UP_TO_DATE, 10)

        await asyncio.to_thread(srv.stop)
        stopped = time.monotonic()
        # Not "up to date" for minutes: the lost stream makes the desk look at once.
        assert await wait_for(lambda: engine.status.state is EngineState.OFFLINE, LIMIT), \
            engine.status
        assert time.monotonic() - stopped < LIMIT

        # The agent's work waits: retries come at most the short cap apart, however long
        # the server stays away (with the long cap they would drift towards 60 s).
        retries: list[float] = []

        def seen(status: EngineStatus) -> None:
            if status.state is EngineState.OFFLINE and status.retry_in_s is not None:
                retries.append(status.retry_in_s)

        engine.subscribe(seen)
        await engine.enqueue("add_tag", {"conversation_id": conversation, "tag": "vip"})
        assert await wait_for(lambda: len(retries) >= 8, 40), retries
        assert max(retries[1:]) <= engine.options.attended_backoff_cap_s, retries

        srv = LiveServer(url, tmp_path / "srv", port=port, heartbeat_s=HEARTBEAT_S)
        srv.start()
        back = time.monotonic()
        assert await wait_for(lambda: engine.status.state is EngineState.UP_TO_DATE
                              and engine.status.pending == 0 and engine.status.live,
                              engine.options.attended_backoff_cap_s + LIMIT), engine.status
        assert time.monotonic() - back < engine.options.attended_backoff_cap_s + LIMIT
    finally:
        await asyncio.to_thread(srv.stop)


@pytest.mark.asyncio
async def test_an_idle_desk_keeps_the_long_cap_and_the_agent_coming_back_shortens_it(
        server, ws, make_desk):
    """Nobody waiting: no hurry (a desk left on over the weekend does not hammer a server
    that is down). The agent at the desk: the short cap, and a retry soon."""
    desk = await make_desk(server.url, email=ws.emails["alice"], options=realistic())
    engine = desk.engine
    await _live_and_up_to_date(desk)
    assert engine.retry_cap() == engine.options.backoff_cap_s
    engine.set_agent_active(True)
    assert engine.retry_cap() == engine.options.attended_backoff_cap_s
    engine.set_agent_active(False)
    conversation = Api(server.url).inbound(ws, "a_sms", "+15550109903", "Hi").conversation_id
    await engine.enqueue("add_tag", {"conversation_id": conversation, "tag": "vip"})
    assert engine.status.pending == 1
    assert engine.retry_cap() == engine.options.attended_backoff_cap_s
