"""The time a thread shows for the agent's own messages (issue 11): the time they wrote them,
before and after the server confirmed them, so a reply written offline neither jumps to the
server's arrival time nor moves in the thread when it is sent."""

from __future__ import annotations

import asyncio

import pytest

from sync import queries
from sync.engine import EngineOptions, EngineState
from sync.overlay import LOCAL_PENDING
from tests.server.harness import Api
from tests.sync.faults import TcpProxy
from tests.sync.helpers import wait_for

HANDLE = "+15550109911"


@pytest.mark.asyncio
async def test_a_reply_written_offline_keeps_the_agents_time_and_place_once_sent(
        server, ws, make_desk):
    api = Api(server.url)
    conversation = api.inbound(ws, "a_sms", HANDLE, "Has my order shipped?").conversation_id
    with TcpProxy(server.port) as proxy:
        desk = await make_desk(proxy.url, email=ws.emails["alice"], options=EngineOptions(
            heartbeat_s=1.0, backoff_base_s=0.2, backoff_cap_s=1.0, poll_interval_s=1.0))
        engine, store, me = desk.engine, desk.store, ws.agents["alice"]

        def page(**kw: object) -> list[queries.overlay.ThreadItem]:
            return list(queries.thread_page(store, conversation, me, **kw).items)

        assert await wait_for(lambda: engine.status.state is EngineState.UP_TO_DATE
                              and len(page()) == 1, 20)
        first = page()[0]

        proxy.offline()
        assert await wait_for(lambda: engine.status.state is EngineState.OFFLINE, 10)
        reply = await engine.enqueue("send_message", {"conversation_id": conversation,
                                                      "body": "Yes, it left today."})
        shown = page()
        assert [(i.id, i.created_at, i.local_state) for i in shown] == [
            (first.id, first.created_at, None),
            (reply.message_id, reply.created_at, LOCAL_PENDING)]
        await asyncio.sleep(1.2)
        # The customer writes while the desk is offline, after the agent wrote the reply.
        later = api.inbound(ws, "a_sms", HANDLE, "Hello? Anyone there?").message_id
        await asyncio.sleep(1.2)  # the server receives the reply later still

        proxy.online()
        assert await wait_for(lambda: engine.status.state is EngineState.UP_TO_DATE
                              and not queries.intents_for_review(store), 20)
        shown = page()
        # Confirmed (no intent left, the mirror's copy): still at the agent's time, in the
        # place it had; the customer's later message after it.
        assert [(i.id, i.local_state) for i in shown] == [
            (first.id, None), (reply.message_id, None), (later, None)]
        assert shown[1].created_at == reply.created_at
        with store.read_db("mirror") as db:
            received = db.execute("SELECT created_at FROM messages WHERE id = ?",
                                  (reply.message_id,)).fetchone()[0]
        assert received > shown[2].created_at > reply.created_at  # (what the server says)

        # Pages are cut at the server's times: the page before the reply, found by the
        # agent's time the thread shows, skips nothing.
        newest = page(limit=1)
        assert [i.id for i in newest] == [reply.message_id]
        older = page(limit=1, before=(newest[0].created_at, newest[0].id))
        assert [i.id for i in older] == [later]
