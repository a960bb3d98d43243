"""The open conversation: header with actions, the thread and the composer.

Everything the agent does here is an intent through the session's outbox: visible at once,
sent when the server is reachable, never lost.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from PySide6.QtCore import QDateTime, QEvent, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QMenu,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.conversation.composer import Composer, SendRequest
from app.conversation.thread import ThreadView
from app.drafts import DraftStore
from app.labels import pending_changes_label, priority_label, status_label
from app.session import DeskSession
from app.tasks import spawn
from app.widgets import ElidedLabel
from sync import queries
from sync.display import display_safe
from sync.queries import ConversationRow
from sync.status import now_ms

log = logging.getLogger("relaydesk.conversation")
PAGE = 200


def snooze_choices(now: datetime) -> list[tuple[str, datetime]]:
    """(label, until) for the snooze menu: in 1 hour, in 4 hours, tomorrow 9:00, Monday 9:00."""
    from PySide6.QtCore import QCoreApplication

    tomorrow = (now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    monday = (now + timedelta(days=(7 - now.weekday()) or 7)).replace(
        hour=9, minute=0, second=0, microsecond=0)
    # Literal QCoreApplication.translate calls: lupdate reads an alias as a self.tr().
    return [(QCoreApplication.translate("Snooze", "For 1 hour"), now + timedelta(hours=1)),
            (QCoreApplication.translate("Snooze", "For 4 hours"), now + timedelta(hours=4)),
            (QCoreApplication.translate("Snooze", "Until tomorrow 9:00"), tomorrow),
            (QCoreApplication.translate("Snooze", "Until Monday 9:00"), monday)]


def thread_colors() -> dict[str, str]:
    """The thread's bubble colours for the current light or dark theme."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from app import theme

    colors = {key: theme.color(key).name()
              for key in ("pending", "failed", "note_bg", "inbound_bg", "outbound_bg")}
    colors["muted"] = QApplication.palette().color(QPalette.ColorRole.PlaceholderText).name()
    return colors


