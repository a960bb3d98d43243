"""The whole desk (MainWindow on a real DeskSession) against the real demo backend.

The issue's flows: the inbox shows the seeded conversations; a reply reaches the channel's
outbound list exactly once; a reply and a status change made offline survive a restart of the
desk and land once when the backend returns; a rejected intent shows its reason; keyboard
shortcuts act on the selected conversation.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.inbox.model import ID_ROLE, ROW_ROLE
from app.settings import DeskSettings
from app.window import MainWindow
from protocol.rules import WindowKind
from sync import queries
from sync.engine import EngineState
from sync.queries import InboxFilter
from tests.app.conftest import DEMO_AGENT, until


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def settings_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RELAYDESK_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def open_window(session, qtbot) -> MainWindow:
    window = MainWindow(session, DeskSettings())
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    window.activateWindow()  # window shortcuts (J, K, A…) need the active window
    return window


async def email_conversation_of_mine(session) -> queries.ConversationRow:
    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    rows = await session.read(queries.conversation_rows, mine, now_ms())
    return next(rows[i] for i in mine if rows[i].channel_type == "email"
                and rows[i].window.kind is WindowKind.ALWAYS_OPEN)


async def opened(window: MainWindow, row: queries.ConversationRow) -> None:
    window.open_conversation(row.id)
    await until(lambda: window.conversation.row is not None
                and window.conversation.row.id == row.id
                and window.conversation.composer.conversation_id == row.id
                and window.conversation.row.unread_count == 0,  # opening marks it read
                what="the conversation to open")


async def type_and_send(window: MainWindow, text: str) -> None:
    editor = window.conversation.composer.editor
    editor.setFocus()
    editor.insertPlainText(text)
    QTest.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    await until(lambda: editor.toPlainText() == "", what="the composer to clear")


def sent_to(backend, channel: str, text: str) -> int:
    return sum(1 for m in backend.outbound(channel) if text in (m.get("body") or ""))


async def test_the_inbox_shows_mine_and_a_reply_reaches_the_channel_once(
        backend, desks, qtbot, settings_dir):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    counts = await session.read(queries.nav_counts, session.agent_id)
    await until(lambda: window.inbox_model.rowCount() == counts.mine, what="Mine")
    row = await email_conversation_of_mine(session)
    await opened(window, row)
    text = f"Your replacement ships today. ref {time.time_ns()}"
    await type_and_send(window, text)
    # Visible at once, before the server has it.
    await until(lambda: text in window.conversation.thread.browser.toPlainText(),
                what="the reply in the thread")
    await until(lambda: session.status.pending == 0
                and session.status.state is EngineState.UP_TO_DATE, 20, what="the push")
    channel = next(c.name for c in session.directory.channels if c.id == row.channel_id)
    assert await asyncio.to_thread(sent_to, backend, channel, text) == 1
    await asyncio.sleep(1.0)  # more cycles must not send it again
    assert await asyncio.to_thread(sent_to, backend, channel, text) == 1


async def test_offline_reply_and_resolve_survive_a_restart_and_land_once(
        backend, desks, qtbot, settings_dir):
    session = await desks.session(backend, name="restart")
    window = open_window(session, qtbot)
    window.settings.next_after_done = False  # the pane stays on it after resolve: watch it
    row = await email_conversation_of_mine(session)
    await opened(window, row)
    await asyncio.to_thread(backend.stop)
    text = f"Written offline {time.time_ns()}"
    await type_and_send(window, text)
    window.act_resolve.trigger()
    await until(lambda: session.status.pending >= 2, what="the reply and the status pending")
    await until(lambda: session.status.state is EngineState.OFFLINE, 15, what="offline")
    assert window.banner.isVisible()
    await until(lambda: text in window.conversation.thread.browser.toPlainText(),
                what="the pending reply in the thread")
    await until(lambda: window.conversation.row is not None
                and window.conversation.row.status == "resolved", what="resolved at once")

    # Close the desk while offline, start it again (same data directory), then the backend.
    queued = session.status.pending
    window.close()
    await desks.close(session)
    session = await desks.session(backend, name="restart", sign_in=False)
    assert session.status.pending == queued
    window = open_window(session, qtbot)
    await until(lambda: text in window.conversation.thread.browser.toPlainText()
                or window.inbox_model.rowCount() > 0, what="the restarted desk")
    await asyncio.to_thread(backend.start)
    # No OS keyring in the test environment: the sign-in lasted one process, as designed.
    await session.sign_in(*DEMO_AGENT)
    await until(lambda: session.status.pending == 0
                and session.status.state is EngineState.UP_TO_DATE, 30, what="both to land")
    channel = next(c.name for c in session.directory.channels if c.id == row.channel_id)
    assert await asyncio.to_thread(sent_to, backend, channel, text) == 1
    rows = await session.read(queries.conversation_rows, [row.id], now_ms())
    assert rows[row.id].status == "resolved" and rows[row.id].pending_intents == 0


async def test_a_rejected_reply_shows_the_reason_and_can_be_discarded(
        backend, desks, qtbot, settings_dir):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    everything = await session.read(queries.conversation_ids, InboxFilter(statuses=None),
                                    queries.Sort.LAST_ACTIVITY, session.agent_id)
    rows = await session.read(queries.conversation_rows, everything, now_ms())
    opted = next(r for r in rows.values() if r.window.kind is WindowKind.OPTED_OUT)
    await opened(window, opted)
    # The composer refuses; a reply queued anyway (another desk, a script) is rejected.
    assert not window.conversation.composer.send_button.isEnabled()
    await session.send_reply(opted.id, "Are you still there?")
    await until(lambda: session.status.rejected == 1, 20, what="the rejection")
    await until(lambda: "opted out" in window.conversation.thread.browser.toPlainText().lower()
                or "stop" in window.conversation.thread.browser.toPlainText().lower(),
                what="the reason in the thread")
    intent = (await session.read(queries.intents_for_review))[0]
    window.conversation.thread.discardRequested.emit(intent.id)
    await until(lambda: session.status.rejected == 0, what="the discard")


async def test_keyboard_moves_through_the_inbox_and_acts_on_the_selection(
        backend, desks, qtbot, settings_dir):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.nav.select_view("unassigned")
    await until(lambda: window.inbox_model.inbox_filter.assignee == "none", what="Unassigned")
    await until(lambda: window.inbox_model.rowCount() > 3, what="unassigned rows")
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    first = window.inbox_model.index(0, 0).data(ID_ROLE)
    second = window.inbox_model.index(1, 0).data(ID_ROLE)
    assert window.inbox.select_id(first)
    QTest.keyClick(window.inbox.table, Qt.Key.Key_J)
    await until(lambda: window.conversation.conversation_id == second, what="J")
    QTest.keyClick(window.inbox.table, Qt.Key.Key_K)
    await until(lambda: window.conversation.conversation_id == first, what="K")
    await until(lambda: window.conversation.row is not None
                and window.conversation.row.id == first, what="the first row")
    QTest.keyClick(window.inbox.table, Qt.Key.Key_A)
    await until(lambda: window.conversation.row is not None
                and window.conversation.row.assignee_id == session.agent_id,
                what="assigned to me at once")
    # It leaves Unassigned (the view follows the overlay) and lands on the server.
    await until(lambda: window.inbox_model.row_of(first) < 0, what="gone from Unassigned")
    await until(lambda: session.status.pending == 0, 20, what="the assignment to land")
    QTest.keyClick(window.inbox.table, Qt.Key.Key_Question)
    await until(lambda: getattr(window, "shortcut_sheet", None) is not None
                and window.shortcut_sheet.isVisible(), what="the shortcut sheet")


async def test_a_customer_reply_appears_in_the_open_conversation(
        backend, desks, qtbot, settings_dir):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    row = await email_conversation_of_mine(session)
    await opened(window, row)
    contact = await session.read(queries.contact_view, row.contact_id, now_ms())
    handle = next(i.address for i in contact.identities if i.channel_type == "email")
    channel = next(c.name for c in session.directory.channels if c.id == row.channel_id)
    text = f"Any update on this? {time.time_ns()}"
    await asyncio.to_thread(backend.inbound, channel, handle, text)
    await until(lambda: text in window.conversation.thread.browser.toPlainText(), 15,
                what="the customer's message in the open thread")
    await until(lambda: any(
        (window.inbox_model.index(r, 0).data(ROW_ROLE) or None) is not None
        and text[:20] in window.inbox_model.index(r, 0).data(ROW_ROLE).preview
        for r in range(min(5, window.inbox_model.rowCount()))), 10, what="the inbox preview")


async def test_snooze_until_a_picked_time_and_switch_the_theme(
        backend, desks, qtbot, settings_dir):
    from PySide6.QtCore import QDateTime
    from PySide6.QtWidgets import QApplication, QDateTimeEdit

    from app import theme

    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False  # the pane stays on it after snooze: watch it
    row = await email_conversation_of_mine(session)
    await opened(window, row)
    window.conversation.pick_snooze_time()
    dialog = window.conversation.snooze_dialog
    until_time = QDateTime.currentDateTime().addDays(2)
    dialog.findChild(QDateTimeEdit).setDateTime(until_time)
    dialog.accept()
    await until(lambda: window.conversation.row is not None
                and window.conversation.row.status == "snoozed", what="snoozed at once")
    assert abs(window.conversation.row.snoozed_until - until_time.toMSecsSinceEpoch()) < 60_000
    await until(lambda: session.status.pending == 0, 20, what="the snooze to land")

    saved = []
    window._save_settings = saved.append
    from PySide6.QtWidgets import QMenu

    menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "Theme")
    dark = next(a for a in menu.actions() if a.text() == "Dark")
    try:
        dark.trigger()
        assert theme.is_dark(QApplication.instance()) and window.settings.theme == "dark"
        assert saved and saved[-1].theme == "dark"
        assert [a.text() for a in menu.actions() if a.isChecked()] == ["Dark"]
    finally:
        window._set_theme("light")


async def test_older_history_loads_when_asked(backend, desks, qtbot, settings_dir, monkeypatch):
    from app.conversation import pane

    monkeypatch.setattr(pane, "PAGE", 2)  # demo threads are short: page by two
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    long_one = None
    for cid in mine:
        page = await session.read(queries.thread_page, cid, session.agent_id, 100)
        if len(page.items) >= 4:
            long_one = cid
            break
    assert long_one is not None, "the demo has a conversation with four messages or more"
    window.open_conversation(long_one)
    thread = window.conversation.thread
    await until(lambda: window.conversation.conversation_id == long_one
                and len(thread.items) == 2 and thread.has_older, what="the newest page")
    thread.olderRequested.emit()
    await until(lambda: len(thread.items) == 4, what="the older page")
    assert [i.created_at for i in thread.items] == sorted(i.created_at for i in thread.items)


async def test_the_pane_widths_an_agent_chose_come_back_next_time(backend, desks, qtbot):
    session = await desks.session(backend)
    settings = DeskSettings()
    first = MainWindow(session, settings)
    qtbot.addWidget(first)
    first.resize(1400, 800)
    first.show()
    await until(lambda: first.splitter.sizes()[0] > 0, what="the first layout")
    first.splitter.setSizes([260, 520, 600])
    chosen = first.splitter.sizes()
    first.close()
    assert settings.splitter_state and settings.window_state

    second = MainWindow(session, settings)  # the next start, with the settings it saved
    qtbot.addWidget(second)
    second.resize(1400, 800)
    second.show()
    await until(lambda: second.splitter.sizes()[0] > 0, what="the second layout")
    assert second.splitter.sizes() == chosen
    second.close()
