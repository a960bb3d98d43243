"""The conversation thread: a read-only QTextBrowser that never fetches anything, built a
message at a time so that no customer can stall the desk.

Links are not followed by the browser: Relaydesk's own actions (retry, discard, show more,
load older) become signals or act here, and a web or mail link opens in the system browser
only when clicked.

The document (``thread_document.ThreadDocument``) is brought to the wanted messages in
slices of at most ``STEP_BUDGET_S`` of work, one per turn of the event loop: a conversation
shows its newest messages first and fills in older ones above them; a refresh inserts only
what arrived and redraws only what changed. At first only the newest messages worth about
``WINDOW_CHARS`` characters are in the document; older ones come in when the agent scrolls
up. Meanwhile the view follows the newest message, or keeps the one the agent reads still.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QRectF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QDesktopServices,
    QImage,
    QPainter,
    QPaintEvent,
    QPen,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from app.conversation import render
from app.conversation.thread_document import InertDocument, ThreadDocument
from sync.overlay import ThreadItem


def _blank_image() -> QImage:
    image = QImage(1, 1, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    return image


class ThreadBrowser(QTextBrowser):
    """A QTextBrowser that loads no resource at all (no remote image, no local file) and
    paints a rounded bubble behind each message's blocks."""

    PAD_X, PAD_Y, RADIUS = 8.0, 6.0, 8.0
    inert = True  # its documents ask it for resources (InertDocument)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocument(InertDocument(self))
        self.thread = ThreadDocument(self.document())

    def loadResource(self, kind: int, name: QUrl) -> Any:
        # Qt's image handler reads the file itself when it gets no image (or a null one)
        # back, so an image request gets a blank pixel instead of nothing.
        if kind == QTextDocument.ResourceType.ImageResource.value:
            return _blank_image()
        return None

    def head_at(self, y: float) -> tuple[int, float] | None:
        """The entry shown at document height ``y`` (the last one starting above it, else
        the first): its index and its top."""
        entries = self.thread.entries
        if not entries:
            return None
        index = bisect.bisect_right(entries, y, key=lambda e: e.head.layout().position().y())
        index = max(0, index - 1)
        return index, entries[index].head.layout().position().y()

    def _rect(self, index: int) -> QRectF | None:
        first = self.thread.entries[index].head.layout()
        last = self.thread.last_block(index).layout()
        if first.lineCount() == 0 or last.lineCount() == 0:
            return None  # not laid out yet
        head, end = first.lineAt(0), last.lineAt(last.lineCount() - 1)
        top = first.position().y() + head.y()
        bottom = last.position().y() + end.y() + end.height()
        return QRectF(first.position().x() + head.x() - self.PAD_X, top - self.PAD_Y,
                      head.width() + 2 * self.PAD_X, bottom - top + 2 * self.PAD_Y)

    def paintEvent(self, event: QPaintEvent) -> None:
        entries = self.thread.entries
        if entries:
            dx = self.horizontalScrollBar().value()
            dy = self.verticalScrollBar().value()
            clip = QRectF(event.rect()).translated(dx, dy)
            start = bisect.bisect_left(entries, clip.top(),
                                       key=lambda e: e.head.layout().position().y())
            painter = QPainter(self.viewport())
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.translate(-dx, -dy)
            for index in range(max(0, start - 1), len(entries)):
                entry = entries[index]
                if entry.fill is None:
                    continue
                rect = self._rect(index)
                if rect is None or rect.top() > clip.bottom():
                    break
                painter.setPen(QPen(entry.border, 1) if entry.border else Qt.PenStyle.NoPen)
                painter.setBrush(entry.fill)
                painter.drawRoundedRect(rect, self.RADIUS, self.RADIUS)
            painter.end()
        super().paintEvent(event)


