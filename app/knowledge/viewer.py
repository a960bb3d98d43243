"""The article viewer: an article's title, what it is about, and its body rendered from
Markdown (``sync.articles.to_html``: sanitized, bidi-safe), with "Insert into reply".

The body is shown by a QTextBrowser that loads nothing by itself: no remote image, no local
file, no data: URL; only the images the desk has cached beside the mirror, read off the GUI
thread before the article is shown. A link opens in the system browser when the agent
clicks it, never before. An internal article is marked as such and cannot be inserted into
a reply to a customer (it can into an internal note).

Not wired into the main window here: ``open_article_window`` opens one as a window of its
own, and ``ArticleViewer`` fits in a dock or a panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QTextDocument, QTextOption
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app import tasks, theme, times
from app.conversation.thread_document import InertDocument
from app.labels import language_name
from app.widgets import plain_tooltip
from sync import articles
from sync.articles import Article
from sync.display import display_safe
from sync.store import Store

if TYPE_CHECKING:
    from app.session import DeskSession

translate = QCoreApplication.translate


def _blank_image() -> QImage:
    image = QImage(1, 1, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    return image


class ArticleBrowser(QTextBrowser):
    """A read-only browser that fetches nothing: an image is one the viewer cached for it
    (``images``, by ``relaydesk-image:`` name) or a blank pixel; any other resource, none."""

    inert = True  # its document asks it for every resource (InertDocument)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocument(InertDocument(self))
        self.images: Mapping[str, QImage] = {}
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setSearchPaths([])
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        # Qt's rich text draws a table without lines or room: give it both, and make a
        # marker for an image not shown look like a note, not like the article's words.
        self.document().setDefaultStyleSheet(
            "table { border-collapse: collapse; border: 1px solid #b8b8b8; "
            "margin-top: 4px; margin-bottom: 8px; } "
            "th, td { padding: 3px 8px; border: 1px solid #b8b8b8; } "
            "h1, h2, h3 { margin-top: 12px; margin-bottom: 4px; } "
            ".image-marker { color: #6b7280; font-style: italic; }")

    def loadResource(self, kind: int, name: QUrl) -> Any:
        if kind == QTextDocument.ResourceType.ImageResource.value:
            cached = articles.image_name(name.toString())
            image = self.images.get(cached) if cached else None
            # Qt's image handler reads the file itself when it gets no image back.
            return image if image is not None and not image.isNull() else _blank_image()
        return None


@dataclass(frozen=True)
class Shown:
    """What the viewer shows of one article, prepared off the GUI thread."""

    article: Article
    html: str
    images: dict[str, QImage]


def prepare(store: Store, article: Article | None, image_dir: Path | None, marker: str
            ) -> Shown | None:
    """``article``'s body as sanitized HTML and the cached images it shows (decoded), for a
    reader thread. ``marker`` shows in place of an image not loaded ("%1": its alt text)."""
    if article is None:
        return None
    html = articles.to_html(article.body, local_images=image_dir is not None,
                            image_marker=lambda alt: marker.replace("%1", alt))
    images: dict[str, QImage] = {}
    if image_dir is not None:
        for name in articles.image_names(html):
            path = image_dir / name  # a bare file name (image_name refuses any path)
            if path.is_file():
                images[name] = QImage(str(path))
    return Shown(article, html, images)


def _read_by_id(store: Store, article_id: str, image_dir: Path | None, marker: str
                ) -> Shown | None:
    return prepare(store, articles.load_article(store, article_id), image_dir, marker)


def _read_by_key(store: Store, key: str, locale: str | None, image_dir: Path | None,
                 marker: str) -> Shown | None:
    return prepare(store, articles.load_in_language(store, key, locale), image_dir, marker)


class ArticleViewer(QWidget):
    """One article at a time. ``insertRequested`` carries the article in the reply's format
    (``sync.articles.for_channel``), or as plain text for an internal note."""

    insertRequested = Signal(str)
    linkActivated = Signal(QUrl)  # an http(s)/mailto link the agent clicked
    shown = Signal()  # an article (or "not available") is on screen

    # The OS hook that opens a clicked link (Qt routes it to a handler set with
    # QDesktopServices.setUrlHandler, else to the system browser).
    open_url = staticmethod(QDesktopServices.openUrl)
    browser_class: type[ArticleBrowser] = ArticleBrowser

    def __init__(self, parent: QWidget | None = None, *, image_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.image_dir = image_dir
        self.article: Article | None = None
        self.channel_type: str | None = None
        self.note = False
        self._serial = 0  # the latest load; an older one's answer is dropped

        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)

        self.badge = QLabel(self.tr("Internal — never send to a customer"), self)
        self.badge.setTextFormat(Qt.TextFormat.PlainText)
        self.badge.setAccessibleName(self.badge.text())
        self.badge.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.badge.hide()

        self.meta = QLabel(self)
        self.meta.setTextFormat(Qt.TextFormat.PlainText)
        self.meta.setWordWrap(True)

        self.browser = self.browser_class(self)
        self.browser.setAccessibleName(self.tr("Article"))
        self.browser.anchorClicked.connect(self._on_anchor)
        self.browser.highlighted.connect(self._on_highlighted)

        self.insert_button = QPushButton(self.tr("Insert into reply"), self)
        self.insert_button.setEnabled(False)
        self.insert_button.clicked.connect(self._on_insert)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.insert_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.badge)
        layout.addWidget(self.meta)
        layout.addWidget(self.browser, 1)
        layout.addLayout(buttons)
        self.setFocusProxy(self.browser)
        self.setAccessibleName(self.tr("Article viewer"))

    # ------------------------------------------------------------------ API

    def set_target(self, channel_type: str | None, *, note: bool = False) -> None:
        """Where "Insert" puts the article: a reply on ``channel_type`` (None: no
        conversation open), or an internal note."""
        self.channel_type, self.note = channel_type, note
        self._update_insert()

    async def load(self, session: DeskSession, article_id: str) -> Article | None:
        """Show the published article ``article_id`` (read off the GUI thread)."""
        serial = self._begin()
        shown = await session.read(_read_by_id, article_id, self.image_dir, self._marker())
        return self._show(serial, shown)

    async def load_in_language(self, session: DeskSession, key: str, locale: str | None
                               ) -> Article | None:
        """Show the article ``key`` in the conversation's language, else its original."""
        serial = self._begin()
        shown = await session.read(_read_by_key, key, locale, self.image_dir, self._marker())
        return self._show(serial, shown)

    def show_prepared(self, shown: Shown | None) -> None:
        """Show what ``prepare`` made (None: the article is not available)."""
        self._show(self._begin(), shown)

    # ------------------------------------------------------------------ internals

    def _marker(self) -> str:
        return self.tr("[Image not shown: %1]")

    def _begin(self) -> int:
        self._serial += 1
        return self._serial

    def _show(self, serial: int, shown: Shown | None) -> Article | None:
        if serial != self._serial:
            return shown.article if shown else None  # a later load took over
        if shown is None:
            self.article = None
            self.title.setText(self.tr("This article is not available"))
            self.meta.setText(self.tr("It may have been archived, or it is not published for "
                                      "your teams."))
            self.badge.hide()
            self.browser.images = {}
            self.browser.clear()
            self._update_insert()
            self.shown.emit()
            return None
        article = shown.article
        self.article = article
        self.title.setText(display_safe(article.title, isolate=False))
        self.setWindowTitle(display_safe(article.title, isolate=False))
        self.meta.setText(self._meta_text(article))
        self.meta.setToolTip(plain_tooltip(", ".join(display_safe(t, isolate=False)
                                                     for t in article.tags)))
        if article.internal:
            red = theme.color("failed").name()
            self.badge.setStyleSheet(f"QLabel {{ color: {red}; border: 1px solid {red}; "
                                     "border-radius: 3px; padding: 1px 6px; "
                                     "font-weight: bold; }")
        self.badge.setVisible(article.internal)
        self.browser.images = shown.images
        self.browser.document().setHtml(shown.html)
        self._update_insert()
        self.shown.emit()
        return article

    def _meta_text(self, article: Article) -> str:
        parts = []
        if article.category:
            parts.append(display_safe(article.category, isolate=True))
        parts.append(language_name(article.locale))
        parts.append(self.tr("Updated %1").replace("%1", times.date_time_text(
            article.updated_at)))
        parts.append(self.tr("Version %1").replace("%1", str(article.version)))
        return " · ".join(parts)

    def _update_insert(self) -> None:
        article = self.article
        button = self.insert_button
        button.setText(self.tr("Insert into note") if self.note
                       else self.tr("Insert into reply"))
        if article is None:
            button.setEnabled(False)
            button.setToolTip("")
        elif self.channel_type is None and not self.note:
            button.setEnabled(False)
            button.setToolTip(self.tr("Open a conversation to insert this article"))
        elif article.internal and not self.note:
            # The customer must never receive an internal article: no way round it here.
            button.setEnabled(False)
            button.setToolTip(self.tr("Internal articles are for agents only: they can go "
                                      "into an internal note, never into a reply"))
        else:
            button.setEnabled(True)
            button.setToolTip("")

    def _on_insert(self) -> None:
        article = self.article
        if article is None or not self.insert_button.isEnabled():
            return
        if article.internal and not self.note:
            return
        channel = None if self.note else self.channel_type  # a note is plain text
        tasks.spawn(self._insert(article.body, channel), name="insert article")

    async def _insert(self, body: str, channel: str | None) -> None:
        # A long article's conversion is work for a worker, not the GUI thread.
        self.insertRequested.emit(await tasks.run(articles.for_channel, body, channel))

    def _on_anchor(self, url: QUrl) -> None:
        # Links only open on a click, and only to the web or mail; anything else is inert.
        if url.isValid() and url.scheme().lower() in articles.LINK_SCHEMES:
            self.linkActivated.emit(url)
            self.open_url(url)

    def _on_highlighted(self, url: QUrl) -> None:
        # Show where a link goes before it is clicked (its text may say otherwise).
        self.browser.setToolTip(plain_tooltip(url.toString()) if not url.isEmpty() else "")


def open_article_window(session: DeskSession, article_id: str | None = None, *,
                        key: str | None = None, locale: str | None = None,
                        channel_type: str | None = None, note: bool = False,
                        parent: QWidget | None = None, image_dir: Path | None = None
                        ) -> ArticleViewer:
    """An article in a window of its own (by id, or by ``key`` in ``locale``, else the
    original), loading in the background; connect ``insertRequested`` to the composer."""
    viewer = ArticleViewer(parent, image_dir=image_dir)
    viewer.setWindowFlag(Qt.WindowType.Window, True)
    viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    viewer.setWindowTitle(translate("ArticleViewer", "Article"))
    viewer.resize(640, 720)
    viewer.set_target(channel_type, note=note)
    if article_id is not None:
        tasks.spawn(viewer.load(session, article_id), name="open article")
    elif key is not None:
        tasks.spawn(viewer.load_in_language(session, key, locale), name="open article")
    viewer.show()
    return viewer
