"""The conversation thread: customer text renders inert, links act only when clicked, the
agent's failed messages offer retry and discard, and older pages load without a jump."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import QSize, QUrl
from PySide6.QtGui import QColor, QImage, QTextDocument
from PySide6.QtWidgets import QApplication

from app.conversation import render
from app.conversation.thread import ThreadBrowser, ThreadView
from app.conversation.thread_document import RUN_CHARS
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


def shown(qtbot, view: ThreadView, *args, **kw) -> None:
    """``set_thread`` and wait until the document shows all of it (long threads are
    finished on later turns of the event loop)."""
    view.set_thread(*args, **kw)
    settle(qtbot, view)


def settle(qtbot, view: ThreadView) -> None:
    qtbot.waitUntil(lambda: not view.rendering, timeout=10_000)


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


def hostile_body(size: int = 65_000, seed: int = 0) -> str:
    """What a hostile customer can send: up to the protocol's largest message, in lines
    full of links."""
    lines: list[str] = []
    total = n = 0
    while total < size:
        lines.append(f"see https://shop.example/{seed}/{n:06d}/{'a' * 30} now {n}")
        total += len(lines[-1]) + 1
        n += 1
    return "\n".join(lines)[:size]


def edits(doc: QTextDocument) -> list[tuple[int, int, int]]:
    """Every (position, removed, added) change of ``doc`` from now on."""
    seen: list[tuple[int, int, int]] = []
    doc.contentsChange.connect(lambda pos, removed, added: seen.append((pos, removed, added)))
    return seen


def words(text: str) -> str:
    return " ".join(text.split())


def test_a_long_body_is_collapsed_and_expands_a_piece_at_a_time(qtbot):
    view = make_view(qtbot)
    body = hostile_body()
    shown(qtbot, view, [item(1, body=body), item(2, body="after the flood")], False, NAMES,
          "Eve")
    doc = view.browser.document()
    text = doc.toPlainText()
    assert body.splitlines()[0] in text and "after the flood" in text
    assert doc.characterCount() < render.PREVIEW_CHARS + 500  # the preview, not the body
    (more,) = [a for a in anchors(doc) if a.startswith(render.MORE_PREFIX)]
    assert "Show more" in text

    changes = edits(doc)
    view.browser.anchorClicked.emit(QUrl(more))
    settle(qtbot, view)
    assert words(body) in words(doc.toPlainText())  # all of it, in order
    assert "after the flood" in doc.toPlainText()
    # It went in a piece at a time, never all at once.
    assert len(changes) > len(body) // render.PIECE_CHARS
    assert max(added for _, _, added in changes) <= render.PIECE_CHARS + 200

    (less,) = [a for a in anchors(doc) if a.startswith(render.LESS_PREFIX)]
    view.browser.anchorClicked.emit(QUrl(less))
    settle(qtbot, view)
    assert doc.characterCount() < render.PREVIEW_CHARS + 500
    assert "after the flood" in doc.toPlainText()


def test_a_flood_of_huge_messages_opens_newest_first_a_window_at_a_time(qtbot):
    view = make_view(qtbot)
    flood = [item(n, body=hostile_body(seed=n)) for n in range(80)]
    doc = view.browser.document()
    changes = edits(doc)
    view.set_thread(flood, False, NAMES, "Eve")
    # The newest message is on screen when set_thread returns; the rest follows.
    bar = view.browser.verticalScrollBar()
    assert flood[-1].body.splitlines()[0] in doc.toPlainText()
    assert bar.value() == bar.maximum()
    settle(qtbot, view)
    # No edit puts in more than a run of neighbours: each turn of the event loop is short.
    assert max(added for _, _, added in changes) <= RUN_CHARS + 2 * render.PREVIEW_CHARS
    # The document holds the newest messages, collapsed, worth about a window.
    ids = [i.id for i in view.shown_items()]
    assert 1 < len(ids) < len(flood)
    assert ids == [i.id for i in flood[-len(ids):]]
    assert doc.characterCount() < ThreadView.WINDOW_CHARS + 4 * render.PREVIEW_CHARS
    assert bar.value() == bar.maximum()
    # Reaching the top brings the next window in above, and the agent stays in place.
    with qtbot.assertNotEmitted(view.olderRequested):  # these are already loaded
        bar.setValue(0)
        settle(qtbot, view)
    more = [i.id for i in view.shown_items()]
    assert len(more) > len(ids) and more[-len(ids):] == ids
    assert bar.value() > 0


def test_a_new_message_adds_its_blocks_and_redraws_nothing_else(qtbot):
    view = make_view(qtbot)
    page = [item(n, body=hostile_body(2_000, n)) for n in range(20)]
    page.append(item(30, "outbound", body="We are on it", local_state="pending",
                     intent_id=7))
    shown(qtbot, view, page, False, NAMES, "Eve")
    doc = view.browser.document()
    before = doc.toPlainText()
    first_line = page[0].body.splitlines()[0]
    first_body = doc.find(first_line).block()
    assert first_body.isValid()

    changes = edits(doc)
    shown(qtbot, view, [*page, item(31, body="one more thing")], False, NAMES, "Eve")
    assert all(removed == 0 for _, removed, _ in changes)
    assert sum(added for _, _, added in changes) < 100  # the new header and line
    assert doc.toPlainText().startswith(before)
    assert first_body.isValid() and first_body.text().startswith(first_line)

    # The reply confirmed: its header alone is drawn again ("Waiting to send" goes).
    changes.clear()
    sent = ThreadItem(**{**page[-1].__dict__, "local_state": None, "intent_id": None})
    shown(qtbot, view, [*page[:-1], sent, item(31, body="one more thing")], False, NAMES,
          "Eve")
    assert "Waiting to send" not in doc.toPlainText()
    assert "We are on it" in doc.toPlainText()
    assert 0 < sum(added for _, _, added in changes) < 60
    assert first_body.isValid() and first_body.text().startswith(first_line)


def test_html_too_deep_or_too_big_to_lay_out_quickly_shows_as_its_text(qtbot):
    nested = "<div>" + "<blockquote>" * 3000 + "deep inside" + "</blockquote>" * 3000 + "</div>"
    listy = "<ul>" + "<li>item &amp; more</li>" * 3000 + "</ul>"
    mail = "<p>Thanks for <b>your order</b></p><blockquote>earlier mail</blockquote>"
    assert render.classify(nested) == ("deep inside", False)
    assert render.classify(mail) == (mail, True)
    view = make_view(qtbot)
    shown(qtbot, view, [item(1, body=nested), item(2, body=listy), item(3, body=mail)],
          False, NAMES, "Eve")
    doc = view.browser.document()
    text = doc.toPlainText()
    assert "deep inside" in text and "item & more" in text
    assert "<blockquote>" not in text and "<li>" not in text  # the text, not the markup
    # Mail-shaped HTML is still rich text.
    fmt = doc.find("your order").charFormat()
    assert fmt.fontWeight() >= 700


@given(st.text(alphabet=st.sampled_from("ab \n\u2028"), max_size=20_000))
def test_pieces_cover_a_body_exactly_and_stay_small(text):
    pieces, pos = [], 0
    while pos < len(text):
        stop, resume = render.piece_end(text, pos, len(text))
        assert pos < resume <= len(text) and stop - pos <= render.PIECE_CHARS
        assert text[stop:resume] in ("", " ", "\n", "\u2028")  # only a break is dropped
        pieces.append(text[pos:resume])
        pos = resume
    assert "".join(pieces) == text


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


def test_a_reply_refused_for_good_offers_discard_only_and_says_why(qtbot):
    view = make_view(qtbot)
    failed = item(2, "outbound", body="Your refund was issued", local_state="failed",
                  intent_id=7, error_code="contact_opted_out", retryable=False)
    view.set_thread([item(1), failed], False, NAMES, "Eve")
    text = view.browser.document().toPlainText()
    assert ("Failed: The contact opted out of messages on this channel. Sending it again "
            "would be refused too.") in text
    assert anchors(view.browser.document()) == ["relaydesk:discard/7"]


def test_notes_are_labelled_internal_and_system_lines_are_not_messages(qtbot):
    view = make_view(qtbot)
    view.set_thread([item(1), item(2, "note", body="VIP: be nice"),
                     item(3, "system", body="Conversation assigned to Alex Morgan")],
                    False, NAMES, "Eve")
    # Names and system text sit in bidi isolates (invisible): read past them.
    text = view.browser.document().toPlainText().replace("\u2068", "").replace("\u2069", "")
    lines = text.splitlines()
    assert any(line.startswith("Internal note · Alex Morgan") for line in lines)
    assert "VIP: be nice" in lines
    assert not any(line.startswith("Internal note") for line in lines[lines.index(
        "VIP: be nice") + 1:])
    assert any(line.startswith("Conversation assigned to Alex Morgan · ") for line in lines)
    assert "Today" in lines or "Yesterday" in lines  # a run just after midnight


def test_reaching_the_top_asks_for_older_messages_once(qtbot):
    view = make_view(qtbot)
    page = [item(n) for n in range(100, 160)]
    shown(qtbot, view, page, True, NAMES, "Eve")
    bar = view.browser.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()  # newest in view
    with qtbot.waitSignal(view.olderRequested):
        bar.setValue(0)
    with qtbot.assertNotEmitted(view.olderRequested):
        bar.setValue(200)
        bar.setValue(0)  # still waiting for that page: no second request
    view.prepend_older([item(n) for n in range(40, 100)], True)
    settle(qtbot, view)
    assert bar.value() > 0  # the agent stays where they were, not at the new top
    with qtbot.waitSignal(view.olderRequested):
        bar.setValue(0)
    view.prepend_older([item(n) for n in range(0, 40)], False)
    settle(qtbot, view)
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
    shown(qtbot, view, [item(n) for n in range(50, 80)], True, NAMES, "Eve")
    bar = view.browser.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    visible = next(f"message {n} body" for n in range(50, 80)
                   if _top_in_viewport(view, f"message {n} body") >= 0)
    before = _top_in_viewport(view, visible)
    assert before < view.browser.viewport().height()
    view.prepend_older([item(n) for n in range(0, 50)], False)
    settle(qtbot, view)
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
    shown(qtbot, view, page.items, page.has_older, names, "Demo Customer")
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
    shown(qtbot, view, page, True, NAMES, "Eve")
    page = [*page, item(80, body="a new message")]
    shown(qtbot, view, page, True, NAMES, "Eve")  # the same thread again, one more message
    assert bar.value() == bar.maximum()
    assert 0 <= _top_in_viewport(view, "a new message") < view.browser.viewport().height()

    bar.setValue(bar.maximum() // 3)
    reading = next(f"message {n} body" for n in range(50, 80)
                   if _top_in_viewport(view, f"message {n} body") >= 0)
    before = _top_in_viewport(view, reading)
    # A bigger page (older messages above) plus one more new message below.
    page = [item(n) for n in range(20, 50)] + page + [item(81, body="another one")]
    shown(qtbot, view, page, False, NAMES, "Eve")
    assert abs(_top_in_viewport(view, reading) - before) <= 1
    assert bar.value() < bar.maximum()

    cursor = view.browser.document().find(reading)
    view.browser.setTextCursor(cursor)  # the agent selected a line to copy it
    view.set_thread(list(page), False, NAMES, "Eve")  # a refresh that changed nothing here
    assert view.browser.textCursor().selectedText() == reading
    view.browser.copy()
    assert QApplication.clipboard().text() == reading

    shown(qtbot, view, [item(1, body="another conversation")], False, NAMES, "Bob")
    assert _top_in_viewport(view, "another conversation") >= 0


def test_hidden_characters_in_names_and_text_show_as_codes(qtbot):
    view = make_view(qtbot)
    name = "Admin\u202egnp.exe\u202c"
    body = "Pay to acc\u200bount 12\u202e34\u202c please https://pay.example/\u202egpj.exe"
    shown(qtbot, view, [item(1, body=body), item(2, "system", body="Renamed \u202eabc")],
          False, NAMES, name)
    text = view.browser.document().toPlainText()
    for hidden in ("\u202e", "\u202c", "\u200b"):
        assert hidden not in text.replace("\u2068", "").replace("\u2069", "")
    assert "Admin⟨U+202E⟩gnp.exe⟨U+202C⟩" in text
    assert "acc⟨U+200B⟩ount 12⟨U+202E⟩34⟨U+202C⟩ please" in text
    assert "Renamed ⟨U+202E⟩abc" in text
    # The link's target keeps no hidden override either.
    assert all("\u202e" not in href for href in anchors(view.browser.document()))
