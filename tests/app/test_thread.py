"""The conversation thread: customer text renders inert, links act only when clicked, the
agent's failed messages offer retry and discard, and older pages load without a jump."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from PySide6.QtCore import QLocale, QSize, QUrl
from PySide6.QtGui import QColor, QImage, QTextDocument
from PySide6.QtWidgets import QApplication

from app.conversation import render
from app.conversation.thread import ThreadBrowser, ThreadView
from sync import queries
from sync.overlay import ThreadItem

NOW = int(time.time() * 1000)
NAMES = {"agent-1": "Alex Morgan"}


def item(n: int, direction: str = "inbound", body: str | None = None, **kw) -> ThreadItem:
    fields = dict(id=f"m{n:05d}", direction=direction,
                  body=f"message {n} body" if body is None else body,
                  created_at=NOW - 300_000 + n * 1000,
                  author_id=None if direction == "inbound" else "agent-1",
                  template=None, local_state=None)
    fields.update(kw)
    return ThreadItem(**fields)


class RecordingBrowser(ThreadBrowser):
    """Records every resource Qt asks the thread for (there should be none)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.requests: list[str] = []

    def loadResource(self, kind, name):
        self.requests.append(name.toString())
        return super().loadResource(kind, name)


class RecordingView(ThreadView):
    browser_class = RecordingBrowser


def make_view(qtbot, cls: type[ThreadView] = ThreadView, show: bool = True) -> ThreadView:
    view = cls()
    qtbot.addWidget(view)
    view.resize(600, 400)
    if show:  # not in a desk test: a shown window closing would quit its qasync loop
        view.show()
        qtbot.waitExposed(view)
    view.opened: list[QUrl] = []
    view.open_url = view.opened.append
    return view


def anchors(doc: QTextDocument) -> list[str]:
    """Every link target in the document, and whether any image made it in."""
    found = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            assert not fmt.isImageFormat(), "an image in the thread"
            if fmt.isAnchor() and fmt.anchorHref():
                found.append(fmt.anchorHref())
            it += 1
        block = block.next()
    return found


def test_hostile_plain_body_shows_literally_and_stays_inert(qtbot):
    view = make_view(qtbot, RecordingView)
    body = ('Hi <script>alert(1)</script> <img src="http://evil.example/x.png" '
            'onerror="alert(2)"> <a href="javascript:alert(3)">x</a> see https://shop.example/o?id=1')
    view.set_thread([item(1, body=body)], False, NAMES, "Eve <b>Hacker</b>")
    doc = view.browser.document()
    text = doc.toPlainText()
    assert body in text  # the customer's characters, exactly as typed
    assert "Eve <b>Hacker</b>" in text  # an untrusted name is text too
    markup = doc.toHtml()
    assert "<script" not in markup and "<img" not in markup
    # Typed URLs are links (opened only on a click); the javascript: one is just text.
    assert anchors(doc) == ["http://evil.example/x.png", "https://shop.example/o?id=1"]
    assert view.browser.requests == []


def test_hostile_html_body_is_sanitized(qtbot):
    view = make_view(qtbot, RecordingView)
    body = ('<html><head><style>p {color: red}</style></head><body>'
            '<p onclick="steal()">Hello <b>there</b></p><script>alert(1)</script>'
            '<img src="http://evil.example/x.png" onerror="alert(2)">'
            '<a href="javascript:alert(3)">bad link</a> <a href="https://ok.example/">good</a>'
            '<a href="relaydesk:discard/1">fake action</a><div style="background:url(x)">end</div>')
    view.set_thread([item(1, body=body)], False, NAMES, "Eve")
    doc = view.browser.document()
    text = doc.toPlainText()
    assert "Hello there" in text and "bad link" in text and "end" in text
    assert "[image removed]" in text
    assert "alert" not in text and "color: red" not in text
    markup = doc.toHtml()
    for bad in ("<script", "<img", "javascript:", "onerror", "onclick", "evil.example"):
        assert bad not in markup, bad
    assert anchors(doc) == ["https://ok.example/"]  # no customer link can fake an action
    assert view.browser.requests == []


