"""The conversation thread's document: each message as a few blocks of a QTextDocument,
put in, redrawn and taken out in small edits.

``ThreadDocument.reconcile`` brings the document closer to a wanted list of messages and
stops at a deadline, so its caller (``thread.ThreadView``) can spread the work over turns of
the event loop: what is missing goes in newest first, a run of neighbours per edit; a
changed header is redrawn alone; a long body shows collapsed under "Show more" and, expanded,
goes in a piece at a time. Every edit is small whatever a customer sent.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QTextBlock, QTextBlockFormat, QTextCursor, QTextDocument

from app.conversation import render
from sync.overlay import LOCAL_FAILED, ThreadItem

_MOVE = QTextCursor.MoveMode.KeepAnchor
RUN_CHARS = 8_000  # neighbours inserted with one edit, about this much text


class InertDocument(QTextDocument):
    """QTextDocument's own loadResource reads local files and data: URLs itself when its
    view returns nothing; this one asks its view (``ThreadBrowser``, which declines
    everything) and never falls back."""

    def loadResource(self, kind: int, name: QUrl) -> Any:
        view = self.parent()
        return view.loadResource(kind, name) if getattr(view, "inert", False) else None


@dataclass(eq=False)
class Entry:
    """One message in the document: its blocks run from ``first`` (the day separator, or
    the header) to the block before the next entry's ``first``."""

    item: ThreadItem
    serial: int  # names it in "Show more" links; never reused within a view
    first: QTextBlock
    head: QTextBlock  # the header (a system line's only block)
    day: date
    left: bool | None  # the bubble's side; None: a centred system line
    header: tuple[Any, ...]  # what the header shows (``ThreadDocument._header_key``)
    style: int  # the colour generation it was drawn with
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


