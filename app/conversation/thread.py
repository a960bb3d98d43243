"""The conversation thread: a read-only QTextBrowser that never fetches anything, built a
message at a time so that no customer can stall the desk.

Links are not followed by the browser: Relaydesk's own actions (retry, discard, show more,
load older) become signals or act here, and a web or mail link opens in the system browser
only when clicked.

The document is brought to the wanted list of messages in slices of at most
``STEP_BUDGET_S`` of work, one per turn of the event loop: a conversation shows its newest
messages first and fills in older ones above them; a refresh inserts only what arrived and
redraws only what changed. A long body is collapsed under "Show more", and an expanded one
goes in a piece at a time. At first only the newest messages worth about ``WINDOW_CHARS``
characters are in the document; older ones come in when the agent scrolls up.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from PySide6.QtCore import QRectF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QImage,
    QPainter,
    QPaintEvent,
    QPen,
    QTextBlock,
    QTextBlockFormat,
    QTextCursor,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from app.conversation import render
from sync.overlay import LOCAL_FAILED, ThreadItem

_MOVE = QTextCursor.MoveMode.KeepAnchor


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


@dataclass(eq=False)
class _Entry:
    """One message in the document: its blocks run from ``first`` (the day separator, or
    the header) to the block before the next entry's ``first``."""

    item: ThreadItem
    serial: int  # names it in "Show more" links; never reused within a view
    first: QTextBlock
    head: QTextBlock  # the header (a system line's only block)
    day: date
    left: bool | None  # the bubble's side; None: a centred system line
    header: tuple[Any, ...]  # what the header shows (``ThreadView._header_key``)
    style: int  # the view's colour generation it was drawn with
    expanded: bool
    fill: QColor | None = None
    border: QColor | None = None
    text: str = ""  # the body as shown: the item's, or the text of odd HTML
    html: bool = False  # ``text`` is HTML (sanitized when shown)
    # A body still going in a piece at a time: its parsed copy (HTML), its text and how
    # far it has gone in.
    pending: bool = False
    source: QTextDocument | None = None
    raw: str = ""
    pos: int = 0

    @property
    def has_day(self) -> bool:
        return self.first != self.head


