"""Undo against the real server: an intent the agent takes back either never leaves the desk
(cancelled before any push claimed it) or was pushed and is reported as such, never both; a
reply held for its undo delay is not pushed before its time, and is pushed after it."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from sync import outbox
from sync.engine import EngineOptions, EngineState
from sync.status import now_ms
from tests.server.harness import Api
from tests.sync.faults import FaultyTransport
from tests.sync.helpers import wait_for


def sent_bodies(api: Api, ws) -> list[str]:
    return [o.body for o in api.outbound(ws, "a_sms")]


def client_id(desk) -> str:
    with desk.store.read_outbox() as conn:
        return outbox.client_id(conn)


async def queue_directly(desk, conversation_id: str, body: str) -> outbox.IntentRecord:
    """Into the outbox without waking the engine (as a second desk process would)."""
    def write() -> outbox.IntentRecord:
        with desk.store.write_outbox() as conn:
            return outbox.enqueue(conn, "send_message",
                                  {"conversation_id": conversation_id, "body": body}, now_ms())
    return await desk.store.run_write(write)


@pytest.mark.asyncio
async def test_undo_races_the_engine_and_a_cancelled_reply_never_reaches_the_customer(
        server, ws, make_desk):
    api = Api(server.url)
    conversation = api.inbound(ws, "a_sms", "+15550100301", "Hello").conversation_id
    transport = FaultyTransport()
    # Pushes take a little while on the wire, so cancels land before, during and after them.
    transport.delay("POST", "/sync/push", 0.003, times=None)
    desk = await make_desk(server.url, email=ws.emails["alice"], transport=transport,
                           options=EngineOptions(push_batch=2, use_events=False,
                                                 poll_interval_s=0.05))
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE)
    first_client = client_id(desk)
    rng = random.Random(11)
    outcomes: dict[str, bool] = {}
    for round_ in range(60):
        records = [await desk.engine.enqueue("send_message", {
            "conversation_id": conversation, "body": f"r{round_}-{n}-{time.time_ns()}"})
            for n in range(3)]
        victim = rng.choice(records)
        await asyncio.sleep(rng.choice((0.0, 0.001, 0.003, 0.006, 0.012, 0.025, 0.05)))
        outcomes[victim.args["body"]] = await desk.engine.cancel_intent(victim.id)
        for other in records:
            outcomes.setdefault(other.args["body"], False)
    assert await wait_for(lambda: desk.engine.status.pending == 0, 60)
    sent = sent_bodies(api, ws)
    for body, cancelled in outcomes.items():
        assert sent.count(body) == (0 if cancelled else 1), (body, cancelled)
    # Both sides of the race were exercised, and no cancel ever left a gap in the push ids
    # (the server would have stopped at it and the desk started a new client id).
    cancelled = sum(outcomes.values())
    assert 5 <= cancelled <= 55, cancelled
    assert client_id(desk) == first_client


@pytest.mark.asyncio
async def test_an_intent_claimed_while_another_push_is_on_the_wire_is_not_cancelled(
        server, ws, make_desk):
    api = Api(server.url)
    conversation = api.inbound(ws, "a_sms", "+15550100302", "Hello").conversation_id
    transport = FaultyTransport()
    desk = await make_desk(server.url, email=ws.emails["alice"], transport=transport,
                           options=EngineOptions(push_batch=1, use_events=False,
                                                 poll_interval_s=600.0, safety_poll_s=600.0))
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE)
    held = transport.hold("POST", "/sync/push")
    a = await queue_directly(desk, conversation, f"first {time.time_ns()}")
    b = await queue_directly(desk, conversation, f"second {time.time_ns()}")
    desk.engine.trigger("test")
    await asyncio.wait_for(held.entered.wait(), 10)  # a is on the wire
    # The engine claims the next batch (b) while a is on the wire: b will go out next, so
    # an undo must not take it back.
    assert await wait_for(lambda: next(i for i in _unsettled(desk) if i.id == b.id).attempts > 0)
    # Claimed: the undo waits to learn whether the push went out.
    cancel_b = asyncio.ensure_future(desk.engine.cancel_intent(b.id))
    await asyncio.sleep(0.3)
    assert not cancel_b.done()
    c = await queue_directly(desk, conversation, f"third {time.time_ns()}")
    assert await desk.engine.cancel_intent(c.id) is True  # queued after the claims: taken back
    held.release.set()
    assert await cancel_b is False  # it went out: the caller reverses it instead
    assert await desk.engine.cancel_intent(a.id) is False
    assert await wait_for(lambda: desk.engine.status.pending == 0, 20)
    sent = sent_bodies(api, ws)
    assert sent.count(a.args["body"]) == 1 and sent.count(b.args["body"]) == 1
    assert c.args["body"] not in sent
    assert all(m == [n] for n, m in enumerate(
        (e.mutation_ids() for e in transport.requests("POST", "/sync/push")), start=1))


def _unsettled(desk) -> list[outbox.IntentRecord]:
    with desk.store.read_outbox() as conn:
        return outbox.unsettled(conn)


@pytest.mark.asyncio
async def test_a_held_reply_waits_for_its_time_then_goes_out_once(server, ws, make_desk):
    api = Api(server.url)
    conversation = api.inbound(ws, "a_sms", "+15550100303", "Hello").conversation_id
    transport = FaultyTransport()
    desk = await make_desk(server.url, email=ws.emails["alice"], transport=transport,
                           options=EngineOptions(use_events=False, poll_interval_s=600.0,
                                                 safety_poll_s=600.0))
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE)
    pushes = transport.count("POST", "/sync/push")
    body = f"held {time.time_ns()}"
    reply = await desk.engine.enqueue("send_message", {"conversation_id": conversation,
                                                       "body": body},
                                      not_before=now_ms() + 1_500)
    # Queued behind the reply: waits for it, so the order the agent acted in holds.
    after = await desk.engine.enqueue("set_status", {"conversation_id": conversation,
                                                     "status": "resolved"})
    await asyncio.sleep(1.0)
    assert transport.count("POST", "/sync/push") == pushes  # nothing went out meanwhile
    assert body not in sent_bodies(api, ws)
    # Nothing but the engine's own timer wakes it (no polling, no event stream).
    assert await wait_for(lambda: desk.engine.status.pending == 0, 10)
    assert sent_bodies(api, ws).count(body) == 1
    pushed = [m for e in transport.requests("POST", "/sync/push") for m in e.mutation_ids()]
    assert pushed == [reply.mutation_id, after.mutation_id]


@pytest.mark.asyncio
async def test_a_reply_held_when_the_desk_crashed_is_sent_after_the_restart(
        server, ws, make_desk):
    api = Api(server.url)
    conversation = api.inbound(ws, "a_sms", "+15550100304", "Hello").conversation_id
    first = await make_desk(server.url, email=ws.emails["alice"], name="crash",
                            options=EngineOptions(use_events=False))
    assert await wait_for(lambda: first.engine.status.state is EngineState.UP_TO_DATE)
    body = f"sent before the crash {time.time_ns()}"
    await first.engine.enqueue("send_message", {"conversation_id": conversation, "body": body},
                               not_before=now_ms() + 2_000)
    await first.close()  # the desk goes away during the delay
    assert body not in sent_bodies(api, ws)
    second = await make_desk(server.url, email=ws.emails["alice"], name="crash",
                             options=EngineOptions(use_events=False))
    with second.store.read_outbox() as conn:
        (held,) = outbox.pending(conn)
    assert held.args["body"] == body
    assert await wait_for(lambda: second.engine.status.pending == 0, 15)
    assert sent_bodies(api, ws).count(body) == 1


@pytest.mark.asyncio
async def test_offline_an_undo_takes_back_what_no_push_delivered(server, ws, make_desk):
    """A push with no connection made sent nothing: its intents can still be taken back. One
    whose answer was lost may have been applied: it is not."""
    api = Api(server.url)
    conversation = api.inbound(ws, "a_sms", "+15550100305", "Hello").conversation_id
    transport = FaultyTransport()
    desk = await make_desk(server.url, email=ws.emails["alice"], transport=transport,
                           options=EngineOptions(use_events=False, poll_interval_s=600.0,
                                                 safety_poll_s=600.0, backoff_base_s=5.0))
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE)
    refused = transport.drop_request("POST", "/sync/push")
    unsent = await desk.engine.enqueue("send_message", {"conversation_id": conversation,
                                                        "body": f"unsent {time.time_ns()}"})
    assert await wait_for(lambda: refused.fired == 1)
    assert await wait_for(lambda: desk.engine.status.state is EngineState.OFFLINE)
    assert await desk.engine.cancel_intent(unsent.id) is True

    lost = transport.drop_response("POST", "/sync/push")
    maybe = await desk.engine.enqueue("send_message", {"conversation_id": conversation,
                                                       "body": f"maybe {time.time_ns()}"})
    assert await wait_for(lambda: lost.fired == 1)
    assert await desk.engine.cancel_intent(maybe.id) is False
    desk.engine.trigger("test")
    assert await wait_for(lambda: desk.engine.status.pending == 0, 20)
    sent = sent_bodies(api, ws)
    assert unsent.args["body"] not in sent and sent.count(maybe.args["body"]) == 1
