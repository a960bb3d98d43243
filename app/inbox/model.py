"""The inbox list model: holds only conversation ids; rows load lazily, off the GUI thread.

After Anki's browser table: the model knows the ids of the current view, and ``data()``
answers from a row cache. A new view reads its first page of ids, the rows of its first
screen and its size in one read, then the rest of its ids behind (rows beyond the ids read
so far are counted, their ``ID_ROLE`` None until then). A miss queues the id; one
background read per event-loop turn fetches every queued id plus its neighbours, then
``dataChanged`` repaints them. When the mirror changes, the id list is re-read and cached
rows are marked stale (they keep showing until their fresh copy arrives, so nothing
flickers). The open conversation's row is held where it is (``hold``) when the view is re-read:
a reply would otherwise move it to the top, out from under the agent's pointer.
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
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont

from app import times
from app.labels import channel_icon, pending_changes_label, priority_label, status_label
from app.session import DeskSession
from app.tasks import spawn
from app.widgets import plain_tooltip
from protocol.rules import WindowKind
from sync import queries
from sync.display import display_safe
from sync.domain import SlaState, sla_clock
from sync.queries import ConversationRow, InboxFilter, Sort
from sync.status import now_ms

# A plain name lupdate recognises (an alias called ``tr`` would be read as self.tr).
translate = QCoreApplication.translate

log = logging.getLogger("relaydesk.inbox")

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the ConversationRow (or None while loading)
ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the conversation id (None while not yet read)

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
    COL_UNTIL,
    COL_ACTIVITY,
) = range(11)
COLUMNS = 11
BLOCK = 100  # rows fetched around a miss
PAGE = 150  # ids a new view reads first, with its first screen of rows; the rest follow
SCREEN_ROWS = 40  # rows read with a new view's first ids until the view says how many show
CACHE_LIMIT = 4000
UNREAD_MARK = "\u25cf"  # the unread column's title: a dot, as narrow as its counts
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


_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_ROW = int(ROW_ROLE)
_ID = int(ID_ROLE)
_ENABLED = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_NO_FLAGS = Qt.ItemFlag.NoItemFlags
# A row whose data is on its way: the customer column says so, the rest stays empty.
_LOADING: tuple[dict[int, Any], ...] = tuple(
    {_DISPLAY: "…"} if col == COL_CONTACT else {} for col in range(COLUMNS))


@dataclass
class _Presented:
    """What one row shows, cell by cell: role -> value (text, font, colour, icon)."""

    row: ConversationRow  # the row it was worked out for (a fresh copy replaces it)
    cells: tuple[dict[int, Any], ...]


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
        self._fonts: dict[tuple[bool, bool], QFont] = {}
        self._icons: dict[str, Any] = {}
        self._fetching = False
        self._filter = InboxFilter(assignee="me")
        self._sort = Sort.LAST_ACTIVITY
        self._generation = 0
        self._switching = False  # a new view is on its way: the old one's rows are not read
        self._complete = True  # whether ``_ids`` holds the whole view (else: its first page)
        self._total: int | None = 0  # the view's size, when known
        self._count = 0  # rows shown: the view's size once known, ids or not (see _load_ids)
        self._asked_beyond = False  # a row past the ids read so far was asked for
        self._interrupt: queries.Interrupt | None = None  # of the whole id list's read
        self._held: str | None = None  # the open conversation: its row stays where it is
        self.page_size = PAGE
        self.screen_rows = SCREEN_ROWS
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
            translate("InboxModel", "Unread messages"),
            translate("InboxModel", "Due"),
            translate("InboxModel", "Snoozed until"),
            translate("InboxModel", "Last activity"),
        ]
        # Titles of narrow columns, whose tooltip keeps the full name.
        self.short_headers = {COL_ACTIVITY: translate("InboxModel", "Updated"),
                              COL_UNTIL: translate("InboxModel", "Until")}

    # ------------------------------------------------------------------ the view

    @property
    def inbox_filter(self) -> InboxFilter:
        return self._filter

    @property
    def sort_order(self) -> Sort:
        return self._sort

    def start_in_order(self, sort: Sort) -> None:
        """The order the first view loads in (a restored setting); nothing is read now."""
        self._sort = sort

    def set_view(self, flt: InboxFilter | None = None, sort: Sort | None = None) -> None:
        """Show another view (or order): its first page of ids and the rows of its first
        screen in one read, then the rest of its ids in the background."""
        if flt is not None:
            self._filter = flt
        if sort is not None:
            self._sort = sort
        self._switching = True  # from now on the old view's rows are not worth reading
        self._wanted.clear()
        self.refresh()

    def hold(self, conversation_id: str | None) -> None:
        """Keep this conversation's row in its place among its neighbours when the view is
        re-read (the agent has it open), until another one is held."""
        self._held = conversation_id

    def _held_place(self) -> Place | None:
        """Where the held conversation's row is now: for the next id list to keep it there."""
        held = self._held
        old = self._positions.get(held, -1) if held is not None else -1
        if held is None or not 0 <= old < len(self._ids):
            return None
        return Place(held, old, self._ids[old - 1] if old > 0 else None,
                     self._ids[old + 1] if old + 1 < len(self._ids) else None)

    def refresh(self) -> None:
        """Re-read the id list (off-thread); cached rows go stale but keep showing."""
        if self._interrupt is not None:
            self._interrupt.interrupt()  # an id list nobody will see
            self._interrupt = None
        self._generation += 1
        self._stale.update(self._cache)
        if self._switching:
            spawn(self._load_view(self._generation), "inbox-view")
        else:
            spawn(self._load_ids(self._generation), "inbox-ids")

    async def _load_view(self, generation: int) -> None:
        page = self.page_size
        flt, sort = self._filter, self._sort
        try:
            ids, rows, total = await self.session.read(
                _first_page, flt, sort, self.session.agent_id, page, self.screen_rows,
                now_ms())
        except BaseException:
            if generation == self._generation:
                self._switching = False  # the old view stays: its rows load again
            raise
        if generation != self._generation:
            return  # a newer view or refresh won
        complete = len(ids) < page
        self._show(ids, rows, total if not complete else len(ids), complete, switched=True)
        if not complete:
            spawn(self._load_ids(generation), "inbox-ids")

    async def _load_ids(self, generation: int) -> None:
        """The whole id list: the rest of a new view's ids after its first page (appended
        below it), or a refresh of the view shown (keeping the agent's place). A newer view
        or refresh interrupts the read: it would only compete with the read that matters."""
        if generation != self._generation:
            return  # a newer view or refresh came before this read even started
        self._interrupt = interrupt = queries.Interrupt()
        try:
            ids, positions = await self.session.read(
                _ids_and_positions, self._filter, self._sort, self.session.agent_id, interrupt,
                self._held_place())
        except queries.Interrupted:
            return
        if generation != self._generation:
            return  # a newer view or refresh won
        known, shown = len(self._ids), self._count
        if not self._complete and ids[:known] == self._ids:
            # The first page is still the view's top: the rest of the ids fill the rows below
            # it (counted, so already there, and usually not yet looked at), and the scroll
            # position, the selection and the rows read already stay as they are.
            self._total, self._complete = len(ids), True
            if len(ids) > shown:
                self.beginInsertRows(_ROOT, shown, len(ids) - 1)
                self._ids, self._positions, self._count = ids, positions, len(ids)
                self.endInsertRows()
            elif len(ids) < shown:
                self.beginRemoveRows(_ROOT, len(ids), shown - 1)
                self._ids, self._positions, self._count = ids, positions, len(ids)
                self.endRemoveRows()
            else:
                self._ids, self._positions = ids, positions
            if self._asked_beyond and min(shown, len(ids)) > known:
                self.dataChanged.emit(self.index(known, 0),
                                      self.index(min(shown, len(ids)) - 1, COLUMNS - 1))
            self._asked_beyond = False
            self._now = now_ms()
            self._refetch_stale()  # a refresh came meanwhile: the rows on screen read again
            self.loaded.emit()
            return
        self._show(ids, {}, len(ids), True, switched=False, positions=positions)

    def _show(self, ids: list[str], rows: dict[str, ConversationRow], total: int | None,
              complete: bool, switched: bool, positions: dict[str, int] | None = None) -> None:
        self._now = now_ms()
        for cid, row in rows.items():
            self._cache[cid] = row
            self._stale.discard(cid)
        self._switching = False
        self._total, self._complete = total, complete
        # A new view starts at its top; a refresh of the same view keeps the agent's place.
        self.switched_view = switched
        count = len(ids) if complete or total is None else total
        self._asked_beyond = False
        if ids != self._ids or count != self._count:
            self.beginResetModel()
            self._ids, self._count = ids, count
            self._positions = positions if positions is not None else {
                cid: n for n, cid in enumerate(ids)}
            self.endResetModel()
        else:
            self._refetch_stale()
        self.loaded.emit()

    def _refetch_stale(self) -> None:
        """Read again the stale rows that are cached: those the view has shown (the same ids
        in the same places: nothing repaints them by itself)."""
        wanted = [i for i in self._stale if i in self._cache and i in self._positions]
        if wanted:
            self._wanted.update(wanted)
            self._fetch_timer.start()

    def total(self) -> int | None:
        """How many conversations the view holds: known before all their ids are (None
        while a search is still counting)."""
        return self._total

    def complete(self) -> bool:
        """Whether every id of the view is in (else the rest, or the view, is being read)."""
        return self._complete and not self._switching

    def ids(self) -> Sequence[str]:
        return self._ids

    def row_of(self, conversation_id: str) -> int:
        return self._positions.get(conversation_id, -1)

    def cached(self, conversation_id: str) -> ConversationRow | None:
        return self._cache.get(conversation_id)

    # ------------------------------------------------------------------ lazy rows

    def _row(self, index: int) -> ConversationRow | None:
        if index >= len(self._ids):  # its id is still being read
            self._asked_beyond = True
            return None
        cid = self._ids[index]
        row = self._cache.get(cid)
        if row is None or cid in self._stale:
            self._want(index)
        return row

    def _want(self, index: int) -> None:
        cid = self._ids[index]
        if self._switching or cid in self._wanted or cid in self._in_flight:
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
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else COLUMNS

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < COLUMNS:
            if role == Qt.ItemDataRole.DisplayRole:
                # Icon-sized columns: the channel's shows no title, the unread count's the
                # dot that says "unread" (narrow in any language); tooltips name them.
                if section == COL_CHANNEL:
                    return ""
                if section == COL_UNREAD:
                    return UNREAD_MARK
                return self.short_headers.get(section, self.headers[section])
            if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
                return self.headers[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return _ENABLED if index.isValid() else _NO_FLAGS

    def _cell(self, index: QModelIndex | QPersistentModelIndex
              ) -> tuple[ConversationRow | None, dict[int, Any]] | None:
        """The row (None while it loads) and the cell's role -> value, for an index in the
        view; None for one outside it. Asks for the row when it is missing or stale."""
        r = index.row()
        if not index.isValid() or not (0 <= r < self._count):
            return None
        row = self._row(r)
        col = index.column()
        return row, _LOADING[col] if row is None else self._presented(row).cells[col]

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == _ID:
            r = index.row()
            return self._ids[r] if index.isValid() and 0 <= r < len(self._ids) else None
        found = self._cell(index)
        if found is None:
            return None
        row, cell = found
        if role == _ROW:
            return row
        value = cell.get(role)
        if value is not None or row is None:
            return value
        col = index.column()
        if role == _TOOLTIP:
            tip = self._tooltip(row, col)  # names, subjects: customer text, shown literally
            return plain_tooltip(tip) if tip else None
        if role == _ACCESSIBLE:
            return (f"{display_safe(row.contact_name)}: "
                    f"{display_safe(row.subject or row.preview)}")
        return None

    def multiData(self, index: QModelIndex | QPersistentModelIndex,
                  roleDataSpan: Any) -> None:
        """Every role a delegate paints a cell with, in one call (Qt's item delegates ask
        this way): a screen of rows is a few hundred calls into Python, not thousands."""
        found = self._cell(index)
        if found is None:
            return
        cell = found[1]
        for n in range(len(roleDataSpan)):
            item = roleDataSpan[n]
            role = item.role()
            value = cell.get(role)
            if value is None and role in (_TOOLTIP, _ACCESSIBLE, _ID, _ROW):
                value = self.data(index, role)
            if value is not None:
                item.setData(value)
            else:  # a delegate hands the same span to every cell: nothing may stay over
                item.clearData()

    def forget_presentation(self) -> None:
        """Work out the cells again (fonts, colours and icons follow a theme change)."""
        self._shown.clear()
        self._fonts.clear()
        self._icons.clear()

    def _presented(self, row: ConversationRow) -> _Presented:
        """What the row shows, worked out once per fetched row: a paint asks for every role
        of every cell."""
        shown = self._shown.get(row.id)
        if shown is None or shown.row is not row:
            shown = self._shown[row.id] = self._present(row)
        return shown

    def _font(self, bold: bool, italic: bool) -> QFont:
        font = self._fonts.get((bold, italic))
        if font is None:
            font = self._fonts[bold, italic] = QFont()
            font.setBold(bold)
            font.setItalic(italic)
        return font

    def _icon(self, channel_type: str) -> Any:
        if channel_type not in self._icons:
            self._icons[channel_type] = channel_icon(channel_type)
        return self._icons[channel_type]

    def _present(self, row: ConversationRow) -> _Presented:
        cells: tuple[dict[int, Any], ...] = tuple(
            {_DISPLAY: self._display(row, col)} for col in range(COLUMNS))
        pending = bool(row.pending_intents or row.failed_intents)
        unread = row.unread_count > 0
        if unread:  # bold: unread; italic status: not sent yet
            bold = self._font(True, False)
            for cell in cells:
                cell[_FONT] = bold
        if unread or pending:
            cells[COL_STATUS][_FONT] = self._font(unread, pending)
        severity = due_badge(row, self._now)[1]
        if severity:
            cells[COL_DUE][_FOREGROUND] = _brush(SEVERITY_COLORS[severity])
        if row.priority in ("urgent", "high"):
            cells[COL_PRIORITY][_FOREGROUND] = _brush(SEVERITY_COLORS["overdue"])
        if pending:
            cells[COL_STATUS][_FOREGROUND] = _brush(
                SEVERITY_COLORS["overdue" if row.failed_intents else "due_soon"])
        icon = self._icon(row.channel_type)
        if icon is not None:
            cells[COL_CHANNEL][_DECORATION] = icon
        return _Presented(row, cells)

    def _display(self, row: ConversationRow, col: int) -> str:
        if col == COL_CHANNEL:
            return ""
        if col == COL_CONTACT:
            return display_safe(row.contact_name, isolate=False)
        if col == COL_SUBJECT:
            subject = " ".join((row.subject or "").split())[:160]
            room = max(0, 157 - len(subject)) if subject else 160  # 160 in all with " — "
            preview = " ".join(row.preview.split())[:room]
            if subject and preview:  # side by side: each isolated, so neither reorders the other
                return f"{display_safe(subject)} — {display_safe(preview)}"
            return display_safe(subject or preview, isolate=False)
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
        if col == COL_UNTIL:  # when a snoozed conversation comes back
            return (times.date_time_text(row.snoozed_until)
                    if row.status == "snoozed" and row.snoozed_until else "")
        if col == COL_ACTIVITY:
            return times.when_text(row.last_activity_at)
        return ""

    def _tooltip(self, row: ConversationRow, col: int) -> str | None:
        if col == COL_CHANNEL:
            return row.channel_name
        if col == COL_ACTIVITY:
            return times.full_text(row.last_activity_at)
        if col == COL_UNTIL and row.status == "snoozed" and row.snoozed_until:
            return translate("InboxModel", "Snoozed until {when}").format(
                when=times.full_text(row.snoozed_until))
        if col == COL_SUBJECT:
            return display_safe((row.preview or "")[:500], isolate=False)
        if col == COL_ASSIGNEE:
            return f"{row.team_name}"
        if col == COL_STATUS and row.failed_intents:
            return translate(
                "InboxModel", "A change to this conversation failed: open it to retry or discard."
            )
        if col == COL_STATUS and row.pending_intents:
            return pending_changes_label(row.pending_intents)
        if col == COL_CONTACT:
            return display_safe(row.contact_name, isolate=False)
        if col == COL_PRIORITY:
            return priority_label(row.priority)
        if col == COL_DUE:
            return self._due_tooltip(row)
        return None

    def _due_tooltip(self, row: ConversationRow) -> str | None:
        if row.sla_due_at is None:
            return None
        due = times.full_text(row.sla_due_at)
        return translate("InboxModel", "Answer due {when}").format(when=due)


@dataclass(frozen=True)
class Place:
    """A row's place in the list: its index and the ids beside it."""

    id: str
    index: int
    before: str | None
    after: str | None


def keep_in_place(ids: list[str], positions: dict[str, int], place: Place
                  ) -> list[str] | None:
    """``ids`` with ``place.id`` put back after the row it followed (or before the one it
    preceded, when that one left); None when it is there already or not in ``ids``."""
    new = positions.get(place.id, -1)
    if new < 0:
        return None
    if place.before is None:
        at = 0
    elif place.before in positions:
        at = positions[place.before] + (1 if positions[place.before] < new else 0)
    elif place.after in positions:
        at = positions[place.after] - (0 if positions[place.after] < new else 1)
    else:
        at = min(place.index, len(ids) - 1)
    if at == new:
        return None
    moved = ids[:new] + ids[new + 1:]
    moved.insert(at, place.id)
    return moved


def _ids_and_positions(store: Any, flt: InboxFilter, sort: Sort, me: str | None,
                       interrupt: queries.Interrupt | None = None, held: Place | None = None
                       ) -> tuple[list[str], dict[str, int]]:
    """The view's ids and each id's row number; the ``held`` row kept in its place."""
    ids = queries.conversation_ids(store, flt, sort, me, interrupt=interrupt)
    positions = {cid: n for n, cid in enumerate(ids)}
    moved = keep_in_place(ids, positions, held) if held is not None else None
    if moved is not None:
        ids, positions = moved, {cid: n for n, cid in enumerate(moved)}
    return ids, positions


def _first_page(store: Any, flt: InboxFilter, sort: Sort, me: str | None, page: int,
                screen: int, now: int) -> tuple[list[str], dict[str, ConversationRow], int | None]:
    """A new view's first ``page`` ids, the rows of its first ``screen`` and its size, in
    one trip to the reader thread: the view paints once, with data, before the rest of its
    ids are read. The size of a search is left to the whole list (counting it costs what
    reading it does)."""
    ids = queries.conversation_ids(store, flt, sort, me, limit=page)
    rows = queries.conversation_rows(store, ids[:screen], now) if screen else {}
    total = None
    if len(ids) >= page and not flt.text.strip():
        # (Its own read: a change committed in between may leave it short of the ids.)
        total = max(len(ids), queries.conversation_count(store, flt, me))
    return ids, rows, total
