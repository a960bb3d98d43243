"""The article viewer (app/knowledge/viewer.py) on a real desk's mirror: an offline
DeskSession whose mirror holds articles written as a pull writes them, read through the
session. Hostile articles fetch nothing (a real HTTP server on loopback counts requests), a
link opens only when clicked (Qt's own URL handler hook records it), "Insert into reply"
gives the channel's format, and an internal article never goes into a reply."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Slot
from PySide6.QtGui import QColor, QDesktopServices, QImage, QTextCursor, QTextDocument
from PySide6.QtWidgets import QApplication

from app.knowledge.viewer import ArticleBrowser, ArticleViewer, open_article_window
from app.session import DeskSession
from sync.articles import for_channel
from sync.workspace import WorkspaceConfig
from tests.app.conftest import until
from tests.app.test_translations import japanese  # noqa: F401  (a fixture)
from tests.sync.test_articles_format import article_payload, put_articles

pytestmark = pytest.mark.usefixtures("qloop")

RETURNS = """## Returning an item

Print the **label** from [your orders](https://shop.example.com/orders), then:

- pack the item
- drop it at a post office
"""


async def _session(tmp_path: Path) -> DeskSession:
    data_dir = tmp_path / "desk"
    config = WorkspaceConfig("http://127.0.0.1:9", "agent@example.com")
    config.save(data_dir)
    desk = DeskSession(data_dir, config)
    await desk.open(connect=False)
    return desk


def _viewer(qtbot: Any, **kw: Any) -> ArticleViewer:
    viewer = ArticleViewer(**kw)
    qtbot.addWidget(viewer)
    viewer.resize(640, 600)
    viewer.show()
    return viewer


async def test_an_article_renders_from_the_mirror(qtbot: Any, tmp_path: Path) -> None:
    desk = await _session(tmp_path)
    try:
        put_articles(desk.store, [article_payload(
            "a1", "returns", "en", 1_767_225_600_000, title="Returning an item",
            body=RETURNS, category="Orders")])
        viewer = _viewer(qtbot)
        viewer.set_target("sms")
        shown = await viewer.load(desk, "a1")
        assert shown is not None and shown.id == "a1"
        assert viewer.title.text() == "Returning an item"
        meta = viewer.meta.text()
        assert "Orders" in meta and "English" in meta and "Version 1" in meta
        text = viewer.browser.toPlainText()
        assert "Returning an item" in text and "pack the item" in text
        assert "**" not in text and "](" not in text
        assert not viewer.badge.isVisible()
        assert viewer.insert_button.isEnabled()

        assert await viewer.load(desk, "no-such-article") is None
        assert viewer.title.text() == "This article is not available"
        assert not viewer.insert_button.isEnabled()
    finally:
        await desk.close()


class _Counting(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:
        _Counting.requests.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    """A real HTTP server on loopback that counts what it is asked for."""
    _Counting.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _Recording(ArticleBrowser):
    """The real browser, noting every resource its document asks for."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.asked: list[tuple[int, str, bool]] = []

    def loadResource(self, kind: int, name: QUrl) -> Any:
        got = super().loadResource(kind, name)
        real = isinstance(got, QImage) and got.width() > 1
        self.asked.append((kind, name.toString(), real))
        return got


async def test_hostile_article_fetches_nothing_and_runs_nothing(
        qtbot: Any, tmp_path: Path, web: str) -> None:
    secret = tmp_path / "secret.png"
    image = QImage(20, 20, QImage.Format.Format_ARGB32)
    image.fill(QColor("red"))
    assert image.save(str(secret))
    cache = tmp_path / "images"
    cache.mkdir()
    assert image.save(str(cache / "diagram.png"))
    body = f"""# Hostile \u202eevil

![pixel]({web}/markdown.png) ![local](file://{secret}) ![data](data:image/png;base64,iVBORw0KGgo=)
![cached](relaydesk-image:diagram.png)

<img src="{web}/raw.png" onerror="alert(1)" alt="raw pixel">
<link rel="stylesheet" href="{web}/style.css">
<script>new Image().src = "{web}/script.png"</script>
<iframe src="{web}/frame"></iframe>
<div style="background: url({web}/bg.png)">styled</div>

[click me](javascript:alert(1)) and [also](data:text/html,hi)
"""
    desk = await _session(tmp_path)
    try:
        put_articles(desk.store, [article_payload("evil", "evil", "en", 1, title="Hi \u202eevil",
                                                  body=body)])

        class Viewer(ArticleViewer):
            browser_class = _Recording

        viewer = Viewer(image_dir=cache)
        qtbot.addWidget(viewer)
        viewer.resize(640, 900)
        viewer.show()
        await viewer.load(desk, "evil")
        viewer.grab()  # lay out and paint everything, images included
        QApplication.processEvents()
        await until(lambda: viewer.browser.asked, what="the document's image requests")

        browser = viewer.browser
        assert isinstance(browser, _Recording)
        # The only image the document asks for is the desk's own cached one, and it is drawn.
        assert {name for _, name, _ in browser.asked} == {"relaydesk-image:diagram.png"}
        assert all(real for _, _, real in browser.asked)
        for url in (f"{web}/markdown.png", f"file://{secret}"):
            got = browser.document().resource(QTextDocument.ResourceType.ImageResource.value,
                                              QUrl(url))
            assert not isinstance(got, QImage) or got.width() <= 1, url
        markup = browser.document().toHtml()
        for absent in ("javascript", "script", "onerror", "iframe", "url(", "data:", web):
            assert absent not in markup.lower(), absent
        text = browser.toPlainText()
        for marker in ("[Image not shown: pixel]", "[Image not shown: local]",
                       "[Image not shown: raw pixel]"):
            assert marker in text
        assert "click me" in text and "styled" in text
        assert viewer.title.text() == "Hi ⟨U+202E⟩evil"
        await asyncio.sleep(0.3)  # a fetch would have arrived by now
        assert _Counting.requests == []
    finally:
        await desk.close()


class _Opened(QObject):
    """Qt's hook for URL schemes (QDesktopServices.setUrlHandler): what would have opened in
    the system browser."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def record(self, url: QUrl) -> None:
        self.urls.append(url.toString())


def _anchor_point(browser: ArticleBrowser, href: str) -> QPoint:
    doc = browser.document()
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.charFormat().isAnchor() and fragment.charFormat().anchorHref() == href:
                cursor = QTextCursor(doc)
                cursor.setPosition(fragment.position() + 1)
                rect = browser.cursorRect(cursor)
                return QPoint(rect.left() + 1, rect.center().y())
            it += 1
        block = block.next()
    raise AssertionError(f"no link to {href}")


@pytest.fixture
def opened() -> Iterator[_Opened]:
    recorder = _Opened()
    for scheme in ("https", "http", "mailto", "javascript", "data", "file"):
        QDesktopServices.setUrlHandler(scheme, recorder, "record")
    yield recorder
    for scheme in ("https", "http", "mailto", "javascript", "data", "file"):
        QDesktopServices.unsetUrlHandler(scheme)


async def test_a_link_opens_only_when_clicked(qtbot: Any, tmp_path: Path,
                                              opened: _Opened) -> None:
    desk = await _session(tmp_path)
    try:
        put_articles(desk.store, [article_payload(
            "a1", "returns", "en", 1, body=RETURNS + "\n[bad](javascript:alert(1))\n")])
        viewer = _viewer(qtbot)
        await viewer.load(desk, "a1")
        browser = viewer.browser
        point = _anchor_point(browser, "https://shop.example.com/orders")
        qtbot.mouseMove(browser.viewport(), point)
        viewer.grab()
        QApplication.processEvents()
        assert opened.urls == []  # showing and hovering open nothing
        assert browser.anchorAt(point) == "https://shop.example.com/orders"

        qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=point)
        await until(lambda: opened.urls, what="the click's URL")
        assert opened.urls == ["https://shop.example.com/orders"]

        # The refused link is plain text: clicking it opens nothing.
        cursor = browser.document().find("bad")
        rect = browser.cursorRect(cursor)
        qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(rect.left() - 4, rect.center().y()))
        QApplication.processEvents()
        assert opened.urls == ["https://shop.example.com/orders"]
    finally:
        await desk.close()


async def test_insert_gives_the_article_in_the_channels_format(qtbot: Any,
                                                               tmp_path: Path) -> None:
    desk = await _session(tmp_path)
    try:
        put_articles(desk.store, [article_payload("a1", "returns", "en", 1, body=RETURNS)])
        viewer = _viewer(qtbot)
        inserted: list[str] = []
        viewer.insertRequested.connect(inserted.append)
        await viewer.load(desk, "a1")

        viewer.set_target(None)  # no conversation open: nowhere to insert
        assert not viewer.insert_button.isEnabled()

        texts = []
        for channel in ("sms", "email", "line"):
            viewer.set_target(channel)
            assert viewer.insert_button.isEnabled()
            inserted.clear()
            qtbot.mouseClick(viewer.insert_button, Qt.MouseButton.LeftButton)
            await until(lambda: inserted, what="the insert")
            assert inserted == [for_channel(RETURNS, channel)]
            texts.append(inserted[0])
        assert texts[0].startswith("Returning an item\n\nPrint the label from your "
                                      "orders (https://shop.example.com/orders), then:")
        assert "<h2>Returning an item</h2>" in texts[1]
    finally:
        await desk.close()


async def test_an_internal_article_is_marked_and_never_goes_into_a_reply(
        qtbot: Any, tmp_path: Path) -> None:
    desk = await _session(tmp_path)
    try:
        put_articles(desk.store, [article_payload(
            "int", "escalation", "en", 1, body="Call **Tier 2** on 555-0100.",
            visibility="internal")])
        viewer = _viewer(qtbot)
        inserted: list[str] = []
        viewer.insertRequested.connect(inserted.append)
        viewer.set_target("whatsapp")
        await viewer.load(desk, "int")

        assert viewer.badge.isVisible()
        assert viewer.badge.text() == "Internal — never send to a customer"
        assert not viewer.insert_button.isEnabled()
        assert "never into a reply" in viewer.insert_button.toolTip()
        qtbot.mouseClick(viewer.insert_button, Qt.MouseButton.LeftButton)
        viewer.insert_button.click()
        QApplication.processEvents()
        assert inserted == []

        viewer.set_target("whatsapp", note=True)  # an internal note stays with the agents
        assert viewer.insert_button.isEnabled()
        assert viewer.insert_button.text() == "Insert into note"
        qtbot.mouseClick(viewer.insert_button, Qt.MouseButton.LeftButton)
        await until(lambda: inserted, what="the insert into the note")
        assert inserted == ["Call Tier 2 on 555-0100."]
    finally:
        await desk.close()


async def test_a_japanese_article_in_the_japanese_desk(
        qtbot: Any, tmp_path: Path, japanese: QApplication) -> None:  # noqa: F811
    desk = await _session(tmp_path)
    try:
        put_articles(desk.store, [
            article_payload("en", "returns", "en", 1, title="Returns", body=RETURNS),
            article_payload("ja", "returns", "ja", 2, title="返品の手続き",
                            body="**返品**は到着後30日以内に受け付けます。\n\n"
                                 "- 未使用の商品\n- 両面印刷の説明書（同梱）\n",
                            category="注文", visibility="internal")])
        viewer = _viewer(qtbot)
        viewer.set_target("line")
        shown = await viewer.load_in_language(desk, "returns", "ja-JP")
        assert shown is not None and shown.id == "ja"
        assert viewer.title.text() == "返品の手続き"
        assert "日本語" in viewer.meta.text() and "注文" in viewer.meta.text()
        text = viewer.browser.toPlainText()
        assert "返品は到着後30日以内に受け付けます。" in text and "両面印刷の説明書（同梱）" in text
        assert viewer.badge.text() == "社内用 — 顧客には送らないでください"
        assert viewer.insert_button.text() == "返信に挿入"
        # Another language: the original (English, written first).
        other = await viewer.load_in_language(desk, "returns", "fr")
        assert other is not None and other.id == "en"
    finally:
        await desk.close()


async def test_open_article_window_loads_in_the_background(qtbot: Any,
                                                          tmp_path: Path) -> None:
    desk = await _session(tmp_path)
    try:
        put_articles(desk.store, [article_payload("a1", "returns", "en", 1,
                                                  title="Returning an item", body=RETURNS)])
        viewer = open_article_window(desk, "a1", channel_type="sms")
        qtbot.addWidget(viewer)
        assert viewer.isWindow() and viewer.isVisible()
        await until(lambda: viewer.article is not None, what="the article")
        assert viewer.windowTitle() == "Returning an item"
        assert viewer.insert_button.isEnabled()
        viewer.close()
    finally:
        await desk.close()
