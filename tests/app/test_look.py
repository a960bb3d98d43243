"""Japanese and the theme, as the agent meets them: timeline events in the agent's language,
channel icons that survive a live theme switch, and a language choice that says when it
applies."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QDateTime, QLocale, QTime
from PySide6.QtGui import QIcon, QPalette
from PySide6.QtWidgets import QApplication, QMenu

from app import i18n, theme, times
from app.labels import system_event_text
from app.settings import DeskSettings
from app.window import MainWindow
from protocol import events
from sync import queries
from sync.queries import InboxFilter
from tests.app.conftest import until

CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture
def japanese(qapp: QApplication, tmp_path: Path) -> Iterator[QApplication]:
    """The desk in Japanese from a .qm built from the repo's .ts; English again after."""
    locale = QLocale()
    ts = i18n.TRANSLATIONS_DIR / "relaydesk_ja.ts"
    shutil.copy(ts, tmp_path / ts.name)
    i18n.build_qm(tmp_path)
    assert i18n.install_translations(qapp, "ja", tmp_path) == "ja"
    yield qapp
    i18n.install_translations(qapp, "en")
    QLocale.setDefault(locale)


@pytest.fixture
def light_again(qapp: QApplication) -> Iterator[QApplication]:
    palette, sheet = QPalette(qapp.palette()), qapp.styleSheet()
    yield qapp
    theme.apply_theme(qapp, "light")
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)


def open_window(session, qtbot, settings: DeskSettings | None = None) -> MainWindow:
    window = MainWindow(session, settings or DeskSettings())
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    return window


def menu_action(window: MainWindow, menu_title: str, text: str):
    menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == menu_title)
    return next(a for a in menu.actions() if a.text() == text)


def lightness(icon: QIcon) -> list[int]:
    """How light each opaque pixel of the icon is, as a view draws it now."""
    image = icon.pixmap(16, 16).toImage()
    return [image.pixelColor(x, y).lightness() for x in range(image.width())
            for y in range(image.height()) if image.pixelColor(x, y).alpha() > 200]


async def test_timeline_events_speak_the_agents_language(japanese, backend, desks, qtbot):
    session = await desks.session(backend)
    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    cid = mine[0]
    snooze_to = int(time.time() * 1000) + 3_600_000
    await session.set_status(cid, "snoozed", snooze_to)
    await session.assign(cid, agent_id=None)
    await session.assign(cid, agent_id=session.agent_id)
    await until(lambda: session.status.pending == 0, 20, what="the changes to land")

    window = open_window(session, qtbot)
    window.open_conversation(cid)
    thread = window.conversation.thread

    def text() -> str:
        plain = thread.browser.document().toPlainText()
        return plain.replace("\u2068", "").replace("\u2069", "")

    me = session.me.name
    # Until when, in the agent's locale and time zone (the server wrote it in UTC).
    when = times.date_time_text(snooze_to // 60_000 * 60_000)
    await until(lambda: f"{me} が {when} までスヌーズしました" in text(), 20,
                what="the snooze with its time, in Japanese")
    assert f"{me} が自分に割り当てました" in text()  # not "… を {me} に割り当てました"
    assert "Snoozed until" not in text() and "Self-assigned" not in text()


def test_system_sentences_are_recognised_and_the_rest_is_kept(japanese) -> None:
    assert system_event_text(events.MOVED_TO_TEAM.format(team="Billing")) \
        == "チーム「Billing」に移動しました"
    assert system_event_text("Assigned to nobody by Dana Whitfield") \
        == "Dana Whitfield が未割り当てに戻しました"  # how an older server said it
    assert system_event_text(events.SMS_OPTED_OUT.format()).startswith("連絡先が SMS")
    assert system_event_text(events.SELF_ASSIGNED.format(by="Dana Whitfield")) \
        == "Dana Whitfield が自分に割り当てました"
    at = QDateTime(QDate(2031, 3, 4), QTime(9, 30)).toMSecsSinceEpoch()  # local time
    assert system_event_text(events.SNOOZED_UNTIL.format(until=events.instant(at), by="Dana")) \
        == "Dana が 2031年3月4日 9:30 までスヌーズしました"
    for unknown in ("Status set to archived by Ann", "Ticket merged into #4411", ""):
        assert system_event_text(unknown) == unknown


async def test_channel_icons_follow_a_live_theme_switch(light_again, backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    channel = session.directory.channels[0]
    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    window.open_conversation(mine[0])
    panel = window.customer.conversations
    await until(lambda: panel.topLevelItemCount() > 0, what="the customer's conversations")
    sidebar_icon = window.nav.item(f"channel:{channel.id}").icon(0)
    panel_icon = panel.topLevelItem(0).icon(0)
    assert max(lightness(sidebar_icon)) < 80 and max(lightness(panel_icon)) < 80

    menu_action(window, "Theme", "Dark").trigger()
    assert theme.is_dark(QApplication.instance())
    background = QApplication.palette().color(QPalette.ColorRole.Base)
    for where, item_icon in (("sidebar", window.nav.item(f"channel:{channel.id}").icon(0)),
                             ("customer panel", panel.topLevelItem(0).icon(0))):
        shades = lightness(item_icon)
        assert shades and min(shades) > 180, f"{where}: {shades} on {background.name()}"

    menu_action(window, "Theme", "Light").trigger()
    assert max(lightness(window.nav.item(f"channel:{channel.id}").icon(0))) < 80


async def test_choosing_a_language_says_when_it_applies(backend, desks, qtbot):
    session = await desks.session(backend)
    saved: list[DeskSettings] = []
    window = MainWindow(session, DeskSettings(), saved.append)
    qtbot.addWidget(window)
    window.show()
    menu_action(window, "Language", "日本語").trigger()
    assert saved and saved[-1].language == "ja"
    notice = window.language_notice
    await until(lambda: notice.isVisible(), what="the notice")
    assert "next time it starts" in notice.text()
    assert CJK.search(notice.informativeText()), notice.informativeText()  # for its reader
    notice.accept()
