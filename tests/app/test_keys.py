"""Keys that act (issue 11): a letter typed into the list moves nothing, a one-key action acts
on the conversation on screen or not at all, the desk moves on after resolve and J/K go on
from where the agent was, a reply does not move its row under the pointer, Escape leaves
the composer, and a menu opened by a key has its first entry ready for Enter."""

from __future__ import annotations

import asyncio
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.inbox.model import ID_ROLE, ROW_ROLE
from app.window import MainWindow
from protocol.rules import WindowKind
from sync import queries
from sync.engine import EngineState
from sync.queries import InboxFilter
from tests.app.conftest import until
from tests.app.test_desk_flow import open_window, opened

SHORTCUT_LETTERS = set("jkeasr")
ASCII_LETTERS = set("abcdefghijklmnopqrstuvwxyz")  # what QTest can type


@pytest.fixture(autouse=True)
def _own_settings_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RELAYDESK_CONFIG_DIR", str(tmp_path / "config"))


def now_ms() -> int:
    return int(time.time() * 1000)


async def rows_of(window: MainWindow, least: int) -> list[queries.ConversationRow]:
    """The list's rows, once ``least`` of them are there and loaded."""
    model = window.inbox_model
    await until(lambda: model.rowCount() >= least, what=f"{least} rows")
    await until(lambda: all(model.index(r, 0).data(ROW_ROLE) is not None
                            for r in range(model.rowCount())), what="the rows' data")
    return [model.index(r, 0).data(ROW_ROLE) for r in range(model.rowCount())]


async def row_now(session, cid: str) -> queries.ConversationRow:
    return (await session.read(queries.conversation_rows, [cid], now_ms()))[cid]


async def shown(window: MainWindow, cid: str) -> None:
    await until(lambda: window.conversation.shown_row() is not None
                and window.conversation.shown_row().id == cid, what="the conversation shown")


async def all_view(window: MainWindow) -> None:
    window.nav.select_view("all")
    await until(lambda: window.inbox_model.inbox_filter.assignee is None
                and window.inbox_model.complete(), what="All")


