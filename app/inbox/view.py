"""The inbox list: the search bar (``search_bar``) and the lazy table, keeping the agent's place.

A refresh that changes the id list resets the model (the rest of a new view's ids is
inserted below its first page instead); the view puts the selection back on the same
conversation and the scroll position back on the same top row, so live updates never make
the agent lose their place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import (
    QDate,
    QDateTime,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    Qt,
    QTime,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFocusEvent, QFont, QFontMetrics, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app import times
from app.inbox.model import (
    COL_ACTIVITY,
    COL_ASSIGNEE,
    COL_CHANNEL,
    COL_CONTACT,
    COL_DUE,
    COL_PRIORITY,
    COL_STATUS,
    COL_SUBJECT,
    COL_TAGS,
    COL_UNREAD,
    COL_UNTIL,
    ID_ROLE,
    SORT_BY_COLUMN,
    InboxModel,
)
from app.inbox.search_bar import SearchBar
from sync.queries import InboxFilter, Sort


class InboxTable(QTableView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setSortingEnabled(False)  # the model sorts in SQL; header clicks handled below
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(24)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setAccessibleName(self.tr("Conversations"))
        self.focusing = False

    def visible_rows(self) -> range:
        """The rows the viewport shows now (empty when the model has none)."""
        count = self.model().rowCount() if self.model() is not None else 0
        if count == 0:
            return range(0)
        top = max(0, self.rowAt(0))
        bottom = self.rowAt(self.viewport().height() - 1)
        return range(top, (count - 1 if bottom < 0 else bottom) + 1)

    def keyboardSearch(self, search: str) -> None:
        # No type-ahead: a letter typed here would move the selection to a row the agent is
        # not looking at, and a one-key shortcut after it would act there. Letters are keys.
        return

    def focusInEvent(self, event: QFocusEvent) -> None:
        # Qt makes the first row current when a view without one gains focus; that is not
        # the agent choosing a conversation, so the pane must not switch because of it.
        self.focusing = True
        try:
            super().focusInEvent(event)
        finally:
            self.focusing = False


class InboxView(QWidget):
    """Search + sort + the table. Emits ``conversationActivated(id)`` on selection."""

    conversationActivated = Signal(str)
    saveFilterRequested = Signal(object)  # the current InboxFilter
    sortChanged = Signal(object)  # the Sort the agent chose

    def __init__(self, model: InboxModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.bar = SearchBar(self)
        self.search = self.bar.search
        self.sort_box = self.bar.sort_box
        self.save_button = self.bar.save_button
        self.count_label = self.bar.count_label
        self.table = InboxTable(self)
        self.table.setModel(model)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionsClickable(True)
        header.setHighlightSections(False)
        # Dense: the subject takes what is left; the rest are as narrow as their content.
        widths = {COL_CHANNEL: 24, COL_CONTACT: 118, COL_STATUS: 64, COL_PRIORITY: 58,
                  COL_TAGS: 92, COL_ASSIGNEE: 84, COL_UNREAD: 30, COL_DUE: 84,
                  COL_UNTIL: 96, COL_ACTIVITY: 54}
        titles = header.fontMetrics()
        cells = self._time_widths()
        for col, width in widths.items():
            # Wide enough for the column's title too, in the agent's language, and for a
            # time or date as the locale writes it (bold: unread rows).
            title = model.headerData(col, Qt.Orientation.Horizontal) or ""
            widths[col] = width = max(width, titles.horizontalAdvance(title) + self.TITLE_PAD,
                                      cells.get(col, 0))
            header.resizeSection(col, width)
        self._widths = widths  # the last width of each column, hidden ones included
        header.setSectionResizeMode(COL_SUBJECT, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(24)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.horizontalScrollBar().setEnabled(True)
        header.sectionClicked.connect(self._header_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.bar)
        layout.addWidget(self.table, 1)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.bar.everyStatusChanged.connect(lambda _every: self._apply_search())
        self.sort_box.currentIndexChanged.connect(self._sort_changed)
        self.save_button.clicked.connect(
            lambda: self.saveFilterRequested.emit(self.model.inbox_filter))
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        model.modelAboutToBeReset.connect(self._remember_place)
        model.modelReset.connect(self._restore_place)
        model.loaded.connect(self._view_loaded)
        self._current_id: str | None = None
        self._current_row: int | None = None  # where the open conversation was last seen
        self._view = InboxFilter(assignee="me")  # the view as navigation chose it
        self._mine = True
        self._top_id: str | None = None
        self._restoring = False

    # ------------------------------------------------------------------ navigation

    # Columns given up, in this order, when the list is too narrow for the subject to be
    # read; they come back when there is room. (Bold rows still say unread; the open
    # conversation's header shows its status and assignee.)
    OPTIONAL_COLUMNS = (COL_TAGS, COL_UNREAD, COL_PRIORITY, COL_STATUS, COL_ASSIGNEE)
    # … and where the Snoozed until column is shown (it says more there), these next.
    OPTIONAL_BESIDE_UNTIL = (COL_DUE, COL_ACTIVITY)
    SUBJECT_MIN = 170
    TITLE_PAD = 14  # the header's margins around a column's title
    CELL_PAD = 8  # a cell's margins around its text (the style's, both sides)

    def _time_widths(self) -> dict[int, int]:
        """The width the time columns need for the longest time and date of the locale."""
        bold = QFont(self.table.font())
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        year = QDate.currentDate().year()
        samples = [QDateTime(QDate(year, 12, 28), QTime(hour, 58)).toMSecsSinceEpoch()
                   for hour in (0, 12)]  # (AM and PM differ in width)

        def widest(write: Callable[[int], str]) -> int:
            return max(metrics.horizontalAdvance(write(ms)) for ms in samples) + self.CELL_PAD

        return {COL_ACTIVITY: max(widest(times.time_of_day), widest(times.date_text)),
                COL_UNTIL: widest(times.date_time_text)}

    def set_filter(self, flt: InboxFilter, name: str | None = None) -> None:
        """Show a view (``name``: what navigation calls it, for where a search looked)."""
        # In "Mine" every row says "Me": the column's room goes to the subject instead. The
        # columns change when the view's rows arrive: the old rows are not laid out again.
        self._mine = flt.assignee == "me"
        # A saved view brings its search; leaving it takes that search away again.
        if flt.text or (self._view.text and self.search.text().strip() == self._view.text):
            self.bar.set_search_text(flt.text)
        self._view = flt
        self.bar.every_status = False
        if name is not None:
            self.bar.view_name = name
        self.model.set_view(flt=self._shown_filter())

    def _shown_filter(self) -> InboxFilter:
        """The view with the search typed, over every status when the agent asked so."""
        text = self.search.text().strip()
        if not text:
            self.bar.every_status = False
        statuses = None if self.bar.every_status else self._view.statuses
        return replace(self._view, text=text, statuses=statuses)

    def _fit_columns(self) -> None:
        header = self.table.horizontalHeader()
        # Room as if the vertical scroll bar were shown (it comes and goes with the rows).
        room = (self.table.width() - 2 * self.table.frameWidth()
                - self.table.verticalScrollBar().sizeHint().width())
        hidden = {COL_ASSIGNEE} if self._mine else set()
        statuses = self.model.inbox_filter.statuses
        if statuses is not None and "snoozed" not in statuses:
            hidden.add(COL_UNTIL)  # only a list that can hold snoozed conversations has it
        for col in self._widths:
            if not self.table.isColumnHidden(col):  # a hidden column's size reads 0
                self._widths[col] = header.sectionSize(col)
        needed = self.SUBJECT_MIN + sum(
            width for col, width in self._widths.items() if col not in hidden)
        optional = self.OPTIONAL_COLUMNS + (
            self.OPTIONAL_BESIDE_UNTIL if COL_UNTIL not in hidden else ())
        for col in optional:
            if needed <= room:
                break
            if col not in hidden:
                hidden.add(col)
                needed -= self._widths[col]
        # Only what changes: hiding or showing a column lays out and repaints the list.
        for col in (*self.OPTIONAL_COLUMNS, *self.OPTIONAL_BESIDE_UNTIL, COL_UNTIL):
            if self.table.isColumnHidden(col) != (col in hidden):
                self.table.setColumnHidden(col, col in hidden)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange,
                            QEvent.Type.FontChange, QEvent.Type.LanguageChange):
            # The model keeps each row's fonts, colours, icons and words: work them out anew.
            self.model.forget_presentation()
            self.table.viewport().update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_columns()
        # A new view reads the rows of its first screen together with its ids. From the
        # table's own height: before the window is first shown, the layout has sized the
        # table but its viewport is still unsized (Qt lays it out when the table is shown),
        # and a first screen of 2 rows cost the start-up a second read before its paint.
        height = self.table.verticalHeader().defaultSectionSize()
        rows_height = self.table.height() - self.table.horizontalHeader().sizeHint().height()
        self.model.screen_rows = max(0, rows_height) // max(1, height) + 2

    def current_id(self) -> str | None:
        return self._current_id

    def select_id(self, conversation_id: str) -> bool:
        row = self.model.row_of(conversation_id)
        if row < 0:
            return False
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, COL_CONTACT),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(self.model.index(row, COL_CONTACT))
        return True

    def move(self, step: int) -> None:
        """J/K: the next or previous conversation, from the one the agent has open; when it
        left the list (resolved, reassigned), from where it was: the row that took its
        place is the next one."""
        count = self.model.rowCount()
        if not count:
            return
        current = self.model.row_of(self._current_id) if self._current_id else -1
        if current >= 0:
            row = current + step
        elif self._current_row is not None:
            row = self._current_row + (0 if step > 0 else step)
        else:
            current = self.table.currentIndex().row()
            row = 0 if current < 0 else current + step
        row = min(count - 1, max(0, row))
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, COL_CONTACT),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(self.model.index(row, COL_CONTACT))

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # ------------------------------------------------------------------ internals

    def _apply_search(self) -> None:
        flt = self._shown_filter()
        if flt != self.model.inbox_filter:
            self.model.set_view(flt=flt)

    def start_in_order(self, sort: Sort) -> None:
        """Show the list in ``sort`` from its first view (a restored setting): the box
        shows it, and the first view loads in it (no read of its own)."""
        old = self.sort_box.blockSignals(True)
        self.sort_box.setCurrentIndex(self.sort_box.findData(sort.value))
        self.sort_box.blockSignals(old)
        self.model.start_in_order(sort)

    def _sort_changed(self, _index: int) -> None:
        sort = Sort(self.sort_box.currentData())
        self.model.set_view(sort=sort)
        self.sortChanged.emit(sort)

    def _header_clicked(self, column: int) -> None:
        sort = SORT_BY_COLUMN.get(column)
        if sort is not None:
            self.sort_box.setCurrentIndex(self.sort_box.findData(sort.value))

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._restoring or self.table.focusing or not current.isValid():
            return
        cid = current.data(ID_ROLE)
        if cid and cid != self._current_id:
            self._current_id = cid
            self._current_row = current.row()
            self.model.hold(cid)  # its row stays put while it is open (a reply re-sorts it)
            self.conversationActivated.emit(cid)

    def _remember_place(self) -> None:
        if self._current_id is not None and self.model.row_of(self._current_id) >= 0:
            self._current_row = self.model.row_of(self._current_id)
        top = self.table.indexAt(self.table.viewport().rect().topLeft())
        self._top_id = top.data(ID_ROLE) if top.isValid() else None
        self._top_offset = self.table.visualRect(top).top() if top.isValid() else 0

    def _restore_place(self) -> None:
        # The new view's columns, and its rows laid out now rather than in the first paint:
        # done there, it changes the scroll bars and the whole list is painted again.
        self._fit_columns()
        self.table.executeDelayedItemsLayout()
        self._restoring = True
        try:
            # A conversation that left the view (resolved, reassigned) stays open in the
            # pane until the agent moves on; nothing else gets opened (or marked read).
            if self._current_id is not None:
                row = self.model.row_of(self._current_id)
                if row >= 0:
                    self.table.selectionModel().setCurrentIndex(
                        self.model.index(row, COL_CONTACT),
                        QItemSelectionModel.SelectionFlag.ClearAndSelect
                        | QItemSelectionModel.SelectionFlag.Rows)
            if self.model.switched_view:
                self._current_row = None  # a place in another view means nothing here
                self.table.scrollToTop()
            elif self._top_id is not None:
                row = self.model.row_of(self._top_id)
                if row >= 0:
                    height = self.table.verticalHeader().defaultSectionSize()
                    self.table.verticalScrollBar().setValue(row * height - self._top_offset)
        finally:
            self._restoring = False

    def _view_loaded(self) -> None:
        self._fit_columns()
        self._update_count()

    def _update_count(self) -> None:
        self.bar.show_count(self.model.total())
        self.bar.show_scope(self.model.inbox_filter, self._view, self.model.total())
