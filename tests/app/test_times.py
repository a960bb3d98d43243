"""Times and dates on one screen follow the agent's locale the same way: the inbox, the
thread, the customer panel, the outbox list and the status bar (``app.times``)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QDate, QDateTime, QLocale, QTime
from PySide6.QtWidgets import QApplication

from app import times
from app.inbox.model import COL_ACTIVITY, ROW_ROLE
from app.outbox_dialog import COL_CREATED, OutboxDialog
from app.settings import DeskSettings
from app.window import MainWindow
from sync import queries
from sync.queries import InboxFilter
from tests.app.conftest import until

# en_US: "7:46 PM" today, "Dec 6" this year, "Dec 6, 2025" before; nothing else.
US_TIME = re.compile(r"\d{1,2}:\d{2}\s[AP]M")
US_DATE = re.compile(r"[A-Z][a-z]{2} \d{1,2}(, \d{4})?")


@pytest.fixture
def us_english(qapp: QApplication) -> Iterator[QLocale]:
    before = QLocale()
    QLocale.setDefault(QLocale("en_US"))
    yield QLocale()
    QLocale.setDefault(before)


def test_one_time_of_day_and_one_date_for_the_locale(us_english) -> None:
    today = QDate(2026, 11, 21)
    at = QDateTime(today, QTime(19, 46)).toMSecsSinceEpoch()
    assert times.time_of_day(at) == "7:46\u202fPM"
    assert times.when_text(at, today) == "7:46\u202fPM"
    earlier = QDateTime(QDate(2026, 3, 4), QTime(9, 5)).toMSecsSinceEpoch()
    assert times.when_text(earlier, today) == "Mar 4"  # this year: no year
    last_year = QDateTime(QDate(2025, 12, 30), QTime(9, 5)).toMSecsSinceEpoch()
    assert times.when_text(last_year, today) == "Dec 30, 2025"  # four digits, not "12/30/25"
    assert times.date_time_text(earlier, today) == "Mar 4 9:05\u202fAM"
    assert times.month_day_format(QLocale("ja_JP")) == "M月d日"
    assert times.month_day_format(QLocale("de_DE")) == "d. MMM"
    assert times.date_format(QLocale("ja_JP")) == "yyyy年M月d日"
    assert times.date_format(QLocale("de_DE")) == "d. MMM yyyy"
    assert times.date_format(QLocale("en_GB")) == "d MMM yyyy"


def locale_time(text: str) -> bool:
    return bool(US_TIME.fullmatch(text.replace("\u202f", " ")) or US_DATE.fullmatch(text))


async def test_every_pane_writes_times_the_locales_way(us_english, backend, desks, qtbot):
    session = await desks.session(backend)
    window = MainWindow(session, DeskSettings())
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    model = window.inbox_model
    await until(lambda: model.rowCount() > 5 and model.index(5, 0).data(ROW_ROLE), 20,
                what="the inbox rows")
    shown = [model.index(n, COL_ACTIVITY).data() for n in range(6)]
    assert all(locale_time(t) for t in shown), shown  # was "19:46" and "12-06"

    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    window.open_conversation(mine[0])
    panel = window.customer.conversations
    await until(lambda: panel.topLevelItemCount() > 0, 20, what="the customer's conversations")
    dates = [panel.topLevelItem(n).text(3) for n in range(panel.topLevelItemCount())]
    assert all(locale_time(t) for t in dates), dates

    thread = window.conversation.thread
    await until(lambda: thread.items, 20, what="the thread")
    stamp = times.time_of_day(thread.items[-1].created_at)
    assert US_TIME.fullmatch(stamp.replace("\u202f", " ")), stamp
    await until(lambda: stamp.replace("\u202f", " ") in thread.browser.document()
                .toPlainText().replace("\u202f", " "), 20,
                what="the newest message's time in the thread")

    await until(lambda: window.sync_status.synced_label.text(), 20, what="the last sync")
    synced = window.sync_status.synced_label.text().removeprefix("Synced ")
    assert locale_time(synced), synced

    await session.set_status(mine[0], "snoozed")  # no time: refused, so it stays listed
    dialog = OutboxDialog(session, window)
    qtbot.addWidget(dialog)
    dialog.show()
    await until(lambda: dialog.tree.topLevelItemCount() == 1, 20, what="the outbox list")
    created = dialog.tree.topLevelItem(0).text(COL_CREATED)
    assert locale_time(created), created  # was "12/7/25 7:46 PM"
    assert created == times.time_of_day(int(time.time() * 1000))
