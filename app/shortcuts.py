"""The keyboard shortcut sheet (?): every key the desk knows, in one table that shows whole,
without scrolling, in the smallest window the desk supports (1024×700)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class ShortcutSheet(QDialog):
    """A row per window action with a shortcut, and per key the composer handles itself
    ("send", "leave", "mention"); sized to its table, which never scrolls."""

    def __init__(self, entries: Sequence[QAction | str], parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        composer = {"send": ("Ctrl+Enter", self.tr("Send the reply or note")),
                    "leave": ("Esc", self.tr("Leave the composer (the draft is kept)")),
                    "mention": ("@", self.tr("Mention an agent in a note"))}
        rows = [composer[e] if isinstance(e, str) else
                (e.shortcut().toString(QKeySequence.SequenceFormat.NativeText), e.text())
                for e in entries]
        self.setWindowTitle(self.tr("Keyboard shortcuts"))
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setHorizontalHeaderLabels([self.tr("Key"), self.tr("Action")])
        self.table.setAccessibleName(self.tr("Keyboard shortcuts"))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        for n, (key, text) in enumerate(rows):
            self.table.setItem(n, 0, QTableWidgetItem(key))
            self.table.setItem(n, 1, QTableWidgetItem(text.replace("&", "")))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self._fit()

    def _fit(self) -> None:
        """As tall and wide as the table's rows (compact ones): nothing to scroll to."""
        table = self.table
        rows = table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        rows.setMinimumSectionSize(0)
        table.resizeColumnsToContents()
        header = table.horizontalHeader()
        header.setStretchLastSection(True)
        frame = 2 * table.frameWidth()
        table.resizeRowsToContents()
        height = header.sizeHint().height() + frame + rows.length()
        width = frame + header.length()
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setMinimumSize(max(width + 24, 320), height)
        self.adjustSize()