async def test_letters_typed_into_the_list_move_nothing_and_a_key_acts_on_the_shown_one(
        backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False
    await all_view(window)
    rows = await rows_of(window, 4)
    # A row Qt's type-ahead would jump to: its customer's name starts with a letter that
    # is no shortcut; the agent has another one open.
    target = next(r for r in rows[1:] if r.contact_name[:1].lower() in ASCII_LETTERS
                  and r.contact_name[:1].lower() not in SHORTCUT_LETTERS)
    letter = target.contact_name[0].lower()
    open_row = next(r for r in rows if r.id != target.id
                    and not r.contact_name.lower().startswith(letter))
    await opened(window, open_row)
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClicks(window.inbox.table, f"{letter}ello")  # "hello", as the agent typed
    assert window.inbox.current_id() == open_row.id
    assert window.inbox.table.currentIndex().data(ID_ROLE) == open_row.id
    assert window.conversation.conversation_id == open_row.id
    # The E in it resolved the conversation on screen, and nothing else.
    await until(lambda: window.conversation.row is not None
                and window.conversation.row.status == "resolved", what="resolved at once")
    assert (await row_now(session, target.id)).status == target.status


async def test_a_key_pressed_while_the_next_conversation_loads_acts_on_nothing(
        backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False
    rows = await rows_of(window, 3)
    first, second = rows[0], rows[1]
    await opened(window, first)
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    # Down opens the next one; E comes before it is on screen (the header still shows the
    # first, the thread is being read): neither may be resolved.
    QTest.keyClick(window.inbox.table, Qt.Key.Key_Down)
    QTest.keyClick(window.inbox.table, Qt.Key.Key_E)
    await shown(window, second.id)
    await asyncio.sleep(0.3)
    assert (await row_now(session, first.id)).status == first.status
    assert (await row_now(session, second.id)).status == second.status
    assert window.undo.available() is None
    # Now that it is on screen, E acts on it.
    QTest.keyClick(window.inbox.table, Qt.Key.Key_E)
    await until(lambda: window.conversation.row.status == "resolved", what="resolved")
    assert (await row_now(session, first.id)).status == first.status


async def test_resolve_opens_the_next_conversation_in_the_list(
        backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    assert window.settings.next_after_done  # the default
    rows = await rows_of(window, 4)
    await opened(window, rows[1])
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_E)
    await shown(window, rows[2].id)
    assert window.inbox.current_id() == rows[2].id
    await until(lambda: window.inbox_model.row_of(rows[1].id) < 0, what="it left Mine")
    assert (await row_now(session, rows[1].id)).status == "resolved"
    assert window.inbox.current_id() == rows[2].id  # the list kept the new place


async def test_j_and_k_go_on_from_where_the_agent_was(backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False
    rows = await rows_of(window, 5)
    await opened(window, rows[2])
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_E)
    await until(lambda: window.inbox_model.row_of(rows[2].id) < 0, what="it left Mine")
    assert window.conversation.conversation_id == rows[2].id  # still on screen
    QTest.keyClick(window.inbox.table, Qt.Key.Key_J)  # the row that took its place
    await shown(window, rows[3].id)
    QTest.keyClick(window.inbox.table, Qt.Key.Key_K)
    await shown(window, rows[1].id)


async def test_a_reply_does_not_move_its_row_until_the_agent_moves_on(
        backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    rows = await rows_of(window, 5)
    at = next(n for n, r in enumerate(rows) if n >= 2 and n < len(rows) - 1
              and r.window.kind in (WindowKind.ALWAYS_OPEN, WindowKind.OPEN))
    row = rows[at]
    await opened(window, row)
    editor = window.conversation.composer.editor
    editor.setFocus()
    QTest.keyClicks(editor, f"On its way {time.time_ns()}")
    QTest.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    # Sent and synced: by its last activity it belongs at the top now.
    await until(lambda: session.status.pending == 0
                and session.status.state is EngineState.UP_TO_DATE, 20, what="the reply")
    await until(lambda: (window.inbox_model.cached(row.id) is not None
                         and window.inbox_model.cached(row.id).pending_intents == 0
                         and window.inbox_model.cached(row.id).last_activity_at
                         > rows[0].last_activity_at), what="the list re-read")
    fresh = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                               queries.Sort.LAST_ACTIVITY, session.agent_id)
    assert fresh[0] == row.id
    ids = list(window.inbox_model.ids())
    assert ids.index(row.id) == at
    assert ids[at - 1] == rows[at - 1].id and ids[at + 1] == rows[at + 1].id
    # The agent moves on: the next change puts it where it belongs.
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_J)
    await shown(window, rows[at + 1].id)
    window.inbox_model.refresh()
    await until(lambda: window.inbox_model.row_of(row.id) == 0, what="its place at the top")


async def test_escape_leaves_the_composer_and_keeps_the_draft(
        backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    rows = await rows_of(window, 2)
    row = next(r for r in rows if r.window.kind in (WindowKind.ALWAYS_OPEN, WindowKind.OPEN))
    await opened(window, row)
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_R)
    editor = window.conversation.composer.editor
    await until(editor.hasFocus, what="the composer focused by R")
    QTest.keyClicks(editor, "Half a thought")
    QTest.keyClick(editor, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is window.inbox.table
    assert window.inbox.current_id() == row.id  # focusing the list chose nothing
    assert editor.toPlainText() == "Half a thought"
    await window.drafts.flush()
    draft = await window.drafts.load(row.id)
    assert draft is not None and draft.body == "Half a thought"
    # Letters typed now are keys again, not text.
    QTest.keyClick(window.inbox.table, Qt.Key.Key_R)
    await until(editor.hasFocus, what="back in the composer")
    assert editor.toPlainText() == "Half a thought"


async def test_an_escape_that_closes_suggestions_stays_in_the_composer(
        backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    rows = await rows_of(window, 2)
    row = next(r for r in rows if r.window.kind in (WindowKind.ALWAYS_OPEN, WindowKind.OPEN))
    await opened(window, row)
    editor = window.conversation.composer.editor
    editor.setFocus()
    QTest.keyClicks(editor, "/")
    await until(editor.popup_visible, what="the canned replies")
    QTest.keyClick(editor._completer.popup(), Qt.Key.Key_Escape)
    assert not editor.popup_visible()
    assert editor.hasFocus()


async def test_menus_opened_by_a_key_have_their_first_entry_ready_for_enter(
        backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    window.settings.next_after_done = False
    rows = await rows_of(window, 2)
    await opened(window, rows[0])
    await until(window.isActiveWindow, what="an active window")
    window.inbox.table.setFocus()
    QTest.keyClick(window.inbox.table, Qt.Key.Key_S)
    menu = window.conversation.snooze_popup
    await until(menu.isVisible, what="the snooze menu")
    assert menu.activeAction() is menu.actions()[0]
    QTest.keyClick(menu, Qt.Key.Key_Return)
    await until(lambda: window.conversation.row.status == "snoozed", what="snoozed by Enter")

    # The header's menus (opened with Space on their button): Status's first choice is the
    # first one that changes something.
    pane = window.conversation
    status_menu = pane.status_button.menu()
    status_menu.popup(pane.status_button.mapToGlobal(pane.status_button.rect().bottomLeft()))
    await until(status_menu.isVisible, what="the status menu")
    assert status_menu.activeAction() is not None
    assert status_menu.activeAction().text() == status_menu.actions()[0].text()  # Open
    QTest.keyClick(status_menu, Qt.Key.Key_Return)
    await until(lambda: pane.row.status == "open", what="opened by Enter")
    for button in (pane.tags_button, pane.assign_button, pane.priority_button):
        menu = button.menu()
        menu.popup(button.mapToGlobal(button.rect().bottomLeft()))
        await until(menu.isVisible, what=f"the {button.text()} menu")
        first = next(a for a in menu.actions() if a.isEnabled() and not a.isSeparator())
        assert menu.activeAction() is first, button.text()
        menu.close()


def test_keep_in_place_puts_the_open_row_back_beside_its_neighbours() -> None:
    from app.inbox.model import Place, keep_in_place

    def keep(ids: str, place: Place) -> str:
        listed = list(ids)
        moved = keep_in_place(listed, {c: n for n, c in enumerate(listed)}, place)
        return "".join(moved) if moved is not None else ids

    x = Place("x", 2, "b", "c")  # it was a b [x] c d
    assert keep("xabcd", x) == "abxcd"  # the agent's reply sorted it to the top
    assert keep("axcd", x) == "axcd"  # b left: x stays before c
    assert keep("cxad", Place("x", 2, "b", "c")) == "xcad"  # b left: before c again
    assert keep("dcbax", Place("x", 0, None, "a")) == "xdcba"  # the top row stays on top
    assert keep("abcd", x) == "abcd"  # x left the view: nothing to keep
    assert keep("qrxs", x) == "qrxs"  # both neighbours left: where it was, index 2
