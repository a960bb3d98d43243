"""Undo: what the agent just did to a conversation can be taken back while the toast shows it
(its Undo button, or Ctrl+Z).

An intent still in the outbox that no push has claimed is cancelled (``DeskSession.take_back``,
``sync.outbox.cancel``): it never leaves the desk. One that may have left (claimed by a push,
or applied) is reversed by its inverse, worked out from the row the agent saw when they acted
(``inverse_of``). A reply waits in the outbox for the agent's undo delay (``not_before``: kept
on disk, so a crash during the delay still sends it); taken back, its text returns to the
composer. Once it is due it goes out, and the toast no longer offers to undo it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAccessible, QAccessibleEvent, QEnterEvent, QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from app.session import DeskSession
from app.tasks import spawn
from protocol import intents
from protocol.names import MutationName
from sync.queries import ConversationRow

if TYPE_CHECKING:
    from app.conversation.composer import SendRequest

log = logging.getLogger("relaydesk.undo")

Intent = tuple[str, dict[str, Any]]  # (mutation name, arguments)
# A snooze put back must end in the future (the server refuses one already over): with less
# than this left, the conversation is opened again instead.
SNOOZE_MARGIN_MS = 60_000


@dataclass(frozen=True)
class Undoable:
    """One thing the agent did to a conversation, and how to take it back."""

    text: str  # what the toast says ("Conversation resolved")
    conversation_id: str
    intent_id: int  # the outbox intent to cancel while it has not left the desk
    inverse: Intent | None = None  # queued instead once it may have (None: nothing to undo)
    moves_on: bool = False  # resolved or snoozed: the desk opens the next conversation
    reply: SendRequest | None = None  # a held reply: its text goes back to the composer
    due_ms: int | None = None  # epoch ms: the held reply leaves the desk then (no undo after)


def inverse_of(name: str, args: Mapping[str, Any], before: ConversationRow,
               now_ms: int) -> Intent | None:
    """The intent that puts back what ``name(args)`` changes, from the conversation as the
    agent saw it (``before``); None when it changes nothing there. Its arguments are built
    through the intent's declared model, as every intent the desk queues."""
    cid = before.id
    if name == MutationName.SET_STATUS:
        if args["status"] == before.status and args.get("snoozed_until") == (
                before.snoozed_until if before.status == "snoozed" else None):
            return None
        if before.status == "snoozed":
            until = before.snoozed_until
            if until is not None and until > now_ms + SNOOZE_MARGIN_MS:
                return _intent(MutationName.SET_STATUS, conversation_id=cid,
                               status="snoozed", snoozed_until=until)
            return _intent(MutationName.SET_STATUS, conversation_id=cid, status="open")
        return _intent(MutationName.SET_STATUS, conversation_id=cid, status=before.status)
    if name == MutationName.ASSIGN:
        back: dict[str, Any] = {}
        if "agent_id" in args and args["agent_id"] != before.assignee_id:
            back["agent_id"] = before.assignee_id
        if args.get("team_id") and args["team_id"] != before.team_id:
            back["team_id"] = before.team_id
        return _intent(MutationName.ASSIGN, conversation_id=cid, **back) if back else None
    if name == MutationName.SET_PRIORITY:
        if args["priority"] == before.priority:
            return None
        return _intent(MutationName.SET_PRIORITY, conversation_id=cid, priority=before.priority)
    if name == MutationName.ADD_TAG:
        tag = args["tag"].strip()
        return None if tag in before.tags else _intent(MutationName.REMOVE_TAG,
                                                       conversation_id=cid, tag=tag)
    if name == MutationName.REMOVE_TAG:
        tag = args["tag"]
        return _intent(MutationName.ADD_TAG, conversation_id=cid,
                       tag=tag) if tag in before.tags else None
    return None


def _intent(name: MutationName, **values: Any) -> Intent:
    return name, intents.args(name, **values)


