"""The thread's pieces as HTML for a QTextBrowser: pure functions, plain data in, strings out.

Customer text is untrusted. Plain bodies are escaped and only http(s)/mailto URLs become
links; bodies that are HTML (email) go through nh3 with a short allow-list. Nothing that can
fetch (images, styles, scripts) survives. The view (thread.py) inserts each message as a
few blocks (day separator, header, body, "Show more"), so a long body is shown collapsed to
a preview and the cost of any one insertion stays small whatever a customer sends.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta

import nh3
from PySide6.QtCore import QCoreApplication, QDate, QLocale, Qt
from PySide6.QtGui import QColor, QTextBlockFormat

from app import times
from app.labels import final_refusal_note, rejection_label, system_event_text
from sync.display import display_safe
from sync.overlay import LOCAL_FAILED, LOCAL_PENDING, LOCAL_SENT, ThreadItem

# A plain name lupdate recognises (an alias called ``tr`` would be read as self.tr).
translate = QCoreApplication.translate

# A collapsed body shows at most this much; "Show more" adds the rest a piece at a time.
PREVIEW_CHARS = 1_500
PREVIEW_LINES = 20
# Qt lays out a block in time that grows faster than its length (a 16,000-character line
# without spaces: 40 ms), so an expanded body goes in as blocks of at most this many.
PIECE_CHARS = 4_000

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
MORE_PREFIX = "relaydesk:more/"
LESS_PREFIX = "relaydesk:less/"
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


_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")
_DROPPED_RE = re.compile(r"<(script|style|title|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAKS = frozenset({"br", "p", "div", "li", "tr", "blockquote", "pre", "ul", "ol", "h1", "h2",
                     "h3", "h4", "h5", "h6", "table"})
_NESTS = frozenset({"blockquote", "ul", "ol", "div"})  # elements that indent what they hold
_BLOCKS = _NESTS | {"p", "li", "pre"}
# Qt's HTML parser and layout take time that grows fast with nesting and with list items
# (3,000 nested quotes: 230 ms; 2,000 list items: 90 ms), and so does nh3: HTML past
# these limits is shown as its text.
MAX_HTML_DEPTH = 24
MAX_HTML_BLOCKS = 1_000
MAX_HTML_CHARS = 100_000


def html_is_tame(body: str) -> bool:
    """Whether an HTML body is shaped like mail (shallow, a bounded number of blocks), so
    nh3 and Qt handle it quickly."""
    if len(body) > MAX_HTML_CHARS:
        return False
    depth = blocks = 0
    for m in _TAG_RE.finditer(body):
        name = m.group(2).lower()
        if name not in _BLOCKS:
            continue
        if m.group(1):
            if name in _NESTS:
                depth = max(0, depth - 1)
            continue
        blocks += 1
        if name in _NESTS and not m.group(0).endswith("/>"):
            depth += 1
        if depth > MAX_HTML_DEPTH or blocks > MAX_HTML_BLOCKS:
            return False
    return True


def html_to_text(body: str) -> str:
    """The text of an HTML body, line breaks where blocks were (for HTML too odd to show)."""
    body = _DROPPED_RE.sub(" ", body)

    def tag(m: re.Match[str]) -> str:
        return "\n" if m.group(2).lower() in _BREAKS else ""

    text = html.unescape(_TAG_RE.sub(tag, body))
    return re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", text).strip()


def classify(body: str) -> tuple[str, bool]:
    """(what to show, whether it is HTML): an email's HTML part as it is when it is tame,
    else its text; a plain body as it is. Hidden characters (bidi overrides, zero-width
    ones) are shown as codes in either."""
    body = display_safe(body, isolate=False)
    if not looks_like_html(body):
        return body, False
    if html_is_tame(body):
        return body, True
    return html_to_text(body), False


def preview(text: str) -> str | None:
    """The start of a plain text that is too long to show whole (at most PREVIEW_CHARS
    characters and PREVIEW_LINES lines, cut at a space when there is one near), else None."""
    if len(text) <= PREVIEW_CHARS and text.count("\n", 0, PREVIEW_CHARS) < PREVIEW_LINES:
        return None
    cut = text[:PREVIEW_CHARS]
    index = -1
    for _ in range(PREVIEW_LINES):
        index = cut.find("\n", index + 1)
        if index == -1:
            break
    else:
        cut = cut[:index]
    if len(cut) == PREVIEW_CHARS:
        space = cut.rfind(" ", PREVIEW_CHARS * 3 // 4)
        cut = cut[:space] if space > 0 else cut
    return cut.rstrip()


def piece_end(text: str, start: int, end: int) -> tuple[int, int]:
    """Where the piece of ``text`` from ``start`` stops (at most PIECE_CHARS on, at a line
    or paragraph break, else a space, when there is one in its second half) and where the
    next starts (after that break)."""
    stop = min(end, start + PIECE_CHARS)
    if stop >= end:
        return end, end
    low = start + PIECE_CHARS // 2
    cut = max(text.rfind(sep, low, stop) for sep in ("\n", "\u2028", "\u2029"))
    if cut < 0:
        cut = text.rfind(" ", low, stop)
    return (cut, cut + 1) if cut >= 0 else (stop, stop)


# ------------------------------------------------------------------ times


def _local(ms: int) -> datetime:
    # Python's clock conversion: a tenth of QDateTime's cost, and a page does 200 of them.
    return datetime.fromtimestamp(ms / 1000)


def local_day(ms: int) -> date:
    return _local(ms).date()


def format_time(ms: int) -> str:
    """The local time of day in the user's locale (the day is on the separator above)."""
    return times.time_of_day(ms)


