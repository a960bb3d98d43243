"""The engine against the real backend: sign in, bootstrap, pull, push, live updates."""

from __future__ import annotations

import pytest

from sync.engine import EngineOptions, EngineState
from tests.server.harness import Api, expected_state
from tests.sync.helpers import as_rows, mirror_rows, wait_for


@pytest.mark.asyncio
async def test_bootstrap_then_live_updates_converge(server, ws, server_db, make_desk):
    api = Api(server.url)
    first = api.inbound(ws, "a_sms", "+15550100001", "Hello, my order is late")
    api.inbound(ws, "b_email", "carol@example.com", "Billing question")
    desk = await make_desk(server.url, email=ws.emails["alice"],
                           options=EngineOptions(bootstrap_limit=3, pull_limit=2))
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE)
    assert mirror_rows(desk.store) == as_rows(expected_state(server_db, ws.agents["alice"]))

    # A reply queued by the agent reaches the customer exactly once and settles.
    await desk.engine.enqueue("send_message", {"conversation_id": first.conversation_id,
                                               "body": "Sorry! Checking now."})
    assert await wait_for(lambda: desk.engine.status.pending == 0)
    sent = [o for o in api.outbound(ws, "a_sms") if o.body == "Sorry! Checking now."]
    assert len(sent) == 1

    # A server-side change shows up without anyone asking (server-sent poke).
    assert await wait_for(lambda: desk.engine.status.live)
    api.inbound(ws, "a_sms", "+15550100001", "Thanks!")
    assert await wait_for(
        lambda: mirror_rows(desk.store) == as_rows(expected_state(server_db,
                                                                  ws.agents["alice"])),
        timeout=3)