class ThreadBrowser(QTextBrowser):
    """A QTextBrowser that loads no resource at all (no remote image, no local file) and
    paints a rounded bubble behind each message's blocks."""

    PAD_X, PAD_Y, RADIUS = 8.0, 6.0, 8.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocument(_InertDocument(self))
        self.entries: list[_Entry] = []  # the view's, in document order

    def loadResource(self, kind: int, name: QUrl) -> Any:
        # Qt's image handler reads the file itself when it gets no image (or a null one)
        # back, so an image request gets a blank pixel instead of nothing.
        if kind == QTextDocument.ResourceType.ImageResource.value:
            return _blank_image()
        return None

    def last_block(self, index: int) -> QTextBlock:
        """The last block of entry ``index``."""
        if index + 1 < len(self.entries):
            return self.entries[index + 1].first.previous()
        return self.document().lastBlock()

    def head_at(self, y: float) -> tuple[int, float] | None:
        """The entry shown at document height ``y`` (the last one starting above it, else
        the first): its index and its top."""
        if not self.entries:
            return None
        index = bisect.bisect_right(self.entries, y,
                                    key=lambda e: e.head.layout().position().y())
        index = max(0, index - 1)
        return index, self.entries[index].head.layout().position().y()

    def _rect(self, index: int) -> QRectF | None:
        first, last = self.entries[index].head.layout(), self.last_block(index).layout()
        if first.lineCount() == 0 or last.lineCount() == 0:
            return None  # not laid out yet
        head, end = first.lineAt(0), last.lineAt(last.lineCount() - 1)
        top = first.position().y() + head.y()
        bottom = last.position().y() + end.y() + end.height()
        return QRectF(first.position().x() + head.x() - self.PAD_X, top - self.PAD_Y,
                      head.width() + 2 * self.PAD_X, bottom - top + 2 * self.PAD_Y)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.entries:
            dx = self.horizontalScrollBar().value()
            dy = self.verticalScrollBar().value()
            clip = QRectF(event.rect()).translated(dx, dy)
            start = bisect.bisect_left(self.entries, clip.top(),
                                       key=lambda e: e.head.layout().position().y())
            painter = QPainter(self.viewport())
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.translate(-dx, -dy)
            for index in range(max(0, start - 1), len(self.entries)):
                entry = self.entries[index]
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
    RUN_CHARS = 8_000  # neighbours inserted with one edit, about this much text

    browser_class: type[ThreadBrowser] = ThreadBrowser
    # The OS hook that opens a clicked link; an attribute so a test can record instead.
    open_url = staticmethod(QDesktopServices.openUrl)

    def __init__(self, parent: QWidget | None = None,
                 colors: Mapping[str, str] | None = None) -> None:
        super().__init__(parent)
        self._items: list[ThreadItem] = []  # what is asked for, oldest first
        self._has_older = False
        self._names: dict[str | None, str] = {}
        self._contact_name = ""
        self._colors = render.palette(colors)
        self._style = 0  # bumped by a colour change: every entry is drawn again
        self._entries: list[_Entry] = []  # what the document shows, in its order
        self._serial = 0
        self._expanded: set[str] = set()  # ids of messages shown whole
        self._start = 0  # the first item of ``_items`` the document is to show
        self._start_key: tuple[int, str] | None = None  # that item's (created_at, id)
        self._grow_up = False  # show a window more above (the agent reached the top)
        self._top = ""  # what the first block shows: "", "older" or "empty"
        self._today = date.today()
        self._pinned = True  # follow the newest message
        self._hold: tuple[str, float] | None = None  # (entry id, offset) kept in place
        self._updating = False
        self._older_armed = True  # one olderRequested per reach of the top
        self._busy = False
        self._cleared = True  # nothing asked for since the last clear

        self.browser = self.browser_class(self)
        b = self.browser
        b.entries = self._entries
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
        return [e.item for e in self._entries]

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
        same = (not self._cleared and items == self._items and has_older == self._has_older
                and dict(names) == self._names and contact_name == self._contact_name)
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
        self._names = dict(names)
        self._contact_name = contact_name
        self._older_armed = True
        self._plan_window()
        self._step()

    def prepend_older(self, items: Sequence[ThreadItem], has_older: bool) -> None:
        """Add an older page above; what the agent is looking at does not move."""
        known = {item.id for item in self._items}
        self._grow_up = True
        self.set_thread([i for i in items if i.id not in known] + self._items, has_older,
                        self._names, self._contact_name, keep_position=True)

    def set_colors(self, colors: Mapping[str, str]) -> None:
        """A theme change: every message drawn again with the new colours, in place."""
        self._colors = render.palette(colors)
        self._style += 1
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

    def _cost(self, item: ThreadItem) -> int:
        """About how many characters an item puts in the document."""
        shown = len(item.body) if item.id in self._expanded else min(len(item.body),
                                                                     render.PREVIEW_CHARS)
        return shown + 100

    def _work(self, item: ThreadItem) -> int:
        """About how much work putting an item in is, in characters laid out: an HTML body
        is sanitized whole (and checked for odd shapes) even to show a part."""
        if render.looks_like_html(item.body):
            return self._cost(item) + len(item.body) // 10
        return self._cost(item)

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
                total += self._cost(items[start])
        self._grow_up = False
        self._start = start
        self._start_key = self._key(items[start])

    # ------------------------------------------------------------------ the document

    def _reset_document(self) -> None:
        self._timer.stop()
        self._updating = True
        try:
            self.browser.clear()
            self._entries.clear()
            self._top = ""
            top = QTextCursor(self.browser.document())
            top.setBlockFormat(render.block_format(render.TOP))
        finally:
            self._updating = False
        self._expanded.clear()
        self._start, self._start_key, self._grow_up = 0, None, False
        self._pinned, self._hold = True, None
        self._today = date.today()

    def _step(self) -> None:
        """One slice of work, then the scroll position; the next slice on a later turn."""
        self._timer.stop()
        deadline = time.perf_counter() + self.STEP_BUDGET_S
        if self._hold is None and not self._pinned:
            self._hold = self._anchor()
        self._updating = True
        try:
            done = self._reconcile(deadline)
            self._settle_scroll()
        finally:
            self._updating = False
        self._busy = not done
        if done:
            self.settled.emit()
        else:
            self._timer.start()

    def _reconcile(self, deadline: float) -> bool:
        """Bring the document closer to the wanted items; True once it shows them all."""
        if date.today() != self._today:
            self._today = date.today()
            self._relabel_days()
        wanted = self._items[self._start:]
        index = {item.id: n for n, item in enumerate(wanted)}
        # Gone, out of order, or with another body or day: out (to go in again below).
        kept: list[_Entry] = []
        last = -1
        for i, entry in enumerate(self._entries):
            n = index.get(entry.item.id)
            if n is not None and n > last and self._reusable(entry, wanted[n]):
                kept.append(entry)
                last = n
            else:
                self._remove_blocks(entry.first, self.browser.last_block(i))
        if len(kept) != len(self._entries):
            self._entries[:] = kept
            for i in range(len(self._entries)):
                self._fix_day(i)
        # A changed header (delivery state, names) is redrawn alone, newest first.
        for entry in reversed(self._entries):
            item = wanted[index[entry.item.id]]
            if entry.item is not item:
                if self._header_key(item) != entry.header:
                    entry.item = item
                    self._redraw_header(entry)
                    if time.perf_counter() > deadline:
                        return False
                entry.item = item
        # What is missing goes in newest first, so the agent sees the bottom at once; a run
        # of neighbours at a time (each edit moves every block below it).
        present = {e.item.id for e in self._entries}
        n = len(wanted) - 1
        while n >= 0:
            if wanted[n].id in present:
                n -= 1
                continue
            m, size = n, self._work(wanted[n])
            while m > 0 and wanted[m - 1].id not in present:
                size += self._work(wanted[m - 1])
                if size > self.RUN_CHARS:
                    break
                m -= 1
            at = bisect.bisect_left(self._entries, m, key=lambda e: index[e.item.id])
            self._insert_run(at, wanted[m:n + 1])
            present.update(item.id for item in wanted[m:n + 1])
            n = m - 1
            if time.perf_counter() > deadline:
                return False
        # Expanded bodies, a piece at a time, newest first.
        for i in range(len(self._entries) - 1, -1, -1):
            while self._entries[i].pending:
                self._add_piece(i)
                if time.perf_counter() > deadline:
                    return False
        self._set_top("older" if (self._start > 0 or self._has_older)
                      else "" if self._items else "empty")
        return True

    def _reusable(self, entry: _Entry, item: ThreadItem) -> bool:
        old = entry.item
        if entry.left is None and old != item:
            return False  # a system line is one block: drawn again whole
        return (old.body == item.body and old.created_at == item.created_at
                and old.direction == item.direction and entry.style == self._style
                and entry.expanded == (item.id in self._expanded))

    def _header_key(self, item: ThreadItem) -> tuple[Any, ...]:
        who = render.author(item, self._names, self._contact_name)
        return (who, item.template, item.local_state, item.intent_id, item.error_code,
                item.error_message)

    def _bubble(self, entry: _Entry) -> None:
        fill = render.bubble_color(entry.item, self._colors)
        entry.fill = QColor(fill) if fill else None
        entry.border = (QColor(self._colors["failed"])
                        if entry.item.local_state == LOCAL_FAILED else None)

    @staticmethod
    def _after(block: QTextBlock) -> QTextCursor:
        cursor = QTextCursor(block)
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
        return cursor

    @staticmethod
    def _add_block(cursor: QTextCursor, fmt: QTextBlockFormat, markup: str) -> QTextBlock:
        # The first block of inserted HTML merges into the block the cursor is in and keeps
        # that block's format, so each block is made with its format first.
        cursor.insertBlock(fmt)
        cursor.insertHtml(markup)
        return cursor.block()

    def _remove_blocks(self, first: QTextBlock, last: QTextBlock) -> None:
        """Delete ``first`` … ``last`` with the separator before them (the block before
        them, never one of them, is the document's first)."""
        cursor = QTextCursor(self.browser.document())
        cursor.setPosition(first.position() - 1)
        cursor.setPosition(last.position() + last.length() - 1, _MOVE)
        cursor.removeSelectedText()

    def _insert_run(self, at: int, run: Sequence[ThreadItem]) -> None:
        """Put ``run`` (neighbours, oldest first) in as entries ``at``…: one HTML insertion
        whose blocks are tagged (header: the entry's serial, day separator: 0) and found
        again after; HTML and expanded bodies then go in through a parsed copy."""
        before = self.browser.last_block(at - 1) if at > 0 else self.browser.document().begin()
        prev_day = self._entries[at - 1].day if at > 0 else None
        parts: list[str] = []
        first: tuple[str, bool | None, int] | None = None  # the first block's kind, side, tag
        made: list[_Entry] = []

        def add(kind: str, left: bool | None, inner: str, tag: int | None = None) -> None:
            nonlocal first
            if first is None:
                first = (kind, left, -1 if tag is None else tag)
            parts.append(render.block(kind, left, inner, tag))

        for item in run:
            day = render.local_day(item.created_at)
            if day != prev_day:
                add(render.DAY, None, render.day_html(day, self._today, self._colors), 0)
                prev_day = day
            self._serial += 1
            serial, header = self._serial, self._header_key(item)
            expanded = item.id in self._expanded
            body, is_html = render.classify(item.body)
            if render.has_bubble(item):
                who, left = header[0]
                add(render.HEAD, left, render.header_html(item, who, self._colors), serial)
                if body and not expanded and not is_html:
                    cut = render.preview(body)
                    add(render.BODY, left, render.linkify(body if cut is None else cut))
                    if cut is not None:
                        add(render.MORE, left,
                            render.more_html(serial, len(body) - len(cut), self._colors))
            else:  # a system line: its (server-written) text in one block, cut when long
                left = None
                cut = None if expanded else render.preview(body)
                add(render.SYSTEM, None,
                    render.system_html(item, body if cut is None else cut, self._colors), serial)
                if cut is not None or expanded:
                    add(render.MORE, None, render.less_html(serial) if expanded else
                        render.more_html(serial, len(body) - len(cut or ""), self._colors))
            entry = _Entry(item=item, serial=serial, first=before, head=before, day=day,
                           left=left, header=header, style=self._style, expanded=expanded,
                           text=body, html=is_html)
            self._bubble(entry)
            made.append(entry)
        assert first is not None
        kind, side, tag = first
        cursor = self._after(before)
        # The first block of inserted HTML merges into the block the cursor is in and keeps
        # that block's format: the block is made with it.
        cursor.insertBlock(render.block_format(kind, side))
        cursor.insertHtml("".join(parts))
        block, end = before.next(), cursor.block()
        block.setUserState(tag)
        heads: dict[int, tuple[QTextBlock, QTextBlock | None]] = {}
        day_block: QTextBlock | None = None
        while block.isValid():
            state = block.userState()
            if state == 0:
                day_block = block
            elif state > 0:
                heads[state] = (block, day_block)
                day_block = None
            if block == end:
                break
            block = block.next()
        for entry in made:
            head, day_block = heads[entry.serial]
            entry.head, entry.first = head, day_block or head
        self._entries[at:at] = made
        for entry in made:
            if entry.left is not None and entry.text and (entry.expanded or entry.html):
                self._start_body(entry)
        if at + len(made) < len(self._entries):
            self._fix_day(at + len(made))

    def _start_body(self, entry: _Entry) -> None:
        """A body that is not put in with its header: an expanded one is set up to go in a
        piece at a time on later slices (``_add_piece``; HTML parsed whole first, plain
        text linkified piece by piece); a collapsed HTML one goes in as far as its
        preview, parsed from its start only, under "Show more"."""
        left = bool(entry.left)
        entry.pos, entry.pending = 0, True
        if entry.expanded and not entry.html:
            entry.raw = entry.text
            return
        sanitized = render.sanitize_html(entry.text)
        clipped = not entry.expanded and len(sanitized) > 3 * render.PREVIEW_CHARS
        if clipped:  # the start is enough for a preview; cleaned again to close its tags
            sanitized = render.sanitize_html(sanitized[:3 * render.PREVIEW_CHARS])
        source = _InertDocument()
        source.setHtml(render.block(render.BODY, left, sanitized))
        near, far = render.margins(left)
        block = source.begin()
        while block.isValid():
            # Qt gives text that follows a block inside a <div> (an email's "<p>..</p>text")
            # a block without the div's margins: put it back inside its bubble.
            bf = block.blockFormat()
            if bf.leftMargin() < near or bf.rightMargin() < far:
                bf.setLeftMargin(max(near, bf.leftMargin()))
                bf.setRightMargin(max(far, bf.rightMargin()))
                QTextCursor(block).setBlockFormat(bf)
            block = block.next()
        entry.source, entry.raw = source, source.toRawText()
        if entry.expanded:
            return
        cut = self._preview_end(entry.raw)
        index = self._entries.index(entry)
        self._add_fragment(index, 0, len(entry.raw) if cut is None else cut)
        entry.source, entry.raw, entry.pending = None, "", False
        if cut is not None or clipped:
            hidden = None if clipped else max(1, len(source.toRawText()) - cut)
            self._add_block(self._after(self.browser.last_block(index)),
                            render.block_format(render.MORE, left),
                            render.more_html(entry.serial, hidden, self._colors))

    @staticmethod
    def _preview_end(raw: str) -> int | None:
        """Where a parsed body's preview ends (at most PREVIEW_CHARS characters and
        PREVIEW_LINES lines), or None when it is short enough to show whole."""
        lines = 0
        limit = min(len(raw), render.PREVIEW_CHARS)
        for pos in range(limit):
            if raw[pos] in "\u2028\u2029":
                lines += 1
                if lines >= render.PREVIEW_LINES:
                    return pos
        if len(raw) <= render.PREVIEW_CHARS:
            return None
        space = raw.rfind(" ", render.PREVIEW_CHARS * 3 // 4, limit)
        return space if space > 0 else limit

    def _add_fragment(self, index: int, start: int, stop: int) -> None:
        """Characters ``start``…``stop`` of entry ``index``'s parsed body after its last
        block, as blocks of their own."""
        entry = self._entries[index]
        assert entry.source is not None
        source = QTextCursor(entry.source)
        source.setPosition(start)
        fmt = source.blockFormat()
        if start == 0:
            fmt.setTopMargin(render.BODY_GAP)
        elif entry.raw[start - 1] != "\u2029":
            fmt.setTopMargin(0)  # the rest of a paragraph: no gap inside it
        source.setPosition(stop, _MOVE)
        cursor = self._after(self.browser.last_block(index))
        cursor.insertBlock(fmt)
        cursor.insertFragment(source.selection())

    def _add_piece(self, index: int) -> None:
        """The next piece of entry ``index``'s expanded body, and "Show less" after the
        last."""
        entry = self._entries[index]
        stop, resume = render.piece_end(entry.raw, entry.pos, len(entry.raw))
        if entry.source is not None:
            self._add_fragment(index, entry.pos, stop)
        else:
            fmt = render.block_format(render.BODY, bool(entry.left))
            if entry.pos:
                fmt.setTopMargin(0)
            self._add_block(self._after(self.browser.last_block(index)), fmt,
                            render.linkify(entry.raw[entry.pos:stop]))
        entry.pos = resume
        if resume >= len(entry.raw):
            entry.source, entry.raw, entry.pending = None, "", False
            self._add_block(self._after(self.browser.last_block(index)),
                            render.block_format(render.MORE, bool(entry.left)),
                            render.less_html(entry.serial))

    def _redraw_header(self, entry: _Entry) -> None:
        header = self._header_key(entry.item)
        who, left = header[0]
        cursor = self._after(entry.head.previous())
        had_day = entry.has_day
        self._remove_blocks(entry.head, entry.head)
        entry.head = self._add_block(cursor, render.block_format(render.HEAD, left),
                                     render.header_html(entry.item, who, self._colors))
        if not had_day:
            entry.first = entry.head
        entry.header = header
        self._bubble(entry)

    def _fix_day(self, index: int) -> None:
        """Entry ``index`` has a day separator exactly when it starts a day."""
        entry = self._entries[index]
        want = index == 0 or self._entries[index - 1].day != entry.day
        if want == entry.has_day:
            return
        if want:
            entry.first = self._add_block(self._after(entry.head.previous()),
                                          render.block_format(render.DAY),
                                          render.day_html(entry.day, self._today, self._colors))
        else:
            self._remove_blocks(entry.first, entry.first)
            entry.first = entry.head

    def _relabel_days(self) -> None:
        """"Today" became "Yesterday": every separator says its day again."""
        for entry in self._entries:
            if entry.has_day:
                before = entry.first.previous()
                self._remove_blocks(entry.first, entry.first)
                entry.first = self._add_block(self._after(before),
                                              render.block_format(render.DAY),
                                              render.day_html(entry.day, self._today,
                                                              self._colors))

    def _set_top(self, what: str) -> None:
        """The first block: the "Load older messages" link, "No messages yet", or empty."""
        if what == self._top:
            return
        self._top = what
        cursor = QTextCursor(self.browser.document().begin())
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, _MOVE)
        cursor.removeSelectedText()
        if what == "older":
            cursor.insertHtml(render.older_html())
        elif what == "empty":
            cursor.insertHtml(render.empty_html(self._colors))

    # ------------------------------------------------------------------ scrolling

    def _anchor(self) -> tuple[str, float] | None:
        """The message at the top of the view and how far its top is from the view's."""
        value = self.browser.verticalScrollBar().value()
        head = self.browser.head_at(value)
        if head is None:
            return None
        index, top = head
        return self._entries[index].item.id, top - value

    def _restore(self, anchor: tuple[str, float] | None) -> None:
        """Put the anchored message back at the same distance from the top of the view."""
        if anchor is None:
            return
        entry = next((e for e in self._entries if e.item.id == anchor[0]), None)
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
        entry = next((e for e in self._entries if e.serial == serial), None)
        if entry is None or entry.expanded == expand:
            return
        if expand:
            self._expanded.add(entry.item.id)
        else:
            self._expanded.discard(entry.item.id)
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
