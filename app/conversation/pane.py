"""The open conversation: header with actions, the thread and the composer.

Everything the agent does here is an intent through the session's outbox: visible at once,
sent when the server is reachable, never lost. Each acts on the conversation on screen (the row
the agent saw when they chose it; nothing while another one is still loading) and is offered
for undo (``changed``, ``app.undo``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QDateTime, QEvent, QLocale, Qt, QTime, Signal
from PySide6.QtGui import QAction, QShowEvent
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import times
from app.conversation.composer import Composer, SendRequest
from app.conversation.thread import ThreadView
from app.drafts import DraftStore
from app.labels import pending_changes_label, priority_label, status_label
from app.session import DeskSession
from app.tasks import spawn
from app.undo import Undoable, inverse_of
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
    at_nine = times.time_of_day(int(tomorrow.timestamp() * 1000))  # as the locale writes it
    # Literal QCoreApplication.translate calls: lupdate reads an alias as a self.tr().
    return [(QCoreApplication.translate("Snooze", "For 1 hour"), now + timedelta(hours=1)),
            (QCoreApplication.translate("Snooze", "For 4 hours"), now + timedelta(hours=4)),
            (QCoreApplication.translate("Snooze", "Until tomorrow {time}").format(time=at_nine),
             tomorrow),
            (QCoreApplication.translate("Snooze", "Until Monday {time}").format(time=at_nine),
             monday)]


def _empty(menu: QMenu) -> None:
    """Empty a menu that is filled as it opens, its sub-menus too: ``clear()`` deletes the
    actions but keeps each sub-menu (its own action is its child), one more per opening."""
    for sub in menu.findChildren(QMenu, options=Qt.FindChildOption.FindDirectChildrenOnly):
        sub.deleteLater()
    menu.clear()


class KeyMenu(QMenu):
    """A menu that opens with its first entry highlighted, so Enter picks it when the menu
    was opened by a key (a pointer moving over it highlights what it points at)."""

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.activeAction() is None:
            first = next((a for a in self.actions()
                          if a.isEnabled() and a.isVisible() and not a.isSeparator()), None)
            if first is not None:
                self.setActiveAction(first)


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
    changed = Signal(object)  # app.undo.Undoable: what the agent just did, to offer undo

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
        self.reply_delay_ms = 0  # a reply waits this long in the outbox, undoable (settings)

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
        button.setMenu(KeyMenu(button))
        return button

    # ------------------------------------------------------------------ loading

    @property
    def conversation_id(self) -> str | None:
        return self._cid

    def shown_row(self) -> ConversationRow | None:
        """The conversation on screen; None while none is, or while another one is on its
        way in (the header still shows the last one): a key pressed then acts on nothing."""
        row = self.row
        return row if row is not None and row.id == self._cid else None

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
        composer so nothing typed is lost, and the error is reported. A reply waits there
        ``reply_delay_ms`` (on disk: a crash meanwhile still sends it), undoable."""
        delay = self.reply_delay_ms if request.kind != "note" else 0
        try:
            if request.kind == "note":
                await self.session.add_note(request.conversation_id, request.body,
                                            list(request.mentions))
                return
            record = await self.session.send_reply(
                request.conversation_id, request.body, template=request.template,
                human_agent_tag=request.human_agent_tag, delay_ms=delay)
        except Exception:
            if self.composer.conversation_id == request.conversation_id:
                self.composer.restore(request)
            raise
        if delay > 0:
            self.changed.emit(Undoable(
                self.tr("Sending your reply in {n} s…"), request.conversation_id, record.id,
                reply=request, due_ms=record.not_before))

    def put_back_reply(self, request: SendRequest) -> None:
        """A held reply the agent took back: into its conversation's composer (its draft,
        when another conversation is on screen), written to disk at once."""
        if self.composer.conversation_id == request.conversation_id:
            self.composer.restore(request)  # (saved as the draft as its text changes)
            self.composer.focus_editor()
        elif self.drafts is not None:
            self.drafts.save_later(request.conversation_id, request.kind, request.body)
        if self.drafts is not None:
            spawn(self.drafts.flush(), "draft")

    def _act(self, row: ConversationRow | None, name: str, args: dict[str, Any],
             text: str) -> None:
        """Queue ``name`` on ``row`` (the conversation on screen when the agent chose the
        action) if it is still the one on screen; then offer to undo it."""
        shown = self.shown_row()
        if row is None or shown is None or shown.id != row.id:
            return
        spawn(self._queue_change(row, name, {"conversation_id": row.id, **args}, text), name)

    async def _queue_change(self, row: ConversationRow, name: str, args: dict[str, Any],
                            text: str) -> None:
        record = await self.session.enqueue(name, args)
        self.changed.emit(Undoable(
            text, row.id, record.id, inverse=inverse_of(name, record.args, row, now_ms()),
            moves_on=name == "set_status" and args["status"] in ("resolved", "snoozed")))

    def assign_to_me(self, row: ConversationRow | None = None) -> None:
        if self.session.agent_id:
            self._act(row or self.shown_row(), "assign", {"agent_id": self.session.agent_id},
                      self.tr("Assigned to you"))

    def set_status(self, status: str, until: int | None = None,
                   row: ConversationRow | None = None) -> None:
        args: dict[str, Any] = {"status": status}
        if until is not None:
            args["snoozed_until"] = until
        text = (self.tr("Conversation resolved") if status == "resolved" else
                self.tr("Conversation snoozed") if status == "snoozed" else
                self.tr("Status set to {status}").format(status=status_label(status)))
        self._act(row or self.shown_row(), "set_status", args, text)

    def resolve(self) -> None:
        self.set_status("resolved")

    def snooze_menu(self, row: ConversationRow | None = None) -> QMenu:
        """The snooze choices for ``row`` (the conversation on screen), in a new menu."""
        menu = KeyMenu(self)
        self._add_snooze_choices(menu, row or self.shown_row())
        return menu

    def _add_snooze_choices(self, menu: QMenu, row: ConversationRow | None) -> None:
        for label, until in snooze_choices(datetime.now()):
            action = menu.addAction(label)
            action.triggered.connect(lambda _c=False, u=until: self.set_status(
                "snoozed", int(u.timestamp() * 1000), row))
        menu.addSeparator()
        custom = menu.addAction(self.tr("Until…"))
        custom.triggered.connect(self.pick_snooze_time)

    # The earliest a snooze may end: the server refuses a time already past when it arrives.
    SNOOZE_MIN_S = 5 * 60

    def pick_snooze_time(self) -> None:
        """Snooze until a date and time the agent picks (opened, never a nested exec): the
        date in the locale's long form with a four-digit year, from a few minutes on."""
        dialog = QDialog(self)
        dialog.setWindowTitle(self.tr("Snooze"))
        now = QDateTime.currentDateTime()
        start = now.addSecs(3600)
        start.setTime(QTime(start.time().hour(), 0))  # the next whole hour but one
        picker = QDateTimeEdit(start.addSecs(3600), dialog)
        picker.setDisplayFormat(times.date_time_format(QLocale()))
        picker.setCalendarPopup(True)
        picker.setMinimumDateTime(now.addSecs(self.SNOOZE_MIN_S))
        picker.setAccessibleName(self.tr("Snooze until"))
        label = QLabel(self.tr("Snooze &until:"), dialog)
        label.setBuddy(picker)
        hint = QLabel(self.tr("The conversation comes back to the inbox then."), dialog)
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, dialog)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form = QFormLayout()
        form.addRow(label, picker)
        layout = QVBoxLayout(dialog)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        row = self.shown_row()
        dialog.accepted.connect(lambda: self._snooze_until(row, picker.dateTime()))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        picker.setFocus()
        self.snooze_dialog = dialog

    def _snooze_until(self, row: ConversationRow | None, when: QDateTime) -> None:
        # (a dialog left open past its minimum still snoozes for the shortest time allowed)
        earliest = QDateTime.currentDateTime().addSecs(self.SNOOZE_MIN_S)
        self.set_status("snoozed", max(when, earliest).toMSecsSinceEpoch(), row)

    def show_snooze_menu(self) -> None:
        row = self.shown_row()
        if row is not None:
            menu = self.snooze_menu(row)
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one per S pressed
            menu.popup(self.status_button.mapToGlobal(self.status_button.rect().bottomLeft()))
            self.snooze_popup = menu

    def _fill_assign_menu(self) -> None:
        menu = self.assign_button.menu()
        _empty(menu)
        row = self.shown_row()  # what the menu's choices act on, whatever happens meanwhile
        if row is None:
            return
        me = menu.addAction(self.tr("Assign to me"))
        me.setEnabled(row.assignee_id != self.session.agent_id)
        me.triggered.connect(lambda: self.assign_to_me(row))
        none = menu.addAction(self.tr("Unassign"))
        none.setEnabled(row.assignee_id is not None)
        none.triggered.connect(lambda: self._act(row, "assign", {"agent_id": None},
                                                 self.tr("Unassigned")))
        # The conversation's assignee and team are ticked; choosing them again changes nothing.
        agents = menu.addMenu(self.tr("Agent"))
        for agent in self.session.directory.agents:
            current = agent.id == row.assignee_id
            if not current and (not agent.active or row.team_id not in agent.team_ids):
                continue
            action = agents.addAction(display_safe(agent.name, isolate=False))
            action.setCheckable(True)
            action.setChecked(current)
            if current:
                continue
            action.triggered.connect(lambda _c=False, a=agent: self._act(
                row, "assign", {"agent_id": a.id},
                self.tr("Assigned to {name}").format(name=a.name)))
        teams = menu.addMenu(self.tr("Team"))
        for team in self.session.directory.teams:
            action = teams.addAction(team.name)
            action.setCheckable(True)
            action.setChecked(team.id == row.team_id)
            if team.id == row.team_id:
                continue
            action.triggered.connect(lambda _c=False, t=team: self._act(
                row, "assign", {"team_id": t.id},
                self.tr("Moved to {team}").format(team=t.name)))

    def _fill_status_menu(self) -> None:
        menu = self.status_button.menu()
        _empty(menu)
        row = self.shown_row()
        for status in ("open", "pending", "resolved"):
            action = QAction(status_label(status), menu)
            action.setEnabled(row is not None and row.status != status)
            action.triggered.connect(lambda _c=False, s=status: self.set_status(s, row=row))
            menu.addAction(action)
        snooze = menu.addMenu(self.tr("Snooze"))
        snooze.setEnabled(row is not None)
        self._add_snooze_choices(snooze, row)

    def _fill_priority_menu(self) -> None:
        menu = self.priority_button.menu()
        _empty(menu)
        row = self.shown_row()
        for priority in ("urgent", "high", "normal", "low"):
            action = menu.addAction(priority_label(priority))
            action.setCheckable(True)
            action.setChecked(row is not None and row.priority == priority)
            action.triggered.connect(lambda _c=False, p=priority: self._act(
                row, "set_priority", {"priority": p},
                self.tr("Priority set to {priority}").format(priority=priority_label(p))))

    def _fill_tags_menu(self) -> None:
        menu = self.tags_button.menu()
        _empty(menu)
        row = self.shown_row()
        if row is None:
            return
        current = set(row.tags)
        names = sorted({t.name for t in self.session.directory.tags} | current)
        for name in names:
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in current)
            action.triggered.connect(lambda checked, n=name: self._tag(row, n, checked))
        menu.addSeparator()
        new = menu.addAction(self.tr("New tag…"))
        new.triggered.connect(lambda: self._new_tag(row))

    def _tag(self, row: ConversationRow | None, name: str, add: bool) -> None:
        shown = display_safe(name)
        if add:
            self._act(row, "add_tag", {"tag": name},
                      self.tr("Tag “{tag}” added").format(tag=shown))
        else:
            self._act(row, "remove_tag", {"tag": name},
                      self.tr("Tag “{tag}” removed").format(tag=shown))

    def _new_tag(self, row: ConversationRow | None) -> None:
        dialog = QInputDialog(self)
        dialog.setWindowTitle(self.tr("New tag"))
        dialog.setLabelText(self.tr("Tag name:"))
        dialog.textValueSelected.connect(
            lambda text: self._tag(row, text.strip(), True) if text.strip() else None)
        dialog.open()
