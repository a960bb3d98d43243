"""The thread as HTML for a QTextBrowser: pure functions, plain data in, a string out.

Customer text is untrusted. Plain bodies are escaped and only http(s)/mailto URLs become
links; bodies that are HTML (email) go through nh3 with a short allow-list. Nothing that can
fetch (images, styles, scripts) survives, and every message is capped so one huge body
cannot stall the GUI thread.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

import nh3
from PySide6.QtCore import QCoreApplication, QDate, QLocale, QTime
from PySide6.QtGui import QColor

from app.labels import rejection_label
from sync.overlay import LOCAL_FAILED, LOCAL_PENDING, LOCAL_SENT, ThreadItem

# A plain name lupdate recognises (an alias called ``tr`` would be read as self.tr).
translate = QCoreApplication.translate

MAX_BODY_CHARS = 20_000  # per message; beyond this the body is cut with a note
MAX_BODY_LINES = 400  # thousands of empty lines cost as much layout as a novel

DEFAULT_COLORS: Mapping[str, str] = {
    "pending": "#8a6d00",
    "failed": "#c62828",
    "note_bg": "#fff4c2",
    "inbound_bg": "#eef1f5",
    "outbound_bg": "#dcebff",
    "muted": "#6b7280",
}

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
RETRY_PREFIX = "relaydesk:retry/"
DISCARD_PREFIX = "relaydesk:discard/"
OLDER_URL = "relaydesk:older"

_ALLOWED_TAGS = {
    "b",
    "i",
    "em",
    "strong",
    "p",
    "br",
    "ul",
    "ol",
    "li",
    "a",
    "blockquote",
    "code",
    "pre",
    "div",
    "img",
}  # kept (bare) only to be replaced by a visible placeholder below
_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    clean_content_tags={"script", "style", "title"},
    attributes={"*": set(), "a": {"href"}},
    url_schemes=set(LINK_SCHEMES),
    url_relative="deny",
    link_rel="noopener noreferrer",
    strip_comments=True,
)
_URL_RE = re.compile(r"(?:https?://|mailto:)[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}>"
_LOOKS_HTML_RE = re.compile(
    r"<(?:!doctype|html|head|body|div|p|br|span|table|a|b|i|em|strong|ul|ol|li|img|font"
    r"|blockquote|pre|code|h[1-6])\b[^>]*>",
    re.IGNORECASE,
)


def palette(colors: Mapping[str, str] | None) -> dict[str, str]:
    """The thread's colours: the defaults overridden by ``colors``, each as #rrggbb (a
    value Qt cannot parse keeps its default, so nothing odd reaches a style attribute)."""
    out = dict(DEFAULT_COLORS)
    for key, value in (colors or {}).items():
        if key in out and QColor.isValidColorName(value):
            out[key] = QColor(value).name()
    return out


# ------------------------------------------------------------------ bodies


def looks_like_html(body: str) -> bool:
    """An email's HTML part, not a chat line that happens to contain "<3"."""
    return body.lstrip()[:1] == "<" and _LOOKS_HTML_RE.search(body, 0, 4096) is not None


def linkify(text: str) -> str:
    """Plain text as HTML: escaped, newlines as <br>, http(s)/mailto URLs as links."""
    if "://" not in text and "mailto:" not in text.lower():
        return html.escape(text).replace("\r\n", "\n").replace("\n", "<br>")
    out: list[str] = []
    pos = 0
    for m in _URL_RE.finditer(text):
        url = m.group(0)
        while url and url[-1] in _TRAILING:
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break  # a balanced parenthesis belongs to the URL (Wikipedia style)
            url = url[:-1]
        if len(url) <= len("mailto:") or url.lower() in ("http://", "https://"):
            continue
        start = m.start()
        out.append(html.escape(text[pos:start]))
        escaped = html.escape(url, quote=True)
        out.append(f'<a href="{escaped}">{escaped}</a>')
        pos = start + len(url)
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\r\n", "\n").replace("\n", "<br>")


