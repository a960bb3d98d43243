"""Knowledge articles as the desk reads and shows them: the mirror's reads, Markdown made safe
to show (sanitized HTML) and Markdown in a channel's format (plain text, or HTML for email).

An article's body is Markdown written by a supervisor or imported from a folder: untrusted
like a customer's text. Raw HTML in it is reduced to its text (no tag of it is kept; what a
script, style or frame holds is dropped; an ``<img>`` becomes its marker), links keep only
http(s) and mailto targets (any other keeps its text, unlinked), images only the local
cache's ``relaydesk-image:NAME`` (anything else, remote images above all, becomes its alt
text and a marker, so opening an article fetches nothing), hidden and bidi control
characters show as codes (``sync.display``), and nh3 checks the result against an allow-list
as the last step. Pure and Qt-free: the viewer, the composer and tests share it.
"""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import nh3
import orjson
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

from protocol.names import ArticleStatus, ArticleVisibility, ChannelType
from sync.display import display_safe
from sync.store import Store

__all__ = [
    "IMAGE_SCHEME", "LINK_SCHEMES", "PLAIN_TEXT_CHANNELS", "Article", "article",
    "for_channel", "image_name", "image_names", "in_language", "load_article", "load_in_language",
    "raw_html_text", "to_html", "to_plain_text",
]

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Images the desk has cached on disk beside the mirror: ``relaydesk-image:NAME``.
IMAGE_SCHEME = "relaydesk-image"
_IMAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PLAIN_TEXT_CHANNELS = frozenset({ChannelType.SMS, ChannelType.WHATSAPP, ChannelType.LINE,
                                 ChannelType.MESSENGER, ChannelType.INSTAGRAM,
                                 ChannelType.WEB_CHAT})


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class Article:
    id: str
    key: str
    locale: str
    title: str
    body: str  # Markdown, untrusted
    category: str | None
    tags: tuple[str, ...]
    visibility: str
    team_ids: tuple[str, ...]
    status: str
    version: int
    updated_by: str | None
    created_at: int
    updated_at: int

    @property
    def internal(self) -> bool:
        """For agents only: never quoted or linked to a customer."""
        return self.visibility != ArticleVisibility.PUBLIC

    @property
    def published(self) -> bool:
        return self.status == ArticleStatus.PUBLISHED


_COLUMNS = ("id, key, locale, title, body, category, tags, visibility, team_ids, status, "
            "version, updated_by, created_at, updated_at")


def _article(row: Sequence[Any]) -> Article:
    values = list(row)
    values[6] = tuple(orjson.loads(values[6] or "[]"))
    values[8] = tuple(orjson.loads(values[8] or "[]"))
    return Article(*values)


def article(conn: sqlite3.Connection, article_id: str, *, published_only: bool = True
            ) -> Article | None:
    """The article ``article_id`` in the mirror (a ``Store.read_db("mirror")`` connection);
    None if the mirror has no such article, or, with ``published_only``, it is a draft or
    archived (a supervisor's mirror holds those too)."""
    sql = f"SELECT {_COLUMNS} FROM articles WHERE id = ?"
    if published_only:
        sql += " AND status = 'published'"
    row = conn.execute(sql, (article_id,)).fetchone()
    return _article(row) if row else None


def in_language(conn: sqlite3.Connection, key: str, locale: str | None) -> Article | None:
    """The published article ``key`` in the conversation's language ``locale`` ("ja",
    "ja-JP" and "ja_JP" all mean Japanese), else its original: the earliest-created of its
    published locales. None if no locale of ``key`` is published."""
    rows = [_article(r) for r in conn.execute(
        f"SELECT {_COLUMNS} FROM articles WHERE key = ? AND status = 'published' "
        "ORDER BY created_at, locale", (key,))]
    if not rows:
        return None
    if locale:
        wanted = _tag(locale)
        for exact in (True, False):
            for row in rows:
                have = _tag(row.locale)
                if have == wanted if exact else have[0] == wanted[0]:
                    return row
    return rows[0]


def _tag(locale: str) -> tuple[str, ...]:
    return tuple(locale.replace("_", "-").lower().split("-"))


def load_article(store: Store, article_id: str, published_only: bool = True
                 ) -> Article | None:
    """``article`` for ``session.read`` / ``Store.run_read`` (off the GUI thread)."""
    with store.read_db("mirror") as db:
        return article(db, article_id, published_only=published_only)


def load_in_language(store: Store, key: str, locale: str | None) -> Article | None:
    """``in_language`` for ``session.read`` / ``Store.run_read`` (off the GUI thread)."""
    with store.read_db("mirror") as db:
        return in_language(db, key, locale)