class ConversationPane(QWidget):
    """Shows one conversation; ``open_conversation(id)`` switches (draft kept per id)."""

    contactChanged = Signal(str, str)  # contact id, conversation id
    conversationGone = Signal(str)

    def __init__(self, session: DeskSession, drafts: DraftStore | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.drafts = drafts
        self.row: ConversationRow | None = None
        self._cid: str | None = None
        self._shown_cid: str | None = None  # the conversation the composer is set up for
        self._loaded = PAGE
        self._generation = 0

        self.title = ElidedLabel(parent=self, mode=Qt.TextElideMode.ElideRight, bold=True)
        self.title.setAccessibleName(self.tr("Conversation title"))
        self.details = ElidedLabel(parent=self, mode=Qt.TextElideMode.ElideRight)
        self.details.setAccessibleName(self.tr("Conversation details"))

        self.assign_button = self._menu_button(self.tr("Assign"), self.tr("Assign (A: to me)"))
        self.status_button = self._menu_button(self.tr("Status"),
                                               self.tr("Status (E: resolve, S: snooze)"))
        self.priority_button = self._menu_button(self.tr("Priority"), self.tr("Priority"))
        self.tags_button = self._menu_button(self.tr("Tags"), self.tr("Tags"))
        self.assign_button.menu().aboutToShow.connect(self._fill_assign_menu)
        self.status_button.menu().aboutToShow.connect(self._fill_status_menu)
        self.priority_button.menu().aboutToShow.connect(self._fill_priority_menu)
        self.tags_button.menu().aboutToShow.connect(self._fill_tags_menu)

        self.thread = ThreadView(self, colors=thread_colors())
        self.composer = Composer(drafts=drafts, parent=self)
        self.composer.sendRequested.connect(self._send)
        self.thread.retryRequested.connect(lambda i: spawn(self.session.retry(i)))
        self.thread.discardRequested.connect(lambda i: spawn(self.session.discard(i)))
        self.thread.olderRequested.connect(self._load_older)

        # Title on its own line; details and the action buttons share the second, so a
        # long subject never runs under the buttons.
        header = QVBoxLayout()
        header.setContentsMargins(6, 4, 6, 0)
        header.setSpacing(2)
        header.addWidget(self.title)
        second = QHBoxLayout()
        second.setSpacing(4)
        second.addWidget(self.details, 1)
        for button in (self.assign_button, self.status_button, self.priority_button,
                       self.tags_button):
            second.addWidget(button)
        header.addLayout(second)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.thread)
        split.addWidget(self.composer)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(split, 1)
        session.dataChanged.connect(self.refresh)
        session.directoryChanged.connect(self.composer.set_directory)
        self._show_empty()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # light <-> dark: bubbles follow
            self.thread.set_colors(thread_colors())
        super().changeEvent(event)

    def _menu_button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(text)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        button.setMenu(QMenu(button))
        return button

    # ------------------------------------------------------------------ loading

    @property
    def conversation_id(self) -> str | None:
        return self._cid

    def open_conversation(self, conversation_id: str) -> None:
        if conversation_id == self._cid:
            return
        self._cid = conversation_id
        self._loaded = PAGE
        self.refresh()

    def refresh(self) -> None:
        if self._cid is not None:
            self._generation += 1
            spawn(self._load(self._generation), "load-conversation")

    async def _load(self, generation: int) -> None:
        cid = self._cid
        assert cid is not None
        # "First" until a load for this conversation completes: a refresh that overtakes
        # the opening load must still set up the composer and mark it read.
        first = self._shown_cid != cid
        rows = await self.session.read(queries.conversation_rows, [cid], now_ms())
        page = await self.session.read(queries.thread_page, cid, self.session.agent_id,
                                       self._loaded)
        draft = await self.drafts.load(cid) if (first and self.drafts is not None) else None
        if generation != self._generation:
            return
        row = rows.get(cid)
        if row is None:
            self._show_empty(self.tr("This conversation is no longer available to you."))
            self.conversationGone.emit(cid)
            return
        self.row = row
        self._show_header(row)
        names = {a.id: a.name for a in self.session.directory.agents}
        self.thread.set_thread(page.items, page.has_older, names, row.contact_name)
        if first:
            self._shown_cid = cid
            self.composer.set_conversation(row, self.session.directory, self.session.me, draft)
            self.contactChanged.emit(row.contact_id, cid)
            if row.unread_count > 0:
                await self.session.mark_read(cid)
        else:
            self.composer.update_row(row)

    def _load_older(self) -> None:
        if self._cid is None:
            return
        self._loaded += PAGE
        self.refresh()

    def _show_empty(self, text: str | None = None) -> None:
        self.row = None
        self._shown_cid = None
        self.title.setText(text or self.tr("No conversation selected"))
        self.details.setText("")
        for button in (self.assign_button, self.status_button, self.priority_button,
                       self.tags_button):
            button.setEnabled(False)
        self.thread.clear()
        self.composer.set_conversation(None, self.session.directory, self.session.me, None)

    def _show_header(self, row: ConversationRow) -> None:
        subject = row.subject or row.preview[:200]
        # Customer text side by side: hidden characters shown, each part bidi-isolated.
        self.title.setText(f"{display_safe(row.contact_name)} — {display_safe(subject)}")
        assignee = (self.tr("Unassigned") if row.assignee_id is None else
                    self.tr("Me") if row.assignee_id == self.session.agent_id else
                    row.assignee_name or "")
        parts = [row.channel_name, row.team_name, status_label(row.status),
                 priority_label(row.priority), assignee]
        if row.tags:
            parts.append(", ".join(row.tags))
        if row.pending_intents:
            parts.append(pending_changes_label(row.pending_intents))
        self.details.setText("  ·  ".join(p for p in parts if p))
        for button in (self.assign_button, self.status_button, self.priority_button,
                       self.tags_button):
            button.setEnabled(True)

    # ------------------------------------------------------------------ actions

    def _send(self, request: SendRequest) -> None:
        spawn(self._queue(request), "send")

    async def _queue(self, request: SendRequest) -> None:
        """Into the outbox; if even that fails (disk full…), the text goes back into the
        composer so nothing typed is lost, and the error is reported."""
        try:
            if request.kind == "note":
                await self.session.add_note(request.conversation_id, request.body,
                                            list(request.mentions))
            else:
                await self.session.send_reply(request.conversation_id, request.body,
                                              template=request.template,
                                              human_agent_tag=request.human_agent_tag)
        except Exception:
            if self.composer.conversation_id == request.conversation_id:
                self.composer.restore(request)
            raise

    def assign_to_me(self) -> None:
        if self._cid and self.session.agent_id:
            spawn(self.session.assign(self._cid, agent_id=self.session.agent_id))

    def set_status(self, status: str, until: int | None = None) -> None:
        if self._cid:
            spawn(self.session.set_status(self._cid, status, until))

    def resolve(self) -> None:
        self.set_status("resolved")

    def snooze_menu(self) -> QMenu:
        menu = QMenu(self)
        for label, until in snooze_choices(datetime.now()):
            action = menu.addAction(label)
            action.triggered.connect(
                lambda _c=False, u=until: self.set_status("snoozed", int(u.timestamp() * 1000)))
        menu.addSeparator()
        custom = menu.addAction(self.tr("Until…"))
        custom.triggered.connect(self.pick_snooze_time)
        return menu

    def pick_snooze_time(self) -> None:
        """Snooze until a date and time the agent picks (opened, never a nested exec)."""
        dialog = QDialog(self)
        dialog.setWindowTitle(self.tr("Snooze until"))
        picker = QDateTimeEdit(QDateTime.currentDateTime().addSecs(3600), dialog)
        picker.setCalendarPopup(True)
        picker.setMinimumDateTime(QDateTime.currentDateTime())
        picker.setAccessibleName(self.tr("Snooze until"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, dialog)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(picker)
        layout.addWidget(buttons)
        cid = self._cid
        dialog.accepted.connect(lambda: self._snooze_until(cid, picker.dateTime()))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.snooze_dialog = dialog

    def _snooze_until(self, cid: str | None, when: QDateTime) -> None:
        if cid is not None and cid == self._cid:
            self.set_status("snoozed", when.toMSecsSinceEpoch())

    def show_snooze_menu(self) -> None:
        if self._cid:
            self.snooze_menu().popup(self.status_button.mapToGlobal(
                self.status_button.rect().bottomLeft()))

    def _fill_assign_menu(self) -> None:
        menu = self.assign_button.menu()
        menu.clear()
        if self.row is None:
            return
        me = menu.addAction(self.tr("Assign to me"))
        me.triggered.connect(self.assign_to_me)
        none = menu.addAction(self.tr("Unassign"))
        none.triggered.connect(lambda: spawn(self.session.assign(self._cid, agent_id=None)))
        agents = menu.addMenu(self.tr("Agent"))
        for agent in self.session.directory.agents:
            if not agent.active or self.row.team_id not in agent.team_ids:
                continue
            action = agents.addAction(agent.name)
            action.triggered.connect(
                lambda _c=False, a=agent.id: spawn(self.session.assign(self._cid, agent_id=a)))
        teams = menu.addMenu(self.tr("Team"))
        for team in self.session.directory.teams:
            action = teams.addAction(team.name)
            action.setEnabled(team.id != self.row.team_id)
            action.triggered.connect(
                lambda _c=False, t=team.id: spawn(self.session.assign(self._cid, team_id=t)))

    def _fill_status_menu(self) -> None:
        menu = self.status_button.menu()
        menu.clear()
        for status in ("open", "pending", "resolved"):
            action = QAction(status_label(status), menu)
            action.setEnabled(self.row is not None and self.row.status != status)
            action.triggered.connect(lambda _c=False, s=status: self.set_status(s))
            menu.addAction(action)
        snooze = menu.addMenu(self.tr("Snooze"))
        for action in self.snooze_menu().actions():
            snooze.addAction(action)

    def _fill_priority_menu(self) -> None:
        menu = self.priority_button.menu()
        menu.clear()
        for priority in ("urgent", "high", "normal", "low"):
            action = menu.addAction(priority_label(priority))
            action.setCheckable(True)
            action.setChecked(self.row is not None and self.row.priority == priority)
            action.triggered.connect(
                lambda _c=False, p=priority: spawn(self.session.set_priority(self._cid, p)))

    def _fill_tags_menu(self) -> None:
        menu = self.tags_button.menu()
        menu.clear()
        if self.row is None:
            return
        current = set(self.row.tags)
        names = sorted({t.name for t in self.session.directory.tags} | current)
        for name in names:
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in current)
            action.triggered.connect(lambda checked, n=name: spawn(
                self.session.add_tag(self._cid, n) if checked
                else self.session.remove_tag(self._cid, n)))
        menu.addSeparator()
        new = menu.addAction(self.tr("New tag…"))
        new.triggered.connect(self._new_tag)

    def _new_tag(self) -> None:
        dialog = QInputDialog(self)
        dialog.setWindowTitle(self.tr("New tag"))
        dialog.setLabelText(self.tr("Tag name:"))
        dialog.textValueSelected.connect(
            lambda text: spawn(self.session.add_tag(self._cid, text.strip()))
            if text.strip() and self._cid else None)
        dialog.open()