class UndoToast(QFrame):
    """A small bar at the bottom of the window: what was done, and Undo. It stays a few
    seconds (longer while the pointer is on it or it has the focus) and is announced to
    screen readers when it appears."""

    undoRequested = Signal()
    closed = Signal()  # it went away by itself or was dismissed

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("undoToast")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.button = QPushButton(self.tr("Undo"), self)
        self.button.setObjectName("undoButton")
        shortcut = QKeySequence(QKeySequence.StandardKey.Undo).toString(
            QKeySequence.SequenceFormat.NativeText)
        self.button.setToolTip(self.tr("Undo ({key})").format(key=shortcut))
        self.button.setAccessibleName(self.tr("Undo"))
        self.button.clicked.connect(self.undoRequested)
        self.button.installEventFilter(self)  # focused (Tab), it stays: see eventFilter
        self.close_button = QToolButton(self)
        self.close_button.setText("×")
        self.close_button.setAutoRaise(True)
        self.close_button.setAccessibleName(self.tr("Dismiss"))
        self.close_button.setToolTip(self.tr("Dismiss"))
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        layout.addWidget(self.close_button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self._left_ms = 0
        self._countdown: tuple[str, float] | None = None  # (text with {n}, monotonic due)
        self._tick = QTimer(self)
        self._tick.setInterval(250)
        self._tick.timeout.connect(self._update_countdown)
        parent.installEventFilter(self)
        self.hide()

    def show_undo(self, text: str, ms: int, countdown: str | None = None) -> None:
        """Offer Undo for ``ms``; ``countdown`` (with ``{n}``) says the seconds left."""
        self._countdown = (countdown, time.monotonic() + ms / 1000) if countdown else None
        self.button.show()
        self._show(countdown.format(n=round(ms / 1000)) if countdown else text, ms)
        if countdown:
            self._tick.start()

    def show_message(self, text: str, ms: int = 4000) -> None:
        """A short note without Undo (what an undo did)."""
        self._countdown = None
        self.button.hide()
        self._show(text, ms)

    def dismiss(self) -> None:
        self._timer.stop()
        self._tick.stop()
        if self.isVisible():
            self.hide()
            self.closed.emit()

    def _show(self, text: str, ms: int) -> None:
        self._tick.stop()
        self.label.setText(text)
        self.setAccessibleName(text)
        self._left_ms = ms
        self._timer.start(ms)
        self._place()
        self.show()
        self.raise_()
        QAccessible.updateAccessibility(QAccessibleEvent(self, QAccessible.Event.Alert))

    def _update_countdown(self) -> None:
        if self._countdown is None:
            return
        text, due = self._countdown
        left = max(0, round(due - time.monotonic()))
        self.label.setText(text.format(n=left))

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        self.adjustSize()
        width = min(max(self.sizeHint().width(), 320), max(200, parent.width() - 40))
        self.resize(width, self.sizeHint().height())
        bottom = parent.height() - 36  # above the status bar
        self.move((parent.width() - width) // 2, max(0, bottom - self.height()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self._place()
        elif watched is self.button and event.type() == QEvent.Type.FocusIn:
            self._hold()
        elif watched is self.button and event.type() == QEvent.Type.FocusOut:
            self._resume()
        return super().eventFilter(watched, event)

    # While the agent is on it (pointer or focus), it stays; a reply's countdown does not
    # wait (the reply leaves when it is due).
    def enterEvent(self, event: QEnterEvent) -> None:
        self._hold()
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._resume()
        super().leaveEvent(event)

    def _hold(self) -> None:
        if self._countdown is None and self._timer.isActive():
            self._left_ms = max(self._timer.remainingTime(), 1500)
            self._timer.stop()

    def _resume(self) -> None:
        if self._countdown is None and self.isVisible() and not self._timer.isActive():
            self._timer.start(self._left_ms)


class UndoManager(QObject):
    """The last thing the agent did, undoable while its toast shows (``undo()``)."""

    undone = Signal(object)  # Undoable: taken back or reversed
    replyTakenBack = Signal(object)  # SendRequest: a held reply that never left the desk

    SHOW_MS = 8000  # how long an action's Undo is offered
    # A held reply's Undo ends this much before it is due: an undo that late could lose the
    # race with the push and find the reply gone already.
    REPLY_MARGIN_MS = 300

    def __init__(self, session: DeskSession, window: QWidget) -> None:
        super().__init__(window)
        self.session = session
        self.toast = UndoToast(window)
        self.toast.undoRequested.connect(self.undo)
        self.toast.closed.connect(self._expired)
        session.signedOutChanged.connect(self._signed_out)
        self._item: Undoable | None = None

    def push(self, item: Undoable) -> None:
        """Offer to undo ``item`` (instead of what was offered before)."""
        self._item = item
        if item.reply is not None and item.due_ms is not None:
            left = item.due_ms - int(time.time() * 1000) - self.REPLY_MARGIN_MS
            self.toast.show_undo(item.text, max(0, left), countdown=item.text)  # text has {n}
        else:
            self.toast.show_undo(item.text, self.SHOW_MS)

    def available(self) -> Undoable | None:
        """What Undo would take back now (None: nothing)."""
        return self._item

    def undo(self) -> bool:
        """Take back what the toast offers; False when it offers nothing."""
        item, self._item = self._item, None
        if item is None:
            return False
        self.toast.dismiss()
        spawn(self._undo(item), "undo")
        return True

    def _expired(self) -> None:
        self._item = None

    def _signed_out(self, signed_out: bool) -> None:
        if signed_out:  # no customer data on screen, and nothing to undo from it
            self._item = None
            self.toast.dismiss()

    async def _undo(self, item: Undoable) -> None:
        if await self.session.take_back(item.intent_id):
            if item.reply is not None:
                self.replyTakenBack.emit(item.reply)
                # A template's choice and values are not kept: only typed text comes back.
                self.toast.show_message(
                    self.tr("Reply taken back: it is in the composer again.")
                    if item.reply.template is None else self.tr("Reply taken back."))
            else:
                self.toast.show_message(self.tr("Undone."))
        elif item.reply is not None:  # its time came first: it is on its way
            self.toast.show_message(self.tr("Too late to undo: the reply was sent."))
            return
        elif item.inverse is not None:
            # It may have reached the server: the inverse puts the conversation back.
            await self.session.enqueue(*item.inverse)
            self.toast.show_message(self.tr("Undone."))
        else:
            self.toast.show_message(self.tr("Undone."))
        self.undone.emit(item)
