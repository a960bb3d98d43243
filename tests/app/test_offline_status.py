"""What the desk says about the connection and the agent's unsent work (issue 11, "Offline and
status"): counts of what the agent did, the outbox list, the sidebar counts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from PySide6.QtCore import Qt

from app.outbox_dialog import COL_WHAT, OutboxDialog
from app.settings import DeskSettings
from app.window import MainWindow
from sync import queries
from sync.client import silence_limit
from sync.queries import InboxFilter
from tests.app.conftest import until


def _window(session, qtbot) -> MainWindow:
    window = MainWindow(session, DeskSettings())
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    return window


async def _unread_mine(session) -> str:
    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    rows = await session.read(queries.conversation_rows, mine, int(time.time() * 1000))
    return next(cid for cid in mine if rows[cid].unread_count > 0)


async def test_pending_counts_what_the_agent_did_and_the_outbox_shows_reply_texts(
        qtbot, backend, desks, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RELAYDESK_CONFIG_DIR", str(tmp_path / "config"))
    session = await desks.session(backend)
    window = _window(session, qtbot)
    cid = await _unread_mine(session)
    await asyncio.to_thread(backend.stop)  # everything below waits in the outbox

    window.open_conversation(cid)  # marks it read: the desk's doing, not the agent's
    await until(lambda: window.conversation.row is not None
                and window.conversation.row.unread_count == 0, 10, what="the read mark")
    text = "We have refunded your order; it shows on your statement in 3 to 5 days."
    await session.send_reply(cid, text)
    await session.add_tag(cid, "vip")
    await session.set_status(cid, "resolved")
    names = {i.name for i in await session.read(queries.intents_for_review)}
    assert "mark_read" in names  # (queued, and sent like the rest)

    await until(lambda: window.sync_status.pending_button.text() == "3 pending", 10,
                what="three pending in the status bar")
    assert session.status.pending == 3

    dialog = OutboxDialog(session, window)
    qtbot.addWidget(dialog)
    dialog.show()
    await until(lambda: len(dialog.intents()) == 3, 10, what="the outbox list")
    whats = [dialog.tree.topLevelItem(n).text(COL_WHAT)
             for n in range(dialog.tree.topLevelItemCount())]
    assert "Mark read" not in whats
    reply = next(w for w in whats if w.startswith("Reply: "))
    # Its text, cut to a line (and isolated: a pasted customer text may hold bidi controls).
    assert "We have refunded your order; it shows on your statement" in reply
    assert reply.rstrip("\u2069").endswith("…") and len(reply) < len(text)
    item = next(dialog.tree.topLevelItem(n) for n in range(dialog.tree.topLevelItemCount())
                if dialog.tree.topLevelItem(n).text(COL_WHAT) == reply)
    assert text in item.toolTip(COL_WHAT)
    assert item.data(COL_WHAT, Qt.ItemDataRole.UserRole) is not None


async def test_the_sidebar_counts_move_with_the_agents_unsent_changes(
        qtbot, backend, desks, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RELAYDESK_CONFIG_DIR", str(tmp_path / "config"))
    session = await desks.session(backend)
    window = _window(session, qtbot)
    await until(lambda: window.inbox_model.rowCount() > 0
                and window.nav.count_text("mine") == str(window.inbox_model.rowCount()), 10,
                what="Mine and its count")
    mine_before = window.inbox_model.rowCount()
    unassigned = await session.read(queries.conversation_ids, InboxFilter(assignee="none"),
                                    queries.Sort.LAST_ACTIVITY, session.agent_id)
    await asyncio.to_thread(backend.stop)  # unsent: only the overlay knows
    await session.assign(unassigned[0], agent_id=session.agent_id)
    await session.assign(unassigned[1], agent_id=session.agent_id)
    await until(lambda: window.inbox_model.rowCount() == mine_before + 2, 10,
                what="the list to show them")
    await until(lambda: window.nav.count_text("mine") == str(mine_before + 2), 10,
                what="the count beside Mine to agree with the list")
    assert window.nav.count_text("unassigned") == str(len(unassigned) - 2)


async def test_the_status_bar_says_offline_soon_after_the_server_dies_and_online_soon_after(
        qtbot, backend, desks, monkeypatch, tmp_path: Path) -> None:
    """The engine's own retry caps (60 s, 5 s while the agent is at the desk); the demo
    backend's heartbeat (1 s)."""
    monkeypatch.setenv("RELAYDESK_CONFIG_DIR", str(tmp_path / "config"))
    session = await desks.session(backend, heartbeat_s=1.0, backoff_base_s=0.5,
                                  backoff_cap_s=60.0, poll_interval_s=30.0)
    window = _window(session, qtbot)
    window.activateWindow()
    await until(window.isActiveWindow, 5, what="the window to be active")
    assert session.engine.retry_cap() == session.engine.options.attended_backoff_cap_s
    await until(lambda: window.sync_status.state_text() == "Online · up to date"
                and session.status.live, 10, what="online")
    limit = silence_limit(1.0)

    await asyncio.to_thread(backend.stop)
    await until(lambda: window.sync_status.state_text().startswith("Offline"), limit,
                what="the status bar to say offline")
    assert window.banner.isVisible()
    await asyncio.sleep(8)  # long enough for the long cap's retries to drift apart

    await asyncio.to_thread(backend.start)
    await until(lambda: window.sync_status.state_text() == "Online · up to date"
                and session.status.live,
                session.engine.options.attended_backoff_cap_s + limit,
                what="the status bar to say online again")
    assert not window.banner.isVisible()
