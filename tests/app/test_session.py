"""DeskSession against the real demo backend: reads through sync.queries, intents at once."""

from __future__ import annotations

import asyncio
import itertools
import time

from app.session import DeskSession
from app.settings import DeskSettings
from app.window import MainWindow
from sync import queries
from sync.engine import EngineOptions, EngineState
from tests.app.conftest import DEMO_AGENT, DEMO_SUPERVISOR, TEST_OPTIONS, until


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


async def test_the_inbox_reads_before_the_session_connects_and_an_action_connects_it(
        backend, desks):
    """The desk shows its inbox before anything about the server is set up (start-up
    speed); an agent's action in that moment is not lost: it connects and is queued."""
    first = await desks.session(backend)
    data_dir, config = first.data_dir, first.config
    await desks.close(first)
    await asyncio.to_thread(backend.stop)

    session = DeskSession(data_dir, config, options=EngineOptions(**TEST_OPTIONS))
    desks.sessions.append(session)
    await session.open(connect=False)
    assert session.is_open and not session.connected and session.engine is None
    assert session.status.state is EngineState.CONNECTING  # what the status bar shows
    assert session.me is not None and session.me.name == "Alex Morgan"
    unassigned = await session.read(queries.conversation_ids,
                                    queries.InboxFilter(assignee="none"),
                                    queries.Sort.LAST_ACTIVITY, session.agent_id)
    assert unassigned, "the mirror is read without an engine"

    await session.assign(unassigned[0], agent_id=session.agent_id)  # connects first
    assert session.connected and session.status.pending == 1
    await asyncio.to_thread(backend.start)
    await session.sign_in(*DEMO_AGENT)  # (tests keep tokens in memory: gone with `first`)
    await until(lambda: session.status.state is EngineState.UP_TO_DATE
                and session.status.pending == 0, 30, what="the assignment to land")
    rows = await session.read(queries.conversation_rows, [unassigned[0]], now_ms())
    assert rows[unassigned[0]].assignee_id == session.agent_id


async def test_the_window_connects_its_session_once_the_inbox_has_painted(backend, desks,
                                                                          qtbot):
    first = await desks.session(backend)
    data_dir, config = first.data_dir, first.config
    await desks.close(first)
    session = DeskSession(data_dir, config, options=EngineOptions(**TEST_OPTIONS))
    desks.sessions.append(session)
    await session.open(connect=False)
    window = MainWindow(session, DeskSettings())
    qtbot.addWidget(window)
    window.resize(1200, 700)
    shown: list[tuple[bool, int]] = []
    fetches: list[bool] = []
    window.inbox_model.rowsFetched.connect(lambda: fetches.append(True))
    window.inboxShown.connect(lambda: shown.append((session.connected, len(fetches))))
    window.show()
    await until(lambda: shown, 10, what="the inbox's first paint")
    model = window.inbox_model
    assert model.rowCount() > 0 and model.data(model.index(0, 0)) is not None
    await until(lambda: session.connected and session.engine.status.state
                is not EngineState.CONNECTING, 10, what="the engine to start after the paint")
    # The paint came first; and the view's first read (before the window was shown) brought
    # the rows of its whole first screen, so no second read of rows came before the paint.
    assert shown == [(False, 0)]
    # The conversation pane, built after the paint, took the place kept for it.
    pane = window._conversation
    assert pane is not None and window.splitter.indexOf(pane) == 2 and pane.isVisible()
    assert pane.width() >= window.CONVERSATION_MIN_WIDTH


async def _first_bootstrap(session: DeskSession, pace_ms: int
                           ) -> tuple[list[tuple[float, EngineState]], list[float], float]:
    """Sign in (a first bootstrap) with the views' pace during it set to ``pace_ms``; the
    statuses and the views' re-reads (monotonic times), and when it was up to date."""
    session.BOOTSTRAP_COALESCE_MS = pace_ms
    statuses: list[tuple[float, EngineState]] = []
    emits: list[float] = []
    session.statusChanged.connect(lambda s: statuses.append((time.monotonic(), s.state)))
    session.dataChanged.connect(lambda: emits.append(time.monotonic()))
    await session.sign_in(*DEMO_SUPERVISOR)
    await until(lambda: session.status.state is EngineState.UP_TO_DATE, 60,
                what="the first sync")
    done = next(t for t, state in statuses if state is EngineState.UP_TO_DATE)
    await until(lambda: emits and emits[-1] > done, 5, what="the views' last re-read")
    return statuses, emits, done


async def test_during_a_first_bootstrap_the_views_re_read_at_a_slower_pace(backend, desks):
    """Every bootstrap page moves the data; the views re-read once per
    BOOTSTRAP_COALESCE_MS meanwhile, not every COALESCE_MS: each re-read competes with the
    bootstrap for the CPU, without the inbox indexes it builds at its end (a 20k-conversation
    bootstrap under a window showing All: 13 s at the old pace, 8.5 s at this one)."""
    session = await desks.session(backend, DEMO_SUPERVISOR, sign_in=False,
                                  bootstrap_limit=4)  # many small pages: a few seconds
    statuses, emits, done = await _first_bootstrap(session, 400)
    booting = [t for t in emits if t < done]
    assert len(booting) >= 2, "the bootstrap was too short to show the pace"
    pages = sum(1 for _t, state in statuses if state is EngineState.BOOTSTRAPPING)
    assert pages > 4 * len(booting)
    gaps = [b - a for a, b in itertools.pairwise(booting)]
    # Qt's default (coarse) timers may fire up to 5 % early.
    assert min(gaps) >= 0.9 * 0.4, gaps


async def test_the_end_of_a_first_bootstrap_shows_at_once(backend, desks):
    """Once the bootstrap is over, its last pages reach the views within COALESCE_MS, not
    at the bootstrap's slower pace (here a minute: only the end of it can show them)."""
    session = await desks.session(backend, DEMO_SUPERVISOR, sign_in=False)
    _statuses, emits, done = await _first_bootstrap(session, 60_000)
    assert emits[-1] - done < 2 * session.COALESCE_MS / 1000 + 0.3