def day_label(day: date, today: date) -> str:
    if day == today:
        return translate("Thread", "Today")
    if day == today - timedelta(days=1):
        return translate("Thread", "Yesterday")
    return QLocale().toString(QDate(day.year, day.month, day.day), QLocale.FormatType.LongFormat)


# ------------------------------------------------------------------ items
# Functions taking ``colors`` want a whole ``palette()`` (the view makes it once).


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
        if not item.retryable:  # Retry would only be refused again: say so, offer Discard
            reason = f"{reason} {final_refusal_note()}"
        failed = translate("Thread", "Failed: {reason}").format(reason=reason)
        links = ""
        if item.intent_id is not None:
            discard = html.escape(translate("Thread", "Discard"))
            links = f' <a href="{DISCARD_PREFIX}{item.intent_id}">{discard}</a>'
            if item.retryable:
                retry = html.escape(translate("Thread", "Retry"))
                links = f' <a href="{RETRY_PREFIX}{item.intent_id}">{retry}</a>' + links
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
BODY_GAP = 3  # px between a header and its body


def bubble_color(item: ThreadItem, colors: Mapping[str, str] = DEFAULT_COLORS) -> str | None:
    """The background of an item's bubble; None for system lines, which have none."""
    return {
        "inbound": colors["inbound_bg"],
        "bot": colors["inbound_bg"],
        "note": colors["note_bg"],
        "outbound": colors["outbound_bg"],
    }.get(item.direction)


def has_bubble(item: ThreadItem) -> bool:
    """Messages sit in a bubble under a header; system lines (and unknown kinds) are one
    centred line."""
    return item.direction in ("inbound", "outbound", "note", "bot")


def author(item: ThreadItem, names: Mapping[str | None, str], contact_name: str
           ) -> tuple[str, bool]:
    """Who wrote an item as the header says it (names with their hidden characters shown
    and bidi-isolated), and whether its bubble sits left."""
    if item.direction == "inbound":
        return display_safe(contact_name) if contact_name else translate(
            "Thread", "Customer"), True
    name = display_safe(names.get(item.author_id)) if names.get(item.author_id) else None
    if item.direction == "note":
        name = name or translate("Thread", "Agent")
        return translate("Thread", "Internal note · {name}").format(name=name), False
    if item.direction == "bot":
        if name:
            return translate("Thread", "Bot · {name}").format(name=name), True
        return translate("Thread", "Bot"), True
    return name or translate("Thread", "Agent"), False


