"""The main window's own parts: its title, the status bar's word on the keyring, Help → About
and the shortcut sheet."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication, QLabel, QMenu

from app.settings import DeskSettings
from app.window import MainWindow
from sync.engine import EngineState
from tests.app.conftest import until


def open_window(session, qtbot, size: tuple[int, int] = (1400, 800)) -> MainWindow:
    window = MainWindow(session, DeskSettings())
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    return window


async def test_the_title_names_the_agent_once(backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    # The platform adds the application's name: the title itself is who works here.
    assert window.windowTitle() == "Alex Morgan"
    assert session.config.email not in window.windowTitle()


async def test_the_demo_says_nothing_about_a_keyring_it_does_not_need(
        qtbot, qloop, qapp: QApplication, tmp_path: Path) -> None:
    """The demo signs in by itself at each start: a sign-in kept for the session is how it
    is meant to work (the tests' keyring is the null one, as on a desktop without one)."""
    from app.desk import Desk
    from app.main import build_parser

    desk = Desk(qapp, build_parser().parse_args(["--demo", "--data-dir", str(tmp_path)]),
                DeskSettings(), lambda _settings: None)
    run = asyncio.ensure_future(desk.run())
    try:
        await until(lambda: desk.window is not None, 60, what="the demo's window")
        qtbot.addWidget(desk.window)
        status = desk.window.sync_status
        await until(lambda: desk.session.status.state is EngineState.UP_TO_DATE, 60,
                    what="the demo's first sync")
        assert not desk.session.status.credentials_secure  # kept for the session only …
        assert not status.keyring_label.isVisible()  # … as the demo is meant to be
        assert not desk.session.credentials.secure and desk.session.credentials.backend_name \
            == "memory"  # the OS keyring was never asked
    finally:
        desk._finish(0)
        assert await run == 0


async def test_about_names_the_version_the_licences_and_where_things_are(
        backend, desks, qtbot, tmp_path, monkeypatch):
    from app.about import AboutDialog, version

    monkeypatch.setenv("RELAYDESK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("RELAYDESK_LOG_DIR", str(tmp_path / "logs"))
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    help_menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Help")
    about = next(a for a in help_menu.actions() if a.text() == "About Relaydesk")
    about.trigger()
    dialog = window.about_dialog
    assert isinstance(dialog, AboutDialog)
    await until(dialog.isVisible, what="the About box")
    shown = dialog.text()
    assert f"Relaydesk {version()}" in shown and version() != "0+unknown"
    parts = {dialog.parts.topLevelItem(n).text(0): dialog.parts.topLevelItem(n).text(2)
             for n in range(dialog.parts.topLevelItemCount())}
    assert parts["Qt"] == "LGPL-3.0-only" and "LGPL-3.0-only" in parts["PySide6_Essentials"]
    assert parts["qasync"] == "BSD-2-Clause" and parts["SQLAlchemy"] == "MIT"
    assert all(licence and licence != "?" for licence in parts.values()), parts
    for place in (session.data_dir, tmp_path / "config" / "settings.json", tmp_path / "logs"):
        assert str(place) in shown
    labels = [w.text() for w in dialog.findChildren(QLabel)]
    assert str(session.data_dir) in labels  # on screen, not only in the copy
    dialog.copy_button.click()
    assert QApplication.clipboard().text() == shown
    assert dialog.frameGeometry().height() <= 700 and dialog.width() <= 1024
    dialog.close()


@pytest.mark.parametrize("language", ["en", "ja"])
async def test_the_shortcut_sheet_shows_every_key_without_scrolling(
        language, qapp, backend, desks, qtbot, tmp_path):
    from app import i18n

    locale = QLocale()
    if language == "ja":  # the desk in Japanese, from a .qm built from the repo's .ts
        shutil.copy(i18n.TRANSLATIONS_DIR / "relaydesk_ja.ts", tmp_path)
        i18n.build_qm(tmp_path)
        assert i18n.install_translations(qapp, "ja", tmp_path) == "ja"
    try:
        session = await desks.session(backend)
        window = open_window(session, qtbot, (1024, 700))
        window.show_shortcuts()
        sheet = window.shortcut_sheet
        await until(sheet.isVisible, what="the shortcut sheet")
        table = sheet.table
        keys = [table.item(n, 0).text() for n in range(table.rowCount())]
        assert {"J", "K", "R", "Ctrl+Enter", "Esc", "/", "A", "E", "S", "Ctrl+Z", "F5",
                "?"} <= set(keys), keys
        rows = sum(table.rowHeight(n) for n in range(table.rowCount()))
        assert table.viewport().height() >= rows  # every row in view: nothing to scroll to
        assert table.verticalScrollBar().maximum() == 0
        width = sum(table.columnWidth(c) for c in range(table.columnCount()))
        assert table.viewport().width() >= width - 1
        assert sheet.frameGeometry().height() <= 700 - 40  # fits the smallest window
    finally:
        if language == "ja":
            i18n.install_translations(qapp, "en")
            QLocale.setDefault(locale)
