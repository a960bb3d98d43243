"""What an agent sees when something goes wrong.

Known environment errors (disk full, database locked, server unreachable, damaged outbox,
permission denied) become a sentence and a next step; anything else opens the crash dialog
with the recent log and a copy button. Both open with ``open()`` (never a nested ``exec()``),
one at a time, from the event loop (the report is queued, so a paint or a thread can fail).
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QShowEvent, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import logs, tasks
from app.logs import RecentLog

log = logging.getLogger("relaydesk.crash")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_known_error(exc: BaseException) -> str | None:
    """A sentence and a next step for an error the agent (or an admin) can fix, else None."""
    from sync.client import Unreachable
    from sync.store import OutboxUnreadable

    tr = QCoreApplication
    for e in _chain(exc):
        text = str(e).lower()
        if (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "disk is full" in text:
            return tr.translate("KnownErrors", "The disk is full. Free some space, then try "
                                "again. Nothing you typed has been lost.")
        if "database is locked" in text and (
                isinstance(e, sqlite3.OperationalError) or type(e).__name__ == "OperationalError"):
            return tr.translate("KnownErrors", "Relaydesk's local database is busy in another "
                                "program. Close other copies of Relaydesk, then try again.")
        if isinstance(e, Unreachable):
            return tr.translate("KnownErrors", "The server cannot be reached. Check your network "
                                "connection. Your changes are kept and will be sent when it is "
                                "back.")
        if isinstance(e, OutboxUnreadable):
            return tr.translate("KnownErrors", "The outbox file is damaged, so unsent work cannot "
                                "be read. It was left in place: ask your administrator before "
                                "removing it.\n\n{detail}").format(detail=str(e))
        if isinstance(e, PermissionError) or (
                isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM)):
            path = e.filename or tr.translate("KnownErrors", "a file")
            return tr.translate("KnownErrors", "Relaydesk is not allowed to use {path}. Check "
                                "the folder's permissions, then try again.").format(path=path)
    return None


class CrashDialog(QDialog):
    """The unexpected error, the recent log, and a way to hand both to someone."""

    quitRequested = Signal()

    def __init__(self, summary: str, details: str, log_text: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Relaydesk: unexpected error"))
        self.summary, self.details = summary, details
        self.more = 0

        intro = QLabel(self.tr("Something went wrong. Your drafts and queued replies are kept. "
                               "Copy the details below and send them to your administrator."))
        intro.setWordWrap(True)
        self.summary_label = QLabel(summary)
        self.summary_label.setTextFormat(Qt.TextFormat.PlainText)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label.setAccessibleName(self.tr("Error"))
        font = self.summary_label.font()
        font.setBold(True)
        self.summary_label.setFont(font)

        self.log_view = QPlainTextEdit(log_text)
        self.log_view.setReadOnly(True)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log_view.setAccessibleName(self.tr("Recent log"))
        self.log_view.moveCursor(QTextCursor.MoveOperation.End)

        buttons = QDialogButtonBox()
        self.copy_button = QPushButton(self.tr("Copy to clipboard"))
        self.copy_button.setToolTip(self.tr("Copy the error and the recent log"))
        self.copy_button.setAccessibleName(self.tr("Copy to clipboard"))
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.quit_button = QPushButton(self.tr("Quit Relaydesk"))
        self.quit_button.setToolTip(self.tr("Close Relaydesk now"))
        self.quit_button.setAccessibleName(self.tr("Quit Relaydesk"))
        self.quit_button.clicked.connect(self._quit)
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.setToolTip(self.tr("Close this message and keep working"))
        self.close_button.setAccessibleName(self.tr("Close"))
        self.close_button.clicked.connect(self.reject)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.quit_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.close_button.setDefault(True)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.log_view, 1)
        layout.addWidget(buttons)
        self.resize(720, 460)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.log_view.ensureCursorVisible()  # the newest lines matter most
        self.close_button.setFocus()  # Enter must never quit

    def report_text(self) -> str:
        return (f"{self.summary}\n\n{self.details.rstrip()}\n\n"
                f"--- recent log ---\n{self.log_view.toPlainText()}\n")

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.report_text())
        self.copy_button.setText(self.tr("Copied"))

    def add_error(self, summary: str, details: str, log_text: str) -> None:
        """Another error while this one is shown: note it rather than stack dialogs."""
        self.more += 1
        self.details += f"\n\n{summary}\n{details}"
        more = (self.tr("(and 1 more error since)") if self.more == 1
                else self.tr("(and {n} more errors since)").format(n=self.more))
        self.summary_label.setText(f"{self.summary}\n{more}")
        self.log_view.setPlainText(log_text)
        self.log_view.moveCursor(QTextCursor.MoveOperation.End)

    def _quit(self) -> None:
        self.accept()
        self.quitRequested.emit()


class ErrorReporter(QObject):
    """Routes unhandled exceptions (Python, background tasks, threads) to one dialog."""

    _reported = Signal(object)

    def __init__(self, recent: RecentLog, parent_getter: Callable[[], QWidget | None],
                 on_quit: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.recent, self.parent_getter = recent, parent_getter
        self.on_quit = on_quit or QCoreApplication.quit
        self.dialog: CrashDialog | None = None
        self.message: QMessageBox | None = None
        self._reported.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self._previous = (sys.excepthook, threading.excepthook, tasks.on_error)

    def excepthook(self, etype: type[BaseException], value: BaseException,
                   tb: TracebackType | None) -> None:
        if issubclass(etype, KeyboardInterrupt):
            sys.__excepthook__(etype, value, tb)
            return
        log.error("unhandled exception", exc_info=(etype, value, tb))
        self._reported.emit(value)

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        log.error("unhandled exception in thread %s", getattr(args.thread, "name", "?"),
                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
        self._reported.emit(args.exc_value)

    def task_failed(self, exc: BaseException) -> None:
        self._reported.emit(exc)  # app.tasks has logged it

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook, tasks.on_error = self._previous

    def _show(self, exc: BaseException) -> None:
        try:
            self._present(exc)
        except Exception:  # a failing reporter must not feed itself its own errors
            log.exception("could not show the error dialog")

    def _present(self, exc: BaseException) -> None:
        known = describe_known_error(exc)
        if known is not None:
            self._show_known(known)
            return
        summary = logs.redact(f"{type(exc).__name__}: {exc}")
        details = logs.redact("".join(traceback.format_exception(exc)))
        if self.dialog is not None:
            self.dialog.add_error(summary, details, self.recent.text())
            return
        self.dialog = CrashDialog(summary, details, self.recent.text(), self.parent_getter())
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.quitRequested.connect(self.on_quit)
        self.dialog.finished.connect(self._dialog_closed)
        self.dialog.open()

    def _dialog_closed(self) -> None:
        self.dialog = None

    def _show_known(self, text: str) -> None:
        if self.message is not None:
            if self.message.text() != text:
                self.message.setText(text)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Relaydesk"), text,
                          QMessageBox.StandardButton.Ok, self.parent_getter())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.finished.connect(self._message_closed)
        self.message = box
        box.open()

    def _message_closed(self) -> None:
        self.message = None


def install_excepthook(recent: RecentLog, parent_getter: Callable[[], QWidget | None],
                       on_quit: Callable[[], None] | None = None) -> ErrorReporter:
    """Send every unhandled exception to the reporter; keep the returned object alive."""
    reporter = ErrorReporter(recent, parent_getter, on_quit)
    sys.excepthook = reporter.excepthook
    threading.excepthook = reporter.thread_hook
    tasks.on_error = reporter.task_failed
    return reporter
