"""Substring search over conversations (subject, preview) and contact names, for the
inbox views: the trigram FTS5 indexes of the mirror (sync/models.py) when they are ready,
LIKE otherwise. Any script, any case; Japanese included (no word boundaries needed).

"Any case" is FTS5's own case folding (``fold``), one character for one: É finds é, ſ finds
s, but ß does not find ss, nor İ i. The LIKE paths and ``sync.queries.matches`` (the rows
the agent's unconfirmed intents change) fold the same way, so a row does not vanish from a
search when an intent is queued or confirmed, nor between the first screen and the list."""

from __future__ import annotations

import array
import functools
import sqlite3
import string
import sys
from collections.abc import Callable
from typing import Any

from sync import schema

# Searches of one or two characters look up the trigrams that begin with them; past this many
# (a single common letter) a LIKE scan is as quick as the index.
SHORT_SEARCH_MAX_TRIGRAMS = 64
# Up to this many search matches are read and sorted; more, and the view's index is walked in
# order, each row tested against the matches.
FEW_MATCHES = 4000
# text_condition()'s answer when no row can contain the text.
NO_ROW = "0"
_SEARCH_TRIGGERS = tuple(s.triggers[0] for s in schema.SEARCH_INDEXES)  # the *_fts_insert ones


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _cased_characters() -> list[str]:
    """Every character Python knows a lower case or case folding of (a couple of thousand,
    all in Unicode's first two planes), found block by block (most blocks have none)."""
    codes = array.array("I", range(0x20000))  # (built in C: chr() on each takes 4 times as long)
    codes[0xD800:0xE000] = array.array("I", bytes(4 * 0x800))  # surrogates are not text
    if sys.byteorder == "big":
        codes.byteswap()
    everything = codes.tobytes().decode("utf-32-le")
    out = []
    for start in range(0, len(everything), 256):
        block = everything[start:start + 256]
        if block.lower() != block or block.casefold() != block:
            out.extend(c for c in block if c.lower() != c or c.casefold() != c)
    return out


@functools.cache
def _fold_table() -> dict[int, str]:
    """Character → the character FTS5's trigram tokenizer indexes it as, where they differ.
    Read from this SQLite's FTS5 itself (its case table is older than Python's Unicode and
    is not Python's casefold()). Without trigram FTS5, search is LIKE's: ASCII letters."""
    db = sqlite3.connect(":memory:")
    try:
        try:
            db.execute("CREATE VIRTUAL TABLE probe USING fts5(t, tokenize='trigram')")
        except sqlite3.OperationalError:
            return {ord(c): c.lower() for c in string.ascii_uppercase}
        db.execute("CREATE VIRTUAL TABLE probe_terms USING fts5vocab(probe, 'instance')")
        db.executemany("INSERT INTO probe (rowid, t) VALUES (?, ?)",
                       ((ord(c), c + schema.SEARCH_PAD) for c in _cased_characters()))
        return {doc: term[0] for doc, term in db.execute("SELECT doc, term FROM probe_terms")
                if term[0] != chr(doc)}
    finally:
        db.close()


def fold(text: str) -> str:
    """``text`` as search compares it: each character case-folded as FTS5 folds it."""
    return text.translate(_fold_table())


@functools.cache
def _same_when_folded() -> dict[str, frozenset[str]]:
    """Folded character → every character that folds to it (itself included)."""
    out: dict[str, set[str]] = {}
    for code, folded in _fold_table().items():
        out.setdefault(folded, {folded}).add(chr(code))
    return {folded: frozenset(chars) for folded, chars in out.items()}


def _glob_char(char: str) -> str:
    return f"[{char}]" if char in "*?[" else char


def _contains_sql(q: str, params: dict[str, Any]) -> Callable[[str], str]:
    """For SQL true where a column contains ``q`` as ``fold`` compares: LIKE where its case
    rule (ASCII letters) is fold's for these characters, as for most searches; else LIKE or,
    for a row holding one of the characters LIKE misses (an É for é, a K or ſ for k or s),
    GLOB with each character's class (GLOB alone is several times slower than LIKE)."""
    folded = fold(q)
    params["like"] = "%" + _like_escape(folded) + "%"
    classes = [_same_when_folded().get(f, frozenset(f)) for f in folded]
    missed = sorted({x for f, same in zip(folded, classes, strict=True) for x in same
                     if x not in {f, f.upper() if f.isascii() else f}})
    if not missed:
        return lambda column: f"{column} LIKE :like ESCAPE '\\'"
    params["glob"] = "*" + "".join(
        "[" + "".join(sorted(same)) + "]" if len(same) > 1 else _glob_char(f)
        for f, same in zip(folded, classes, strict=True)) + "*"
    params.update({f"missed{n}": x for n, x in enumerate(missed)})

    def contains(column: str) -> str:
        holds = " OR ".join(f"instr({column}, :missed{n}) > 0" for n in range(len(missed)))
        return f"({column} LIKE :like ESCAPE '\\' OR (({holds}) AND {column} GLOB :glob))"

    return contains


