"""The first screens: the welcome choice (demo or your team's server) and the sign-in dialog.

Neither dialog runs a nested event loop: callers ``await show_and_wait(dialog)`` (or
``SignInDialog.ask()``), which opens it window-modal and awaits its ``finished`` signal.
The sign-in dialog knows nothing about sessions: it calls an injected coroutine
``attempt(server_url, email, password)`` and turns what goes wrong into a sentence.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QCoreApplication, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QCommandLinkButton,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.tasks import spawn
from sync.client import ApiError, ServerBusy, ServerFailed, Unreachable
from sync.workspace import WorkspaceConfig

# A plain name lupdate recognises (an alias called ``tr`` would be read as self.tr).
translate = QCoreApplication.translate

log = logging.getLogger("relaydesk.signin")

Attempt = Callable[[str, str, str], Awaitable[Any]]


async def show_and_wait(dialog: QDialog) -> int:
    """Open ``dialog`` (no nested loop) and wait until it is finished; returns its result."""
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not future.done():
            future.set_result(result)

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await future
    finally:
        dialog.finished.disconnect(finished)


def normalize_server_url(text: str) -> str | None:
    """``https://host[:port][/path]`` without a trailing slash, or None when it cannot be a
    server address. A bare host name means https."""
    text = text.strip()
    if not text:
        return None
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        return None
    return text.rstrip("/")


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


def sign_in_error_text(exc: BaseException) -> str:
    """The sentence an agent reads when signing in failed with ``exc``."""
    tls = _ssl_error(exc)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return translate(
            "SignIn",
            "The server's certificate could not be verified. Check the address, or ask "
            "your IT team to install the certificate on this computer.",
        )
    if tls is not None:
        return translate(
            "SignIn",
            "A secure connection to the server could not be set up. Check the address "
            "(http:// or https://) and the port.",
        )
    if isinstance(exc, Unreachable):
        return translate(
            "SignIn",
            "The server could not be reached. Check the address and your network connection.",
        )
    if isinstance(exc, ApiError):
        if exc.status == 401:
            return translate("SignIn", "Wrong email or password.")
        if exc.status == 429:
            return translate(
                "SignIn", "Too many failed attempts. Wait a few minutes, then try again."
            )
        if exc.status in (404, 405):
            return translate("SignIn", "There is no Relaydesk server at this address.")
        if isinstance(exc, ServerBusy | ServerFailed):
            return translate("SignIn", "The server has a problem right now. Try again in a moment.")
        return exc.message  # the server's own sentence (e.g. an account that is disabled)
    return translate("SignIn", "Sign-in failed: {error}").format(
        error=str(exc) or type(exc).__name__
    )


# ---------------------------------------------------------------------------- welcome


class WelcomeDialog(QDialog):
    """Shown when no workspace is configured: the demo, or your team's server."""

    DEMO = "demo"
    SIGN_IN = "sign_in"

    demoChosen = Signal(str)  # role: "agent" | "trainee" | "supervisor"
    signInChosen = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choice: str | None = None
        self.role = "agent"
        self.setWindowTitle(self.tr("Welcome to Relaydesk"))
        self.setMinimumWidth(480)

        title = QLabel(self.tr("Relaydesk"))
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        title.setFont(font)
        blurb = QLabel(
            self.tr("One inbox for every channel your customers write on, online or offline.")
        )
        blurb.setWordWrap(True)

        self.demo_button = QCommandLinkButton(
            self.tr("Open the demo workspace"),
            self.tr("A sample team with real conversations, on this computer. No network needed."),
        )
        self.demo_button.setAccessibleName(self.tr("Open the demo workspace"))
        self.demo_button.setToolTip(self.tr("Start a local demo server and sign in to it"))
        self.role_combo = QComboBox()
        for label, role in (
            (self.tr("Agent"), "agent"),
            (self.tr("Trainee"), "trainee"),
            (self.tr("Supervisor"), "supervisor"),
        ):
            self.role_combo.addItem(label, role)
        self.role_combo.setAccessibleName(self.tr("Demo role"))
        self.role_combo.setToolTip(self.tr("Which demo account to sign in as"))
        role_label = QLabel(self.tr("&Role:"))
        role_label.setBuddy(self.role_combo)
        role_row = QHBoxLayout()
        role_row.addSpacing(32)
        role_row.addWidget(role_label)
        role_row.addWidget(self.role_combo)
        role_row.addStretch(1)

        self.sign_in_button = QCommandLinkButton(
            self.tr("Sign in to your team's server"),
            self.tr("Use the address, email and password your team lead gave you."),
        )
        self.sign_in_button.setAccessibleName(self.tr("Sign in to your team's server"))
        self.sign_in_button.setToolTip(self.tr("Connect to your team's Relaydesk server"))

        buttons = QDialogButtonBox()
        self.quit_button = buttons.addButton(
            self.tr("Quit"), QDialogButtonBox.ButtonRole.RejectRole
        )
        self.quit_button.setAccessibleName(self.tr("Quit"))
        self.quit_button.setToolTip(self.tr("Close Relaydesk"))
        self.quit_button.setAutoDefault(False)  # Enter is for the choice that has focus
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(blurb)
        layout.addSpacing(8)
        layout.addWidget(self.demo_button)
        layout.addLayout(role_row)
        layout.addSpacing(4)
        layout.addWidget(self.sign_in_button)
        layout.addStretch(1)
        layout.addSpacing(8)
        layout.addWidget(buttons)

        self.demo_button.clicked.connect(self._choose_demo)
        self.sign_in_button.clicked.connect(self._choose_sign_in)

    def sizeHint(self) -> QSize:
        """Just as tall as the content at the dialog's width (the command links' own hint
        is for a narrower width, where their descriptions take more lines)."""
        hint = super().sizeHint()
        width = max(hint.width(), self.minimumWidth())
        layout = self.layout()
        if layout is not None and layout.hasHeightForWidth():
            return QSize(width, layout.totalHeightForWidth(width))
        return QSize(width, hint.height())

    def _choose_demo(self) -> None:
        self.choice, self.role = self.DEMO, self.role_combo.currentData()
        self.demoChosen.emit(self.role)
        self.accept()

    def _choose_sign_in(self) -> None:
        self.choice = self.SIGN_IN
        self.signInChosen.emit()
        self.accept()


