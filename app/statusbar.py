"""The status bar's sync widget and the offline banner, both fed by ``EngineStatus``.

The engine's ``message`` is English and for logs; what the agent reads here is a short
translated phrase for the state. The message only appears as error detail and in tooltips.
"""

from __future__ import annotations

import time

from PySide6.QtCore import (
    QEvent,
    Qt,
    QTimer,
    Signal,
    SignalInstance,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStyle,
    QWidget,
)

from app import theme, times
from app.widgets import plain_tooltip
from sync.status import EngineState, EngineStatus

_ERROR_DETAIL_CHARS = 60


class SyncStatusWidget(QWidget):
    """Connection state, bootstrap progress, outbox counts, last sync; for addPermanentWidget."""

    outboxRequested = Signal()
    signInRequested = Signal()  # "Sign-in required" was clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._status: EngineStatus | None = None
        # Whether a sign-in kept only for the session is worth a word (not for the demo,
        # which signs in by itself at each start).
        self.keyring_matters = True
        self._retry_deadline: float | None = None

        self.state_label = QLabel(self)
        self.state_label.setTextFormat(Qt.TextFormat.PlainText)
        self.state_label.setAccessibleName(self.tr("Connection"))
        # Where the state is "Sign-in required", the state is a button that asks for it.
        self.sign_in_button = self._flat_button(self.tr("Sign in to sync again"),
                                                self.signInRequested)
        self.sign_in_button.setAccessibleName(self.tr("Sign in"))
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setMaximumWidth(120)
        self.progress_bar.setMaximumHeight(14)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setAccessibleName(self.tr("Download progress"))
        self.progress_bar.hide()

        self.pending_button = self._flat_button(self.tr("Show what is waiting to be sent"),
                                                self.outboxRequested)
        self.pending_button.setAccessibleName(self.tr("Pending changes"))
        self.failed_button = self._flat_button(self.tr("Show what the server refused, with "
                                                       "the reasons"), self.outboxRequested)
        self.failed_button.setAccessibleName(self.tr("Failed changes"))

        self.synced_label = QLabel(self)
        self.synced_label.setAccessibleName(self.tr("Last sync"))
        self.keyring_label = QLabel(self.tr("Session-only sign-in"), self)
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.keyring_label.setToolTip(self.tr("Secure keyring unavailable: sign-in kept for "
                                              "this session only."))
        self.keyring_label.setAccessibleName(self.keyring_label.toolTip())
        self._keyring_icon = QLabel(self)
        self._keyring_icon.setPixmap(icon.pixmap(12, 12))
        self._keyring_icon.setToolTip(self.keyring_label.toolTip())
        self.keyring_label.hide()
        self._keyring_icon.hide()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        for w in (self._keyring_icon, self.keyring_label, self.pending_button,
                  self.failed_button, self.progress_bar, self.state_label,
                  self.sign_in_button):
            layout.addWidget(w)
        layout.addSpacing(12)
        layout.addWidget(self.synced_label)
        layout.addStretch(1)  # the bar may give this widget its width: keep it all together

        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._refresh_phrase)

    def _flat_button(self, tooltip: str, clicked: SignalInstance) -> QPushButton:
        button = QPushButton(self)
        button.setFlat(True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        button.setToolTip(tooltip)
        button.setStyleSheet("QPushButton { padding: 0 4px; border: none; }")
        button.clicked.connect(clicked)
        button.hide()
        return button

    # ------------------------------------------------------------------ public API

    def update_status(self, status: EngineStatus) -> None:
        self._status = status
        self._retry_deadline = (time.monotonic() + status.retry_in_s
                                if status.retry_in_s is not None else None)
        bootstrapping = status.state is EngineState.BOOTSTRAPPING
        self.progress_bar.setVisible(bootstrapping)
        if bootstrapping and status.progress is not None:
            self.progress_bar.setValue(round(status.progress.fraction() * 100))
        self._refresh_phrase()
        if self._retry_deadline is not None:
            self._tick.start()
        else:
            self._tick.stop()
        self.state_label.setToolTip(plain_tooltip(status.message))

        self.pending_button.setText(self.tr("{n} pending").format(n=status.pending))
        self.pending_button.setVisible(status.pending > 0)
        self.failed_button.setText(self.tr("{n} failed").format(n=status.rejected))
        sheet = ("QPushButton { padding: 0 4px; border: none; color: "
                 + theme.color("failed").name() + "; }")
        if sheet != self.failed_button.styleSheet():  # follows a light/dark switch
            self.failed_button.setStyleSheet(sheet)
        self.failed_button.setVisible(status.rejected > 0)

        if status.last_sync_at:
            short = times.date_time_text(status.last_sync_at)
            if status.state in (EngineState.UP_TO_DATE, EngineState.SYNCING):
                self.synced_label.setText(self.tr("Synced {time}").format(time=short))
            else:  # offline, an error, signed out: how old what the desk shows is
                self.synced_label.setText(self.tr("Last sync {time}").format(time=short))
            self.synced_label.setToolTip(times.full_text(status.last_sync_at))
        self.synced_label.setVisible(bool(status.last_sync_at))

        insecure = self.keyring_matters and not status.credentials_secure
        self.keyring_label.setVisible(insecure)
        self._keyring_icon.setVisible(insecure)

    def state_text(self) -> str:
        return self.state_label.text()

    # ------------------------------------------------------------------ phrases

    def _retry_seconds(self) -> int | None:
        if self._retry_deadline is None:
            return None
        return max(0, round(self._retry_deadline - time.monotonic()))

    def _refresh_phrase(self) -> None:
        status = self._status
        if status is None:
            return
        self.state_label.setText(self.phrase(status, self._retry_seconds()))
        asking = status.state is EngineState.SIGN_IN_REQUIRED
        self.sign_in_button.setText(self.state_label.text())
        self.sign_in_button.setVisible(asking)
        self.state_label.setVisible(not asking)
        if self._retry_deadline is not None and time.monotonic() > self._retry_deadline:
            self._tick.stop()

    def phrase(self, status: EngineStatus, retry_s: int | None = None) -> str:
        """The short, translated sentence for a state."""
        state = status.state
        if state is EngineState.UP_TO_DATE:
            return self.tr("Online · up to date")
        if state is EngineState.SYNCING:
            return self.tr("Syncing…")
        if state is EngineState.CONNECTING:
            return self.tr("Connecting…")
        if state is EngineState.BOOTSTRAPPING:
            pct = round(status.progress.fraction() * 100) if status.progress else 0
            return self.tr("Downloading workspace {pct}%").format(pct=pct)
        if state is EngineState.OFFLINE:
            if retry_s:
                return self.tr("Offline — retrying in {s} s").format(s=retry_s)
            return self.tr("Offline — retrying…")
        if state is EngineState.SIGN_IN_REQUIRED:
            return self.tr("Sign-in required")
        problem = {
            "server_busy": self.tr("Server busy — retrying"),
            "server_failed": self.tr("Server error — retrying"),
            "refused": self.tr("The server refused to sync — retrying later"),
            "resync_loop": self.tr("The server keeps asking for a full download — "
                                   "retrying later"),
            "bad_answer": self.tr("Unreadable answer from the server — retrying"),
            "unexpected": self.tr("Syncing failed unexpectedly — retrying"),
        }.get(status.problem or "")
        if problem is not None:
            return problem  # the server's English stays in the tooltip, for an admin
        detail = status.message
        if len(detail) > _ERROR_DETAIL_CHARS:
            detail = detail[:_ERROR_DETAIL_CHARS - 1] + "…"
        return self.tr("Error: {message}").format(message=detail)


class OfflineBanner(QFrame):
    """One quiet line above the inbox while the desk cannot reach the server."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("offlineBanner")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAccessibleName(self.tr("Connection notice"))
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        icon = QLabel(self)
        icon.setPixmap(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MessageBoxInformation).pixmap(14, 14))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 3, 8, 3)
        layout.addWidget(icon)
        layout.addWidget(self.label, 1)
        self._apply_colour()
        self.hide()

    def _apply_colour(self) -> None:
        sheet = "#offlineBanner { background: " + theme.color("banner_offline").name() + "; }"
        if sheet != self.styleSheet():  # (setting it causes a palette change event itself)
            self.setStyleSheet(sheet)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_colour()  # light/dark switched
        super().changeEvent(event)

    def update_status(self, status: EngineStatus) -> None:
        if status.state is EngineState.OFFLINE:
            text = self.tr("You're offline. Replies and changes are saved and will be sent "
                           "when the connection returns.")
        elif status.state is EngineState.ERROR:
            text = self.tr("Syncing has a problem. Replies and changes are saved and will be "
                           "sent once it recovers.")
        else:
            self.hide()
            return
        self.label.setText(text)
        self.setToolTip(plain_tooltip(status.message))
        self.show()
