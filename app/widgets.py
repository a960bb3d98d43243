"""Small widgets shared by the desk's panes."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


class ElidedLabel(QWidget):
    """One line of plain text, elided at the end to fit; the full text is the tooltip.

    Plain text only: it shows customer-controlled strings (names, subjects) verbatim.
    """

    def __init__(self, parent: QWidget | None = None, *, bold: bool = False) -> None:
        super().__init__(parent)
        self._text = ""
        if bold:
            font = self.font()
            font.setBold(True)
            self.setFont(font)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        self._text = " ".join(text.split())
        self.setToolTip(self._text if len(self._text) > 40 else "")
        self.setAccessibleDescription(self._text)
        self.update()

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(min(400, fm.horizontalAdvance(self._text)), fm.height() + 2)

    def minimumSizeHint(self) -> QSize:
        return QSize(20, self.fontMetrics().height() + 2)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        fm = self.fontMetrics()
        shown = fm.elidedText(self._text, Qt.TextElideMode.ElideRight, self.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignLeft
                                          | Qt.AlignmentFlag.AlignVCenter), shown)
