"""The conversation pane's header menus and the snooze dialog, on the demo backend."""

from __future__ import annotations

import asyncio
import time

from PySide6.QtCore import QDateTime, QLocale
from PySide6.QtWidgets import QDateTimeEdit, QDialogButtonBox, QLabel, QMenu

from app import times
from sync import queries
from sync.queries import InboxFilter
from tests.app.conftest import until
from tests.app.test_desk_flow import open_window, opened


def now_ms() -> int:
    return int(time.time() * 1000)


async def mine(session) -> list[queries.ConversationRow]:
    ids = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                             queries.Sort.LAST_ACTIVITY, session.agent_id)
    rows = await session.read(queries.conversation_rows, ids, now_ms())
    return [rows[i] for i in ids]


def opened_menu(button) -> QMenu:
    menu = button.menu()
    menu.aboutToShow.emit()  # filled as it opens, as a click or Space does
    return menu


async def test_the_assign_menu_ticks_the_assignee_and_the_team(backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    row = (await mine(session))[0]
    await opened(window, row)
    pane = window.conversation
    menu = opened_menu(pane.assign_button)
    agents = next(a.menu() for a in menu.actions() if a.text() == "Agent")
    ticked = [a.text() for a in agents.actions() if a.isChecked()]
    assert ticked == [session.me.name]  # the one it is assigned to now, and only them
    teams = next(a.menu() for a in menu.actions() if a.text() == "Team")
    assert [a.text() for a in teams.actions() if a.isChecked()] == [row.team_name]

    pending = session.status.pending
    next(a for a in agents.actions() if a.isChecked()).trigger()  # already theirs
    await asyncio.sleep(0.3)
    assert session.status.pending == pending  # nothing queued, no "assigned" to undo
    menu.close()


async def test_header_menus_filled_on_each_opening_leave_nothing_behind(backend, desks,
                                                                        qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    await opened(window, (await mine(session))[0])
    pane = window.conversation

    def menus() -> int:
        return len(pane.findChildren(QMenu))

    for button in (pane.status_button, pane.assign_button):
        opened_menu(button).close()
    await asyncio.sleep(0)  # sub-menus of an earlier filling go at the next turn
    before = menus()
    for _ in range(5):
        for button in (pane.status_button, pane.assign_button):
            opened_menu(button).close()
        await asyncio.sleep(0)
    assert menus() == before  # was two more per opening of Status, two of Assign


async def test_the_snooze_dialog_is_labelled_with_a_four_digit_year(backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    row = (await mine(session))[0]
    await opened(window, row)
    pane = window.conversation
    pane.pick_snooze_time()
    dialog = pane.snooze_dialog
    await until(dialog.isVisible, what="the dialog")
    picker = dialog.findChild(QDateTimeEdit)
    label = next(w for w in dialog.findChildren(QLabel) if w.buddy() is picker)
    assert label.text() == "Snooze &until:"  # Alt+U reaches the field
    year = str(picker.dateTime().date().year())
    assert year in picker.text()  # "Dec 8, 2026 10:00 AM", not "12/8/26"
    assert picker.displayFormat() == times.date_time_format(QLocale())
    earliest = QDateTime.currentDateTime().addSecs(4 * 60)
    assert picker.minimumDateTime() > earliest  # a few minutes on, never in the past
    assert picker.dateTime() > QDateTime.currentDateTime().addSecs(3600)

    chosen = picker.dateTime().toMSecsSinceEpoch()
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    for _ in range(100):  # (queued off the click, then sent)
        now = (await session.read(queries.conversation_rows, [row.id], now_ms()))[row.id]
        if now.status == "snoozed" and session.status.pending == 0:
            break
        await asyncio.sleep(0.1)
    assert now.status == "snoozed" and now.snoozed_until == chosen