def _search_ready(db: sqlite3.Connection) -> bool:
    """Whether the FTS indexes exist and are complete: their triggers are in place (they are
    missing where SQLite has no trigram FTS5, and during a first bootstrap, which rebuilds
    the indexes at its end)."""
    marks = ", ".join("?" * len(_SEARCH_TRIGGERS))
    found = db.execute(f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                       f"AND name IN ({marks})", _SEARCH_TRIGGERS).fetchone()[0]
    return int(found) == len(_SEARCH_TRIGGERS)


def _fts_phrase(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _fts_query(db: sqlite3.Connection, search: schema.SearchIndex, q: str) -> str | None:
    """An FTS5 MATCH expression for rows containing ``q`` (any case); "" when no row can
    contain it; None when LIKE is the better way (a one-character search of a common letter).
    Three or more characters: the phrase of their trigrams. One or two: any indexed trigram
    that begins with them (the indexed text ends in two spaces, so there is one for every
    occurrence)."""
    if len(q) >= 3:
        return _fts_phrase(q)
    low = fold(q)
    terms = [r[0] for r in db.execute(
        f"SELECT term FROM {search.vocab} WHERE term >= ? AND term < ? LIMIT ?",
        (low, low + "\U0010ffff", SHORT_SEARCH_MAX_TRIGRAMS + 1))]
    if len(terms) > SHORT_SEARCH_MAX_TRIGRAMS:
        return None
    return " OR ".join(_fts_phrase(t) for t in terms)


def text_condition(db: sqlite3.Connection, q: str, params: dict[str, Any],
                   first_rows: bool = False) -> str:
    """SQL true for conversations whose subject, preview or contact's name contains ``q``.

    ``first_rows``: the query reads only the view's first rows (a LIMIT). Where the whole
    answer would read many matches, rows are then tested one by one while the view's index is
    walked in order (LIKE; the walk stops at the limit), which needs no list of every match:
    for text in ASCII, where LIKE is quickest."""
    matches = _fts_matches(db, q)
    many = matches is None or sum(found for _fts, _match, found in matches) > FEW_MATCHES
    if first_rows and q.isascii() and many:
        contains = _contains_sql(q, params)
        return (f"({contains('subject')} OR {contains('preview')} OR EXISTS "
                "(SELECT 1 FROM contacts k WHERE k.id = conversations.contact_id "
                f"AND {contains('k.name')}))")
    if matches is None:
        contains = _contains_sql(q, params)
        return (f"({contains('subject')} OR {contains('preview')} OR "
                f"contact_id IN (SELECT k.id FROM contacts k WHERE {contains('k.name')}))")
    (conv_fts, in_conv, _), (contact_fts, in_contacts, _) = matches
    sources = []
    if in_conv:
        params["fts_conv"] = in_conv
        sources.append(f"SELECT rowid FROM {conv_fts.name} WHERE {conv_fts.name} MATCH :fts_conv")
    if in_contacts:
        params["fts_contact"] = in_contacts
        sources.append(
            "SELECT x.rowid FROM conversations x WHERE x.contact_id IN ("
            "SELECT k.id FROM contacts k WHERE k.rowid IN ("
            f"SELECT rowid FROM {contact_fts.name} "
            f"WHERE {contact_fts.name} MATCH :fts_contact))")
    if not sources:
        return NO_ROW
    # Few matches: read them and sort them. Many: walk the view's index in order and test
    # each row against the matches ("+" keeps SQLite from the first plan).
    return f"{'+' if many else ''}rowid IN ({' UNION ALL '.join(sources)})"


def _fts_matches(db: sqlite3.Connection, q: str
                 ) -> list[tuple[schema.SearchIndex, str, int]] | None:
    """For each search index (conversations, then contacts): its MATCH expression for ``q``
    and how many rows it finds, counted up to FEW_MATCHES + 1. None when the indexes are not
    ready, or when LIKE is the better way (a one-character search of a common letter)."""
    if not _search_ready(db):
        return None
    out = []
    for fts in schema.SEARCH_INDEXES:
        match = _fts_query(db, fts, q)
        if match is None:
            return None
        out.append((fts, match, _count_up_to(db, fts.name, match, FEW_MATCHES + 1)
                    if match else 0))
    return out


def _count_up_to(db: sqlite3.Connection, fts: str, match: str, most: int) -> int:
    return int(db.execute(f"SELECT count(*) FROM (SELECT 1 FROM {fts} WHERE {fts} MATCH ? "
                          "LIMIT ?)", (match, most)).fetchone()[0])
