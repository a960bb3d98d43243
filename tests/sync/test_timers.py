"""The engine's own timer wakes it even when the event loop runs timers early.

Qt's coarse timers, which qasync's ``call_later`` uses on the desk, may fire up to 5% before
their deadline. A reply held for its undo delay is pushed on such a wake-up; when the timer
fired early the reply is still held, and the engine must set a new timer rather than take the
spent one for a wake-up still to come (it did, and the reply stayed in the outbox until
something else woke the engine: tests/app/test_undo.py failed about one run in five)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sync.engine import EngineOptions, EngineState
from sync.status import now_ms
from tests.server.harness import Api
from tests.sync.helpers import wait_for


class EarlyTimersLoop(asyncio.SelectorEventLoop):  # type: ignore[misc,valid-type]
    """An asyncio loop whose timers fire 5% early, as Qt's coarse timers may."""

    def call_later(self, delay: float, callback: Any, *args: Any,
                   context: Any = None) -> asyncio.TimerHandle:
        return super().call_later(delay * 0.95, callback, *args, context=context)


class EarlyTimersPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return EarlyTimersLoop()


# (pytest-asyncio 1.x would rather have a loop-factory hook, which applies to a whole directory
# and is missing from the 0.2x versions pyproject allows: this one module overrides the policy.)
pytestmark = pytest.mark.filterwarnings("ignore:Overriding the \"event_loop_policy\" fixture")


@pytest.fixture
def event_loop_policy() -> Iterator[asyncio.AbstractEventLoopPolicy]:
    yield EarlyTimersPolicy()


@pytest.mark.asyncio
async def test_a_held_reply_goes_out_when_the_loop_fires_timers_early(server, ws, make_desk):
    assert isinstance(asyncio.get_running_loop(), EarlyTimersLoop)
    api = Api(server.url)
    conversation = api.inbound(ws, "a_sms", "+15550100309", "Hello").conversation_id
    desk = await make_desk(server.url, email=ws.emails["alice"],
                           options=EngineOptions(use_events=False, poll_interval_s=600.0,
                                                 safety_poll_s=600.0))
    assert await wait_for(lambda: desk.engine.status.state is EngineState.UP_TO_DATE)
    body = f"held {time.time_ns()}"
    await desk.engine.enqueue("send_message", {"conversation_id": conversation,
                                               "body": body}, not_before=now_ms() + 2_000)
    # Nothing but the engine's own timer wakes it (no polling, no event stream).
    assert await wait_for(lambda: desk.engine.status.pending == 0, 8)
    assert [o.body for o in api.outbound(ws, "a_sms")].count(body) == 1
