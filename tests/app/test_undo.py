"""Undo (issue 11): resolve, snooze, assign, priority and tag changes come back with Ctrl+Z or
the toast's Undo; one that has not left the desk never reaches the server, one that has is
reversed; a reply waits the agent's undo delay, during which Undo puts it back in the
composer, and after which it goes out once."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import orjson
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMenu

from app.settings import DeskSettings
from app.undo import UndoManager, inverse_of
from app.window import MainWindow
from protocol.rules import WindowKind
from sync import outbox, queries
from sync.display import display_safe
from sync.engine import EngineState
from tests.app.conftest import until
from tests.app.test_desk_flow import open_window, opened, sent_to
from tests.app.test_keys import _own_settings_dir, rows_of  # noqa: F401  (a fixture)


def now_ms() -> int:
    return int(time.time() * 1000)


def on_server(backend, sql: str, *params: object) -> list[tuple]:
    """What the server's own database holds (read-only, beside the running server)."""
    conn = sqlite3.connect(f"file:{backend.db_path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def pushed_names(backend, session) -> list[str]:
    """The intents this desk's pushes carried that the server recorded, in order."""
    with session.store.read_outbox() as conn:
        client = outbox.client_id(conn)
    return [r[0] for r in on_server(backend, "SELECT name FROM mutation_records "
                                    "WHERE client_id = ? ORDER BY mutation_id", client)]


def server_conversation(backend, cid: str) -> dict:
    (row,) = on_server(backend, "SELECT status, priority, tags, assignee_id FROM conversations "
                       "WHERE id = ?", cid)
    return {"status": row[0], "priority": row[1], "tags": orjson.loads(row[2] or "[]"),
            "assignee_id": row[3]}


async def synced(session) -> None:
    try:
        await until(lambda: session.status.pending == 0
                    and session.status.state is EngineState.UP_TO_DATE, 30, what="the sync")
    except AssertionError as exc:  # say where it stood
        raise AssertionError(f"{exc}; status: {session.status}") from None


async def undone(window: MainWindow) -> None:
    await until(lambda: window.undo.toast.isVisible()
                and window.undo.toast.label.text() == "Undone.", what="the undo done")


async def shown_status(window: MainWindow, status: str) -> None:
    await until(lambda: window.conversation.row is not None
                and window.conversation.row.status == status, what=f"status {status}")


async def press_undo(window: MainWindow, where=None) -> None:
    """Ctrl+Z where the agent is (the list, unless said otherwise), the window active (a
    window's shortcuts need it; a menu that was open may have had it)."""
    window.activateWindow()
    await until(window.isActiveWindow, what="an active window")
    target = where or window.inbox.table
    target.setFocus()
    QTest.keyClick(target, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


async def test_a_resolve_undone_offline_never_reaches_the_server(
        backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False
    rows = await rows_of(window, 2)
    row = rows[0]
    await opened(window, row)
    await synced(session)  # (opening marked it read: sent before going offline)
    await asyncio.to_thread(backend.stop)
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_E)
    await shown_status(window, "resolved")
    toast = window.undo.toast
    await until(toast.isVisible, what="the toast")
    assert toast.label.text() == "Conversation resolved" and toast.button.isVisible()
    await press_undo(window)
    await shown_status(window, row.status)
    assert not any(i.name == "set_status" for i in await session.read(queries.intents_for_review))
    await asyncio.to_thread(backend.start)
    await synced(session)
    assert "set_status" not in pushed_names(backend, session)
    assert server_conversation(backend, row.id)["status"] == row.status


async def test_a_resolve_already_applied_is_reversed(backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False
    rows = await rows_of(window, 2)
    row = rows[0]
    await opened(window, row)
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_E)
    await until(window.undo.available, what="the resolve queued")
    await synced(session)
    assert server_conversation(backend, row.id)["status"] == "resolved"
    assert window.undo.toast.isVisible()  # still offered
    QTest.mouseClick(window.undo.toast.button, Qt.MouseButton.LeftButton)
    await undone(window)
    await synced(session)
    assert server_conversation(backend, row.id)["status"] == row.status
    assert pushed_names(backend, session)[-2:] == ["set_status", "set_status"]
    await shown_status(window, row.status)


async def test_undo_after_moving_on_brings_the_conversation_back(
        backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    rows = await rows_of(window, 3)
    await opened(window, rows[0])
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_E)
    await until(lambda: window.conversation.conversation_id == rows[1].id, what="the next one")
    await press_undo(window)
    await until(lambda: window.conversation.conversation_id == rows[0].id
                and window.conversation.row is not None
                and window.conversation.row.status == rows[0].status, what="it back")
    await until(lambda: window.inbox_model.row_of(rows[0].id) >= 0, what="back in Mine")


async def test_priority_tags_and_assignment_can_be_undone(backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False
    window.nav.select_view("unassigned")
    await until(lambda: window.inbox_model.inbox_filter.assignee == "none", what="Unassigned")
    rows = await rows_of(window, 1)
    row = rows[0]
    await opened(window, row)
    pane = window.conversation

    def choose(button, text: str) -> None:
        menu: QMenu = button.menu()
        menu.popup(button.mapToGlobal(button.rect().bottomLeft()))
        action = next(a for a in menu.actions() if a.text() == text)
        action.trigger()
        menu.close()

    new_priority = "urgent" if row.priority != "urgent" else "low"
    choose(pane.priority_button, new_priority.capitalize())
    await until(lambda: pane.row.priority == new_priority, what="the new priority")
    await press_undo(window)
    await until(lambda: pane.row.priority == row.priority, what="the priority back")

    tag = next(t.name for t in session.directory.tags if t.name not in row.tags)
    choose(pane.tags_button, tag)
    await until(lambda: tag in pane.row.tags, what="the tag")
    assert window.undo.toast.label.text() == f"Tag “{display_safe(tag)}” added"
    await press_undo(window)
    await until(lambda: tag not in pane.row.tags, what="the tag gone")

    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_A)
    await until(lambda: pane.row.assignee_id == session.agent_id, what="assigned to me")
    await press_undo(window)
    await until(lambda: pane.row.assignee_id is None, what="unassigned again")
    await synced(session)
    there = server_conversation(backend, row.id)
    assert there["priority"] == row.priority and tag not in there["tags"]
    assert there["assignee_id"] is None


async def test_undo_is_offered_only_while_its_toast_shows(
        backend, desks, qtbot, monkeypatch):
    monkeypatch.setattr(UndoManager, "SHOW_MS", 400)
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False
    rows = await rows_of(window, 1)
    await opened(window, rows[0])
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_E)
    await shown_status(window, "resolved")
    await until(lambda: not window.undo.toast.isVisible(), 3, what="the toast to go")
    await press_undo(window)  # a stray Ctrl+Z later changes nothing
    await asyncio.sleep(0.5)
    assert window.conversation.row.status == "resolved"
    await synced(session)
    assert server_conversation(backend, rows[0].id)["status"] == "resolved"


async def reply_window(backend, desks, qtbot, seconds: int):
    session = await desks.session(backend)
    saved: list[DeskSettings] = []
    window = MainWindow(session, DeskSettings(), saved.append)
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    window.activateWindow()
    # The agent's own choice, in the View menu.
    menu = next(m for m in window.menuBar().findChildren(QMenu)
                if m.title() == "Undo sending a reply")
    next(a for a in menu.actions() if a.text() == f"For {seconds} seconds").trigger()
    assert window.settings.reply_undo_s == seconds and saved[-1].reply_undo_s == seconds
    rows = await rows_of(window, 2)
    row = next(r for r in rows if r.window.kind is WindowKind.ALWAYS_OPEN)
    await opened(window, row)
    channel = next(c.name for c in session.directory.channels if c.id == row.channel_id)
    return session, window, row, channel


async def test_a_reply_taken_back_during_its_delay_returns_to_the_composer_unsent(
        backend, desks, qtbot):
    session, window, row, channel = await reply_window(backend, desks, qtbot, 3)
    editor = window.conversation.composer.editor
    text = f"Wrong customer, sorry {time.time_ns()}"
    editor.setFocus()
    QTest.keyClicks(editor, text)
    QTest.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    await until(lambda: editor.toPlainText() == "", what="the composer to clear")
    await until(lambda: text in window.conversation.thread.browser.toPlainText(),
                what="the reply shown, pending")
    toast = window.undo.toast
    await until(toast.isVisible, what="the toast")
    assert toast.label.text().startswith("Sending your reply in")
    await asyncio.sleep(1.0)
    assert await asyncio.to_thread(sent_to, backend, channel, text) == 0
    await press_undo(window, editor)  # from the composer, where the agent still is
    await until(lambda: editor.toPlainText() == text, what="the text back in the composer")
    await until(lambda: text not in window.conversation.thread.browser.toPlainText(),
                what="the pending reply gone from the thread")
    await window.drafts.flush()
    draft = await window.drafts.load(row.id)
    assert draft is not None and draft.body == text
    await asyncio.sleep(3.0)  # past the time it would have gone
    await synced(session)
    assert await asyncio.to_thread(sent_to, backend, channel, text) == 0
    assert "send_message" not in pushed_names(backend, session)


async def test_a_reply_not_taken_back_goes_out_once_after_its_delay(
        backend, desks, qtbot):
    session, window, _row, channel = await reply_window(backend, desks, qtbot, 3)
    editor = window.conversation.composer.editor
    text = f"Your refund is on its way {time.time_ns()}"
    editor.setFocus()
    QTest.keyClicks(editor, text)
    sent_at = time.monotonic()
    QTest.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    await until(lambda: session.status.pending >= 1, what="queued")
    await asyncio.sleep(2.0)
    assert await asyncio.to_thread(sent_to, backend, channel, text) == 0  # still held
    await synced(session)
    assert time.monotonic() - sent_at >= 2.9
    assert await asyncio.to_thread(sent_to, backend, channel, text) == 1
    assert window.undo.available() is None and not window.undo.toast.isVisible()
    await press_undo(window)  # too late: nothing happens to it
    await asyncio.sleep(0.5)
    assert await asyncio.to_thread(sent_to, backend, channel, text) == 1


def _row(**changes: object) -> queries.ConversationRow:
    from protocol.rules import WindowState

    base = dict(id="c1", channel_id="ch", channel_type="email", channel_name="Mail",
                contact_id="k", contact_name="Kim", team_id="t1", team_name="One",
                assignee_id="a1", assignee_name="Ann", subject=None, preview="",
                status="open", snoozed_until=None, priority="normal", tags=("vip",),
                unread_count=0, last_activity_at=1, last_inbound_at=None, sla_due_at=None,
                created_at=1, window=WindowState(WindowKind.ALWAYS_OPEN))
    return queries.ConversationRow(**{**base, **changes})  # type: ignore[arg-type]


def test_the_inverse_puts_back_what_the_agent_saw() -> None:
    now = 1_000_000
    cid = {"conversation_id": "c1"}
    assert inverse_of("set_status", {**cid, "status": "resolved"}, _row(), now) == (
        "set_status", {**cid, "status": "open"})
    snoozed = _row(status="snoozed", snoozed_until=now + 3_600_000)
    assert inverse_of("set_status", {**cid, "status": "resolved"}, snoozed, now) == (
        "set_status", {**cid, "status": "snoozed", "snoozed_until": now + 3_600_000})
    # A snooze that is over (or nearly) cannot be put back: the server refuses a past time.
    ending = _row(status="snoozed", snoozed_until=now + 1_000)
    assert inverse_of("set_status", {**cid, "status": "open"}, ending, now) == (
        "set_status", {**cid, "status": "open"})
    assert inverse_of("assign", {**cid, "agent_id": "me"}, _row(), now) == (
        "assign", {**cid, "agent_id": "a1"})
    assert inverse_of("assign", {**cid, "agent_id": None}, _row(), now) == (
        "assign", {**cid, "agent_id": "a1"})
    assert inverse_of("assign", {**cid, "team_id": "t2"}, _row(), now) == (
        "assign", {**cid, "team_id": "t1"})
    assert inverse_of("assign", {**cid, "agent_id": "me"}, _row(assignee_id=None), now) == (
        "assign", {**cid, "agent_id": None})
    assert inverse_of("set_priority", {**cid, "priority": "urgent"}, _row(), now) == (
        "set_priority", {**cid, "priority": "normal"})
    assert inverse_of("add_tag", {**cid, "tag": " late "}, _row(), now) == (
        "remove_tag", {**cid, "tag": "late"})
    assert inverse_of("remove_tag", {**cid, "tag": "vip"}, _row(), now) == (
        "add_tag", {**cid, "tag": "vip"})
    # What changed nothing has nothing to put back (a tag that was there stays there).
    assert inverse_of("add_tag", {**cid, "tag": "vip"}, _row(), now) is None
    assert inverse_of("remove_tag", {**cid, "tag": "new"}, _row(), now) is None
    assert inverse_of("set_priority", {**cid, "priority": "normal"}, _row(), now) is None
    assert inverse_of("assign", {**cid, "agent_id": "a1"}, _row(), now) is None


def test_the_undo_settings_keep_only_valid_values() -> None:
    assert DeskSettings().reply_undo_s == 0 and DeskSettings().next_after_done is True
    ok = DeskSettings._from_dict({"reply_undo_s": 10, "next_after_done": False})
    assert ok.reply_undo_s == 10 and ok.next_after_done is False
    for bad in (11, -1, True, "5", 2.5):
        assert DeskSettings._from_dict({"reply_undo_s": bad}).reply_undo_s == 0
    assert DeskSettings._from_dict({"next_after_done": "no"}).next_after_done is True


async def test_signing_out_takes_the_undo_away(backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False
    rows = await rows_of(window, 1)
    await opened(window, rows[0])
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_E)
    await until(window.undo.available, what="the resolve offered for undo")
    await synced(session)
    await session.sign_out()
    assert window.undo.available() is None and not window.undo.toast.isVisible()
    assert not window.undo.undo()


async def test_the_toast_waits_while_its_undo_button_has_the_focus(
        backend, desks, qtbot, monkeypatch):
    monkeypatch.setattr(UndoManager, "SHOW_MS", 400)
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False
    rows = await rows_of(window, 1)
    await opened(window, rows[0])
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_E)
    toast = window.undo.toast
    await until(toast.isVisible, what="the toast")
    assert toast.button.accessibleName() == "Undo" and toast.accessibleName()
    assert toast.button.focusPolicy() & Qt.FocusPolicy.TabFocus
    toast.button.setFocus(Qt.FocusReason.TabFocusReason)  # as Tab brings it there
    await asyncio.sleep(1.0)
    assert toast.isVisible() and window.undo.available() is not None
    QTest.keyClick(toast.button, Qt.Key.Key_Space)
    await shown_status(window, rows[0].status)


