"""The composer's text field: Ctrl+Enter sends, "/" offers canned replies, "@" mentions agents.

One QCompleter in unfiltered-popup mode shows whichever list the text before the cursor asks
for: ``/shortcut`` at the start of a line (canned replies, ranked by ``find_canned``) or
``@name`` after a space in a note (agents). The completer forwards keys to the editor, so
the agent keeps typing to narrow the list; Enter or a click inserts, Escape dismisses.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QStandardItem, QStandardItemModel, QTextCursor
from PySide6.QtWidgets import QCompleter, QPlainTextEdit, QWidget

from app.conversation.placeholders import find_canned
from sync.queries import AgentInfo, CannedReplyInfo

_CANNED_TOKEN = re.compile(r"^/(\S*)$")
_MENTION_TOKEN = re.compile(r"(?:^|\s)@([^\s@]*)$")
_ID_ROLE = Qt.ItemDataRole.UserRole + 1
_POPUP_ROWS = 30  # enough to choose from; typing narrows the rest
_PASS_TO_COMPLETER = (Qt.Key.Key_Enter, Qt.Key.Key_Return, Qt.Key.Key_Escape, Qt.Key.Key_Tab,
                      Qt.Key.Key_Backtab)


class ComposerEditor(QPlainTextEdit):
    submitted = Signal()  # Ctrl+Enter / Ctrl+Return

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canned: Sequence[CannedReplyInfo] = ()
        self.agents: Sequence[AgentInfo] = ()
        self.mentions_enabled = False
        self.fill_canned: Callable[[CannedReplyInfo], str] = lambda reply: reply.body
        self.mentions: dict[str, str] = {}  # the display name inserted -> agent id
        self._kind = ""  # what the popup lists: "canned" | "mention" | ""
        self._token_start = -1  # document position of the "/" or "@" being completed
        self._dismissed = -1  # a token the agent pressed Escape on: leave it alone
        self._model = QStandardItemModel(self)
        self._completer = QCompleter(self._model, self)
        self._completer.setWidget(self)
        self._completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self._completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._completer.setMaxVisibleItems(8)
        self._completer.activated[QModelIndex].connect(self._chosen)
        popup = self._completer.popup()
        popup.setAccessibleName(self.tr("Suggestions"))
        self.textChanged.connect(self._update_popup)
        self.cursorPositionChanged.connect(self._update_popup)

    # ------------------------------------------------------------------ public

    def popup_visible(self) -> bool:
        return self._completer.popup().isVisible()

    def popup_kind(self) -> str:
        return self._kind if self.popup_visible() else ""

    def choose(self, row: int) -> None:
        """Insert suggestion ``row`` of the visible list (as a click would)."""
        self._chosen(self._completer.completionModel().index(row, 0))

    def open_canned_picker(self) -> None:
        """Start a "/" on a line of its own at the end of the text and list canned replies."""
        if self.isReadOnly() or not self.isEnabled():
            return
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if cursor.block().text().strip():
            cursor.insertText("\n")
        self._dismissed = -1
        cursor.insertText("/")
        self.setTextCursor(cursor)

    def hide_popup(self) -> None:
        self._completer.popup().hide()
        self._kind = ""

    # ------------------------------------------------------------------ keys

    def event(self, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent)
                and event.matches(QKeySequence.StandardKey.Undo)
                and not self.document().isUndoAvailable()):
            # Nothing typed to undo: Ctrl+Z goes to the window (undo the last action, or
            # take back a reply just sent).
            event.ignore()
            return False
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
                mods & Qt.KeyboardModifier.ControlModifier):
            self.hide_popup()
            event.accept()
            self.submitted.emit()
            return
        if self.popup_visible() and key in _PASS_TO_COMPLETER:
            if key == Qt.Key.Key_Escape:
                self._dismissed = self._token_start
            event.ignore()  # the completer's popup acts on these
            return
        if key == Qt.Key.Key_Escape:
            event.ignore()  # the composer's: leave it
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ suggestions

    def _token(self) -> tuple[str, str, int] | None:
        """(kind, query, start) of a trigger right before the cursor, if any."""
        cursor = self.textCursor()
        if cursor.hasSelection() or self.isReadOnly():
            return None
        block = cursor.block()
        before = block.text()[:cursor.positionInBlock()]
        match = _CANNED_TOKEN.match(before)
        if match and self.canned:
            return "canned", match.group(1), block.position()
        match = _MENTION_TOKEN.search(before) if self.mentions_enabled else None
        if match and self.agents:
            start = block.position() + match.start(1) - 1
            return "mention", match.group(1), start
        return None

    def _update_popup(self) -> None:
        token = self._token()
        if token is None or token[2] == self._dismissed:
            if token is None:
                self._dismissed = -1
            self.hide_popup()
            return
        kind, query, start = token
        self._model.clear()
        items = self._canned_items(query) if kind == "canned" else self._agent_items(query)
        if not items:
            self.hide_popup()
            return
        for item in items[:_POPUP_ROWS]:
            self._model.appendRow(item)
        self._kind, self._token_start = kind, start
        popup = self._completer.popup()
        rect = self.cursorRect()
        rect.setWidth(max(320, popup.sizeHintForColumn(0)
                          + popup.verticalScrollBar().sizeHint().width()))
        self._completer.complete(rect)
        popup.setCurrentIndex(self._completer.completionModel().index(0, 0))

    def _canned_items(self, query: str) -> list[QStandardItem]:
        out = []
        for reply in find_canned(self.canned, query):
            item = QStandardItem(f"/{reply.shortcut} — {reply.title}")  # a list cell: plain
            item.setData(reply.id, _ID_ROLE)
            item.setToolTip("<p style='white-space:pre-wrap'>" + html.escape(reply.body)
                            + "</p>")
            out.append(item)
        return out

    def _agent_items(self, query: str) -> list[QStandardItem]:
        q = query.casefold()
        out = []
        for agent in self.agents:
            words = [agent.name.casefold(), *agent.name.casefold().split(),
                     agent.email.casefold()]
            if agent.active and (not q or any(w.startswith(q) for w in words)):
                item = QStandardItem(f"{agent.name} — {agent.email}")
                item.setData(agent.id, _ID_ROLE)
                out.append(item)
        return out

    def _chosen(self, index: QModelIndex) -> None:
        ident = index.data(_ID_ROLE)
        kind, start = self._kind, self._token_start
        self.hide_popup()
        if not ident or start < 0:
            return
        cursor = self.textCursor()
        cursor.setPosition(start)
        cursor.setPosition(self.textCursor().position(), QTextCursor.MoveMode.KeepAnchor)
        if kind == "canned":
            reply = next((r for r in self.canned if r.id == ident), None)
            if reply is not None:
                cursor.insertText(self.fill_canned(reply))
        elif kind == "mention":
            agent = next((a for a in self.agents if a.id == ident), None)
            if agent is not None:
                self.mentions[agent.name] = agent.id
                cursor.insertText(f"@{agent.name} ")
        self.setTextCursor(cursor)

    def mentioned_ids(self) -> tuple[str, ...]:
        """Agents chosen from the list whose "@Name" is still in the text, in text order."""
        body = self.toPlainText()
        found = [(body.find(f"@{name}"), aid) for name, aid in self.mentions.items()
                 if f"@{name}" in body]
        return tuple(dict.fromkeys(aid for _, aid in sorted(found)))
