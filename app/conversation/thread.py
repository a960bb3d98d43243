"""The conversation thread: a read-only QTextBrowser that never fetches anything.

Links are not followed by the browser: Relaydesk's own actions (retry, discard, load older)
become signals, and a web or mail link opens in the system browser only when clicked.
"""

from __future__ import annotations

import bisect
import html
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QRectF, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QImage,
    QPainter,
    QPaintEvent,
    QPen,
    QTextBlock,
    QTextCursor,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from app.conversation import render
from sync.overlay import LOCAL_FAILED, ThreadItem


@dataclass
class _Bubble:
    first: QTextBlock  # the header block
    last: QTextBlock  # the last block of the body
    fill: QColor
    border: QColor | None


def _blank_image() -> QImage:
    image = QImage(1, 1, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    return image


class _InertDocument(QTextDocument):
    """QTextDocument's own loadResource reads local files and data: URLs itself when its
    view returns nothing; this one asks the view and never falls back."""

    def loadResource(self, kind: int, name: QUrl) -> Any:
        view = self.parent()
        return view.loadResource(kind, name) if isinstance(view, ThreadBrowser) else None


class ThreadBrowser(QTextBrowser):
    """A QTextBrowser that loads no resource at all (no remote image, no local file) and
    paints a rounded bubble behind each message's blocks."""

    PAD_X, PAD_Y, RADIUS = 8.0, 6.0, 8.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocument(_InertDocument(self))
        self._bubbles: list[_Bubble] = []
        self.heads: list[tuple[int, QTextBlock]] = []  # (item number, first block)

    def loadResource(self, kind: int, name: QUrl) -> Any:
        # Qt's image handler reads the file itself when it gets no image (or a null one)
        # back, so an image request gets a blank pixel instead of nothing.
        if kind == QTextDocument.ResourceType.ImageResource.value:
            return _blank_image()
        return None

    def index_blocks(self, styles: Sequence[tuple[QColor, QColor | None] | None]) -> None:
        """After setHtml: item n's first block carries user state n (render.py); the
        untagged blocks after it are its body, until the next tagged block. ``styles[n-1]``
        is item n's bubble (fill, border), None for an item without one."""
        bubbles: list[_Bubble] = []
        heads: list[tuple[int, QTextBlock]] = []
        strays: list[tuple[QTextBlock, float, float]] = []
        current: _Bubble | None = None
        left = right = 0.0
        block = self.document().begin()
        while block.isValid():
            state = block.userState()
            if state >= 0:
                current = None
                if 0 < state <= len(styles):
                    heads.append((state, block))
                    style = styles[state - 1]
                    if style is not None:
                        current = _Bubble(block, block, style[0], style[1])
                        bubbles.append(current)
                        fmt = block.blockFormat()
                        left, right = fmt.leftMargin(), fmt.rightMargin()
            elif current is not None:
                current.last = block
                fmt = block.blockFormat()
                if fmt.leftMargin() < left or fmt.rightMargin() < right:
                    strays.append((block, left, right))
            block = block.next()
        # Qt gives text that follows a block inside a <div> (an email's "<p>..</p>text")
        # a block without the div's margins: put it back inside its bubble.
        for stray, left, right in strays:
            fmt = stray.blockFormat()
            fmt.setLeftMargin(max(left, fmt.leftMargin()))
            fmt.setRightMargin(max(right, fmt.rightMargin()))
            QTextCursor(stray).setBlockFormat(fmt)
        self._bubbles = bubbles
        self.heads = heads
        self.viewport().update()

    def head_at(self, y: float) -> tuple[int, float] | None:
        """The item shown at document height ``y`` (the last one starting above it, else
        the first): its number and its top."""
        if not self.heads:
            return None
        index = bisect.bisect_right(self.heads, y, key=lambda h: h[1].layout().position().y())
        number, block = self.heads[max(0, index - 1)]
        return number, block.layout().position().y()

    def _rect(self, bubble: _Bubble) -> QRectF | None:
        first, last = bubble.first.layout(), bubble.last.layout()
        if first.lineCount() == 0 or last.lineCount() == 0:
            return None  # not laid out yet
        head, end = first.lineAt(0), last.lineAt(last.lineCount() - 1)
        top = first.position().y() + head.y()
        bottom = last.position().y() + end.y() + end.height()
        return QRectF(first.position().x() + head.x() - self.PAD_X, top - self.PAD_Y,
                      head.width() + 2 * self.PAD_X, bottom - top + 2 * self.PAD_Y)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._bubbles:
            dx = self.horizontalScrollBar().value()
            dy = self.verticalScrollBar().value()
            clip = QRectF(event.rect()).translated(dx, dy)
            start = bisect.bisect_left(self._bubbles, clip.top(),
                                       key=lambda b: b.first.layout().position().y())
            painter = QPainter(self.viewport())
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.translate(-dx, -dy)
            for bubble in self._bubbles[max(0, start - 1):]:
                rect = self._rect(bubble)
                if rect is None or rect.top() > clip.bottom():
                    break
                painter.setPen(QPen(bubble.border, 1) if bubble.border else Qt.PenStyle.NoPen)
                painter.setBrush(bubble.fill)
                painter.drawRoundedRect(rect, self.RADIUS, self.RADIUS)
            painter.end()
        super().paintEvent(event)


class ThreadView(QWidget):
    retryRequested = Signal(int)  # intent id
    discardRequested = Signal(int)  # intent id
    olderRequested = Signal()
    linkActivated = Signal(QUrl)  # an http(s)/mailto link the agent clicked

    browser_class: type[ThreadBrowser] = ThreadBrowser
    # The OS hook that opens a clicked link; an attribute so a test can record instead.
    open_url = staticmethod(QDesktopServices.openUrl)

    def __init__(self, parent: QWidget | None = None,
                 colors: Mapping[str, str] | None = None) -> None:
        super().__init__(parent)
        self._items: list[ThreadItem] = []
        self._has_older = False
        self._names: dict[str | None, str] = {}
        self._contact_name = ""
        self._colors = render.palette(colors)
        self._updating = False
        self._older_armed = True  # one olderRequested per reach of the top

        self.browser = self.browser_class(self)
        b = self.browser
        b.setOpenLinks(False)
        b.setOpenExternalLinks(False)
        b.setSearchPaths([])
        b.setReadOnly(True)
        b.setUndoRedoEnabled(False)
        b.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        b.setAccessibleName(self.tr("Conversation thread"))
        b.setAccessibleDescription(self.tr("Messages of the open conversation, newest last"))
        b.anchorClicked.connect(self._on_anchor)
        b.highlighted.connect(self._on_highlighted)
        b.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.setAccessibleName(self.tr("Conversation thread"))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(b)
        self.setFocusProxy(b)

    # ------------------------------------------------------------------ API

    @property
    def items(self) -> tuple[ThreadItem, ...]:
        return tuple(self._items)

    @property
    def has_older(self) -> bool:
        return self._has_older

    def oldest_key(self) -> tuple[int, str] | None:
        """``before`` for the next older page (``queries.thread_page``)."""
        if not self._items:
            return None
        first = self._items[0]
        return first.created_at, first.id

    def set_thread(self, items: Sequence[ThreadItem], has_older: bool,
                   names: Mapping[str | None, str], contact_name: str,
                   keep_position: bool | None = None) -> None:
        """Show a thread (oldest first), scrolled to the newest message.

        A refresh of the thread on show (``keep_position`` None: any item in common; or
        True) does not jump: the view follows new messages if it was at the bottom, else
        the message the agent was reading stays where it was, even with older ones
        added above."""
        same = (list(items) == self._items and has_older == self._has_older
                and dict(names) == self._names and contact_name == self._contact_name)
        if same and keep_position is not False:
            return  # a refresh that changed nothing here: keep selection and position
        if keep_position is None:
            shown = {item.id for item in self._items}
            keep_position = any(item.id in shown for item in items)
        bar = self.browser.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        anchor = self._anchor()
        self._items = list(items)
        self._has_older = has_older
        self._names = dict(names)
        self._contact_name = contact_name
        self._render()
        if keep_position and not at_bottom:
            self._restore(anchor)
        else:
            self._scroll_to_bottom()
        self._older_armed = True

    def prepend_older(self, items: Sequence[ThreadItem], has_older: bool) -> None:
        """Add an older page above; what the agent is looking at does not move."""
        anchor = self._anchor()
        known = {item.id for item in self._items}
        self._items = [i for i in items if i.id not in known] + self._items
        self._has_older = has_older
        self._render()
        self._restore(anchor)
        self._older_armed = True

    def set_colors(self, colors: Mapping[str, str]) -> None:
        """A theme change: re-render with the new colours, keeping the position."""
        self._colors = render.palette(colors)
        if self._items:
            anchor = self._anchor()
            self._render()
            self._restore(anchor)

    def clear(self) -> None:
        self._items = []
        self._has_older = False
        self._updating = True
        try:
            self.browser.clear()
            self.browser.index_blocks([])
        finally:
            self._updating = False

    # ------------------------------------------------------------------ internals

    def _render(self) -> None:
        markup = render.render_items(self._items, self._names, self._contact_name,
                                     self._colors, int(time.time() * 1000),
                                     has_older=self._has_older)
        if not self._items:
            empty = html.escape(self.tr("No messages yet"))
            markup = f'<p align="center" style="color:{self._colors["muted"]};">{empty}</p>'
        self._updating = True
        try:
            self.browser.setHtml(markup)
        finally:
            self._updating = False
        failed = QColor(self._colors["failed"])
        styles = []
        for item in self._items:
            fill = render.bubble_color(item, self._colors)
            border = failed if item.local_state == LOCAL_FAILED else None
            styles.append((QColor(fill), border) if fill else None)
        self.browser.index_blocks(styles)

    def _anchor(self) -> tuple[str, float] | None:
        """The item at the top of the view and how far its top is from the view's."""
        value = self.browser.verticalScrollBar().value()
        head = self.browser.head_at(value) if self._items else None
        if head is None or head[0] > len(self._items):
            return None
        number, top = head
        return self._items[number - 1].id, top - value

    def _restore(self, anchor: tuple[str, float] | None) -> None:
        """Put the anchored item back at the same distance from the top of the view."""
        self.browser.document().documentLayout().documentSize()  # lays out everything
        number = next((n for n, item in enumerate(self._items, start=1)
                       if anchor and item.id == anchor[0]), None)
        block = dict(self.browser.heads).get(number) if anchor else None
        if anchor is not None and block is not None:
            self._updating = True
            try:
                self.browser.verticalScrollBar().setValue(
                    round(block.layout().position().y() - anchor[1]))
            finally:
                self._updating = False

    def _scroll_to_bottom(self) -> None:
        self._updating = True
        try:
            self.browser.moveCursor(QTextCursor.MoveOperation.End)  # lays the document out
            bar = self.browser.verticalScrollBar()
            bar.setValue(bar.maximum())
        finally:
            self._updating = False

    def _on_scrolled(self, value: int) -> None:
        if self._updating:
            return
        bar = self.browser.verticalScrollBar()
        if value > bar.minimum():
            return
        if self._has_older and self._older_armed:
            self._older_armed = False  # again only after new content arrived
            self.olderRequested.emit()

    def _on_highlighted(self, url: QUrl) -> None:
        target = url.toString()
        if target.startswith(render.RETRY_PREFIX):
            tip = self.tr("Send this message again")
        elif target.startswith(render.DISCARD_PREFIX):
            tip = self.tr("Remove this failed message")
        elif url.scheme().lower() in render.LINK_SCHEMES:
            tip = target  # the real target, whatever the link text (an email's) claims
        else:
            tip = ""
        self.browser.viewport().setToolTip(tip)

    def _on_anchor(self, url: QUrl) -> None:
        target = url.toString()
        for prefix, signal in ((render.RETRY_PREFIX, self.retryRequested),
                               (render.DISCARD_PREFIX, self.discardRequested)):
            if target.startswith(prefix):
                number = target[len(prefix):]
                if number.isdigit():
                    signal.emit(int(number))
                return
        if target == render.OLDER_URL:
            if self._has_older:
                self.olderRequested.emit()
            return
        if url.scheme().lower() in render.LINK_SCHEMES and url.isValid():
            self.linkActivated.emit(url)
            self.open_url(url)
        # Anything else (javascript:, file:, data:, relative) is inert.
