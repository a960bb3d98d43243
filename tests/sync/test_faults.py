"""Every network fault against the real server: each intent takes effect exactly once, the
mirror converges to what the server says the agent may see, and the outbox empties."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, update

from server import maintenance
from server import models as m
from server.db import Database
from sync import mirror, outbox
from sync.engine import Backoff, EngineState
from tests.server.harness import PASSWORD, Api, LiveServer, Workspace
from tests.sync.faults import (
    FaultyTransport,
    Mode,
    TcpProxy,
    converged,
    delivered,
    new_handle,
    once,
    open_desk,
    outbox_intents,
    record_states,
    send,
    wait_for,
)
from tests.sync.helpers import api, server, server_db, shared, ws  # noqa: F401 (fixtures)


@pytest.fixture
def conv(api: Api, ws: Workspace):
    """A conversation of this test's own (alice's team, SMS, window open)."""
    return api.inbound(ws, "a_sms", new_handle(), "Where is my order?")


@pytest.fixture
def proxy(server: LiveServer) -> Iterator[TcpProxy]:
    with TcpProxy(server.port) as p:
        yield p


# --------------------------------------------------------------------------- request faults


@pytest.mark.asyncio
async def test_dropped_request_is_sent_again(server, ws, server_db, api, conv, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    fault = t.drop_request("POST", "/sync/push")
    await send(desk, conv, "dropped request")
    assert await converged(desk, server_db, ws)
    assert fault.fired == 1 and t.count("POST", "/sync/push") == 2
    assert once(api, ws, server_db, "dropped request")


@pytest.mark.asyncio
async def test_response_lost_after_commit_is_not_sent_twice(server, ws, server_db, api, conv,
                                                            make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    fault = t.drop_response("POST", "/sync/push")
    await send(desk, conv, "lost answer")
    assert await converged(desk, server_db, ws)
    pushes = t.requests("POST", "/sync/push")
    assert fault.fired == 1 and len(pushes) == 2
    # The retry carried the same intent id: the server answered "duplicate".
    assert pushes[0].mutation_ids() == pushes[1].mutation_ids()
    assert once(api, ws, server_db, "lost answer")


@pytest.mark.asyncio
async def test_duplicated_request_applies_once(server, ws, server_db, api, conv, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    fault = t.duplicate("POST", "/sync/push")
    await send(desk, conv, "twice on the wire")
    assert await converged(desk, server_db, ws)
    assert fault.fired == 1
    assert once(api, ws, server_db, "twice on the wire")


@pytest.mark.asyncio
async def test_delayed_requests_still_apply_once(server, ws, server_db, api, conv, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    push = t.delay("POST", "/sync/push", 1.0)
    t.delay("GET", "/sync/pull", 0.5)
    await send(desk, conv, "slow one")
    assert await wait_for(push.entered.is_set)
    await send(desk, conv, "queued behind it")  # made while the slow push is in flight
    api.inbound(ws, "a_sms", "+15550100001", "hello?")
    assert await converged(desk, server_db, ws)
    assert once(api, ws, server_db, "slow one")
    assert once(api, ws, server_db, "queued behind it")


@pytest.mark.asyncio
async def test_server_error_500_is_retried_with_backoff(server, ws, server_db, api, conv,
                                                        make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    seen = record_states(desk)
    fault = t.answer("POST", "/sync/push", 500, times=2)
    await send(desk, conv, "after two 500s")
    assert await converged(desk, server_db, ws)
    assert fault.fired == 2 and t.count("POST", "/sync/push") == 3
    errors = [s for s in seen if s.state is EngineState.ERROR]
    assert errors and errors[0].message and errors[0].retry_in_s is not None
    assert errors[0].problem == "server_failed"  # what a desk words in the agent's language
    assert desk.engine.status.problem is None  # gone with the error
    assert once(api, ws, server_db, "after two 500s")


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(status, server, ws, server_db, api, conv, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    assert await wait_for(lambda: desk.engine.status.live)
    seen = record_states(desk)
    fault = t.answer("POST", "/sync/push", status, retry_after=1)
    body = f"come back later ({status})"
    await send(desk, conv, body)
    assert await wait_for(lambda: fault.fired == 1)
    assert await wait_for(lambda: any(s.retry_in_s == 1.0 for s in seen), 2)
    # Things that would normally start a cycle at once must not cut the wait short.
    api.inbound(ws, "a_sms", "+15550100001", "a poke during the wait")
    await desk.engine.enqueue("mark_read", {"conversation_id": conv.conversation_id})
    assert await converged(desk, server_db, ws)
    pushes = t.requests("POST", "/sync/push")
    assert pushes[0].status == status
    assert pushes[1].started - pushes[0].ended >= 0.99
    assert once(api, ws, server_db, body)


# --------------------------------------------------------------------------- body faults


@pytest.mark.asyncio
async def test_truncated_bootstrap_page(server, ws, server_db, api, make_desk):
    for i in range(8):
        api.inbound(ws, "a_sms", f"+1555010{i:04d}", f"message {i}")
    t = FaultyTransport()
    fault = t.truncate("GET", "/sync/bootstrap", after=2)
    desk = await open_desk(make_desk, server.url, ws, t, bootstrap_limit=5)
    assert fault.fired == 1
    assert await converged(desk, server_db, ws)
    firsts = [e for e in t.requests("GET", "/sync/bootstrap") if "page_token" not in e.params]
    assert len(firsts) == 1  # resumed at the cut page, not from the start
    pages = [e for e in t.requests("GET", "/sync/bootstrap") if "page_token" in e.params]
    assert pages and all(e.params.get("format") == "columns" for e in pages)
    with desk.store.read_mirror() as c:
        done = orjson.loads(desk.store.get_state(c, mirror.BOOTSTRAP_DONE))
        totals = orjson.loads(desk.store.get_state(c, mirror.BOOTSTRAP_TOTALS))
        counts = mirror.entity_counts(c)
    assert {k: v for k, v in done.items() if v} == {k: v for k, v in totals.items() if v}
    assert {k: v for k, v in counts.items() if v} == {k: v for k, v in totals.items() if v}


@pytest.mark.asyncio
async def test_truncated_pull_page(server, ws, server_db, api, conv, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    fault = t.truncate("GET", "/sync/pull")
    api.inbound(ws, "a_sms", "+15550100001", "cut in half on the way")
    await send(desk, conv, "reply")
    assert await converged(desk, server_db, ws)
    assert fault.fired == 1
    assert once(api, ws, server_db, "reply")


@pytest.mark.asyncio
async def test_connection_reset(server, ws, server_db, api, conv, proxy, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, proxy.url, ws, t)
    # A reset in the middle of an answer (transport) ...
    fault = t.reset("GET", "/sync/pull")
    api.inbound(ws, "a_sms", "+15550100001", "reset while reading")
    assert await converged(desk, server_db, ws)
    assert fault.fired == 1
    # ... and real TCP resets of every connection for a while (proxy).
    proxy.set_mode(Mode.RESET)
    await send(desk, conv, "through resets")
    assert await wait_for(lambda: desk.engine.status.state in (EngineState.OFFLINE,
                                                               EngineState.ERROR))
    assert desk.engine.status.pending == 1
    proxy.online()
    assert await converged(desk, server_db, ws)
    assert once(api, ws, server_db, "through resets")


# --------------------------------------------------------------------------- backoff


def test_backoff_full_jitter_ceilings():
    calls: list[tuple[float, float]] = []

    def rng(lo: float, hi: float) -> float:
        calls.append((lo, hi))
        return hi

    b = Backoff(base=1.0, cap=60.0, rng=rng)
    delays = [b.next_delay() for _ in range(9)]
    assert calls == [(0.0, c) for c in (1, 2, 4, 8, 16, 32, 60, 60, 60)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    b.reset()
    assert b.next_delay() == 1.0 and calls[-1] == (0.0, 1.0)


def test_backoff_real_jitter_stays_within_bounds():
    b = Backoff(base=0.5, cap=3.0)
    for attempt in range(12):
        ceiling = min(3.0, 0.5 * 2 ** attempt)
        delay = b.next_delay()
        assert 0.0 <= delay <= ceiling
    samples = []
    for _ in range(200):
        b.reset()
        samples.append(b.next_delay())
    assert min(samples) < 0.1 and max(samples) > 0.4  # spread over [0, base], not fixed


@pytest.mark.asyncio
async def test_backoff_resets_after_success(server, ws, server_db, api, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t, backoff_base_s=0.05)
    fault = t.answer("GET", "/sync/pull", 500, times=3)
    desk.engine.trigger("test")
    assert await wait_for(lambda: fault.fired == 3)
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE)
    assert desk.engine.backoff.attempt == 0
    assert desk.engine.status.retry_in_s is None


# --------------------------------------------------------------------------- rejections


@pytest.mark.asyncio
async def test_rejected_intent_is_pushed_once(server, ws, server_db, api, conv, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    bad = await desk.engine.enqueue("send_message", {"conversation_id": str(uuid.uuid4()),
                                                     "body": "to nowhere"})
    assert await wait_for(lambda: desk.engine.status.rejected == 1)
    for _ in range(3):
        cycles = desk.engine.cycles
        desk.engine.trigger("test")
        assert await wait_for(lambda c=cycles: desk.engine.cycles > c)
    await send(desk, conv, "a good one")
    assert await wait_for(lambda: len(outbox_intents(desk.store)) == 1)
    assert once(api, ws, server_db, "a good one")
    carried = [e for e in t.requests("POST", "/sync/push") if bad.mutation_id in e.mutation_ids()]
    assert len(carried) == 1
    [left] = outbox_intents(desk.store)
    assert left.id == bad.id and left.state == outbox.REJECTED
    assert left.error_code == "conversation_gone" and left.error_message


# --------------------------------------------------------------------------- sign-in


def revoke(db: Database, agent_id: str, kinds: tuple[str, ...]) -> None:
    with db.write() as s:
        s.execute(update(m.AuthToken).where(m.AuthToken.agent_id == agent_id,
                                              m.AuthToken.kind.in_(kinds)).values(revoked=True))


@pytest.mark.asyncio
async def test_401_refreshes_once_and_continues(server, ws, server_db, api, conv, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    revoke(server_db, ws.agents["alice"], ("access",))
    await send(desk, conv, "after a 401")
    assert await converged(desk, server_db, ws)
    assert once(api, ws, server_db, "after a 401")
    statuses = [(e.path, e.status) for e in t.log]
    assert [s for _, s in statuses].count(401) == 1
    refresh = statuses.index(("/auth/refresh", 200))
    assert statuses[refresh - 1][1] == 401  # refreshed once, right after the 401 ...
    after = t.log[refresh + 1:]  # ... and carried on (a request may still be in flight)
    assert all(e.error is None and e.status in (200, None) for e in after), statuses
    assert t.count("POST", "/auth/refresh") == 1


@pytest.mark.asyncio
async def test_a_refresh_whose_answer_was_lost_gets_the_same_pair(server, ws, server_db, api,
                                                                   conv, make_desk):
    """The server rotated the token but the answer never came: the desk retries with the old
    refresh token within the grace, gets the pair the server had issued, and carries on (one
    chain, nothing revoked)."""
    from server import auth

    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    signed_in = desk.engine._tokens
    revoke(server_db, ws.agents["alice"], ("access",))
    t.drop_response("POST", "/auth/refresh")
    await send(desk, conv, "after a lost refresh")
    assert await converged(desk, server_db, ws)
    assert once(api, ws, server_db, "after a lost refresh")
    assert t.count("POST", "/auth/refresh") == 2
    with server_db.read() as s:
        first = s.get(m.AuthToken, auth.token_hash(signed_in.refresh_token))
        family = s.scalars(select(m.AuthToken).where(m.AuthToken.family == first.family,
                                                      m.AuthToken.kind == "refresh")).all()
    assert len(family) == 2  # the sign-in's and one successor, which the desk now holds
    assert not any(row.revoked for row in family)
    assert desk.engine._tokens.refresh_token != signed_in.refresh_token


@pytest.mark.asyncio
async def test_short_lived_access_tokens(server_db, ws, tmp_path: Path, make_desk):
    short = LiveServer(server_db.url.render_as_string(hide_password=False), tmp_path / "ttl",
                       heartbeat_s=1.0, access_token_ttl_s=1)
    short.start()
    try:
        with Api(short.url) as api:
            conv = api.inbound(ws, "a_sms", "+15550100001", "hi")
            t = FaultyTransport()
            desk = await open_desk(make_desk, short.url, ws, t)
            seen = record_states(desk)
            for i in range(3):
                await asyncio.sleep(1.1)  # the access token has expired meanwhile
                await send(desk, conv, f"reply {i}")
                assert await converged(desk, server_db, ws), desk.engine.status
            assert all(once(api, ws, server_db, f"reply {i}") for i in range(3))
            assert not [s for s in seen if s.state in (EngineState.SIGN_IN_REQUIRED,
                                                       EngineState.ERROR)]
            assert t.count("POST", "/auth/refresh") >= 3
    finally:
        short.stop()


@pytest.mark.asyncio
async def test_failed_refresh_asks_for_sign_in_and_keeps_the_outbox(server, ws, server_db, api,
                                                                    conv, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    revoke(server_db, ws.agents["alice"], ("access", "refresh"))
    await send(desk, conv, "kept for later")
    assert await wait_for(lambda: desk.engine.status.state is EngineState.SIGN_IN_REQUIRED)
    assert "sign in" in desk.engine.status.message.lower()
    assert [i.args["body"] for i in outbox_intents(desk.store)] == ["kept for later"]
    assert delivered(api, ws, "a_sms", "kept for later") == 0
    await desk.engine.login(ws.emails["alice"], PASSWORD)
    assert await converged(desk, server_db, ws)
    assert once(api, ws, server_db, "kept for later")


# --------------------------------------------------------------------------- resync, offline


@pytest.mark.asyncio
async def test_410_rebootstraps_and_replays_the_outbox_once(server, ws, server_db, api, conv,
                                                            proxy, make_desk):
    t = FaultyTransport()
    desk = await open_desk(make_desk, proxy.url, ws, t, backoff_cap_s=0.5)
    proxy.offline()
    await send(desk, conv, "queued before the prune")
    assert await wait_for(lambda: desk.engine.status.state is EngineState.OFFLINE)
    api.inbound(ws, "a_sms", "+15550100001", "written while the desk was away")
    api.inbound(ws, "a_email", "dave@example.com", "a new conversation")
    assert maintenance.prune(server_db, 0) > 0
    await send(desk, conv, "queued after the prune")
    proxy.online()
    assert await converged(desk, server_db, ws)
    assert [e.status for e in t.requests("GET", "/sync/pull")].count(410) == 1
    firsts = [e for e in t.requests("GET", "/sync/bootstrap") if "page_token" not in e.params]
    assert len(firsts) == 2  # the first sign-in and the rebuild
    assert once(api, ws, server_db, "queued before the prune")
    assert once(api, ws, server_db, "queued after the prune")


@pytest.mark.asyncio
async def test_offline_then_back_online(server, ws, server_db, api, conv, proxy, make_desk):
    desk = await open_desk(make_desk, proxy.url, ws, backoff_cap_s=2.0)
    assert await wait_for(lambda: desk.engine.status.live)
    proxy.offline()
    assert await wait_for(lambda: not desk.engine.status.live)
    bodies = [f"offline {i}" for i in range(3)]
    for body in bodies:
        await send(desk, conv, body)
    # A request on a connection the proxy cut says "interrupted"; the retries that follow
    # (backoff capped at 2 s) find nobody listening, and the status says so.
    assert await wait_for(lambda: desk.engine.status.state is EngineState.OFFLINE
                          and "reach" in desk.engine.status.message)
    st = desk.engine.status
    assert st.pending == 3 and st.message.endswith(".")
    assert all(delivered(api, ws, "a_sms", b) == 0 for b in bodies)
    started = time.monotonic()
    proxy.online()
    assert await converged(desk, server_db, ws)
    assert time.monotonic() - started < 8
    assert await wait_for(lambda: desk.engine.status.live)
    assert all(once(api, ws, server_db, b) for b in bodies)
