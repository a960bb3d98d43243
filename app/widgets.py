"""Small widgets and helpers shared by the desk's panes."""

from __future__ import annotations

import html

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


def plain_tooltip(text: str) -> str:
    """A tooltip showing untrusted ``text`` literally (Qt renders markup in tooltips)."""
    return "<p>" + html.escape(text) + "</p>" if "<" in text else text


class ElidedLabel(QLabel):
    """One line of plain text, elided to the label's width (the full value is the tooltip),
    so a long name, subject or handle never widens or overruns its pane. ``text()`` is the
    full value. Plain text only: it shows customer-controlled strings verbatim."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle,
                 bold: bool = False) -> None:
        super().__init__(parent)
        self.mode = mode
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        if bold:
            font = self.font()
            font.setBold(True)
            self.setFont(font)
        self.setText(text)

    def setText(self, text: str) -> None:
        text = " ".join(text.split())
        super().setText(text)
        self.setToolTip(plain_tooltip(text))
        self.setAccessibleDescription(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance("…") * 4,
                     super().minimumSizeHint().height())

    def displayed_text(self) -> str:
        """What is painted: the text, elided to the label's width."""
        return self.fontMetrics().elidedText(self.text(), self.mode,
                                             self.contentsRect().width())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        self.style().drawItemText(painter, self.contentsRect(),
                                  int(self.alignment() | Qt.AlignmentFlag.AlignVCenter),
                                  self.palette(), self.isEnabled(), self.displayed_text(),
                                  self.foregroundRole())