def sanitize_html(body: str) -> str:
    """An HTML body reduced to basic formatting and safe links; images become a note."""
    cleaned = _CLEANER.clean(body)
    # The cleaner leaves a bare "<img>" only where a tag stood: text and attribute values
    # come out escaped, so this replaces elements and nothing a customer typed.
    removed = html.escape(translate("Thread", "[image removed]"))
    placeholder = f"<i>{removed}</i>"
    return cleaned.replace("<img>", placeholder)


def _shorten(body: str) -> tuple[str, bool]:
    cut = body[:MAX_BODY_CHARS]
    lines = 0
    index = cut.find("\n")
    while index != -1:
        lines += 1
        if lines >= MAX_BODY_LINES:
            cut = cut[:index]
            break
        index = cut.find("\n", index + 1)
    return cut, len(cut) < len(body)


def render_body(body: str, muted: str = DEFAULT_COLORS["muted"]) -> str:
    """One message body as safe HTML, shortened when huge."""
    text, shortened = _shorten(body)
    rendered = sanitize_html(text) if looks_like_html(text) else linkify(text)
    if shortened:
        note = translate("Thread", "… (message shortened, {n} characters)").format(
            n=QLocale().toString(len(body))
        )
        rendered += f'<br><span style="color:{muted};">{html.escape(note)}</span>'
    return rendered


# ------------------------------------------------------------------ times


def _local(ms: int) -> datetime:
    # Python's clock conversion: a tenth of QDateTime's cost, and a page does 200 of them.
    return datetime.fromtimestamp(ms / 1000)


def format_time(ms: int) -> str:
    """The local time of day in the user's locale (the day is on the separator above)."""
    when = _local(ms)
    return QLocale().toString(QTime(when.hour, when.minute), QLocale.FormatType.ShortFormat)


def day_label(day: date, today: date) -> str:
    if day == today:
        return translate("Thread", "Today")
    if day == today - timedelta(days=1):
        return translate("Thread", "Yesterday")
    return QLocale().toString(QDate(day.year, day.month, day.day), QLocale.FormatType.LongFormat)


# ------------------------------------------------------------------ items


def _state_badge(item: ThreadItem, colors: Mapping[str, str]) -> str:
    state = item.local_state
    if state == LOCAL_PENDING:
        # Queued in the outbox: sent when the server is reachable (now, or after offline).
        label = (
            translate("Thread", "Waiting to save")
            if item.direction == "note"
            else translate("Thread", "Waiting to send")
        )
        return f' · <span style="color:{colors["pending"]};">{html.escape(label)}</span>'
    if state == LOCAL_SENT:
        sent = html.escape(translate("Thread", "Sent"))
        return f' · <span style="color:{colors["muted"]};">{sent}</span>'
    if state == LOCAL_FAILED:
        reason = rejection_label(item.error_code, item.error_message)
        failed = translate("Thread", "Failed: {reason}").format(reason=reason)
        links = ""
        if item.intent_id is not None:
            retry = html.escape(translate("Thread", "Retry"))
            discard = html.escape(translate("Thread", "Discard"))
            links = (
                f' <a href="{RETRY_PREFIX}{item.intent_id}">{retry}</a>'
                f' <a href="{DISCARD_PREFIX}{item.intent_id}">{discard}</a>'
            )
        return (
            f' · <span style="color:{colors["failed"]};"><b>{html.escape(failed)}</b></span>'
            + links
        )
    return ""


# Bubbles are painted by the view behind plain blocks: Qt lays out a table per message
# about three times slower than paragraphs, too slow for a 200-message page.
BUBBLE_NEAR = 12  # px, the bubble's margin on its own side
BUBBLE_FAR = 80  # px, on the other side (inbound bubbles sit left, the agent's right)
BUBBLE_GAP = 20  # px above each bubble's header: room for padding and a gap


