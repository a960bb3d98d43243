"""The main window's own parts: its title, the status bar's word on the keyring, Help → About
and the shortcut sheet."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtWidgets import QApplication

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