@dataclass(eq=False)
class ThreadDocument:
    """The messages in ``doc``, in document order (``entries``), and how they are drawn:
    colours, names, which messages are expanded."""

    doc: QTextDocument
    colors: dict[str, str] = field(default_factory=lambda: render.palette(None))
    names: dict[str | None, str] = field(default_factory=dict)
    contact_name: str = ""
    entries: list[Entry] = field(default_factory=list)
    expanded: set[str] = field(default_factory=set)  # ids of messages shown whole
    style: int = 0  # bumped by a colour change: every entry is drawn again
    _serial: int = 0
    _top: str = ""  # what the first block shows: "", "older" or "empty"
    _today: date = field(default_factory=date.today)

    def reset(self) -> None:
        """An empty document (its first block stays, for the top line)."""
        self.doc.clear()
        self.entries.clear()
        self.expanded.clear()
        self._top = ""
        self._today = date.today()
        QTextCursor(self.doc).setBlockFormat(render.block_format(render.TOP))

    def set_colors(self, colors: Mapping[str, str]) -> None:
        self.colors = render.palette(colors)
        self.style += 1

    def entry(self, serial: int) -> Entry | None:
        return next((e for e in self.entries if e.serial == serial), None)

    def last_block(self, index: int) -> QTextBlock:
        """The last block of entry ``index``."""
        if index + 1 < len(self.entries):
            return self.entries[index + 1].first.previous()
        return self.doc.lastBlock()

    def cost(self, item: ThreadItem) -> int:
        """About how many characters an item puts in the document."""
        shown = len(item.body) if item.id in self.expanded else min(len(item.body),
                                                                     render.PREVIEW_CHARS)
        return shown + 100

    def work(self, item: ThreadItem) -> int:
        """About how much work putting an item in is, in characters laid out: an HTML body
        is sanitized whole (and checked for odd shapes) even to show a part."""
        if render.looks_like_html(item.body):
            return self.cost(item) + len(item.body) // 10
        return self.cost(item)

    def reconcile(self, wanted: Sequence[ThreadItem], top: str, deadline: float) -> bool:
        """Bring the document closer to showing ``wanted`` (oldest first) under ``top``
        (see ``_set_top``); True once it shows them all, False when ``deadline``
        (``time.perf_counter()``) passed first."""
        if date.today() != self._today:
            self._today = date.today()
            self._relabel_days()
        index = {item.id: n for n, item in enumerate(wanted)}
        # Gone, out of order, or with another body or day: out (to go in again below).
        kept: list[Entry] = []
        last = -1
        for i, entry in enumerate(self.entries):
            n = index.get(entry.item.id)
            if n is not None and n > last and self._reusable(entry, wanted[n]):
                kept.append(entry)
                last = n
            else:
                self._remove_blocks(entry.first, self.last_block(i))
        if len(kept) != len(self.entries):
            self.entries[:] = kept
            for i in range(len(self.entries)):
                self._fix_day(i)
        # A changed header (delivery state, names) is redrawn alone, newest first.
        for entry in reversed(self.entries):
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
        present = {e.item.id for e in self.entries}
        n = len(wanted) - 1
        while n >= 0:
            if wanted[n].id in present:
                n -= 1
                continue
            m, size = n, self.work(wanted[n])
            while m > 0 and wanted[m - 1].id not in present:
                size += self.work(wanted[m - 1])
                if size > RUN_CHARS:
                    break
                m -= 1
            at = bisect.bisect_left(self.entries, m, key=lambda e: index[e.item.id])
            self._insert_run(at, wanted[m:n + 1])
            present.update(item.id for item in wanted[m:n + 1])
            n = m - 1
            if time.perf_counter() > deadline:
                return False
        # Expanded bodies, a piece at a time, newest first.
        for i in range(len(self.entries) - 1, -1, -1):
            while self.entries[i].pending:
                self._add_piece(i)
                if time.perf_counter() > deadline:
                    return False
        self._set_top(top)
        return True

    def _reusable(self, entry: Entry, item: ThreadItem) -> bool:
        old = entry.item
        if entry.left is None and old != item:
            return False  # a system line is one block: drawn again whole
        return (old.body == item.body and old.created_at == item.created_at
                and old.direction == item.direction and entry.style == self.style
                and entry.expanded == (item.id in self.expanded))

    def _header_key(self, item: ThreadItem) -> tuple[Any, ...]:
        who = render.author(item, self.names, self.contact_name)
        return (who, item.template, item.local_state, item.intent_id, item.error_code,
                item.error_message, item.retryable)

    def _bubble(self, entry: Entry) -> None:
        fill = render.bubble_color(entry.item, self.colors)
        entry.fill = QColor(fill) if fill else None
        entry.border = (QColor(self.colors["failed"])
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
        cursor = QTextCursor(self.doc)
        cursor.setPosition(first.position() - 1)
        cursor.setPosition(last.position() + last.length() - 1, _MOVE)
        cursor.removeSelectedText()

    def _insert_run(self, at: int, run: Sequence[ThreadItem]) -> None:
        """Put ``run`` (neighbours, oldest first) in as entries ``at``…: one HTML insertion
        whose blocks are tagged (header: the entry's serial, day separator: 0) and found
        again after; HTML and expanded bodies then go in through a parsed copy."""
        before = self.last_block(at - 1) if at > 0 else self.doc.begin()
        prev_day = self.entries[at - 1].day if at > 0 else None
        parts: list[str] = []
        first: tuple[str, bool | None, int] | None = None  # the first block's kind, side, tag
        made: list[Entry] = []

        def add(kind: str, left: bool | None, inner: str, tag: int | None = None) -> None:
            nonlocal first
            if first is None:
                first = (kind, left, -1 if tag is None else tag)
            parts.append(render.block(kind, left, inner, tag))

        for item in run:
            day = render.local_day(item.created_at)
            if day != prev_day:
                add(render.DAY, None, render.day_html(day, self._today, self.colors), 0)
                prev_day = day
            self._serial += 1
            serial, header = self._serial, self._header_key(item)
            expanded = item.id in self.expanded
            body, is_html = render.classify(item.body)
            if render.has_bubble(item):
                who, left = header[0]
                add(render.HEAD, left, render.header_html(item, who, self.colors), serial)
                if body and not expanded and not is_html:
                    cut = render.preview(body)
                    shown = render.linkify(body) if cut is None else render.linkify(cut) + " …"
                    add(render.BODY, left, shown)
                    if cut is not None:
                        add(render.MORE, left,
                            render.more_html(serial, len(body) - len(cut), self.colors))
            else:  # a system line: its (server-written) text in one block, cut when long
                left = None
                cut = None if expanded else render.preview(body)
                add(render.SYSTEM, None,
                    render.system_html(item, body if cut is None else cut, self.colors), serial)
                if cut is not None or expanded:
                    add(render.MORE, None, render.less_html(serial) if expanded else
                        render.more_html(serial, len(body) - len(cut or ""), self.colors))
            entry = Entry(item=item, serial=serial, first=before, head=before, day=day,
                           left=left, header=header, style=self.style, expanded=expanded,
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
        self.entries[at:at] = made
        for entry in made:
            if entry.left is not None and entry.text and (entry.expanded or entry.html):
                self._start_body(entry)
        if at + len(made) < len(self.entries):
            self._fix_day(at + len(made))

    def _start_body(self, entry: Entry) -> None:
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
        source = InertDocument()
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
        index = self.entries.index(entry)
        self._add_fragment(index, 0, len(entry.raw) if cut is None else cut)
        entry.source, entry.raw, entry.pending = None, "", False
        if cut is not None or clipped:
            hidden = None if clipped else max(1, len(source.toRawText()) - cut)
            self._add_block(self._after(self.last_block(index)),
                            render.block_format(render.MORE, left),
                            render.more_html(entry.serial, hidden, self.colors))

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
        entry = self.entries[index]
        assert entry.source is not None
        source = QTextCursor(entry.source)
        source.setPosition(start)
        fmt = source.blockFormat()
        if start == 0:
            fmt.setTopMargin(render.BODY_GAP)
        elif entry.raw[start - 1] != "\u2029":
            fmt.setTopMargin(0)  # the rest of a paragraph: no gap inside it
        source.setPosition(stop, _MOVE)
        cursor = self._after(self.last_block(index))
        cursor.insertBlock(fmt)
        cursor.insertFragment(source.selection())

    def _add_piece(self, index: int) -> None:
        """The next piece of entry ``index``'s expanded body, and "Show less" after the
        last."""
        entry = self.entries[index]
        stop, resume = render.piece_end(entry.raw, entry.pos, len(entry.raw))
        if entry.source is not None:
            self._add_fragment(index, entry.pos, stop)
        else:
            fmt = render.block_format(render.BODY, bool(entry.left))
            if entry.pos:
                fmt.setTopMargin(0)
            self._add_block(self._after(self.last_block(index)), fmt,
                            render.linkify(entry.raw[entry.pos:stop]))
        entry.pos = resume
        if resume >= len(entry.raw):
            entry.source, entry.raw, entry.pending = None, "", False
            self._add_block(self._after(self.last_block(index)),
                            render.block_format(render.MORE, bool(entry.left)),
                            render.less_html(entry.serial))

    def _redraw_header(self, entry: Entry) -> None:
        header = self._header_key(entry.item)
        who, left = header[0]
        cursor = self._after(entry.head.previous())
        had_day = entry.has_day
        self._remove_blocks(entry.head, entry.head)
        entry.head = self._add_block(cursor, render.block_format(render.HEAD, left),
                                     render.header_html(entry.item, who, self.colors))
        if not had_day:
            entry.first = entry.head
        entry.header = header
        self._bubble(entry)

    def _fix_day(self, index: int) -> None:
        """Entry ``index`` has a day separator exactly when it starts a day."""
        entry = self.entries[index]
        want = index == 0 or self.entries[index - 1].day != entry.day
        if want == entry.has_day:
            return
        if want:
            entry.first = self._add_block(self._after(entry.head.previous()),
                                          render.block_format(render.DAY),
                                          render.day_html(entry.day, self._today, self.colors))
        else:
            self._remove_blocks(entry.first, entry.first)
            entry.first = entry.head

    def _relabel_days(self) -> None:
        """"Today" became "Yesterday": every separator says its day again."""
        for entry in self.entries:
            if entry.has_day:
                before = entry.first.previous()
                self._remove_blocks(entry.first, entry.first)
                entry.first = self._add_block(self._after(before),
                                              render.block_format(render.DAY),
                                              render.day_html(entry.day, self._today,
                                                              self.colors))

    def _set_top(self, what: str) -> None:
        """The first block: the "Load older messages" link, "No messages yet", or empty."""
        if what == self._top:
            return
        self._top = what
        cursor = QTextCursor(self.doc.begin())
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, _MOVE)
        cursor.removeSelectedText()
        if what == "older":
            cursor.insertHtml(render.older_html())
        elif what == "empty":
            cursor.insertHtml(render.empty_html(self.colors))
