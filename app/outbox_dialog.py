"""The outbox: every change not yet settled with the server, with the reason for a refusal,
and Retry / Discard for what failed. Opened from the status bar; non-modal."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import theme, times
from app.labels import final_refusal_note, rejection_label, status_label
from app.tasks import spawn
from app.widgets import plain_tooltip
from sync import outbox, queries
from sync.display import display_safe
from sync.outbox import IntentRecord
from sync.store import Store

if TYPE_CHECKING:
    from app.session import DeskSession

ID_ROLE = Qt.ItemDataRole.UserRole
COL_WHAT, COL_CONVERSATION, COL_STATE, COL_REASON, COL_CREATED = range(5)
SNIPPET_CHARS = 60  # of a reply's or note's text in the list (all of it in the tooltip)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS - 1] + "…"


def intent_label(intent: IntentRecord) -> str:
    """What the agent did, in their words: "Reply", "Tag added: vip"…"""
    names = {
        "send_message": QCoreApplication.translate("Outbox", "Reply"),
        "add_note": QCoreApplication.translate("Outbox", "Internal note"),
        "set_status": QCoreApplication.translate("Outbox", "Status change"),
        "assign": QCoreApplication.translate("Outbox", "Assignment"),
        "set_priority": QCoreApplication.translate("Outbox", "Priority"),
        "add_tag": QCoreApplication.translate("Outbox", "Tag added"),
        "remove_tag": QCoreApplication.translate("Outbox", "Tag removed"),
        "mark_read": QCoreApplication.translate("Outbox", "Mark read"),
    }
    label = names.get(intent.name, intent.name)
    a = intent.args
    if intent.name == "set_status" and a.get("status"):
        return f"{label}: {status_label(a['status'])}"
    if intent.name in ("add_tag", "remove_tag") and a.get("tag"):
        return f"{label}: {a['tag']}"
    if intent.name in ("send_message", "add_note"):
        text = a.get("body") or a.get("template") or ""
        if text.strip():
            return f"{label}: {display_safe(_snippet(text))}"
    return label


def state_label(state: str) -> str:
    labels = {outbox.PENDING: QCoreApplication.translate("Outbox", "Pending"),
              outbox.APPLIED: QCoreApplication.translate("Outbox", "Sent"),
              outbox.REJECTED: QCoreApplication.translate("Outbox", "Failed")}
    return labels.get(state, state)


def _review(store: Store, now_ms: int
            ) -> tuple[list[IntentRecord], dict[str, queries.ConversationRow], set[int]]:
    """What the agent did (the desk's automatic intents only when refused: never hidden
    then), their conversations, and the refused ones Retry can get through now."""
    intents = [i for i in queries.intents_for_review(store)
               if i.name not in outbox.AUTOMATIC or i.state == outbox.REJECTED]
    ids = sorted(queries.conversations_touched(intents))
    rows = queries.conversation_rows(store, ids, now_ms)
    retryable = set()
    for i in intents:
        row = rows.get(i.conversation_id or "")
        if i.state == outbox.REJECTED and outbox.retry_may_pass(
                i, row.window if row is not None else None):
            retryable.add(i.id)
    return intents, rows, retryable


class OutboxDialog(QDialog):
    openConversation = Signal(str)  # double-click on an entry

    def __init__(self, session: DeskSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setModal(False)
        self.setWindowTitle(self.tr("Outbox"))
        self.setAccessibleName(self.tr("Outbox"))
        self.resize(760, 320)
        self._intents: dict[int, IntentRecord] = {}
        self._retryable: set[int] = set()  # refused ones Retry can get through now
        self._generation = 0
        self.confirm_box: QMessageBox | None = None

        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels([self.tr("What"), self.tr("Conversation"), self.tr("State"),
                                   self.tr("Reason"), self.tr("Created")])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setAccessibleName(self.tr("Changes waiting for the server"))
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_REASON, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(self._on_double_click)

        self.retry_button = QPushButton(self.tr("Retry"), self)
        self.retry_button.setToolTip(self.tr("Send the selected failed changes again"))
        self.retry_button.setAccessibleName(self.tr("Retry"))
        self.retry_button.clicked.connect(self._retry)
        self.discard_button = QPushButton(self.tr("Discard…"), self)
        self.discard_button.setToolTip(self.tr("Give up on the selected failed changes"))
        self.discard_button.setAccessibleName(self.tr("Discard"))
        self.discard_button.clicked.connect(self._ask_discard)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(self.retry_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)

        session.dataChanged.connect(self.refresh)
        self._update_buttons()

    # ------------------------------------------------------------------ public API

    def refresh(self) -> None:
        """Re-read the outbox (off the GUI thread); keeps the selection. A hidden dialog
        reads when it is shown."""
        if self.isVisible():
            spawn(self._reload(), "outbox-dialog")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        spawn(self._reload(), "outbox-dialog")

    def intents(self) -> list[IntentRecord]:
        """What the list shows, in order."""
        return list(self._intents.values())

    def select_intents(self, intent_ids: list[int]) -> None:
        wanted = set(intent_ids)
        for n in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(n)
            item.setSelected(item.data(0, ID_ROLE) in wanted)

    # ------------------------------------------------------------------ reading

    async def _reload(self) -> None:
        self._generation += 1
        generation = self._generation
        intents, rows, retryable = await self.session.read(_review, int(time.time() * 1000))
        if generation != self._generation:
            return  # a newer read is on its way
        self._show(intents, rows, retryable)

    def _show(self, intents: list[IntentRecord], rows: dict[str, queries.ConversationRow],
              retryable: set[int]) -> None:
        selected = {item.data(0, ID_ROLE) for item in self.tree.selectedItems()}
        self._intents = {i.id: i for i in intents}
        self._retryable = retryable
        self.tree.clear()
        failed_colour = theme.color("failed")
        for intent in intents:
            row = rows.get(intent.conversation_id or "")
            where = ""
            if row is not None:
                where = display_safe(row.contact_name)  # customer text: isolated, hidden shown
                if row.subject:
                    where += " — " + display_safe(row.subject)
                where += f" ({row.channel_name})"
            reason = (rejection_label(intent.error_code, intent.error_message)
                      if intent.state == outbox.REJECTED else "")
            if intent.state == outbox.REJECTED and intent.id not in retryable:
                reason = f"{reason} {final_refusal_note()}"  # so only Discard is offered
            item = QTreeWidgetItem([
                intent_label(intent), where, state_label(intent.state),
                reason,
                times.when_text(intent.created_at)])
            item.setData(0, ID_ROLE, intent.id)
            if intent.name in ("send_message", "add_note"):
                item.setToolTip(COL_WHAT, plain_tooltip((intent.args.get("body") or "")[:500]))
            if intent.state == outbox.REJECTED:
                item.setForeground(COL_STATE, failed_colour)
                item.setToolTip(COL_REASON, plain_tooltip(reason))
            item.setToolTip(COL_CREATED, times.full_text(intent.created_at))
            self.tree.addTopLevelItem(item)
            item.setSelected(intent.id in selected)
        failed = sum(1 for i in intents if i.state == outbox.REJECTED)
        if not intents:
            self.summary.setText(self.tr("Nothing is waiting to be sent."))
        else:
            waiting = (self.tr("1 change not yet confirmed by the server") if len(intents) == 1
                       else self.tr("{n} changes not yet confirmed by the server")
                       .format(n=len(intents)))
            self.summary.setText(self.tr("{waiting}; {failed} failed.").format(
                waiting=waiting, failed=failed))
        self._update_buttons()

    # ------------------------------------------------------------------ actions

    def _selected_failed(self) -> list[int]:
        out = []
        for item in self.tree.selectedItems():
            intent = self._intents.get(item.data(0, ID_ROLE))
            if intent is not None and intent.state == outbox.REJECTED:
                out.append(intent.id)
        return out

    def _update_buttons(self) -> None:
        failed = self._selected_failed()
        self.retry_button.setEnabled(any(i in self._retryable for i in failed))
        self.discard_button.setEnabled(bool(failed))

    def _retry(self) -> None:
        ids = [i for i in self._selected_failed() if i in self._retryable]
        if ids:
            spawn(self._act(self.session.retry, ids), "outbox-retry")

    def _ask_discard(self) -> None:
        ids = self._selected_failed()
        if not ids:
            return
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Discard changes"),
                          self.tr("Discard the failed change? It will not be sent.")
                          if len(ids) == 1 else
                          self.tr("Discard {n} failed changes? They will not be sent.")
                          .format(n=len(ids)),
                          QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                          self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda result: self._discard_answer(box, result, ids))
        self.confirm_box = box
        box.open()  # not exec(): no nested event loop under qasync

    def _discard_answer(self, box: QMessageBox, _result: int, ids: list[int]) -> None:
        if box.clickedButton() is box.button(QMessageBox.StandardButton.Discard):
            spawn(self._act(self.session.discard, ids), "outbox-discard")
        self.confirm_box = None
        box.deleteLater()

    async def _act(self, fn: Callable[[int], Awaitable[None]], ids: list[int]) -> None:
        for intent_id in ids:
            with contextlib.suppress(outbox.InvalidIntent):  # settled meanwhile
                await fn(intent_id)
        await self._reload()

    def _on_double_click(self, item: QTreeWidgetItem, _column: int) -> None:
        intent = self._intents.get(item.data(0, ID_ROLE))
        if intent is not None and intent.conversation_id:
            self.openConversation.emit(intent.conversation_id)
