"""Signing in as an agent does it: keys, focus and the way back in (issue 11, "Sign-in")."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog

from app.desk import Desk
from app.main import build_parser
from app.settings import DeskSettings
from app.signin import SignInDialog
from sync.engine import EngineState
from tests.app.conftest import DEMO_AGENT, until
from tests.app.test_startup import Attempts, _closed_port


async def _open_active(qtbot, dialog: QDialog) -> None:
    """Shown and active, as on a real screen (focus moves only in an active window)."""
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.activateWindow()
    await until(dialog.isActiveWindow, 5, what="the dialog to be active")


def _type_and_enter(text: str) -> None:
    """Keys go where the focus is, as an agent's do."""
    widget = QApplication.focusWidget()
    assert widget is not None
    QTest.keyClicks(widget, text)
    QTest.keyClick(widget, Qt.Key.Key_Return)


async def test_enter_always_means_sign_in_and_the_password_keeps_focus(qtbot, backend, qloop
                                                                       ) -> None:
    attempts = Attempts()
    dialog = SignInDialog(attempts)
    dialog.server_edit.setText(backend.url)
    dialog.email_edit.setText(DEMO_AGENT[0])
    await _open_active(qtbot, dialog)
    assert dialog.sign_in_button.isDefault() and not dialog.cancel_button.isDefault()
    dialog.password_edit.setFocus()

    _type_and_enter("wrong-password")
    await until(lambda: attempts.calls, 5, what="Enter to start a sign-in")
    assert QApplication.focusWidget() is dialog.password_edit  # not handed on to Cancel
    await until(lambda: not dialog.busy, 30, what="the attempt")
    assert dialog.isVisible()
    assert not dialog.cancel_button.isDefault() and dialog.sign_in_button.isDefault()
    assert QApplication.focusWidget() is dialog.password_edit
    # The error sits right under the password field, in the field's column.
    assert dialog.status_label.text() == "Wrong email or password."
    assert dialog.status_label.isVisible()
    field = dialog.password_edit.geometry()
    label = dialog.status_label.geometry()
    assert label.left() == field.left() and 0 <= label.top() - field.bottom() < 20
    assert dialog.password_edit.accessibleDescription() == "Wrong email or password."

    _type_and_enter(DEMO_AGENT[1])
    await until(lambda: dialog.result() == QDialog.DialogCode.Accepted, 30,
                what="the second Enter to sign in")
    assert len(attempts.calls) == 2


async def test_an_address_error_sits_under_the_address(qtbot, qloop) -> None:
    dialog = SignInDialog(Attempts())
    dialog.server_edit.setText(f"http://127.0.0.1:{_closed_port()}")
    dialog.email_edit.setText(DEMO_AGENT[0])
    await _open_active(qtbot, dialog)
    dialog.password_edit.setFocus()
    _type_and_enter("whatever")
    await until(lambda: dialog.status_label.text().startswith("The server could not be "
                                                              "reached."), 30)
    field = dialog.server_edit.geometry()
    label = dialog.status_label.geometry()
    assert label.left() == field.left() and 0 <= label.top() - field.bottom() < 20
    assert QApplication.focusWidget() is dialog.server_edit
    assert dialog.isVisible()


# --------------------------------------------------------------------------- the desk


def _desk(qapp: QApplication, data_dir: Path) -> Desk:
    return Desk(qapp, build_parser().parse_args(["--data-dir", str(data_dir)]),
                DeskSettings(), lambda _settings: None)


def _shown_sign_in_dialogs() -> list[SignInDialog]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, SignInDialog) and w.isVisible()]


async def test_cancel_on_the_welcome_sign_in_form_goes_back_to_the_welcome_screen(
        qtbot, qloop, qapp, tmp_path: Path) -> None:
    desk = _desk(qapp, tmp_path / "fresh")
    run = asyncio.ensure_future(desk.run())
    try:
        await until(lambda: getattr(desk, "_welcome_dialog", None) is not None
                    and desk._welcome_dialog.isVisible(), 10, what="the welcome screen")
        first_welcome = desk._welcome_dialog
        first_welcome.sign_in_button.click()
        await until(_shown_sign_in_dialogs, 10, what="the sign-in form")
        _shown_sign_in_dialogs()[0].cancel_button.click()
        await until(lambda: desk._welcome_dialog is not first_welcome
                    and desk._welcome_dialog.isVisible(), 10,
                    what="the welcome screen again")
        assert not run.done()
        desk._welcome_dialog.quit_button.click()  # Quit there still quits
        assert await asyncio.wait_for(run, 10) == 0
    finally:
        if not run.done():
            desk._finish(0)
            await run


async def test_the_first_sign_in_without_a_keyring_asks_for_the_password_once(
        qtbot, backend, qloop, qapp, tmp_path: Path) -> None:
    """The tests' keyring is the null one: tokens live in memory only, as on a desktop
    without a secure keyring."""
    desk = _desk(qapp, tmp_path / "fresh")
    run = asyncio.ensure_future(desk.run())
    asked: list[SignInDialog] = []
    try:
        await until(lambda: getattr(desk, "_welcome_dialog", None) is not None
                    and desk._welcome_dialog.isVisible(), 10, what="the welcome screen")
        desk._welcome_dialog.sign_in_button.click()
        await until(_shown_sign_in_dialogs, 10, what="the sign-in form")
        dialog = _shown_sign_in_dialogs()[0]
        asked.append(dialog)
        dialog.server_edit.setText(backend.url)
        dialog.email_edit.setText(DEMO_AGENT[0])
        dialog.password_edit.setText(DEMO_AGENT[1])
        dialog.submit()
        await until(lambda: desk.window is not None, 30, what="the window")
        qtbot.addWidget(desk.window)

        def synced() -> bool:
            for shown in _shown_sign_in_dialogs():
                if shown not in asked:
                    asked.append(shown)
            return desk.session.status.state is EngineState.UP_TO_DATE

        await until(synced, 30, what="the first sync")
        assert len(asked) == 1 and desk._sign_in_dialog is None
        assert desk.session.status.credentials_secure is False  # (the case at hand)
    finally:
        desk._finish(0)
        assert await run == 0
