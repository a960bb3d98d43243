"""Signing in as an agent does it: keys, focus and the way back in (issue 11, "Sign-in")."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog

from app.desk import Desk
from app.main import build_parser
from app.settings import DeskSettings
from app.signin import SignInDialog
from app.window import MainWindow
from sync import queries
from sync.engine import EngineState
from sync.queries import InboxFilter
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


async def _cancel(dialog: SignInDialog) -> None:
    dialog.cancel_button.click()
    await until(lambda: not dialog.isVisible(), 5, what="the dialog to close")


async def test_after_a_cancelled_prompt_each_way_back_in_asks_again_every_time(
        qtbot, backend, desks, qapp) -> None:
    first = await desks.session(backend)  # signed in and synced once
    data_dir = first.data_dir
    await desks.close(first)  # (tests keep tokens in memory: gone with it)
    desk = _desk(qapp, data_dir)
    run = asyncio.ensure_future(desk.run())
    try:
        await until(lambda: desk.window is not None, 20, what="the window")
        window = desk.window
        qtbot.addWidget(window)
        await until(_shown_sign_in_dialogs, 20, what="the prompt at start")
        await _cancel(_shown_sign_in_dialogs()[0])
        window.activateWindow()
        await until(window.isActiveWindow, 5, what="the window to be active")

        def file_menu_entry() -> QAction:
            return next(a for a in window.menuBar().actions()[0].menu().actions()
                        if a.text() == "Sign in…")

        for way, ask in (
            ("F5", lambda: QTest.keyClick(window, Qt.Key.Key_F5)),
            ("F5 again", lambda: QTest.keyClick(window, Qt.Key.Key_F5)),
            ("File → Sign in…", lambda: file_menu_entry().trigger()),
            ("the status bar", lambda: window.sync_status.sign_in_button.click()),
            ("the status bar again", lambda: window.sync_status.sign_in_button.click()),
            ("F5 once more", lambda: QTest.keyClick(window, Qt.Key.Key_F5)),
        ):
            ask()
            await until(_shown_sign_in_dialogs, 5, what=f"a prompt from {way}")
            await _cancel(_shown_sign_in_dialogs()[0])
            window.activateWindow()
            await until(window.isActiveWindow, 5, what="the window to be active")
        assert window.sync_status.sign_in_button.isVisible()
        assert window.sync_status.sign_in_button.text() == "Sign-in required"
        assert file_menu_entry().isEnabled()

        # Signing in from the last one: the status bar says the state again.
        window.sync_status.sign_in_button.click()
        await until(_shown_sign_in_dialogs, 5, what="the prompt")
        dialog = _shown_sign_in_dialogs()[0]
        dialog.password_edit.setText(DEMO_AGENT[1])
        dialog.submit()
        await until(lambda: desk.session.status.state is EngineState.UP_TO_DATE, 30,
                    what="syncing after signing in")
        assert not window.sync_status.sign_in_button.isVisible()
        assert window.sync_status.state_label.isVisible()
        assert not file_menu_entry().isEnabled()
    finally:
        desk._finish(0)
        assert await run == 0


def _window(session, qtbot) -> MainWindow:
    window = MainWindow(session, DeskSettings())
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    return window


async def _unread_conversation(session) -> str:
    ids = await session.read(queries.conversation_ids, InboxFilter(), queries.Sort.LAST_ACTIVITY,
                             session.agent_id)
    rows = await session.read(queries.conversation_rows, ids, int(time.time() * 1000))
    return next(cid for cid in ids if rows[cid].unread_count > 0)


async def test_sign_out_warns_about_unsent_work_keeps_it_and_hides_customer_data(
        qtbot, backend, desks, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RELAYDESK_CONFIG_DIR", str(tmp_path / "config"))
    session = await desks.session(backend, name="signout")
    window = _window(session, qtbot)
    await until(lambda: window.inbox_model.rowCount() > 0, 10, what="the inbox")
    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    window.open_conversation(mine[0])
    await until(lambda: window.conversation.row is not None, 10, what="a conversation")
    window.customer_dock.show()

    await asyncio.to_thread(backend.stop)  # the work below stays unsent
    text = f"Unsent when signing out {time.time_ns()}"
    await session.send_reply(mine[0], text)
    await session.add_tag(mine[0], "vip")
    await session.set_priority(mine[0], "high")
    await until(lambda: session.status.pending == 3, 10, what="three changes queued")

    window.act_sign_out.trigger()
    await until(lambda: window.sign_out_box is not None and window.sign_out_box.isVisible(), 5,
                what="the warning")
    box = window.sign_out_box
    assert "3 replies and changes are not sent yet" in box.text()
    assert "sent after you sign in again" in box.text()
    assert box.defaultButton() is box.button(box.StandardButton.Cancel)
    box.button(box.StandardButton.Cancel).click()  # changed their mind: still signed in
    await asyncio.sleep(0.2)
    assert not session.signed_out and window.inbox.isVisible()

    window.act_sign_out.trigger()
    await until(lambda: window.sign_out_box is not None and window.sign_out_box.isVisible(), 5,
                what="the warning again")
    sign_out = next(b for b in window.sign_out_box.buttons() if b.text() == "Sign out")
    sign_out.click()
    await until(lambda: session.signed_out, 10, what="signing out")
    await until(lambda: session.status.state is EngineState.SIGN_IN_REQUIRED, 10)

    # No customer data on screen, and no key reaches it.
    for widget in (window.inbox, window.conversation, window.customer, window.nav):
        assert not widget.isVisible()
    assert window.signed_out_page.isVisible()
    assert not window.act_next.isEnabled() and not window.act_reply.isEnabled()
    assert not window.act_outbox.isEnabled()
    # The work is kept, and nothing queues "mark read" for an agent who is not there (a
    # notification clicked…).
    kept = await session.read(queries.intents_for_review)
    assert {"add_tag", "send_message", "set_priority"} <= {i.name for i in kept}
    unread = await _unread_conversation(session)
    window.open_conversation(unread)
    assert await session.mark_read(unread) is None
    await asyncio.sleep(0.3)
    assert await session.read(queries.intents_for_review) == kept

    # A restart of a desk someone signed out of opens signed out too.
    window.close()
    await desks.close(session)
    session = await desks.session(backend, name="signout", sign_in=False)
    assert session.signed_out
    window = _window(session, qtbot)
    assert window.signed_out_page.isVisible() and not window.inbox.isVisible()

    # Signing in again brings it all back, and the queued work goes out.
    await asyncio.to_thread(backend.start)
    await session.sign_in(*DEMO_AGENT)
    assert not session.signed_out
    await until(lambda: window.inbox.isVisible(), 5, what="the inbox again")
    assert window.act_next.isEnabled()
    await until(lambda: session.status.pending == 0
                and session.status.state is EngineState.UP_TO_DATE, 30, what="the queue to land")
    row = (await session.read(queries.conversation_rows, [mine[0]], 0))[mine[0]]
    channel = next(c for c in session.directory.channels if c.id == row.channel_id)
    sent = await asyncio.to_thread(backend.outbound, channel.name)
    assert sum(1 for m in sent if m.get("body") == text) == 1