# --------------------------------------------------------------------------- Markdown


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # Every link and image becomes a token, so that ours decide (and a refused link keeps
    # its text instead of showing as "[text](javascript:...)").
    md.validateLink = lambda url: True
    return md


_MD = _parser()


def image_name(src: str) -> str | None:
    """The cached image a ``relaydesk-image:NAME`` source names; None for any other source
    (remote, file:, data:, a path), which is never loaded."""
    scheme, _, name = src.partition(":")
    if scheme.lower() != IMAGE_SCHEME or _IMAGE_NAME.fullmatch(name) is None:
        return None
    return name


def image_names(rendered: str) -> list[str]:
    """The cached images ``to_html``'s output shows, by name, each once."""
    names = (image_name(src) for src in re.findall(r'<img src="([^"]*)"', rendered))
    return list(dict.fromkeys(name for name in names if name is not None))


def _link_ok(href: str) -> bool:
    try:
        parts = urlsplit(href)
    except ValueError:
        return False
    if parts.scheme.lower() not in LINK_SCHEMES:
        return False
    return parts.scheme.lower() == "mailto" or bool(parts.netloc)


def default_image_marker(alt: str) -> str:
    """What shows instead of an image that is not loaded (English; the desk passes its
    translation)."""
    return f"[Image not shown: {alt}]" if alt else "[Image not shown]"


def _alt(token: Token) -> str:
    return "".join(child.content for child in token.children or ()
                   if child.type in ("text", "code_inline"))


def _render_link_open(self: Any, tokens: list[Token], idx: int, options: Any,
                      env: dict[str, Any]) -> str:
    href = tokens[idx].attrGet("href") or ""
    keep = _link_ok(str(href))
    env.setdefault("links", []).append(keep)
    return f'<a href="{html.escape(str(href))}">' if keep else ""


def _render_link_close(self: Any, tokens: list[Token], idx: int, options: Any,
                       env: dict[str, Any]) -> str:
    links = env.get("links") or [False]
    return "</a>" if links.pop() else ""


def _render_image(self: Any, tokens: list[Token], idx: int, options: Any,
                  env: dict[str, Any]) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = _alt(token)
    if env.get("local_images") and image_name(src) is not None:
        return f'<img src="{html.escape(src)}" alt="{html.escape(alt)}">'
    marker = env.get("image_marker") or default_image_marker
    return f'<span class="image-marker">{html.escape(marker(alt))}</span>'


class _RawHtmlText(HTMLParser):
    """Raw HTML's text: no tag kept, the contents of script, style and the like dropped,
    an image as its marker (``image(alt)``), a line break as a newline."""

    _DROPPED = frozenset({"script", "style", "title", "textarea", "template", "noscript",
                          "iframe", "object", "svg", "math", "select"})

    def __init__(self, image: Callable[[str], str]) -> None:
        super().__init__(convert_charrefs=True)
        self.image = image
        self.parts: list[str] = []
        self.skipping: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            return
        if tag in self._DROPPED:
            self.skipping = tag
        elif tag == "img":
            self.parts.append(self.image(dict(attrs).get("alt") or ""))
        elif tag == "br":
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self._DROPPED:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == self.skipping:
            self.skipping = None

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def raw_html_text(raw: str, image: Callable[[str], str] = lambda alt: alt) -> str:
    """The text of a piece of raw HTML an article holds (see ``_RawHtmlText``)."""
    parser = _RawHtmlText(image)
    parser.feed(raw)
    parser.close()
    return "".join(parser.parts)


def _render_html_inline(self: Any, tokens: list[Token], idx: int, options: Any,
                        env: dict[str, Any]) -> str:
    marker = env.get("image_marker") or default_image_marker
    return html.escape(raw_html_text(tokens[idx].content, marker))


def _render_html_block(self: Any, tokens: list[Token], idx: int, options: Any,
                       env: dict[str, Any]) -> str:
    marker = env.get("image_marker") or default_image_marker
    text = raw_html_text(tokens[idx].content, marker).strip()
    return f"<p>{html.escape(text)}</p>\n" if text else ""


for _name, _rule in (("link_open", _render_link_open), ("link_close", _render_link_close),
                     ("image", _render_image), ("html_inline", _render_html_inline),
                     ("html_block", _render_html_block)):
    _MD.add_render_rule(_name, _rule)

