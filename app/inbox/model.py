"""The inbox list model: holds only conversation ids; rows load lazily, off the GUI thread.

After Anki's browser table: the model knows the ids of the current view (one query), and
``data()`` answers from a row cache. A miss queues the id; one background read per event-loop
turn fetches every queued id plus its neighbours, then ``dataChanged`` repaints them. When the
mirror changes, the id list is re-read and cached rows are marked stale (they keep showing
until their fresh copy arrives, so nothing flickers).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QDateTime,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont

from app.labels import channel_icon, priority_label, status_label
from app.session import DeskSession
from app.tasks import spawn
from app.widgets import plain_tooltip
from sync import queries
from sync.domain import SlaState, sla_clock
from sync.engine import now_ms
from sync.queries import ConversationRow, InboxFilter, Sort
from sync.rules import WindowKind

# A plain name lupdate recognises (an alias called ``tr`` would be read as self.tr).
translate = QCoreApplication.translate

log = logging.getLogger("relaydesk.inbox")

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the ConversationRow (or None while loading)
ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the conversation id

(
    COL_CHANNEL,
    COL_CONTACT,
    COL_SUBJECT,
    COL_STATUS,
    COL_PRIORITY,
    COL_TAGS,
    COL_ASSIGNEE,
    COL_UNREAD,
    COL_DUE,
    COL_ACTIVITY,
) = range(10)
COLUMNS = 10
BLOCK = 100  # rows fetched around a miss
CACHE_LIMIT = 4000
SORT_BY_COLUMN = {
    COL_ACTIVITY: Sort.LAST_ACTIVITY,
    COL_PRIORITY: Sort.PRIORITY,
    COL_DUE: Sort.WAITING,
}


def duration_label(ms: int) -> str:
    """Compact, for a dense column: 45m, 3h, 4d."""
    minutes = max(0, ms) // 60_000
    if minutes < 60:
        return translate("InboxModel", "{m}m").format(m=minutes)
    hours = minutes // 60
    if hours < 48:
        return translate("InboxModel", "{h}h").format(h=hours)
    return translate("InboxModel", "{d}d").format(d=hours // 24)


def due_badge(row: ConversationRow, now: int) -> tuple[str, str | None]:
    """(text, severity) for the messaging-window / SLA column; severity: overdue, due_soon,
    blocked or None."""
    kind = row.window.kind
    if kind is WindowKind.OPTED_OUT:
        return translate("InboxModel", "Opted out"), "blocked"
    if kind is WindowKind.TEMPLATE_ONLY:
        return translate("InboxModel", "Template only"), "blocked"
    if kind is WindowKind.CLOSED:
        return translate("InboxModel", "Window closed"), "blocked"
    clock = sla_clock({"sla_due_at": row.sla_due_at, "status": row.status}, now)
    if clock.state is SlaState.OVERDUE:
        return translate("InboxModel", "Late {t}").format(
            t=duration_label(-(clock.remaining_ms or 0))
        ), "overdue"
    if clock.state is SlaState.DUE_SOON:
        return translate("InboxModel", "Due in {t}").format(
            t=duration_label(clock.remaining_ms or 0)
        ), "due_soon"
    if kind is WindowKind.HUMAN_AGENT_ONLY:
        return translate("InboxModel", "Human agent only"), "due_soon"
    if kind is WindowKind.OPEN and row.window.open_until is not None:
        left = row.window.open_until - now
        if left < 3 * 3_600_000:
            return translate("InboxModel", "Window {t}").format(t=duration_label(left)), "due_soon"
    if clock.state is SlaState.OK:
        return translate("InboxModel", "Due in {t}").format(
            t=duration_label(clock.remaining_ms or 0)
        ), None
    return "", None


_ROOT = QModelIndex()
SEVERITY_COLORS = {"overdue": "#d93025", "due_soon": "#b06000", "blocked": "#8e24aa"}


@dataclass
class _Presented:
    row: ConversationRow  # the row it was worked out for (a fresh copy replaces it)
    display: tuple[str, ...]
    font: QFont | None
    status_font: QFont | None
    brushes: dict[int, QBrush]


_BRUSHES: dict[str, QBrush] = {}


def _brush(color: str) -> QBrush:
    if color not in _BRUSHES:
        _BRUSHES[color] = QBrush(QColor(color))
    return _BRUSHES[color]


class InboxModel(QAbstractTableModel):
    """Ids of one view; rows from a cache filled in the background."""

    loaded = Signal()  # the id list of the current view arrived (count may have changed)
    rowsFetched = Signal()

    def __init__(self, session: DeskSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._ids: list[str] = []
        self._positions: dict[str, int] = {}
        self._cache: OrderedDict[str, ConversationRow] = OrderedDict()
        self._stale: set[str] = set()
        self._wanted: set[str] = set()
        self._in_flight: set[str] = set()
        self._shown: dict[str, _Presented] = {}
        self._fetching = False
        self._filter = InboxFilter(assignee="me")
        self._sort = Sort.LAST_ACTIVITY
        self._generation = 0
        self._view_generation = 0
        self.switched_view = False
        self._now = now_ms()
        self._fetch_timer = QTimer(self)
        self._fetch_timer.setSingleShot(True)
        self._fetch_timer.setInterval(0)
        self._fetch_timer.timeout.connect(self._start_fetch)
        session.dataChanged.connect(self.refresh)
        self.headers = [
            translate("InboxModel", "Channel"),
            translate("InboxModel", "Customer"),
            translate("InboxModel", "Subject"),
            translate("InboxModel", "Status"),
            translate("InboxModel", "Priority"),
            translate("InboxModel", "Tags"),
            translate("InboxModel", "Assignee"),
            translate("InboxModel", "Unread"),
            translate("InboxModel", "Due"),
            translate("InboxModel", "Last activity"),
        ]

    # ------------------------------------------------------------------ the view

    @property
    def inbox_filter(self) -> InboxFilter:
        return self._filter

    @property
    def sort_order(self) -> Sort:
        return self._sort

    def set_view(self, flt: InboxFilter | None = None, sort: Sort | None = None) -> None:
        if flt is not None:
            self._filter = flt
        if sort is not None:
            self._sort = sort
        self._view_generation = self._generation + 1  # a new view: fetch its first rows too
        self.refresh()

    def refresh(self) -> None:
        """Re-read the id list (off-thread); cached rows go stale but keep showing."""
        self._generation += 1
        self._stale.update(self._cache)
        spawn(self._load_ids(self._generation), "inbox-ids")

    async def _load_ids(self, generation: int) -> None:
        ids, positions, first_rows = await self.session.read(
            _ids_and_positions, self._filter, self._sort, self.session.agent_id,
            BLOCK if generation == self._view_generation else 0, now_ms()
        )
        if generation != self._generation:
            return  # a newer view or refresh won
        self._now = now_ms()
        for cid, row in first_rows.items():
            self._cache[cid] = row
            self._stale.discard(cid)
        # A new view starts at its top; a refresh of the same view keeps the agent's place.
        self.switched_view = generation == self._view_generation
        if ids != self._ids:
            self.beginResetModel()
            self._ids, self._positions = ids, positions
            self.endResetModel()
        elif self._ids:
            self._wanted.update(i for i in self._stale if i in self._cache)
            self._fetch_timer.start()
        self.loaded.emit()

    def ids(self) -> Sequence[str]:
        return self._ids

    def row_of(self, conversation_id: str) -> int:
        return self._positions.get(conversation_id, -1)

    def cached(self, conversation_id: str) -> ConversationRow | None:
        return self._cache.get(conversation_id)

    # ------------------------------------------------------------------ lazy rows

    def _row(self, index: int) -> ConversationRow | None:
        cid = self._ids[index]
        row = self._cache.get(cid)
        if row is None or cid in self._stale:
            self._want(index)
        return row

    def _want(self, index: int) -> None:
        cid = self._ids[index]
        if cid in self._wanted or cid in self._in_flight:
            return  # asked already: data() runs for every cell of every painted row
        start = max(0, index - BLOCK // 2)
        for other in self._ids[start : start + BLOCK]:
            stale = other not in self._cache or other in self._stale
            if stale and other not in self._in_flight:
                self._wanted.add(other)
        if not self._fetching and not self._fetch_timer.isActive():
            self._fetch_timer.start()

    def _start_fetch(self) -> None:
        if self._fetching or not self._wanted:
            return
        wanted = list(self._wanted)
        self._wanted.clear()
        self._in_flight = set(wanted)
        self._fetching = True
        spawn(self._fetch(wanted), "inbox-rows")

    async def _fetch(self, ids: list[str]) -> None:
        try:
            rows = await self.session.read(queries.conversation_rows, ids, now_ms())
        finally:
            self._fetching = False
            self._in_flight = set()
        for cid in ids:
            self._stale.discard(cid)
            row = rows.get(cid)
            if row is not None:
                self._cache[cid] = row
                self._cache.move_to_end(cid)
        while len(self._cache) > CACHE_LIMIT:
            old, _ = self._cache.popitem(last=False)
            self._stale.discard(old)
            self._shown.pop(old, None)
        rows_changed = sorted(r for r in map(self.row_of, ids) if r >= 0)
        if rows_changed:
            self.dataChanged.emit(
                self.index(rows_changed[0], 0), self.index(rows_changed[-1], COLUMNS - 1)
            )
        self.rowsFetched.emit()
        if self._wanted:
            self._fetch_timer.start()

    # ------------------------------------------------------------------ Qt model API

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else COLUMNS

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < COLUMNS:
            if role == Qt.ItemDataRole.DisplayRole:
                # Icon-sized columns show no title; their tooltip names them.
                return "" if section in (COL_CHANNEL, COL_UNREAD) else self.headers[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return self.headers[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._ids)):
            return None
        if role == ID_ROLE:
            return self._ids[index.row()]
        row = self._row(index.row())
        if role == ROW_ROLE:
            return row
        if row is None:
            return "…" if role == Qt.ItemDataRole.DisplayRole and index.column() == 1 else None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._presented(row).display[col]
        if role == Qt.ItemDataRole.DecorationRole and col == COL_CHANNEL:
            return channel_icon(row.channel_type)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = self._tooltip(row, col)  # names, subjects: customer text, shown literally
            return plain_tooltip(tip) if tip else None
        if role == Qt.ItemDataRole.FontRole:
            shown = self._presented(row)
            return shown.status_font if col == COL_STATUS else shown.font
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._presented(row).brushes.get(col)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{row.contact_name}: {row.subject or row.preview}"
        return None

    def _presented(self, row: ConversationRow) -> _Presented:
        """What the row shows, worked out once per fetched row: a paint asks data() for
        every role of every cell (a 40-row screen is thousands of calls)."""
        shown = self._shown.get(row.id)
        if shown is None or shown.row is not row:
            shown = self._shown[row.id] = self._present(row)
        return shown

    def _present(self, row: ConversationRow) -> _Presented:
        pending = bool(row.pending_intents or row.failed_intents)
        font = status_font = None
        if row.unread_count > 0 or pending:  # bold: unread; italic status: not sent yet
            status_font = QFont()
            status_font.setBold(row.unread_count > 0)
            status_font.setItalic(pending)
        if row.unread_count > 0:
            font = QFont()
            font.setBold(True)
        brushes: dict[int, QBrush] = {}
        severity = due_badge(row, self._now)[1]
        if severity:
            brushes[COL_DUE] = _brush(SEVERITY_COLORS[severity])
        if row.priority in ("urgent", "high"):
            brushes[COL_PRIORITY] = _brush(SEVERITY_COLORS["overdue"])
        if pending:
            brushes[COL_STATUS] = _brush(SEVERITY_COLORS["overdue" if row.failed_intents
                                                          else "due_soon"])
        return _Presented(row, tuple(self._display(row, c) for c in range(COLUMNS)), font,
                          status_font, brushes)

    def _display(self, row: ConversationRow, col: int) -> str:
        if col == COL_CHANNEL:
            return ""
        if col == COL_CONTACT:
            return row.contact_name
        if col == COL_SUBJECT:
            text = row.subject or row.preview
            if row.subject and row.preview:
                text = f"{row.subject} — {row.preview}"
            return " ".join(text.split())[:160]
        if col == COL_STATUS:
            return status_label(row.status)
        if col == COL_PRIORITY:  # only what stands out; normal and low stay quiet
            return priority_label(row.priority) if row.priority in ("urgent", "high") else ""
        if col == COL_TAGS:
            return ", ".join(row.tags)
        if col == COL_ASSIGNEE:
            if row.assignee_id is None:
                return translate("InboxModel", "Unassigned")
            if row.assignee_id == self.session.agent_id:
                return translate("InboxModel", "Me")
            return row.assignee_name or ""
        if col == COL_UNREAD:
            return str(row.unread_count) if row.unread_count else ""
        if col == COL_DUE:
            return due_badge(row, self._now)[0]
        if col == COL_ACTIVITY:
            return _when(row.last_activity_at, self._now)
        return ""

    def _tooltip(self, row: ConversationRow, col: int) -> str | None:
        if col == COL_CHANNEL:
            return row.channel_name
        if col == COL_ACTIVITY:
            return _long_date(row.last_activity_at)
        if col == COL_SUBJECT:
            return (row.preview or "")[:500]
        if col == COL_ASSIGNEE:
            return f"{row.team_name}"
        if col == COL_STATUS and row.failed_intents:
            return translate(
                "InboxModel", "A change to this conversation failed: open it to retry or discard."
            )
        if col == COL_STATUS and row.pending_intents:
            return translate("InboxModel", "{n} change(s) waiting to be sent").format(
                n=row.pending_intents
            )
        if col == COL_CONTACT:
            return row.contact_name
        if col == COL_PRIORITY:
            return priority_label(row.priority)
        if col == COL_DUE:
            return self._due_tooltip(row)
        return None

    def _due_tooltip(self, row: ConversationRow) -> str | None:
        if row.sla_due_at is None:
            return None
        due = _long_date(row.sla_due_at)
        return translate("InboxModel", "Answer due {when}").format(when=due)


def _ids_and_positions(
    store: Any, flt: InboxFilter, sort: Sort, me: str | None, first: int, now: int
) -> tuple[list[str], dict[str, int], dict[str, ConversationRow]]:
    """The view's ids, each id's row number, and the rows of the first ``first`` ids, in
    one trip to the reader thread: a new view paints once, with data."""
    ids = queries.conversation_ids(store, flt, sort, me)
    rows = queries.conversation_rows(store, ids[:first], now) if first else {}
    return ids, {cid: n for n, cid in enumerate(ids)}, rows


def _long_date(ms: int) -> str:
    """Date and time in the user-interface language (day and month names included)."""
    return QLocale().toString(QDateTime.fromMSecsSinceEpoch(ms), QLocale.FormatType.LongFormat)


def _when(ms: int, now: int) -> str:
    dt = QDateTime.fromMSecsSinceEpoch(ms)
    today = QDateTime.fromMSecsSinceEpoch(now).date()
    if dt.date() == today:
        return dt.toString("HH:mm")
    if dt.date().year() == today.year():
        return dt.toString("MM-dd")
    return dt.toString("yy-MM-dd")



