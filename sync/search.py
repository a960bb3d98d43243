"""Substring search over conversations (subject, preview) and contact names, for the
inbox views: the trigram FTS5 indexes of the mirror (sync/models.py) when they are ready,
LIKE otherwise. Any script, any case; Japanese included (no word boundaries needed)."""

from __future__ import annotations

import sqlite3
from typing import Any

from sync import schema

# Searches of one or two characters look up the trigrams that begin with them; past this many
# (a single common letter) a LIKE scan is as quick as the index.
SHORT_SEARCH_MAX_TRIGRAMS = 64
# Up to this many search matches are read and sorted; more, and the view's index is walked in
# order, each row tested against the matches.
FEW_MATCHES = 4000
_SEARCH_TRIGGERS = tuple(s.triggers[0] for s in schema.SEARCH_INDEXES)  # the *_fts_insert ones


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
    low = q.lower()
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
    for text in ASCII, where LIKE's case rule is the index's."""
    matches = _fts_matches(db, q)
    many = matches is None or sum(found for _fts, _match, found in matches) > FEW_MATCHES
    if first_rows and q.isascii() and many:
        params["like"] = "%" + _like_escape(q) + "%"
        return ("(subject LIKE :like ESCAPE '\\' OR preview LIKE :like ESCAPE '\\' OR EXISTS "
                "(SELECT 1 FROM contacts k WHERE k.id = conversations.contact_id "
                "AND k.name LIKE :like ESCAPE '\\'))")
    if matches is None:
        params["like"] = "%" + _like_escape(q) + "%"
        return ("(subject LIKE :like ESCAPE '\\' OR preview LIKE :like ESCAPE '\\' OR "
                "contact_id IN (SELECT k.id FROM contacts k WHERE k.name LIKE :like "
                "ESCAPE '\\'))")
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
        return "0"
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
