"""display_safe: customer text shown with its hidden characters visible and bidi isolated,
while real Arabic, Hebrew, Persian, Indic text and emoji stay as they are."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sync.display import FSI, PDI, display_safe, marker

BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ZWNJ, ZWJ = "\u200c", "\u200d"
PREPENDED_MARKS = set("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2"
                      "\U000110bd\U000110cd")  # format characters with a visible glyph
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
MARKER = re.compile("\u27e8U\\+([0-9A-F]{4,6})\u27e9")

# Text mixing anything with the characters that matter here, often enough to meet them.
tricky = st.sampled_from([*sorted(BIDI_CONTROLS), ZWNJ, ZWJ, "\u200b", "\ufeff", "\u2060",
                                                  "\u00ad", "\u180e", "\u3164", "\x1b",
                                                  "\U000e0041", "\U000e007f", "\U0001f3f4",
                                                  "\ufe0f", "\U0001f469", "a", "ی", "א"])
texts = st.text(st.one_of(st.characters(exclude_categories=("Cs",)), tricky), max_size=40)


def unmark(shown: str) -> str:
    return MARKER.sub(lambda m: chr(int(m.group(1), 16)), shown)


@pytest.mark.parametrize("name, shown", [
    ("Admin\u202egnp.exe\u202c", "Admin⟨U+202E⟩gnp.exe⟨U+202C⟩"),
    ("\u202bمرحبا\u202c", "⟨U+202B⟩مرحبا⟨U+202C⟩"),
    ("Sam\u2069 — approved", "Sam⟨U+2069⟩ — approved"),  # cannot close our isolate early
    ("Pay\u200bPal", "Pay⟨U+200B⟩Pal"),
    ("Ad\u200dmin", "Ad⟨U+200D⟩min"),  # a joiner between ASCII letters only disguises
    ("\ufeffRefund", "⟨U+FEFF⟩Refund"),
    ("\u3164", "⟨U+3164⟩"),  # the "blank" name
    ("x\U000e0041\U000e0042y", "x⟨U+E0041⟩⟨U+E0042⟩y"),  # text hidden in tag characters
    ("a\u200d", "a⟨U+200D⟩"),
    ("👩\u200d", "👩⟨U+200D⟩"),  # a joiner that joins nothing
    ("\u200cب", "⟨U+200C⟩ب"),
])
def test_hidden_and_bidi_characters_become_visible(name: str, shown: str) -> None:
    assert display_safe(name, isolate=False) == shown
    assert display_safe(name) == FSI + shown + PDI


@pytest.mark.parametrize("text", [
    "محمد عبد الله", "שרה לוי", "Sara (سارة) 42", "می\u200cخواهم", "क्\u200dष", "ജ്\u200d",
    "👩\u200d💻", "👨🏽\u200d🦰", "🧑\u200d🤝\u200d🧑", "🏳️\u200d🌈", "❤️\u200d🔥", "🏃\u200d♀️",
    ENGLAND, "1️⃣", "山田 太郎", "José Ñúñez", "Zoë", "Ελένη", "Алёна",
])
def test_real_names_scripts_and_emoji_are_left_as_they_are(text: str) -> None:
    assert display_safe(text, isolate=False) == text
    assert display_safe(text) == FSI + text + PDI


def test_nothing_and_empty_show_nothing() -> None:
    assert display_safe(None) == display_safe("") == ""


@given(texts)
@example("Admin\u202egnp.exe\u202c")
@example(ENGLAND + "\u202e")
def test_no_bidi_control_or_invisible_format_character_survives(text: str) -> None:
    shown = display_safe(text, isolate=False)
    assert not BIDI_CONTROLS & set(shown)
    rest = shown.replace(ENGLAND, "")
    left = {c for c in rest if unicodedata.category(c) == "Cf"} - PREPENDED_MARKS - {ZWNJ, ZWJ}
    assert left == set()
    for m in re.finditer(f"[{ZWNJ}{ZWJ}]", rest):  # a kept one joins two non-Latin signs
        assert m.start() > 0
        before, after = rest[m.start() - 1], rest[m.end():m.end() + 1]
        assert ord(before) >= 0x590
        assert (after and ord(after) >= 0x590) or unicodedata.combining(before) == 9


@given(texts)
def test_the_isolate_wraps_exactly_the_shown_text(text: str) -> None:
    inner = display_safe(text, isolate=False)
    assert display_safe(text) == (FSI + inner + PDI if text else "")


@given(texts.filter(lambda t: "\u27e8" not in t))
def test_nothing_is_lost_every_marker_stands_for_one_character(text: str) -> None:
    assert unmark(display_safe(text, isolate=False)) == text


@given(st.text(st.characters(exclude_categories=("Cf", "Cc", "Cs")), max_size=40))
def test_text_without_hidden_characters_is_unchanged(text: str) -> None:
    fillers = {"\u115f", "\u1160", "\u3164", "\uffa0"}
    shown = display_safe(text, isolate=False)
    assert shown == text or fillers & set(text)


def test_every_format_character_this_python_knows_is_covered() -> None:
    """Python's Unicode data may be newer than the table in sync/display.py."""
    missed = []
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        if unicodedata.category(c) != "Cf" or c in PREPENDED_MARKS or c in (ZWNJ, ZWJ):
            continue
        if display_safe(f"a{c}a", isolate=False) != f"a{marker(c)}a":
            missed.append(f"U+{cp:04X}")
    assert missed == []
