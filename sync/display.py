"""Customer-supplied text made safe to show: hidden characters visible, bidi isolated.

A name like ``Admin\\u202egnp.exe\\u202c`` draws as "Adminexe.png": the right-to-left
override (invisible itself) reverses what follows it, and zero-width characters make two
different names look the same. ``display_safe`` shows every such character as a visible code
(``⟨U+202E⟩``), so it no longer acts, and wraps the text in a first-strong isolate
(U+2068 … U+2069) so that, put next to other text ("Assigned to you: …", "name — subject"),
it cannot reorder its surroundings. Legitimate right-to-left text needs neither control:
Arabic and Hebrew letters are untouched, and an isolate lays them out right to left inside.

Kept invisible, because scripts and emoji need them:

- ZWNJ / ZWJ (U+200C, U+200D) between two letters, marks or symbols outside Latin, Greek,
  Cyrillic and Armenian, or after a virama: Persian words (می\\u200cخواهم), Indic conjuncts and
  half forms, emoji sequences (👩\\u200d💻). Beside a Latin letter or at an edge they only
  disguise ("Ad\\u200dmin"), so they show.
- Tag letters and digits ending in a cancel tag right after 🏴: the subdivision flags
  (England, Scotland, Wales). Anywhere else tags only hide text, so they show.
- Variation selectors (U+FE00–FE0F) and other combining marks: they are not format
  characters and are drawn as part of the character before them.

Pure and Qt-free, so the desk's widgets, the thread renderer and tests share one rule.
"""

from __future__ import annotations

import re
from unicodedata import category, combining

__all__ = ["FSI", "PDI", "display_safe", "marker"]

FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE

# Every format character (category Cf, as of Unicode 15.1) except the visible prepended
# concatenation marks (U+0600–0605, 06DD, 070F, 0890–0891, 08E2, 110BD, 110CD); control
# characters that are not whitespace (callers fold whitespace themselves); and the Hangul
# fillers, letters that draw nothing (the classic "blank" display name).
_HIDDEN = (
    "\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f"
    "\u00ad\u061c\u115f\u1160\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
_JOINERS = "\u200c\u200d"
_BLACK_FLAG = "\U0001f3f4"
_TOKEN = re.compile(
    # A subdivision flag: 🏴, a region and subdivision code in tag letters, a cancel tag.
    f"(?P<flag>{_BLACK_FLAG}[\U000e0030-\U000e0039\U000e0061-\U000e007a]{{2,7}}\U000e007f)"
    f"|(?P<joiner>[{_JOINERS}])"
    f"|(?P<hidden>[{_HIDDEN}])"
)
_VIRAMA = 9  # the canonical combining class of Indic viramas
_ANY = re.compile(f"[{_HIDDEN}{_JOINERS}]")  # the fast path: most text has none of these


def marker(char: str) -> str:
    """How a hidden character is shown: ``⟨U+202E⟩``."""
    return f"\u27e8U+{ord(char):04X}\u27e9"


def display_safe(text: str | None, *, isolate: bool = True) -> str:
    """``text`` from a customer (a name, handle, subject, preview, message, attribute) as it
    may be shown: bidi controls and invisible format characters replaced by ``marker``s, and,
    with ``isolate`` (for text placed beside other text), wrapped in U+2068 … U+2069. Use
    ``isolate=False`` where the text fills a label, cell or paragraph of its own. None and
    "" give "". Apply once, to the customer's text alone, after any truncation."""
    if not text:
        return ""
    if _ANY.search(text) is not None:
        text = _TOKEN.sub(_shown, text)
    return f"{FSI}{text}{PDI}" if isolate else text


def _shown(match: re.Match[str]) -> str:
    if match.lastgroup == "flag":
        return match.group()
    if match.lastgroup == "joiner" and _joins(match.string, match.start()):
        return match.group()
    return marker(match.group())


def _joins(text: str, at: int) -> bool:
    """Whether the ZWJ/ZWNJ at ``at`` sits between two characters of a script (or emoji)
    that uses it, or ends an Indic half form (after a virama: Malayalam's ന്\\u200d)."""
    if at == 0 or not _joinable(text[at - 1]):
        return False
    if at + 1 < len(text) and _joinable(text[at + 1]):
        return True
    return combining(text[at - 1]) == _VIRAMA


def _joinable(char: str) -> bool:
    # Below U+0590: Latin, Greek, Cyrillic, Armenian and their combining marks — no joiners.
    if ord(char) < 0x0590:
        return False
    return category(char)[0] in "LMS"
