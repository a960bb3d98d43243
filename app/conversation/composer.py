"""The composer: a reply or an internal note for the open conversation.

It shows what the messaging window allows (``WindowBanner``), fills canned replies and
mentions (``ComposerEditor``), keeps a local draft as the agent types (``DraftStore``) and
emits ``sendRequested(SendRequest)``; the pane queues it in the outbox, so the composer never
cares whether the desk is online.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QLocale, Qt, QTimer, Signal
from PySide6.QtGui import QAccessible, QAccessibleEvent, QKeyEvent, QPalette, QTextCursor
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.conversation.composer_editor import ComposerEditor
from app.conversation.composer_window import WindowBanner, effective_window, set_tone
from app.conversation.placeholders import canned_for, fill
from app.drafts import Draft, DraftStore
from protocol.rules import WindowKind, WindowState
from sync.queries import AgentInfo, ConversationRow, Directory

MAX_BODY = 65_536  # the server's limit for a message or a note
COUNTER_FROM = 60_000  # show the character counter from here on
REFRESH_MS = 30_000  # the window's time left is re-evaluated this often
REPLY, NOTE = "reply", "note"
# Reply | Internal note as one segmented control; the chosen mode is filled, on either theme.
_MODES_SHEET = """
QToolButton { border: 1px solid palette(mid); background: palette(button); padding: 2px 10px; }
QToolButton:hover:!checked { background: palette(midlight); }
QToolButton:checked { background: palette(highlight); color: palette(highlighted-text);
                      border-color: palette(highlight); }
QToolButton:disabled { color: palette(mid); }
QToolButton:checked:disabled { background: palette(mid); color: palette(button);
                               border-color: palette(mid); }
QToolButton#replyMode { border-top-left-radius: 3px; border-bottom-left-radius: 3px; }
QToolButton#noteMode { border-left: none; border-top-right-radius: 3px;
                       border-bottom-right-radius: 3px; }