async def test_a_template_reply_taken_back_is_not_sent_and_says_so(backend, desks, qtbot):
    session = await desks.session(backend)
    window = MainWindow(session, DeskSettings(reply_undo_s=3))
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    window.activateWindow()
    everything = await session.read(queries.conversation_ids,
                                    queries.InboxFilter(statuses=None),
                                    queries.Sort.LAST_ACTIVITY, session.agent_id)
    found = await session.read(queries.conversation_rows, everything, now_ms())
    row = next(r for r in found.values() if r.channel_type == "whatsapp"
               and r.window.kind is WindowKind.TEMPLATE_ONLY)
    await opened(window, row)
    composer = window.conversation.composer
    box = composer.banner.template_box
    index = next(i for i in range(1, box.count())
                 if (box.setCurrentIndex(i), composer.send_button.isEnabled())[1])
    assert index > 0
    channel = next(c.name for c in session.directory.channels if c.id == row.channel_id)
    before = len(await asyncio.to_thread(backend.outbound, channel))
    QTest.keyClick(composer.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    await until(window.undo.available, what="the reply offered for undo")
    await press_undo(window)
    toast = window.undo.toast
    await until(lambda: toast.isVisible() and toast.label.text() == "Reply taken back.",
                what="what the undo did")
    await asyncio.sleep(3.5)
    await synced(session)
    assert len(await asyncio.to_thread(backend.outbound, channel)) == before