class ThreadView(QWidget):
    retryRequested = Signal(int)  # intent id
    discardRequested = Signal(int)  # intent id
    olderRequested = Signal()
    linkActivated = Signal(QUrl)  # an http(s)/mailto link the agent clicked
    settled = Signal()  # the document shows everything it was asked to

    # Work per turn of the event loop: a turn also paints and runs the rest of the desk,
    # and none may take over 50 ms.
    STEP_BUDGET_S = 0.012
    # How much text the document holds at first (newest first); a window resize lays it
    # all out again, so it stays small whatever the conversation holds.
    WINDOW_CHARS = 40_000

    browser_class: type[ThreadBrowser] = ThreadBrowser
    # The OS hook that opens a clicked link; an attribute so a test can record instead.
    open_url = staticmethod(QDesktopServices.openUrl)

    def __init__(self, parent: QWidget | None = None,
                 colors: Mapping[str, str] | None = None) -> None:
        super().__init__(parent)
        self._items: list[ThreadItem] = []  # what is asked for, oldest first
        self._has_older = False
        self._start = 0  # the first item of ``_items`` the document is to show
        self._start_key: tuple[int, str] | None = None  # that item's (created_at, id)
        self._grow_up = False  # show a window more above (the agent reached the top)
        self._pinned = True  # follow the newest message
        self._hold: tuple[str, float] | None = None  # (entry id, offset) kept in place
        self._updating = False
        self._older_armed = True  # one olderRequested per reach of the top
        self._busy = False
        self._cleared = True  # nothing asked for since the last clear

        self.browser = self.browser_class(self)
        b = self.browser
        self._doc = b.thread  # what the document shows, and how
        self._doc.colors = render.palette(colors)
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
        bar = b.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range)
        self.setAccessibleName(self.tr("Conversation thread"))

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._step)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(b)
        self.setFocusProxy(b)
        self._reset_document()

    # ------------------------------------------------------------------ API

    @property
    def items(self) -> tuple[ThreadItem, ...]:
        return tuple(self._items)

    @property
    def has_older(self) -> bool:
        return self._has_older

    @property
    def rendering(self) -> bool:
        """Whether the document is still catching up with the last ``set_thread``."""
        return self._busy

    def shown_items(self) -> list[ThreadItem]:
        """The messages in the document, oldest first."""
        return [e.item for e in self._doc.entries]

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
        True) does not jump and redraws only what changed: the view follows new messages
        if it was at the bottom, else the message the agent was reading stays where it
        was, even with older ones added above. Long threads are finished on later turns
        of the event loop (``settled`` says when)."""
        items = list(items)
        doc = self._doc
        same = (not self._cleared and items == self._items and has_older == self._has_older
                and dict(names) == doc.names and contact_name == doc.contact_name)
        if same and keep_position is not False:
            return  # a refresh that changed nothing here: keep selection and position
        if keep_position is None:
            shown = {item.id for item in self._items}
            keep_position = any(item.id in shown for item in items)
        if not keep_position:
            self._reset_document()
        self._cleared = False
        self._items = items
        self._has_older = has_older
        doc.names = dict(names)
        doc.contact_name = contact_name
        self._older_armed = True
        self._plan_window()
        self._step()

    def prepend_older(self, items: Sequence[ThreadItem], has_older: bool) -> None:
        """Add an older page above; what the agent is looking at does not move."""
        known = {item.id for item in self._items}
        self._grow_up = True
        self.set_thread([i for i in items if i.id not in known] + self._items, has_older,
                        self._doc.names, self._doc.contact_name, keep_position=True)

    def set_colors(self, colors: Mapping[str, str]) -> None:
        """A theme change: every message drawn again with the new colours, in place."""
        self._doc.set_colors(colors)
        if self._items:
            self._step()

    def clear(self) -> None:
        self._items = []
        self._has_older = False
        self._reset_document()
        self._busy = False
        self._cleared = True

    # ------------------------------------------------------------------ the window

    @staticmethod
    def _key(item: ThreadItem) -> tuple[int, str]:
        return item.created_at, item.id

    def _plan_window(self) -> None:
        """Which items the document is to show: from the one it starts with already (or the
        newest), and a window more above when the agent reached the top."""
        items = self._items
        if not items:
            self._start, self._start_key = 0, None
            return
        if self._start_key is None:
            start = len(items)
        else:
            # Items come in time order but the agent's unconfirmed ones may sit a little
            # out of it: a scan, not a bisection.
            start = next((n for n, item in enumerate(items)
                          if self._key(item) >= self._start_key), len(items))
        if start == len(items) or self._grow_up:
            total = 0
            end = start
            while start > 0 and (total < self.WINDOW_CHARS or start == end):
                start -= 1
                total += self._doc.cost(items[start])
        self._grow_up = False
        self._start = start
        self._start_key = self._key(items[start])

    # ------------------------------------------------------------------ the document

    def _reset_document(self) -> None:
        self._timer.stop()
        self._updating = True
        try:
            self._doc.reset()
        finally:
            self._updating = False
        self._start, self._start_key, self._grow_up = 0, None, False
        self._pinned, self._hold = True, None

    def _step(self) -> None:
        """One slice of work, then the scroll position; the next slice on a later turn."""
        self._timer.stop()
        deadline = time.perf_counter() + self.STEP_BUDGET_S
        if self._hold is None and not self._pinned:
            self._hold = self._anchor()
        self._updating = True
        try:
            top = ("older" if self._start > 0 or self._has_older
                   else "" if self._items else "empty")
            done = self._doc.reconcile(self._items[self._start:], top, deadline)
            self._settle_scroll()
        finally:
            self._updating = False
        self._busy = not done
        if done:
            self.settled.emit()
        else:
            self._timer.start()

    # ------------------------------------------------------------------ scrolling

    def _anchor(self) -> tuple[str, float] | None:
        """The message at the top of the view and how far its top is from the view's."""
        value = self.browser.verticalScrollBar().value()
        head = self.browser.head_at(value)
        if head is None:
            return None
        index, top = head
        return self._doc.entries[index].item.id, top - value

    def _restore(self, anchor: tuple[str, float] | None) -> None:
        """Put the anchored message back at the same distance from the top of the view."""
        if anchor is None:
            return
        entry = next((e for e in self._doc.entries if e.item.id == anchor[0]), None)
        if entry is not None:
            self.browser.verticalScrollBar().setValue(
                round(entry.head.layout().position().y() - anchor[1]))

    def _settle_scroll(self) -> None:
        bar = self.browser.verticalScrollBar()
        if self._pinned:
            bar.setValue(bar.maximum())
        else:
            self._restore(self._hold)

    def _on_range(self, _low: int, _high: int) -> None:
        # Qt may tell the new height a turn after the change: hold the position again (a
        # slice settles it itself when it ends).
        if self._updating:
            return
        self._updating = True
        try:
            self._settle_scroll()
        finally:
            self._updating = False

    def _on_scrolled(self, value: int) -> None:
        if self._updating:
            return
        bar = self.browser.verticalScrollBar()
        self._pinned = value >= bar.maximum() - 4
        self._hold = None
        if value <= bar.minimum():
            self._reached_top()

    def _reached_top(self) -> None:
        if self._start > 0:
            self._grow_up = True
            self._plan_window()
            self._step()
        elif self._has_older and self._older_armed:
            self._older_armed = False  # again only after new content arrived
            self._grow_up = True
            self.olderRequested.emit()

    # ------------------------------------------------------------------ links

    def _toggle(self, serial: int, expand: bool) -> None:
        """Show a message whole or collapsed again; its top stays where it is (or comes
        into view)."""
        entry = self._doc.entry(serial)
        if entry is None or entry.expanded == expand:
            return
        if expand:
            self._doc.expanded.add(entry.item.id)
        else:
            self._doc.expanded.discard(entry.item.id)
        value = self.browser.verticalScrollBar().value()
        self._pinned = False
        self._hold = (entry.item.id, max(0.0, entry.head.layout().position().y() - value))
        self._step()

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
        for prefix, expand in ((render.MORE_PREFIX, True), (render.LESS_PREFIX, False)):
            if target.startswith(prefix):
                number = target[len(prefix):]
                if number.isdigit():
                    self._toggle(int(number), expand)
                return
        if target == render.OLDER_URL:
            if self._start > 0 or self._has_older:
                self._older_armed = True
                self._reached_top()
            return
        if url.scheme().lower() in render.LINK_SCHEMES and url.isValid():
            self.linkActivated.emit(url)
            self.open_url(url)
        # Anything else (javascript:, file:, data:, relative) is inert.