"""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class SendRequest:
    conversation_id: str
    kind: str  # "reply" | "note"
    body: str
    template: str | None = None  # a template's name (WhatsApp after 24 h)
    human_agent_tag: bool = False
    mentions: tuple[str, ...] = ()  # agent ids mentioned in a note


class Composer(QWidget):
    sendRequested = Signal(object)  # SendRequest
    leaveRequested = Signal()  # Escape: the agent is done here (what is typed stays)

    def __init__(self, drafts: DraftStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.drafts = drafts
        self._row: ConversationRow | None = None
        self._directory = Directory()
        self._me: AgentInfo | None = None
        self._mode = REPLY
        self._state = WindowState(WindowKind.CLOSED)
        self._template_view = False  # the editor shows a template's preview, read-only
        self._stash = ""  # what the agent typed, kept while a template preview is shown
        self._loading = False  # text set by the composer itself: no draft save
        self._explaining = False  # the hint shows why the last send did not happen
        self.setAccessibleName(self.tr("Composer"))

        self.reply_button = self._mode_button(self.tr("Reply"), self.tr("Reply to the customer"))
        self.note_button = self._mode_button(
            self.tr("Internal note"), self.tr("A note for your team; the customer never sees it"))
        self.reply_button.setObjectName("replyMode")
        self.note_button.setObjectName("noteMode")
        self.reply_button.setChecked(True)
        self._modes = QButtonGroup(self)
        self._modes.setExclusive(True)
        self._modes.addButton(self.reply_button)
        self._modes.addButton(self.note_button)
        self._modes.buttonToggled.connect(self._mode_toggled)

        self.banner = WindowBanner(self)
        self.banner.changed.connect(self._banner_changed)
        self.editor = ComposerEditor(self)
        self.editor.setAccessibleName(self.tr("Message"))
        self.editor.setTabChangesFocus(True)
        self.editor.textChanged.connect(self._text_changed)
        self.editor.submitted.connect(self.send)
        self.setFocusProxy(self.editor)  # the window's "R" focuses the composer

        self.hint = QLabel(self)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self.counter = QLabel(self)
        self.counter.setTextFormat(Qt.TextFormat.PlainText)
        self.counter.setAccessibleName(self.tr("Characters"))
        self.counter.setToolTip(self.tr("A message can have at most {max} characters.").format(
            max=QLocale().toString(MAX_BODY)))
        self.counter.hide()
        self.send_button = QPushButton(self.tr("Send"), self)
        self.send_button.setAccessibleName(self.tr("Send"))
        self.send_button.clicked.connect(self.send)

        self._mode_bar = QWidget(self)
        self._mode_bar.setStyleSheet(_MODES_SHEET)
        segments = QHBoxLayout(self._mode_bar)
        segments.setContentsMargins(0, 0, 0, 0)
        segments.setSpacing(0)  # the two modes read as one segmented control
        segments.addWidget(self.reply_button)
        segments.addWidget(self.note_button)
        top = QHBoxLayout()
        top.addWidget(self._mode_bar)
        top.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.hint, 1)
        bottom.addWidget(self.counter)
        bottom.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.editor, 1)
        layout.addLayout(bottom)

        self._clock = QTimer(self)
        self._clock.setInterval(REFRESH_MS)
        self._clock.timeout.connect(self._refresh)
        self._clock.start()
        self._refresh()

    def _mode_button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setCheckable(True)
        button.setAutoRaise(False)  # both framed alike (and styled by _MODES_SHEET)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setToolTip(tip)
        button.setAccessibleName(text)
        return button

    # ------------------------------------------------------------------ public

    @property
    def conversation_id(self) -> str | None:
        return self._row.id if self._row is not None else None

    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        (self.note_button if mode == NOTE else self.reply_button).setChecked(True)

    def set_conversation(self, row: ConversationRow | None, directory: Directory,
                         me: AgentInfo | None, draft: Draft | None = None) -> None:
        """Show ``row``'s composer with ``draft`` restored. The same conversation again (its
        row re-read after a change) keeps what is typed and only updates the window."""
        same = row is not None and self._row is not None and row.id == self._row.id
        self._row, self._directory, self._me = row, directory, me
        if not same:
            self._loading = True
            try:
                self._template_view, self._stash = False, ""
                self.editor.hide_popup()
                self.editor.mentions.clear()
                self.editor.setReadOnly(False)
                self.banner.reset()
                self._set_mode_quietly(draft.mode if draft is not None else REPLY)
                self.editor.setPlainText(draft.body if draft is not None else "")
                self.editor.moveCursor(QTextCursor.MoveOperation.End)
            finally:
                self._loading = False
        self._update_sources()
        self._refresh()

    def update_row(self, row: ConversationRow) -> None:
        """The open conversation re-read (a new message may reopen its window): the text,
        mode and template choice stay."""
        if row.id == self.conversation_id:
            self.set_conversation(row, self._directory, self._me)

    def set_directory(self, directory: Directory) -> None:
        """New agents, canned replies or templates (``DeskSession.directoryChanged``)."""
        self._directory = directory
        self._update_sources()
        self._refresh()

    def focus_editor(self) -> None:
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)

    def open_canned_picker(self) -> None:
        """The window's "/" shortcut: list canned replies at the end of the text."""
        self.editor.open_canned_picker()

    def can_send(self) -> bool:
        return not self._why_not()

    def restore(self, request: SendRequest) -> None:
        """Put a request's text back (the outbox could not take it, or the agent took the
        reply back), before anything typed since."""
        if request.conversation_id == self.conversation_id and request.template is None:
            self.set_mode(request.kind)
            typed = self.editor.toPlainText()
            self.editor.setPlainText(request.body + ("\n\n" + typed if typed.strip() else ""))
            self.editor.moveCursor(QTextCursor.MoveOperation.End)

    def send(self) -> bool:
        """Emit ``sendRequested`` for what is typed, then start afresh; False if blocked,
        and then the composer says why beside the Send button (Ctrl+Enter does not just do
        nothing) and puts the focus where the agent can put it right."""
        row = self._row
        if row is None:
            return False
        why = self._why_not()
        if why:
            self._explain(why)
            return False
        note = self._mode == NOTE
        template = self.banner.template() if self._template_view else None
        request = SendRequest(
            conversation_id=row.id, kind=NOTE if note else REPLY,
            body=self.editor.toPlainText(),
            template=template.name if template is not None else None,
            human_agent_tag=(not note and self._state.kind is WindowKind.HUMAN_AGENT_ONLY
                             and self.banner.human_tag.isChecked()),
            mentions=self.editor.mentioned_ids() if note else ())
        self._loading = True
        try:
            if self._template_view:  # what was typed before (kept in the stash) stays
                self.banner.reset()  # the preview empties through banner.changed
            else:
                self.editor.clear()
                self.editor.mentions.clear()
        finally:
            self._loading = False
        if self.drafts is not None and not self._template_view:
            self.drafts.discard(row.id)
        self._update_send()
        self.sendRequested.emit(request)
        return True

    # ------------------------------------------------------------------ reactions

    def _set_mode_quietly(self, mode: str) -> None:
        self._modes.blockSignals(True)  # exclusivity still holds; no refresh, no draft save
        (self.note_button if mode == NOTE else self.reply_button).setChecked(True)
        self._modes.blockSignals(False)
        self._mode = NOTE if mode == NOTE else REPLY

    def _mode_toggled(self, button: QToolButton, checked: bool) -> None:
        if not checked:
            return
        self._mode = NOTE if button is self.note_button else REPLY
        self._refresh()
        self._save_draft()

    def _text_changed(self) -> None:
        self._update_send()
        self._save_draft()

    def _banner_changed(self) -> None:
        if self._template_view:
            self._show_preview()
        self._update_send()

    def _save_draft(self) -> None:
        if self._loading or self._row is None or self.drafts is None or self._template_view:
            return
        self.drafts.save_later(self._row.id, self._mode, self.editor.toPlainText())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Ctrl+Enter from the template values or the tag checkbox sends too; Escape (that
        no suggestion list took) leaves the composer, the draft kept."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
                event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            event.accept()
            self.send()
            return
        if event.key() == Qt.Key.Key_Escape and not event.modifiers():
            event.accept()
            self._save_draft()
            self.leaveRequested.emit()
            return
        super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # light/dark switched
            for button in (self.reply_button, self.note_button):  # re-read palette(...)
                button.style().unpolish(button)
                button.style().polish(button)
            self._refresh()

    # ------------------------------------------------------------------ state → widgets

    def _update_sources(self) -> None:
        row, me, d = self._row, self._me, self._directory
        contact = row.contact_name if row is not None else ""
        agent = me.name if me is not None else ""
        teams = set(me.team_ids if me is not None else ()) | {row.team_id if row else ""}
        locale = row.contact_locale if row is not None else None
        self.editor.canned = canned_for([c for c in d.canned_replies
                                         if c.team_id is None or c.team_id in teams], locale)
        self.editor.agents = [a for a in d.agents
                              if a.active and (me is None or a.id != me.id)]
        self.editor.fill_canned = lambda reply: fill(reply.body, contact, agent)
        self.banner.set_context(row.channel_type if row else "", d.templates, contact, agent,
                                locale)

    def _refresh(self) -> None:
        row, note = self._row, self._mode == NOTE
        now = now_ms()
        self._state = effective_window(row, now) if row else WindowState(WindowKind.CLOSED)
        kind = self._state.kind
        if row is None:
            self.banner.hide()
        else:
            self.banner.show_state(self._state, now, note)
        self._set_template_view(row is not None and not note
                                and kind is WindowKind.TEMPLATE_ONLY)
        blocked = not note and kind in (WindowKind.CLOSED, WindowKind.OPTED_OUT)
        self.editor.setEnabled(row is not None and not blocked)
        self.editor.mentions_enabled = note
        self.reply_button.setEnabled(row is not None)
        self.note_button.setEnabled(row is not None)
        if blocked:
            self.editor.setPlaceholderText("")  # the banner says why
        elif self._template_view:
            self.editor.setPlaceholderText(self.tr("Choose a template above."))
        elif note:
            self.editor.setPlaceholderText(self.tr("Write a note for your team…"))
        else:
            self.editor.setPlaceholderText(self.tr("Write a reply…"))
        self._show_hint()
        self.send_button.setText(self.tr("Add note") if note else self.tr("Send"))
        self._apply_editor_look(note)
        self._update_send()

    def _set_template_view(self, on: bool) -> None:
        if on != self._template_view:
            self._loading = True
            try:
                if on:
                    self._stash = self.editor.toPlainText()
                    self.editor.hide_popup()
                    self.editor.setReadOnly(True)
                    self.editor.setPlainText(self.banner.template_text())
                else:
                    self.editor.setReadOnly(False)
                    self.editor.setPlainText(self._stash)
                    self._stash = ""
            finally:
                self._loading = False
            self._template_view = on
        elif on:
            self._show_preview()

    def _show_preview(self) -> None:
        text = self.banner.template_text()
        if text != self.editor.toPlainText():
            self._loading = True
            try:
                self.editor.setPlainText(text)
            finally:
                self._loading = False

    def _why_not(self) -> str:
        """Why Send is disabled now ("" when it is not)."""
        if self._row is None:
            return self.tr("No conversation is open.")
        body = self.editor.toPlainText()
        kind = self._state.kind
        if self._mode == REPLY and kind in (WindowKind.CLOSED, WindowKind.OPTED_OUT):
            return self.banner.label.text()
        if self._mode == REPLY and kind is WindowKind.TEMPLATE_ONLY:
            if self.banner.template() is None:
                return self.tr("Choose a template first.")
            if not self.banner.template_complete():
                return self.tr("Fill in every value of the template.")
        if not body.strip():
            return self.tr("Type a message first.")
        if len(body) > MAX_BODY:
            return self.tr("The message is too long.")
        if (self._mode == REPLY and kind is WindowKind.HUMAN_AGENT_ONLY
                and not self.banner.human_tag.isChecked()):
            return self.tr("Tick “Send with the human agent tag” first.")
        return ""

    def _show_hint(self) -> None:
        """The keys the composer knows, under the editor (in place of a reason shown)."""
        self._explaining = False
        self.hint.setText(self.tr("Ctrl+Enter to add · / for canned replies · @ to mention")
                          if self._mode == NOTE else
                          self.tr("Ctrl+Enter to send · / for canned replies"))
        set_tone(self.hint, "")

    def _explain(self, why: str) -> None:
        """Why a send did not happen, where the hint is, until the agent changes something;
        the focus goes to what needs the agent (the tag to tick, the template to choose)."""
        self._explaining = True
        self.hint.setText(why)
        set_tone(self.hint, "warning")
        QAccessible.updateAccessibility(QAccessibleEvent(self.hint, QAccessible.Event.Alert))
        kind = self._state.kind
        if self._mode == REPLY and kind is WindowKind.HUMAN_AGENT_ONLY \
                and not self.banner.human_tag.isChecked():
            self.banner.human_tag.setFocus(Qt.FocusReason.OtherFocusReason)
        elif self._mode == REPLY and kind is WindowKind.TEMPLATE_ONLY \
                and self.banner.template() is None:
            self.banner.template_box.setFocus(Qt.FocusReason.OtherFocusReason)

    def _update_send(self) -> None:
        if self._explaining:  # the agent changed something: the reason may be gone
            self._show_hint()
        length = len(self.editor.toPlainText())
        self.counter.setVisible(length >= COUNTER_FROM)
        if length >= COUNTER_FROM:
            loc = QLocale()
            self.counter.setText(self.tr("{count} / {max}").format(
                count=loc.toString(length), max=loc.toString(MAX_BODY)))
            set_tone(self.counter, "error" if length > MAX_BODY else "warning")
        why = self._why_not()
        self.send_button.setEnabled(not why)
        self.send_button.setToolTip(why or self.tr("Send (Ctrl+Enter)"))

    def _apply_editor_look(self, note: bool) -> None:
        """Notes on the thread's note colour for the theme; a template preview looks
        read-only. A style sheet, not the palette: the application's style sheet makes Qt
        paint the editor's viewport from its own rules, whatever palette the editor has."""
        if note:
            background = theme.color("note_bg").name()
        elif self._template_view:
            background = self.palette().color(QPalette.ColorRole.Window).name()
        else:
            background = ""
        sheet = f"QPlainTextEdit {{ background-color: {background}; }}" if background else ""
        if sheet != self.editor.styleSheet():  # (setting it re-polishes the editor)
            self.editor.setStyleSheet(sheet)
