"""Tray notifications: a conversation was assigned to me, or a customer replied in one of mine.

After each ``dataChanged`` the notifier reads a small snapshot of "mine" off the GUI thread
(conversation id → last inbound time) and compares it with the previous one. Nothing is
announced until the desk has been up to date once (start-up and bootstrap only prime), and
an assignment the agent made themselves is not news to them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QStyle, QSystemTrayIcon

from app.tasks import spawn
from sync import outbox
from sync.display import display_safe
from sync.status import EngineState, EngineStatus
from sync.store import Store

if TYPE_CHECKING:
    from app.session import DeskSession

log = logging.getLogger("relaydesk.notifications")

PREVIEW_CHARS = 120
Snapshot = dict[str, int]  # conversation id -> last_inbound_at (0: never)


@dataclass(frozen=True)
class Alert:
    kind: str  # "assigned" | "reply"
    conversation_id: str
    contact_name: str
    text: str


def _preview(value: str | None) -> str:
    flat = " ".join((value or "").split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[:PREVIEW_CHARS - 1] + "…"


def mine_changes(store: Store, me: str | None, previous: Snapshot | None
                 ) -> tuple[Snapshot, list[Alert]]:
    """The agent's conversations (with their own unconfirmed assignments laid over) and,
    against ``previous``, what is news: newly assigned by someone else, or a new inbound."""
    if not me:
        return {}, []
    with store.read_db("outbox") as db:
        live = [i for i in outbox.unsettled(db)
                if i.state != outbox.REJECTED and i.conversation_id]
    assigned: dict[str, str | None] = {}
    by_me: set[str] = set()
    for intent in sorted(live, key=lambda i: i.id):
        if intent.name == "assign" and "agent_id" in intent.args:
            cid = intent.conversation_id or ""
            assigned[cid] = intent.args["agent_id"]
            if intent.args["agent_id"] == me:
                by_me.add(cid)
    with store.read_db("mirror") as db:
        snap: Snapshot = {r[0]: int(r[1] or 0) for r in db.execute(
            "SELECT id, last_inbound_at FROM conversations WHERE assignee_id = ?", (me,))}
        for cid, agent in assigned.items():
            if agent != me:
                snap.pop(cid, None)
            elif cid not in snap:
                row = db.execute("SELECT last_inbound_at FROM conversations WHERE id = ?",
                                 (cid,)).fetchone()
                if row is not None:
                    snap[cid] = int(row[0] or 0)
        if previous is None:
            return snap, []
        news: list[tuple[str, str]] = []
        for cid, inbound in snap.items():
            if cid not in previous:
                if cid not in by_me:
                    news.append(("assigned", cid))
            elif inbound > previous[cid]:
                news.append(("reply", cid))
        alerts = []
        for kind, cid in news:
            row = db.execute(
                "SELECT k.name, c.preview FROM conversations c "
                "LEFT JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?", (cid,)).fetchone()
            if row is None:
                continue
            body = row[1]
            if kind == "reply":
                last = db.execute(
                    "SELECT body FROM messages WHERE conversation_id = ? "
                    "AND direction = 'inbound' ORDER BY created_at DESC LIMIT 1",
                    (cid,)).fetchone()
                body = last[0] if last is not None else body
            alerts.append(Alert(kind, cid, row[0] or "", _preview(body)))
    return snap, alerts


class Notifier(QObject):
    notified = Signal(str, str, str)  # title, body, conversation id
    openConversation = Signal(str)  # the agent clicked a tray message

    def __init__(self, session: DeskSession, enabled: bool = True,
                 tray: QSystemTrayIcon | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.history: list[tuple[str, str, str]] = []
        self._enabled = enabled
        self._tray = tray
        self._own_tray = False
        self._previous: Snapshot | None = None
        self._ready = False  # up to date once since start (or since a re-bootstrap)
        self._running = False
        self._again = False
        self._last_id = ""
        if tray is not None:
            tray.messageClicked.connect(self._on_message_clicked)
        session.dataChanged.connect(self.refresh)
        session.statusChanged.connect(self._on_status)
        self._on_status(session.status)

    # ------------------------------------------------------------------ public API

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        if enabled == self._enabled:
            return
        self._enabled = enabled
        self._previous = None  # re-prime: no burst of what happened while switched off
        if enabled:
            self.refresh()

    @property
    def primed(self) -> bool:
        return self._previous is not None

    def refresh(self) -> None:
        """Compare "mine" with the last snapshot (coalesced: one read at a time)."""
        if not self._enabled or not self._ready:
            return
        if self._running:
            self._again = True
            return
        self._running = True
        spawn(self._run(), "notifier")

    # ------------------------------------------------------------------ internals

    def _on_status(self, status: EngineStatus) -> None:
        if status.state is EngineState.BOOTSTRAPPING:
            self._ready = False
            self._previous = None
        elif status.state is EngineState.UP_TO_DATE and not self._ready:
            self._ready = True
            self.refresh()

    async def _run(self) -> None:
        try:
            while True:
                self._again = False
                previous = self._previous
                snap, alerts = await self.session.read(mine_changes, self.session.agent_id,
                                                       previous)
                if not self._enabled or not self._ready:
                    self._previous = None
                    return
                if self._previous is previous:  # nobody re-primed meanwhile
                    self._previous = snap
                    for alert in alerts:
                        self._announce(alert)
                if not self._again:
                    return
        finally:
            self._running = False

    def _announce(self, alert: Alert) -> None:
        # The customer's name and words, hidden characters shown; the name in a sentence
        # bidi-isolated so it cannot reorder the words around it.
        contact = alert.contact_name or self.tr("A customer")
        if alert.kind == "assigned":
            title = self.tr("Assigned to you: {contact}").format(contact=display_safe(contact))
        else:
            title = display_safe(contact, isolate=False)
        text = display_safe(alert.text, isolate=False)
        self.history.append((title, text, alert.conversation_id))
        self.notified.emit(title, text, alert.conversation_id)
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        tray = self._ensure_tray()
        self._last_id = alert.conversation_id
        tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)

    def _ensure_tray(self) -> QSystemTrayIcon:
        if self._tray is None:
            icon = QGuiApplication.windowIcon()
            if icon.isNull():
                app = QApplication.instance()
                icon = (app.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation)
                        if isinstance(app, QApplication) else QIcon())
            self._tray = QSystemTrayIcon(icon, self)
            self._tray.setToolTip("Relaydesk")
            self._tray.messageClicked.connect(self._on_message_clicked)
            self._own_tray = True
        if self._own_tray and not self._tray.isVisible():
            self._tray.show()
        return self._tray

    def _on_message_clicked(self) -> None:
        if self._last_id:
            self.openConversation.emit(self._last_id)
