"""DeskSession against the real demo backend: reads through sync.queries, intents at once."""

from __future__ import annotations

import asyncio
import time

from sync import queries
from sync.engine import EngineState
from tests.app.conftest import DEMO_SUPERVISOR, until


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_signed_in_session_reads_the_demo_inbox(backend, desks):
    session = await desks.session(backend)
    assert session.me is not None and session.me.name == "Alex Morgan"
    mine = await session.read(queries.conversation_ids, queries.InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    assert mine, "the demo agent has open conversations"
    rows = await session.read(queries.conversation_rows, mine[:20], now_ms())
    assert all(r.assignee_id == session.agent_id for r in rows.values())
    acts = [rows[i].last_activity_at for i in mine[:20]]
    assert acts == sorted(acts, reverse=True)
    counts = await session.read(queries.nav_counts, session.agent_id)
    assert counts.mine == len(mine)


async def test_an_offline_assignment_moves_the_conversation_into_mine_at_once(backend, desks):
    session = await desks.session(backend)
    unassigned = await session.read(queries.conversation_ids,
                                    queries.InboxFilter(assignee="none"),
                                    queries.Sort.LAST_ACTIVITY, session.agent_id)
    target = unassigned[5]
    await asyncio.to_thread(backend.stop)
    await session.assign(target, agent_id=session.agent_id)
    mine = await session.read(queries.conversation_ids, queries.InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    assert target in mine
    rows = await session.read(queries.conversation_rows, mine, now_ms())
    assert rows[target].pending_intents == 1
    acts = [rows[i].last_activity_at for i in mine]  # still in last-activity order
    assert acts == sorted(acts, reverse=True)
    await asyncio.to_thread(backend.start)
    session.engine.trigger("test")
    await until(lambda: (session.status.state is EngineState.UP_TO_DATE
                         and session.status.pending == 0) or False, 30,
                what="the intent to land")
    rows = await session.read(queries.conversation_rows, [target], now_ms())
    assert rows[target].assignee_id == session.agent_id
    assert rows[target].pending_intents == 0


async def test_supervisor_sees_every_team(backend, desks):
    session = await desks.session(backend, DEMO_SUPERVISOR)
    counts = await session.read(queries.nav_counts, session.agent_id)
    assert len(counts.teams) == 3