def bubble_color(item: ThreadItem, colors: Mapping[str, str] | None = None) -> str | None:
    """The background of an item's bubble; None for system lines, which have none."""
    c = palette(colors)
    return {
        "inbound": c["inbound_bg"],
        "bot": c["inbound_bg"],
        "note": c["note_bg"],
        "outbound": c["outbound_bg"],
    }.get(item.direction)


def render_item(
    item: ThreadItem,
    names: Mapping[str | None, str],
    contact_name: str,
    colors: Mapping[str, str] | None = None,
    number: int = 0,
) -> str:
    """One thread line: a header (who, when, delivery state) over the body.

    ``number`` (1, 2, ...) tags the first block (``QTextBlock.userState()``) so the view can
    find the blocks of item ``number``, paint its bubble and keep it in place; 0 leaves
    it untagged."""
    c = palette(colors)
    when = html.escape(format_time(item.created_at))
    muted = c["muted"]
    if item.direction not in ("inbound", "outbound", "note", "bot"):  # system, or unknown
        return (
            f'<p align="center" style="-qt-user-state:{number}; margin-top:10px; '
            f'margin-bottom:4px; color:{muted}; font-size:small;">'
            f"{render_body(item.body, muted)} · {when}</p>"
        )

    if item.direction == "inbound":
        who, left = contact_name or translate("Thread", "Customer"), True
    elif item.direction == "note":
        author = names.get(item.author_id) or translate("Thread", "Agent")
        who, left = translate("Thread", "Internal note · {name}").format(name=author), False
    elif item.direction == "bot":
        who, left = translate("Thread", "Bot"), True
        if item.author_id and names.get(item.author_id):
            who = translate("Thread", "Bot · {name}").format(name=names[item.author_id])
    else:  # outbound
        who, left = names.get(item.author_id) or translate("Thread", "Agent"), False

    header = f"<b>{html.escape(who)}</b> · {when}"
    if item.template:
        header += " · " + html.escape(
            translate("Thread", "Template: {name}").format(name=item.template)
        )
    header += _state_badge(item, c)
    margins = (
        f"margin-left:{BUBBLE_NEAR if left else BUBBLE_FAR}px; "
        f"margin-right:{BUBBLE_FAR if left else BUBBLE_NEAR}px;"
    )
    out = (
        f'<p style="-qt-user-state:{number}; margin-top:{BUBBLE_GAP}px; margin-bottom:0px; '
        f'{margins} color:{muted}; font-size:small;">{header}</p>'
    )
    if item.body:
        out += (
            f'<div style="margin-top:3px; margin-bottom:0px; {margins}">'
            f"{render_body(item.body, muted)}</div>"
        )
    return out


def render_items(
    items: Iterable[ThreadItem],
    names: Mapping[str | None, str],
    contact_name: str,
    colors: Mapping[str, str] | None = None,
    now_ms: int | None = None,
    has_older: bool = False,
) -> str:
    """The whole thread (oldest first) with a separator whenever the day changes.

    The first block of the n-th item (from 1) is tagged with user state n (see
    ``render_item``), the separators and the "Load older" link with 0."""
    c = palette(colors)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    today = _local(now).date()
    parts: list[str] = []
    if has_older:
        older = html.escape(translate("Thread", "Load older messages"))
        parts.append(
            f'<p align="center" style="-qt-user-state:0; margin:6px;">'
            f'<a href="{OLDER_URL}">{older}</a></p>'
        )
    last_day: date | None = None
    for number, item in enumerate(items, start=1):
        day = _local(item.created_at).date()
        if day != last_day:
            parts.append(
                f'<p align="center" style="-qt-user-state:0; margin-top:16px; '
                f'margin-bottom:0px; color:{c["muted"]}; font-size:small;"><b>'
                f"{html.escape(day_label(day, today))}</b></p>"
            )
            last_day = day
        parts.append(render_item(item, names, contact_name, c, number))
    return "".join(parts)
