"""Suggested articles for a conversation, headless: what the desk's panel and
``relaydesk-sync suggest`` show.

What the customer wrote is the query: their recent inbound messages weigh most (the newest
the most), then the conversation's subject, then its tags. Each is searched on its own
(:func:`sync.fulltext.match_any`: any of its words, bm25 ranking the articles that share the
most and the rarest) and an article's score is the weighted sum of its scores. Only
published articles (a supervisor's mirror also holds drafts).

Language: the contact's locale, else the language the customer writes in (Japanese when
their text has kana or kanji, else English). An article found in another language is shown
in the conversation's language where a translation exists (articles share a ``key`` across
locales), else as it is (the original).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from sync import fulltext

RECENT_MESSAGES = 5
# The newest inbound message weighs 1.0, the ones before it less; then subject, then tags.
MESSAGE_WEIGHTS = (1.0, 0.8, 0.6, 0.5, 0.4)
SUBJECT_WEIGHT = 0.5
TAGS_WEIGHT = 0.35
CANDIDATES = 30  # per source: the articles each search ranks before they are summed
# Words too common to say what a message is about (bm25 would weigh them low, not nothing).
STOPWORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being
but by can could did do does doing don for from had has have having he her here hi hello
him his how i if in into is it its just me my no nor not now of on or our out over please
re so some still than thank thanks that the their them then there these they this those
to too up very was we were what when where which who why will with would you your
""".split())
_JAPANESE = re.compile("[\u3041-\u3096\u30a1-\u30fa\u30fc\u4e00-\u9fff]")


@dataclass(frozen=True)
class Suggestion:
    article_id: str
    key: str
    locale: str
    title: str
    snippet: fulltext.Snippet  # from the body of the article found (marks: the words shared)
    score: float
    translated: bool  # shown in the conversation's language, found through another one's words


class UnknownConversation(LookupError):
    """No such conversation in the mirror (or not one this agent may see)."""


def language(locale: str | None) -> str | None:
    """A locale's language: ``ja-JP`` → ``ja``."""
    if not locale:
        return None
    return re.split("[-_]", locale.strip(), maxsplit=1)[0].lower() or None


def written_language(texts: list[str]) -> str | None:
    """The language the customer writes in, by script: Japanese when any text has kana or
    kanji, English when there is other text, None when there is none."""
    if any(_JAPANESE.search(t) for t in texts):
        return "ja"
    return "en" if any(t.strip() for t in texts) else None


def conversation_language(conn: sqlite3.Connection, conversation_id: str) -> str | None:
    """The conversation's language: its contact's locale, else the customer's script."""
    return _context(conn, conversation_id)[0]


def _context(conn: sqlite3.Connection, conversation_id: str
             ) -> tuple[str | None, list[tuple[str, float]]]:
    """The conversation's language and its weighted texts (recent inbound messages first)."""
    row = conn.execute(
        "SELECT c.subject, c.tags, k.locale FROM conversations c "
        "LEFT JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?",
        (conversation_id,)).fetchone()
    if row is None:
        raise UnknownConversation(conversation_id)
    subject, tags_json, locale = row
    messages = [r[0] for r in conn.execute(
        "SELECT body FROM messages WHERE conversation_id = ? AND direction = 'inbound' "
        "ORDER BY created_at DESC, rowid DESC LIMIT ?", (conversation_id, RECENT_MESSAGES))]
    texts = [(body, weight) for body, weight in zip(messages, MESSAGE_WEIGHTS, strict=False)
             if body]
    if subject:
        texts.append((subject, SUBJECT_WEIGHT))
    tags = fulltext.json_words(tags_json)
    if tags:
        texts.append((tags.replace("-", " ").replace("_", " "), TAGS_WEIGHT))
    lang = language(locale) or written_language(messages + ([subject] if subject else []))
    return lang, texts


def suggest(conn: sqlite3.Connection, conversation_id: str, limit: int = 5
            ) -> list[Suggestion]:
    """The ``limit`` best published articles for the conversation, best first, in its
    language where they have a translation (see the module's docstring). Raises
    :class:`UnknownConversation`."""
    lang, texts = _context(conn, conversation_id)
    scores: dict[str, float] = {}
    found: dict[str, fulltext.Hit] = {}
    for text, weight in texts:
        match = fulltext.match_any(text, STOPWORDS)
        if match is None:
            continue
        for hit in fulltext.search_expression(conn, match, ["article"], CANDIDATES,
                                              published_only=True):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight * hit.score
            found.setdefault(hit.id, hit)
    if not scores:
        return []
    ids = list(scores)
    marks = ", ".join("?" * len(ids))
    meta = {r[0]: r[1:] for r in conn.execute(
        f"SELECT id, key, locale, title FROM articles WHERE id IN ({marks})", ids)}
    best: dict[str, Suggestion] = {}  # by key: one article per subject, whatever its language
    for article_id in sorted(ids, key=lambda i: -scores[i]):
        if article_id not in meta:
            continue
        key, locale, title = meta[article_id]
        if key in best:
            continue
        hit = found[article_id]
        shown = Suggestion(article_id, key, locale, title, hit.snippet, scores[article_id],
                           False)
        if lang is not None and language(locale) != lang:
            shown = _translation(conn, shown, lang) or shown
        best[key] = shown
        if len(best) >= limit:
            break
    return list(best.values())


def _translation(conn: sqlite3.Connection, found: Suggestion, lang: str
                 ) -> Suggestion | None:
    """``found``'s published translation into ``lang``, if the mirror holds one."""
    rows = conn.execute("SELECT id, locale, title, body FROM articles WHERE key = ? AND "
                        "status = 'published' ORDER BY length(locale), locale",
                        (found.key,)).fetchall()
    row = next((r for r in rows if language(r[1]) == lang), None)
    if row is None:
        return None
    article_id, locale, title, body = row
    text = body if len(body) <= fulltext.SNIPPET_CHARS else (
        body[:fulltext.SNIPPET_CHARS].rstrip() + "…")
    return Suggestion(article_id, found.key, locale, title, fulltext.Snippet(text, ()),
                      found.score, True)


def as_json(s: Suggestion) -> dict[str, object]:
    """A suggestion as ``relaydesk-sync suggest --json`` prints it."""
    return {"id": s.article_id, "key": s.key, "locale": s.locale, "title": s.title,
            "snippet": s.snippet.text, "score": round(s.score, 4), "translated": s.translated}

