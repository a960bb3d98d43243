"""The desk's life: pick a workspace, open it, show the window, shut down cleanly.

Start-up never waits on the network: the window opens on the local mirror; signing in and
syncing happen beside it — they start once the inbox has painted its first rows (the window
asks the session to connect then; the demo workspace, whose backend this process has just
started, connects and signs in first). A second start for the same workspace focuses the
running desk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from app import tasks
from app.session import DeskSession
from app.settings import DeskSettings
from sync.status import EngineState, EngineStatus
from sync.store import OutboxUnreadable
from sync.workspace import WorkspaceConfig, default_data_dir

log = logging.getLogger("relaydesk.desk")


class Desk(QObject):
    def __init__(self, app: QApplication, args: argparse.Namespace, settings: DeskSettings,
                 save_settings: Callable[[DeskSettings], None]) -> None:
        super().__init__()
        self.app = app
        self.args = args
        self.settings = settings
        self.save_settings = save_settings
        self.window = None
        self.session: DeskSession | None = None
        self.demo = None
        self.instance = None
        self._quit: asyncio.Future[int] | None = None
        self._sign_in_dialog: QDialog | None = None
        self._demo_account: tuple[str, str] | None = None  # the demo signs in by itself
        self._last_state: EngineState | None = None  # the state _watch_sign_in saw last

    # ------------------------------------------------------------------ run

    async def run(self) -> int:
        self._quit = asyncio.get_running_loop().create_future()
        self.app.aboutToQuit.connect(lambda: self._finish(0))
        self._handle_signals()
        try:
            code = await self._start()
            if code is not None:
                return code
            return await self._quit
        finally:
            await self.shutdown()

    def _handle_signals(self) -> None:
        """Ctrl+C / SIGTERM close the desk like the window's Quit (drafts flushed, outbox
        kept); a short timer lets Python run its signal handlers while Qt is idle."""
        def stop(_signum: int, _frame: object) -> None:
            QTimer.singleShot(0, lambda: self._finish(0))

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                signal.signal(sig, stop)
        self._signal_timer = QTimer(self)
        self._signal_timer.start(250)
        self._signal_timer.timeout.connect(lambda: None)

    def _finish(self, code: int) -> None:
        if self._quit is not None and not self._quit.done():
            self._quit.set_result(code)

    async def _start(self) -> int | None:
        """Open a workspace and the window; an exit code when there is nothing to show."""
        demo_role = self.args.demo_role or ("agent" if self.args.demo else None)
        data_dir = (self.args.data_dir or default_data_dir()).expanduser()
        config = None if demo_role else WorkspaceConfig.load(data_dir)
        if demo_role is not None:
            return await self._open_demo(demo_role)
        if config is None:
            return await self._first_start(data_dir)
        return await self._open_server(data_dir, config)

    async def _first_start(self, data_dir: Path) -> int | None:
        """No workspace yet: the welcome screen until the agent opens one or quits (Cancel on
        its sign-in form comes back to it)."""
        while True:
            choice = await self._welcome()
            if choice is None:
                return 0
            kind, value = choice
            if kind == "demo":
                return await self._open_demo(value)
            if not self._claim(data_dir):
                return 0
            session = await self._sign_in_first(data_dir)
            if session is not None:
                self.session = session
                self._show_window(session)  # it starts the engine after the first paint
                return None
            self._release_claim()  # the agent may pick the demo next

    async def _welcome(self) -> tuple[str, str] | None:
        from app.signin import WelcomeDialog, show_and_wait

        dialog = WelcomeDialog()
        self._welcome_dialog = dialog
        if not await show_and_wait(dialog) or dialog.choice is None:
            return None
        if dialog.choice == WelcomeDialog.DEMO:
            return "demo", dialog.role
        return "sign_in", ""

    async def _open_demo(self, role: str) -> int | None:
        from app.demo import demo_data_dir, desk_data_dir, open_demo

        base = self.args.data_dir.expanduser() if self.args.data_dir else None
        # Claim first: a second start must not start a second backend on the same files.
        if not self._claim(desk_data_dir(demo_data_dir(base), role)):
            return 0
        self.demo, config, desk_dir, (email, password) = await open_demo(role, base)
        self._demo_account = (email, password)
        session = await self._open_session(desk_dir, config, connect=True,
                                           remember_sign_in=False)  # it signs in by itself
        if session is None:
            return 1
        if session.status.state is EngineState.SIGN_IN_REQUIRED:
            await session.sign_in(email, password)
        self._show_window(session)
        return None

    async def _open_server(self, data_dir: Path, config: WorkspaceConfig) -> int | None:
        if not self._claim(data_dir):
            return 0
        session = await self._open_session(data_dir, config, connect=False)
        if session is None:
            return 1
        # The engine comes after the first paint: a sign-in it finds missing then reaches
        # _watch_sign_in, like one that expires later.
        self._show_window(session)
        return None

    def _claim(self, data_dir: Path) -> bool:
        from app.single_instance import SingleInstance, key_for

        self.instance = SingleInstance(key_for(data_dir))
        if not self.instance.try_claim():
            log.info("another desk runs for %s: asked it to come forward", data_dir)
            return False
        self.instance.activated.connect(self._activate)
        return True

    def _release_claim(self) -> None:
        if self.instance is not None:
            self.instance.release()
            self.instance = None

    def _activate(self) -> None:
        log.info("a second start asked for this desk: bringing it forward")
        if self.window is not None:
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()

    async def _open_session(self, data_dir: Path, config: WorkspaceConfig, *, connect: bool,
                            remember_sign_in: bool = True) -> DeskSession | None:
        """The session with its local files open; ``connect``: its engine started too (else
        the window connects it after its first paint)."""
        session = DeskSession(data_dir, config, remember_sign_in=remember_sign_in)
        try:
            await session.open(connect=connect)
        except OutboxUnreadable as exc:
            from app.crash import describe_known_error
            from app.signin import show_and_wait

            # Opened and awaited: a static QMessageBox.critical() would nest an event loop
            # inside this coroutine.
            box = QMessageBox(QMessageBox.Icon.Critical, self.tr("Relaydesk"),
                              describe_known_error(exc) or str(exc))
            await show_and_wait(box)
            return None
        self.session = session
        return session

    async def _sign_in_first(self, data_dir: Path) -> DeskSession | None:
        """No workspace yet: sign in before anything is stored. The session that signed in
        is the one the window gets: without a secure keyring its tokens live only in it, and
        a fresh session would ask for the password a second time."""
        from app.signin import SignInDialog

        async def attempt(server_url: str, email: str, password: str) -> DeskSession:
            config = WorkspaceConfig(server_url.rstrip("/"), email.strip())
            session = DeskSession(data_dir, config)
            try:
                await session.open(start=False)
                await session.sign_in(email, password)
                config.agent_id = session.agent_id
                await tasks.run(config.save, data_dir)
            except BaseException:  # a failed or abandoned attempt leaves nothing open
                await session.close()
                raise
            return session

        dialog = SignInDialog(attempt)
        self._sign_in_dialog = dialog
        try:
            return await dialog.ask()
        finally:
            self._sign_in_dialog = None
            dialog.deleteLater()

    def _ask_sign_in(self, session: DeskSession) -> None:
        from app.signin import SignInDialog

        if self._sign_in_dialog is not None:  # asked again: the one already open comes up
            self._sign_in_dialog.raise_()
            self._sign_in_dialog.activateWindow()
            return
        dialog = SignInDialog(lambda _url, email, password: session.sign_in(email, password),
                              config=session.config, parent=self.window)
        dialog.finished.connect(lambda _r: self._sign_in_closed(dialog))
        self._sign_in_dialog = dialog
        dialog.open()

    def _sign_in_closed(self, dialog: QDialog) -> None:
        if self._sign_in_dialog is dialog:
            self._sign_in_dialog = None
        dialog.deleteLater()

    def request_sign_in(self) -> None:
        """The agent asked to sign in (File → Sign in…, the status bar, F5): every time."""
        session = self.session
        if session is None:
            return
        if self._demo_account is not None:
            tasks.spawn(self._sign_in_demo(session, *self._demo_account), "demo-sign-in")
        else:
            self._ask_sign_in(session)

    async def _sign_in_demo(self, session: DeskSession, email: str, password: str) -> None:
        from sync.client import ApiError

        try:
            await session.sign_in(email, password)
        except ApiError as exc:  # the status bar keeps saying "Sign-in required"
            log.warning("signing in to the demo workspace failed: %s", exc.message)

    def _show_window(self, session: DeskSession) -> None:
        from app.window import MainWindow

        self.window = MainWindow(session, self.settings, self.save_settings)
        self.window.closed.connect(lambda: self._finish(0))
        self.window.signInRequested.connect(self.request_sign_in)
        self.window.show()
        log.info("desk window open for %s", session.config.email)
        session.statusChanged.connect(self._watch_sign_in)

    def _watch_sign_in(self, status: EngineStatus) -> None:
        """Ask once when a sign-in becomes necessary; after a Cancel, only when the agent
        asks (``request_sign_in``): the status changes often, and must not re-open it."""
        became = (status.state is EngineState.SIGN_IN_REQUIRED
                  and self._last_state is not EngineState.SIGN_IN_REQUIRED)
        self._last_state = status.state
        if became and self.session is not None and self.demo is None:
            self._ask_sign_in(self.session)

    # ------------------------------------------------------------------ shutdown

    async def shutdown(self) -> None:
        """Cancel work, close the HTTP client, the databases and the demo backend, then end
        the general worker pool."""
        if self.window is not None:
            drafts = getattr(self.window, "drafts", None)
            if drafts is not None:
                await drafts.flush()
                drafts.close()
        if self.session is not None:
            await self.session.close()
            self.session = None
        await tasks.cancel_all()
        if self.demo is not None:
            await self.demo.stop()
            self.demo = None
        if self.instance is not None:
            self.instance.release()
        tasks.shutdown_workers()  # idle by now: everything above has been awaited
        log.info("desk closed cleanly")
