"""The navigation pane: Mine, Unassigned, All, teams, channels, statuses, tags, saved views.

Every entry carries a ``sync.queries.InboxFilter`` and a stable key ("mine", "team:<id>",
"saved:<name>"…) so the window can remember the view across restarts. Updating the directory
or the counts keeps the selection.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.labels import channel_icon, status_label
from sync.queries import ALL_STATUSES, Directory, InboxFilter, NavCounts

KEY_ROLE = Qt.ItemDataRole.UserRole
FILTER_ROLE = Qt.ItemDataRole.UserRole + 1


def _dot_icon(colour: str) -> QIcon | None:
    col = QColor(colour)
    if not col.isValid():
        return None
    pix = QPixmap(10, 10)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(col)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 8, 8)
    painter.end()
    return QIcon(pix)


class NavigationPane(QWidget):
    filterChanged = Signal(object)  # InboxFilter
    deleteSavedFilter = Signal(str)  # the saved view's name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._groups: dict[str, QTreeWidgetItem] = {}
        self._counts = NavCounts()
        self._current_key = "mine"
        self._menu: QMenu | None = None
        self._rebuilding = False

        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setIndentation(10)
        self.tree.setRootIsDecorated(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.setAccessibleName(self.tr("Inbox views"))
        self.tree.setToolTip(self.tr("Choose which conversations the inbox lists"))
        self.tree.setStyleSheet("QTreeWidget::item { padding: 1px 0; }")
        self.tree.currentItemChanged.connect(self._on_current_changed)
        self.tree.customContextMenuRequested.connect(self._on_context_menu)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)

        self._add_entry(None, "mine", self.tr("Mine"), InboxFilter(assignee="me"))
        self._add_entry(None, "unassigned", self.tr("Unassigned"), InboxFilter(assignee="none"))
        self._add_entry(None, "all", self.tr("All"), InboxFilter())
        for key, title in (("teams", self.tr("Teams")), ("channels", self.tr("Channels")),
                           ("statuses", self.tr("Status")), ("tags", self.tr("Tags")),
                           ("saved", self.tr("Saved views"))):
            group = QTreeWidgetItem(self.tree, [title, ""])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            self._groups[key] = group
        for status in ALL_STATUSES:
            self._add_entry(self._groups["statuses"], f"status:{status}", status_label(status),
                            InboxFilter(statuses=(status,)))
        self.tree.expandAll()
        self._select_item(self._items["mine"])

    # ------------------------------------------------------------------ public API

    def set_directory(self, directory: Directory) -> None:
        """Rebuild teams, channels and tags (the selection stays if its entry still exists)."""
        with self._rebuild():
            self._clear_group("teams")
            for team in directory.teams:
                self._add_entry(self._groups["teams"], f"team:{team.id}", team.name,
                                InboxFilter(team_id=team.id))
            self._clear_group("channels")
            for channel in directory.channels:
                item = self._add_entry(self._groups["channels"], f"channel:{channel.id}",
                                       channel.name, InboxFilter(channel_id=channel.id))
                icon = channel_icon(channel.kind)
                if icon is not None:
                    item.setIcon(0, icon)
            self._clear_group("tags")
            for tag in directory.tags:
                item = self._add_entry(self._groups["tags"], f"tag:{tag.name}", tag.name,
                                       InboxFilter(tag=tag.name))
                icon = _dot_icon(tag.kind)
                if icon is not None:
                    item.setIcon(0, icon)

    def set_saved_filters(self, saved: Sequence[tuple[str, InboxFilter]]) -> None:
        with self._rebuild():
            self._clear_group("saved")
            for name, flt in saved:
                item = self._add_entry(self._groups["saved"], f"saved:{name}", name, flt)
                item.setToolTip(0, self.tr("Right-click to delete this saved view"))

    def set_counts(self, counts: NavCounts) -> None:
        self._counts = counts
        for key, item in self._items.items():
            self._show_count(key, item)

    def select_view(self, key: str) -> bool:
        """Select an entry by key and emit ``filterChanged`` (also when it was selected
        already); False if there is no such entry."""
        item = self._items.get(key)
        if item is None:
            return False
        if self.tree.currentItem() is item:
            self._current_key = key
            self.filterChanged.emit(item.data(0, FILTER_ROLE))
        else:
            self._select_item(item)
        return True

    def current_key(self) -> str:
        return self._current_key

    def current_title(self) -> str:
        """What the current view is called ("All", a team's name…)."""
        item = self._items.get(self._current_key)
        return item.text(0) if item is not None else ""

    def current_filter(self) -> InboxFilter:
        item = self._items.get(self._current_key)
        return item.data(0, FILTER_ROLE) if item is not None else InboxFilter(assignee="me")

    def item(self, key: str) -> QTreeWidgetItem | None:
        """The tree entry for a key (column 0: name, column 1: count)."""
        return self._items.get(key)

    def count_text(self, key: str) -> str:
        item = self._items.get(key)
        return item.text(1) if item is not None else ""

    # ------------------------------------------------------------------ building

    def _add_entry(self, parent: QTreeWidgetItem | None, key: str, title: str,
                   flt: InboxFilter) -> QTreeWidgetItem:
        item = QTreeWidgetItem([title, ""])
        if parent is None:
            self.tree.addTopLevelItem(item)
        else:
            parent.addChild(item)
        item.setData(0, KEY_ROLE, key)
        item.setData(0, FILTER_ROLE, flt)
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._items[key] = item
        self._show_count(key, item)
        return item

    def _clear_group(self, group: str) -> None:
        parent = self._groups[group]
        for child in parent.takeChildren():
            self._items.pop(child.data(0, KEY_ROLE), None)

    @contextmanager
    def _rebuild(self) -> Iterator[None]:
        """Entries are replaced without selection signals; the selection is restored after."""
        self._rebuilding = True
        try:
            yield
        finally:
            self._rebuilding = False
            self._finish_rebuild()

    def _show_count(self, key: str, item: QTreeWidgetItem) -> None:
        n = self._count_for(key)
        item.setText(1, "" if n is None else str(n))
        name = item.text(0)
        item.setData(0, Qt.ItemDataRole.AccessibleTextRole,
                     name if n is None else
                     self.tr("{name}, 1 conversation").format(name=name) if n == 1 else
                     self.tr("{name}, {n} conversations").format(name=name, n=n))

    def _count_for(self, key: str) -> int | None:
        c = self._counts
        if key in ("mine", "unassigned", "all"):
            return int(getattr(c, key))
        kind, _, ident = key.partition(":")
        table = {"team": c.teams, "channel": c.channels, "status": c.statuses,
                 "tag": c.tags}.get(kind)
        return None if table is None else int(table.get(ident, 0))

    # ------------------------------------------------------------------ selection

    def _select_item(self, item: QTreeWidgetItem) -> None:
        self.tree.setCurrentItem(item)
        item.setSelected(True)

    def _on_current_changed(self, current: QTreeWidgetItem | None, _prev: object) -> None:
        if self._rebuilding or current is None:
            return
        key = current.data(0, KEY_ROLE)
        if key is None:  # a group heading: the view does not change, nor its highlight
            QTimer.singleShot(0, self._restore_highlight)  # after the click's own selecting
            return
        self._current_key = key
        self.filterChanged.emit(current.data(0, FILTER_ROLE))

    def _restore_highlight(self) -> None:
        item = self._items.get(self._current_key)
        if item is not None and not item.isSelected():
            item.setSelected(True)

    def _finish_rebuild(self) -> None:
        self.tree.expandAll()
        item = self._items.get(self._current_key)
        if item is not None:
            old = self.tree.blockSignals(True)
            self._select_item(item)
            self.tree.blockSignals(old)
        else:  # the viewed team/tag/saved view is gone: fall back to Mine
            self._select_item(self._items["mine"])

    def _on_context_menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        key = item.data(0, KEY_ROLE) if item is not None else None
        if not key or not key.startswith("saved:"):
            return
        name = key.partition(":")[2]
        menu = QMenu(self)
        action = menu.addAction(self.tr("Delete saved view"))
        action.triggered.connect(lambda: self.deleteSavedFilter.emit(name))
        self._menu = menu  # popup() does not block; keep the menu alive while it shows
        menu.popup(self.tree.viewport().mapToGlobal(pos))