# ---------------------------------------------------------------------------- sign-in


class SignInDialog(QDialog):
    """Server URL, email, password. On success ``outcome`` holds what ``attempt`` returned,
    ``signedIn`` is emitted and the dialog is accepted."""

    signedIn = Signal(object)

    def __init__(
        self, attempt: Attempt, config: WorkspaceConfig | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._attempt = attempt
        self._task: asyncio.Task[Any] | None = None
        self.outcome: Any = None
        self.setWindowTitle(self.tr("Sign in to Relaydesk"))
        self.setMinimumWidth(420)

        self.server_edit = QLineEdit(config.server_url if config else "")
        self.server_edit.setPlaceholderText("https://relaydesk.example.com")
        self.server_edit.setAccessibleName(self.tr("Server address"))
        self.server_edit.setToolTip(self.tr("The address of your team's Relaydesk server"))
        self.email_edit = QLineEdit(config.email if config else "")
        self.email_edit.setPlaceholderText(self.tr("you@example.com"))
        self.email_edit.setAccessibleName(self.tr("Email"))
        self.email_edit.setToolTip(self.tr("The email address of your Relaydesk account"))
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setAccessibleName(self.tr("Password"))
        self.password_edit.setToolTip(self.tr("Your Relaydesk password"))

        self.status_label = QLabel()
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)  # may hold a server sentence
        self.status_label.setWordWrap(True)
        self.status_label.setObjectName("signInStatus")
        self.status_label.setAccessibleName(self.tr("Sign-in status"))
        # Readable on light and dark palettes; the theme may restyle #signInStatus[error].
        self.status_label.setStyleSheet('QLabel[error="true"] { color: #d13438; }')
        self.status_label.hide()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(6)
        self.busy_bar.hide()

        buttons = QDialogButtonBox()
        self.sign_in_button = QPushButton(self.tr("Sign in"))
        self.sign_in_button.setAccessibleName(self.tr("Sign in"))
        self.sign_in_button.setToolTip(self.tr("Sign in with this address, email and password"))
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAccessibleName(self.tr("Cancel"))
        self.cancel_button.setToolTip(self.tr("Close without signing in"))
        # Focus (say, after the fields were locked while signing in) must never make Cancel
        # the button Enter presses.
        self.cancel_button.setAutoDefault(False)
        buttons.addButton(self.sign_in_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_in_button.clicked.connect(self.submit)
        self.cancel_button.clicked.connect(self.reject)

        self._form = QFormLayout()
        self._form.addRow(self.tr("&Server:"), self.server_edit)
        self._form.addRow(self.tr("&Email:"), self.email_edit)
        self._form.addRow(self.tr("&Password:"), self.password_edit)
        self._status_spacer = QLabel()  # the empty label column of the status row
        layout = QVBoxLayout(self)
        layout.addLayout(self._form)
        layout.addWidget(self.busy_bar)
        layout.addWidget(buttons)
        self._place_status(self.password_edit)
        # Only now, with the button in this dialog: a default set before it had a dialog is
        # forgotten, and the dialog then makes its first auto-default button (Cancel) default.
        self.sign_in_button.setDefault(True)

        first_empty = next(
            (e for e in (self.server_edit, self.email_edit) if not e.text()), self.password_edit
        )
        first_empty.setFocus()

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def ask(self) -> Any | None:
        """Open the dialog and wait: ``attempt``'s result after a sign-in, else None."""
        result = await show_and_wait(self)
        return self.outcome if result == QDialog.DialogCode.Accepted else None

    def submit(self) -> None:
        """Check the fields, then try to sign in in the background."""
        if self.busy:
            return
        url = normalize_server_url(self.server_edit.text())
        email = self.email_edit.text().strip()
        if url is None:
            self._show_error(
                self.tr("Enter the server address, like https://relaydesk.example.com."),
                self.server_edit,
            )
            return
        if "@" not in email:
            self._show_error(self.tr("Enter the email address of your account."), self.email_edit)
            return
        if not self.password_edit.text():
            self._show_error(self.tr("Enter your password."), self.password_edit)
            return
        self.server_edit.setText(url)
        for edit in (self.server_edit, self.email_edit, self.password_edit):
            edit.setAccessibleDescription("")  # the last error is no longer news
        self._set_busy(True)
        self._show_status(self.tr("Signing in…"), error=False)
        self._task = spawn(self._run(url, email, self.password_edit.text()), name="sign-in")

    async def _run(self, url: str, email: str, password: str) -> None:
        try:
            outcome = await self._attempt(url, email, password)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, ApiError):
                log.info("sign-in to %s failed: %s (%s)", url, type(exc).__name__, exc.status)
            else:
                log.warning("sign-in to %s failed unexpectedly", url, exc_info=exc)
            self._set_busy(False)
            self.password_edit.clear()
            address_problem = isinstance(exc, Unreachable) or getattr(exc, "status", 0) in (
                404,
                405,
            )
            self._show_error(
                sign_in_error_text(exc), self.server_edit if address_problem else self.password_edit
            )
            return
        self._set_busy(False)
        self.password_edit.clear()
        self.outcome = outcome
        self.signedIn.emit(outcome)
        self.accept()

    def done(self, result: int) -> None:
        if self.busy and result != QDialog.DialogCode.Accepted:
            assert self._task is not None
            self._task.cancel()  # closing while signing in abandons the attempt
            self._set_busy(False)
        if result != QDialog.DialogCode.Accepted:
            self.password_edit.clear()
        super().done(result)

    # ------------------------------------------------------------------ state

    def _set_busy(self, busy: bool) -> None:
        # Read-only, not disabled: a disabled field hands its focus on (to Cancel), and the
        # agent retyping the password after an error would type into nothing.
        for edit in (self.server_edit, self.email_edit, self.password_edit):
            edit.setReadOnly(busy)
        self.sign_in_button.setEnabled(not busy)
        self.busy_bar.setVisible(busy)
        self.sign_in_button.setText(self.tr("Signing in…") if busy else self.tr("Sign in"))

    def _place_status(self, field: QLineEdit) -> None:
        """Put the status line in the row right under ``field`` (the one it is about)."""
        form = self._form
        row, _role = form.getWidgetPosition(self.status_label)
        if row >= 0:
            form.takeRow(row)  # the widgets stay ours: inserted again just below
        target, _role = form.getWidgetPosition(field)
        form.insertRow(target + 1, self._status_spacer, self.status_label)
        form.setRowVisible(target + 1, not self.status_label.isHidden())

    def _show_status(self, text: str, *, error: bool, field: QLineEdit | None = None) -> None:
        self._place_status(field or self.password_edit)
        self.status_label.setProperty("error", error)
        self.status_label.style().unpolish(self.status_label)
        self.status_label.style().polish(self.status_label)
        self.status_label.setText(text)
        self.status_label.show()
        self._form.setRowVisible(self.status_label, True)

    def _show_error(self, text: str, focus: QLineEdit) -> None:
        self._show_status(text, error=True, field=focus)
        focus.setAccessibleDescription(text)
        focus.setFocus()