def header_html(item: ThreadItem, who: str, colors: Mapping[str, str]) -> str:
    """The line above a message: who, when, template, delivery state (inline HTML)."""
    header = f"<b>{html.escape(who)}</b> · {html.escape(format_time(item.created_at))}"
    if item.template:
        header += " · " + html.escape(
            translate("Thread", "Template: {name}").format(name=item.template)
        )
    header += _state_badge(item, colors)
    return f'<span style="color:{colors["muted"]}; font-size:small;">{header}</span>'


def system_html(item: ThreadItem, body: str, colors: Mapping[str, str]) -> str:
    """A system line (assigned, resolved…) with its time, centred and muted (inline HTML);
    ``body`` is the text to show (the whole body, or its preview)."""
    when = html.escape(format_time(item.created_at))
    return (f'<span style="color:{colors["muted"]}; font-size:small;">'
            f"{linkify(display_safe(system_event_text(body)))} · {when}</span>")


def day_html(day: date, today: date, colors: Mapping[str, str]) -> str:
    return (f'<span style="color:{colors["muted"]}; font-size:small;">'
            f"<b>{html.escape(day_label(day, today))}</b></span>")


def more_html(serial: int, hidden: int | None, colors: Mapping[str, str]) -> str:
    """The link under a collapsed body; ``hidden``: how many characters it does not show
    (None: not counted, for an HTML body parsed only as far as its preview)."""
    label = html.escape(translate("Thread", "Show more"))
    link = f'<a href="{MORE_PREFIX}{serial}">{label}</a>'
    if hidden is None:
        return link
    rest = html.escape(translate("Thread", "({n} more characters)").format(
        n=QLocale().toString(hidden)))
    return f'{link} <span style="color:{colors["muted"]}; font-size:small;">{rest}</span>'


def less_html(serial: int) -> str:
    label = html.escape(translate("Thread", "Show less"))
    return f'<a href="{LESS_PREFIX}{serial}">{label}</a>'


def older_html() -> str:
    older = html.escape(translate("Thread", "Load older messages"))
    return f'<a href="{OLDER_URL}">{older}</a>'


def empty_html(colors: Mapping[str, str]) -> str:
    empty = html.escape(translate("Thread", "No messages yet"))
    return f'<span style="color:{colors["muted"]};">{empty}</span>'


def margins(left: bool) -> tuple[int, int]:
    """(left, right) margins of a bubble's blocks: near its own side, far from the other."""
    return (BUBBLE_NEAR, BUBBLE_FAR) if left else (BUBBLE_FAR, BUBBLE_NEAR)


# The thread's kinds of block: (top, bottom) margins, and whether they sit in a bubble.
TOP, DAY, HEAD, SYSTEM, BODY, MORE = "top", "day", "head", "system", "body", "more"
_SPACING = {TOP: (6, 0), DAY: (16, 0), HEAD: (BUBBLE_GAP, 0), SYSTEM: (10, 4),
            BODY: (BODY_GAP, 0), MORE: (2, 4)}


def block_format(kind: str, left: bool | None = None) -> QTextBlockFormat:
    """The format of a ``kind`` block in a bubble on the left or right, or (None) centred;
    the same as ``block()`` writes in HTML."""
    fmt = QTextBlockFormat()
    top, bottom = _SPACING[kind]
    fmt.setTopMargin(top)
    fmt.setBottomMargin(bottom)
    if left is None:
        fmt.setAlignment(Qt.AlignmentFlag.AlignHCenter)
    else:
        near, far = margins(left)
        fmt.setLeftMargin(near)
        fmt.setRightMargin(far)
    return fmt


def block(kind: str, left: bool | None, inner: str, tag: int | None = None) -> str:
    """``inner`` as a ``kind`` block (a div for a body: the blocks inside take its
    margins); ``tag`` becomes the block's ``QTextBlock.userState()`` so the view can find
    it after inserting many at once."""
    top, bottom = _SPACING[kind]
    style = f"margin-top:{top}px; margin-bottom:{bottom}px;"
    if tag is not None:
        style = f"-qt-user-state:{tag}; " + style
    if left is not None:
        near, far = margins(left)
        style += f" margin-left:{near}px; margin-right:{far}px;"
    align = ' align="center"' if left is None else ""
    element = "div" if kind == BODY else "p"
    return f'<{element}{align} style="{style}">{inner}</{element}>'