_TAGS = {
    "p", "br", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "blockquote",
    "code", "pre", "em", "strong", "s", "del", "hr", "table", "thead", "tbody", "tr", "th",
    "td", "img", "span",
}


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    if tag == "a" and name == "href":
        return value if _link_ok(value) else None
    if tag == "img" and name == "src":
        return value if image_name(value) is not None else None
    if tag == "span" and name == "class":
        return value if value == "image-marker" else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style", "title", "iframe", "object", "embed", "form",
                        "textarea", "select", "noscript", "template", "svg", "math"},
    attributes={"a": {"href"}, "img": {"src", "alt"}, "ol": {"start"}, "span": {"class"}},
    attribute_filter=_attribute_filter,
    url_schemes={*LINK_SCHEMES, IMAGE_SCHEME},
    url_relative="deny",
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def to_html(markdown: str, *, local_images: bool = True,
            image_marker: Callable[[str], str] | None = None) -> str:
    """``markdown`` as HTML safe to show: no script, event handler, style, frame or form; links
    only to http(s) and mailto (any other keeps its text, unlinked); images only from the
    local cache (``relaydesk-image:NAME``, and only with ``local_images``), any other as
    ``image_marker(alt)`` in a ``<span class="image-marker">``; hidden and bidi control
    characters shown as codes."""
    env: dict[str, Any] = {"local_images": local_images, "image_marker": image_marker}
    rendered = _MD.render(display_safe(markdown, isolate=False), env)
    return _CLEANER.clean(rendered)


# --------------------------------------------------------------------------- plain text


def to_plain_text(markdown: str) -> str:
    """``markdown`` as plain text for a messaging channel: no markup left; a link as
    "text (url)", a list item as "- " (numbered ones "1. "), an image as its alt text;
    paragraphs separated by a blank line."""
    tree = SyntaxTreeNode(_MD.parse(display_safe(markdown, isolate=False)))
    text = "\n\n".join(block for block in (_block(node) for node in tree.children) if block)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _block(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind in ("paragraph", "heading"):
        return "".join(_inline(child) for child in node.children).strip()
    if kind in ("code_block", "fence"):
        return node.content.rstrip("\n")
    if kind == "html_block":
        return raw_html_text(node.content).strip()
    if kind in ("bullet_list", "ordered_list"):
        return _list(node)
    if kind == "blockquote":
        return "\n\n".join(b for b in (_block(c) for c in node.children) if b)
    if kind == "table":
        return "\n".join(_table_rows(node))
    if kind == "hr":
        return ""
    return "".join(_inline(child) for child in node.children)


def _list(node: SyntaxTreeNode) -> str:
    ordered = node.type == "ordered_list"
    start = int(node.attrs.get("start", 1) or 1) if ordered else 0
    tight = all(p.type != "paragraph" or p.hidden
                for item in node.children for p in item.children)
    lines: list[str] = []
    for number, item in enumerate(node.children, start):
        bullet = f"{number}. " if ordered else "- "
        pad = " " * len(bullet)
        body = ("\n" if tight else "\n\n").join(
            b for b in (_block(child) for child in item.children) if b)
        for i, line in enumerate(body.split("\n") or [""]):
            lines.append((bullet if i == 0 else (pad if line else "")) + line)
        if not tight:
            lines.append("")
    return "\n".join(lines).rstrip("\n")


def _table_rows(node: SyntaxTreeNode) -> list[str]:
    rows: list[str] = []
    for section in node.children:
        for row in section.children:
            cells = ["".join(_inline(c) for c in cell.children).strip() for cell in row.children]
            rows.append(" | ".join(cells))
    return rows


def _inline(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind in ("text", "code_inline"):
        return node.content
    if kind == "html_inline":
        return raw_html_text(node.content)
    if kind == "softbreak":
        return " "
    if kind == "hardbreak":
        return "\n"
    if kind == "image":
        return "".join(_inline(child) for child in node.children)
    inner = "".join(_inline(child) for child in node.children)
    if kind == "link":
        href = str(node.attrs.get("href", ""))
        if not _link_ok(href):
            return inner
        shown = href[len("mailto:"):] if href.lower().startswith("mailto:") else href
        if inner.strip() in (href, shown) or not inner.strip():
            return shown
        return f"{inner} ({shown})"
    return inner


def for_channel(markdown: str, channel_type: str | None) -> str:
    """``markdown`` as a reply on ``channel_type``: sanitized HTML for email (no image: the
    customer gets its alt text), plain text for every other channel (and an unknown one)."""
    if channel_type == ChannelType.EMAIL:
        return to_html(markdown, local_images=False,
                       image_marker=lambda alt: alt)
    return to_plain_text(markdown)