def test_the_browser_fetches_nothing_not_even_a_local_file(qtbot, tmp_path: Path):
    picture = tmp_path / "x.png"
    image = QImage(4, 4, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    assert image.save(str(picture))
    view = make_view(qtbot, RecordingView)
    url = QUrl.fromLocalFile(str(picture))
    # Even markup that bypassed render.py gets nothing: Qt asks, the browser declines.
    data = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    view.browser.setHtml(f'<img src="{url.toString()}"><img src="{data}">'
                         '<img src="http://evil.example/y.png">')
    view.browser.document().documentLayout().documentSize()
    assert url.toString() in view.browser.requests
    for src in (url, QUrl(data), QUrl("http://evil.example/y.png")):
        got = view.browser.document().resource(QTextDocument.ResourceType.ImageResource, src)
        assert isinstance(got, QImage) and got.size() == QSize(1, 1), src  # a blank pixel
    assert ThreadBrowser().loadResource(QTextDocument.ResourceType.StyleSheetResource.value,
                                        QUrl("http://evil.example/s.css")) is None


def test_a_huge_body_is_shortened_and_renders(qtbot):
    view = make_view(qtbot)
    huge = "spam " * 400_000  # 2 MB
    started = time.perf_counter()
    view.set_thread([item(1, body=huge), item(2, body="after the flood")], False, NAMES, "Eve")
    elapsed = time.perf_counter() - started
    text = view.browser.document().toPlainText()
    assert "message shortened" in text and QLocale().toString(len(huge)) in text
    assert len(text) < render.MAX_BODY_CHARS + 1000
    assert "after the flood" in text
    assert elapsed < 5, elapsed  # generous: the point is that it does not hang


def test_only_a_clicked_web_or_mail_link_opens(qtbot):
    view = make_view(qtbot)
    view.set_thread([item(1, body="track at https://ship.example/t/1")], False, NAMES, "Eve")
    (href,) = anchors(view.browser.document())
    assert view.opened == []  # rendering opens nothing
    with qtbot.waitSignal(view.linkActivated) as activated:
        view.browser.anchorClicked.emit(QUrl(href))
    assert view.opened == [QUrl("https://ship.example/t/1")]
    assert activated.args == [QUrl("https://ship.example/t/1")]
    for inert in ("javascript:alert(1)", "file:///etc/passwd", "data:text/html,<b>x</b>",
                  "relaydesk:retry/abc", "foo/bar"):
        view.browser.anchorClicked.emit(QUrl(inert))
    view.browser.anchorClicked.emit(QUrl("mailto:help@shop.example"))
    assert view.opened == [QUrl("https://ship.example/t/1"), QUrl("mailto:help@shop.example")]


def test_a_failed_reply_shows_its_reason_with_retry_and_discard(qtbot):
    view = make_view(qtbot)
    failed = item(2, "outbound", body="Your refund is on its way", local_state="failed",
                  intent_id=42, error_code="window_closed",
                  error_message="Server wording the desk does not show for a known reason")
    pending = item(3, "outbound", body="Anything else?", local_state="pending", intent_id=43)
    view.set_thread([item(1), failed, pending], False, NAMES, "Eve")
    text = view.browser.document().toPlainText()
    # A known reason is the desk's own (translatable) sentence, not the server's English.
    assert "Failed: The messaging window is closed; wait for the customer to write." in text
    assert "Server wording" not in text
    assert "Waiting to send" in text
    links = anchors(view.browser.document())
    assert links == ["relaydesk:retry/42", "relaydesk:discard/42"]
    with qtbot.waitSignal(view.retryRequested) as retry:
        view.browser.anchorClicked.emit(QUrl(links[0]))
    assert retry.args == [42]
    with qtbot.waitSignal(view.discardRequested) as discard:
        view.browser.anchorClicked.emit(QUrl(links[1]))
    assert discard.args == [42]
    assert view.opened == []


def test_notes_are_labelled_internal_and_system_lines_are_not_messages(qtbot):
    view = make_view(qtbot)
    view.set_thread([item(1), item(2, "note", body="VIP: be nice"),
                     item(3, "system", body="Conversation assigned to Alex Morgan")],
                    False, NAMES, "Eve")
    lines = view.browser.document().toPlainText().splitlines()
    assert any(line.startswith("Internal note · Alex Morgan") for line in lines)
    assert "VIP: be nice" in lines
    assert not any(line.startswith("Internal note") for line in lines[lines.index(
        "VIP: be nice") + 1:])
    assert any(line.startswith("Conversation assigned to Alex Morgan · ") for line in lines)
    assert "Today" in lines or "Yesterday" in lines  # a run just after midnight


def test_reaching_the_top_asks_for_older_messages_once(qtbot):
    view = make_view(qtbot)
    page = [item(n) for n in range(100, 160)]
    view.set_thread(page, True, NAMES, "Eve")
    bar = view.browser.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()  # newest in view
    with qtbot.waitSignal(view.olderRequested):
        bar.setValue(0)
    with qtbot.assertNotEmitted(view.olderRequested):
        bar.setValue(200)
        bar.setValue(0)  # still waiting for that page: no second request
    view.prepend_older([item(n) for n in range(40, 100)], True)
    assert bar.value() > 0  # the agent stays where they were, not at the new top
    with qtbot.waitSignal(view.olderRequested):
        bar.setValue(0)
    view.prepend_older([item(n) for n in range(0, 40)], False)
    with qtbot.assertNotEmitted(view.olderRequested):
        bar.setValue(bar.maximum())
        bar.setValue(0)  # nothing older: no request


def test_the_load_older_link_is_there_only_while_there_is_more(qtbot):
    view = make_view(qtbot)
    view.set_thread([item(1)], True, NAMES, "Eve")
    assert render.OLDER_URL in anchors(view.browser.document())
    with qtbot.waitSignal(view.olderRequested):
        view.browser.anchorClicked.emit(QUrl(render.OLDER_URL))
    view.prepend_older([item(0)], False)
    assert render.OLDER_URL not in anchors(view.browser.document())
    assert view.oldest_key() == (item(0).created_at, "m00000")


def _top_in_viewport(view: ThreadView, text: str) -> float:
    doc = view.browser.document()
    block = doc.find(text).block()
    assert block.isValid(), text
    top = doc.documentLayout().blockBoundingRect(block).top()
    return top - view.browser.verticalScrollBar().value()


def test_prepending_older_messages_keeps_the_visible_message_in_place(qtbot):
    view = make_view(qtbot)
    view.set_thread([item(n) for n in range(50, 80)], True, NAMES, "Eve")
    bar = view.browser.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    visible = next(f"message {n} body" for n in range(50, 80)
                   if _top_in_viewport(view, f"message {n} body") >= 0)
    before = _top_in_viewport(view, visible)
    assert before < view.browser.viewport().height()
    view.prepend_older([item(n) for n in range(0, 50)], False)
    assert abs(_top_in_viewport(view, visible) - before) <= 1


async def test_a_demo_conversation_renders_every_message(backend, desks, qtbot):
    session = await desks.session(backend)
    ids = await session.read(queries.conversation_ids, queries.InboxFilter(statuses=None),
                             queries.Sort.LAST_ACTIVITY, session.agent_id)
    pages = [await session.read(queries.thread_page, cid, session.agent_id) for cid in ids[:15]]
    page = max(pages, key=lambda p: len({i.direction for i in p.items}))
    assert len(page.items) >= 3
    names = {a.id: a.name for a in session.directory.agents}
    view = make_view(qtbot, show=False)
    view.set_thread(page.items, page.has_older, names, "Demo Customer")
    text = " ".join(view.browser.document().toPlainText().split())
    for thread_item in page.items:
        assert " ".join(thread_item.body.split()) in text, thread_item.body
    for thread_item in page.items:
        if thread_item.direction in ("outbound", "note") and thread_item.author_id in names:
            assert names[thread_item.author_id] in text
    assert "Demo Customer" in text


def test_a_refresh_follows_new_messages_only_when_at_the_bottom(qtbot):
    view = make_view(qtbot)
    bar = view.browser.verticalScrollBar()
    page = [item(n) for n in range(50, 80)]
    view.set_thread(page, True, NAMES, "Eve")
    page = [*page, item(80, body="a new message")]
    view.set_thread(page, True, NAMES, "Eve")  # the same thread again, one more message
    assert bar.value() == bar.maximum()
    assert 0 <= _top_in_viewport(view, "a new message") < view.browser.viewport().height()

    bar.setValue(bar.maximum() // 3)
    reading = next(f"message {n} body" for n in range(50, 80)
                   if _top_in_viewport(view, f"message {n} body") >= 0)
    before = _top_in_viewport(view, reading)
    # A bigger page (older messages above) plus one more new message below.
    page = [item(n) for n in range(20, 50)] + page + [item(81, body="another one")]
    view.set_thread(page, False, NAMES, "Eve")
    assert abs(_top_in_viewport(view, reading) - before) <= 1
    assert bar.value() < bar.maximum()

    cursor = view.browser.document().find(reading)
    view.browser.setTextCursor(cursor)  # the agent selected a line to copy it
    view.set_thread(list(page), False, NAMES, "Eve")  # a refresh that changed nothing here
    assert view.browser.textCursor().selectedText() == reading
    view.browser.copy()
    assert QApplication.clipboard().text() == reading

    view.set_thread([item(1, body="another conversation")], False, NAMES, "Bob")
    assert _top_in_viewport(view, "another conversation") >= 0
