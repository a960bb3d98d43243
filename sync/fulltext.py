"""Full-text search over the mirror, in English and Japanese: messages (body), conversations
(subject), contacts (name, handles) and articles (title, body, tags), ranked by bm25.

How text is indexed. Each kind has an FTS5 table (``porter unicode61 remove_diacritics 2``)
over an external content *view* of its mirror table: the index keeps no copy of the text.
The view passes every indexed value through :func:`search_form` (the SQL function
``rd_search_form``, registered by :func:`register`): NFKC (full-width ＡＢＣ, half-width ｶﾀｶﾅ),
then every run of CJK characters (kanji, kana, hangul) written as its overlapping bigrams
and its last character alone: 返品の手続き → 返品 品の の手 手続 続き き. Latin text is
left to unicode61 (case, diacritics) and porter (print / printing / printed).

How a query is read (:func:`match_expression`): words separated by spaces must all occur, in
any order; a word's Latin part is a quoted FTS5 phrase (so ``NEAR(``, ``*``, ``-``, ``OR``,
``title:`` are words, never syntax); its CJK run of two or more characters is the phrase of
its bigrams, which holds only where the characters stand together (返品 does not match
返信と商品), and a single CJK character is the prefix of a token: every character begins a
bigram or is a run's last one, so each occurrence is found.

Ranking: bm25 with per-column weights (title above body); messages blend recency in. A
query matching more than ``WINDOW`` rows of a kind ranks the ``WINDOW`` newest (highest
rowid) of them: bm25 over a million broad matches would cost seconds, not milliseconds.
Snippets are plain original text with mark offsets (:class:`Snippet`); the caller escapes.

Upkeep: triggers keep each index in step with its table (insert, delete, update of an
indexed column); a first bootstrap calls :func:`suspend` before and :func:`build` after
(one ``rebuild`` per kind, not row by row). Every connection that writes the indexed tables
must have called :func:`register` (the triggers call ``rd_search_form``, ``rd_json_words``).

Chosen by measurement (benchmarks/search.py --messages 50000 --articles 5000: 65,000 rows,
20.6 MB of mixed en/ja text, 63 queries × 3; 2 shared cores at load ~3.8 and run under
``nice 19``, so latencies are pessimistic; the 1M-message run is still to do):

    design                               size/text  build rows/s  p50 ms  p95 ms  relevance
    (a) porter unicode61 + CJK bigrams     0.45×       27,459      26.0    66.8    18 / 18
    (b) trigram (sync/search.py's way)     2.31×       14,983      24.1    93.2    13 / 18

(b) fails printed→printing, replies→reply, cafe→café (no diacritics folding in SQLite 3.40's
trigram), finds "print" in "sprint", and its one- and two-character words need a vocabulary
expansion (up to 64 trigrams OR-ed); it is also five times the size. (a) passes every case.
A morphological analyzer (SudachiPy, fugashi) would split 返品 as a word too, but its
dictionary alone is a 77 MB wheel (sudachidict_core) in the installer, it tokenizes in Python
at bootstrap, and a word it segments differently is not found; bigrams miss nothing.
One FTS5 table per kind, not one with a kind column: an external content table reads one
source by rowid, and a UNION ALL view over four tables with kind-encoded rowids cannot be
read by rowid (not measured).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

TOKENIZER = "porter unicode61 remove_diacritics 2"
# A query matching more rows than this in one kind ranks only its newest WINDOW matches
# (benchmarks/search.py: a broad query over 50k messages took ~30 ms at 20,000, ~12 ms at 5,000).
WINDOW = 5_000
# Messages: score × (1 + RECENCY_BOOST / (1 + age in days / RECENCY_DAYS)).
RECENCY_BOOST = 0.5
RECENCY_DAYS = 30.0
SNIPPET_CHARS = 160
_MARK_OPEN, _MARK_CLOSE = "\x01", "\x02"  # never in indexed text: search_form removes them

# Kanji (with 々〆〇), hiragana, katakana (with ー), hangul: scripts written without spaces.
_CJK = ("\u3005-\u3007\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3131-\u318e"
        "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uf900-\ufaff\U00020000-\U0003134f")
_CJK_RUN = re.compile(f"[{_CJK}]+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE_SPLIT = re.compile(r"(\s+)")
# A character and the marks composed onto it (combining, and half-width kana voicing marks).
_GRAPHEME = re.compile("(?s).[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff"
                       "\u3099\u309a\uff9e\uff9f\ufe20-\ufe2f]*")
_WORD = re.compile(r"[^\W_]")  # a character unicode61 keeps in a token (letters, digits)
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Column:
    name: str  # the FTS5 column
    sql: str  # its value, over the source row ``{row}`` ("" in a view, "new." in a trigger)
    weight: float
    watches: tuple[str, ...]  # the source columns it is made of


@dataclass(frozen=True)
class Kind:
    name: str
    table: str
    columns: tuple[Column, ...]
    title: int | None  # which column is the hit's title
    snippet: int  # which column the snippet comes from
    locale_sql: str | None  # over the source row aliased ``src``
    time_sql: str | None  # ms since the epoch; set: recency is blended in

    @property
    def fts(self) -> str:
        return f"fulltext_{self.name}"

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(f"{self.fts}_{op}" for op in ("insert", "delete", "update"))


def _json_words(column: str, key: str | None) -> str:
    # A Python function, not json_each: FTS5's 'rebuild' fails ("SQL logic error") on a
    # content view with a table-valued function in a subquery (SQLite 3.40).
    return f"rd_json_words({{row}}{column}, '{key or ''}')"


def json_words(value: str | None, key: str = "") -> str | None:
    """A JSON list's items (each item's ``key`` where given) as space-separated words; None
    for anything else."""
    try:
        items = json.loads(value) if value else None
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    if key:
        items = [i.get(key) for i in items if isinstance(i, dict)]
    return " ".join(i for i in items if isinstance(i, str))


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("message", "messages", (Column("body", "{row}body", 1.0, ("body",)),), None, 0,
         "(SELECT k.locale FROM conversations c JOIN contacts k ON k.id = c.contact_id "
         "WHERE c.id = src.conversation_id)", "src.created_at"),
    Kind("conversation", "conversations", (Column("subject", "{row}subject", 1.0,
                                                  ("subject",)),), 0, 0,
         "(SELECT k.locale FROM contacts k WHERE k.id = src.contact_id)", None),
    Kind("contact", "contacts", (Column("name", "{row}name", 2.0, ("name",)),
                                 Column("handles", _json_words("identities", "handle"), 1.0,
                                        ("identities",))), 0, 0, "src.locale", None),
    Kind("article", "articles", (Column("title", "{row}title", 4.0, ("title",)),
                                 Column("body", "{row}body", 1.0, ("body",)),
                                 Column("tags", _json_words("tags", None), 2.0, ("tags",))),
         0, 1, "src.locale", None),
)}


# --------------------------------------------------------------------------- text forms

def _normalized(text: str) -> str:
    return unicodedata.normalize("NFKC", _CONTROL.sub(" ", text))


def _bigrams(run: str) -> str:
    return " " + " ".join([run[i:i + 2] for i in range(len(run) - 1)] + [run[-1]]) + " "


def search_form(text: str | None) -> str | None:
    """``text`` as the index tokenizes it: NFKC, each CJK run as its overlapping bigrams and
    its last character alone (unicode61 would take a whole run for one token)."""
    if text is None:
        return None
    return _CJK_RUN.sub(lambda m: _bigrams(m.group()), _normalized(text))


class _Spans:
    """Where each character of a derived text comes from in its source: segments that begin
    at a derived position and cover a source span, either character for character (exact) or
    as a whole (a bigram token, a composed ｶﾞ)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.segments: list[tuple[int, int, bool]] = []

    def add(self, at: int, start: int, end: int, exact: bool) -> None:
        self.starts.append(at)
        self.segments.append((start, end, exact))

    def span(self, i: int) -> tuple[int, int]:
        k = bisect.bisect_right(self.starts, i) - 1
        start, end, exact = self.segments[k]
        if exact:
            return start + i - self.starts[k], start + i - self.starts[k] + 1
        return start, end


def _normalized_with_spans(text: str) -> tuple[str, _Spans]:
    """NFKC of ``text`` (as :func:`search_form` makes it) and where each of its characters
    comes from. No composition crosses white space, so each space-separated piece is
    normalized alone; within a piece, each character with the marks that follow it (ｶﾞ → ガ)
    where that gives the same text (almost always), else the whole piece at once."""
    out: list[str] = []
    spans = _Spans()
    clean = _CONTROL.sub(" ", text)
    if unicodedata.is_normalized("NFKC", clean):
        spans.add(0, 0, len(clean), True)
        return clean, spans
    at = pos = 0
    for piece in _SPACE_SPLIT.split(clean):
        whole = unicodedata.normalize("NFKC", piece)
        if whole == piece:
            if not spans.segments or not spans.segments[-1][2]:  # else the last one grows
                spans.add(pos, at, at + len(piece), True)
        else:
            groups = [(m.span(), unicodedata.normalize("NFKC", m.group()))
                      for m in _GRAPHEME.finditer(piece)]
            if "".join(g for _, g in groups) == whole:
                p = pos
                for (a, b), g in groups:
                    spans.add(p, at + a, at + b, len(g) == b - a == 1)
                    p += len(g)
            else:
                spans.add(pos, at, at + len(piece), False)
        out.append(whole)
        at += len(piece)
        pos += len(whole)
    return "".join(out), spans


def _form_with_spans(text: str) -> tuple[str, _Spans, _Spans]:
    """:func:`search_form` of ``text``, where each of its characters comes from in the
    normalized text, and where each of those comes from in ``text``."""
    norm, to_text = _normalized_with_spans(text)
    out: list[str] = []
    to_norm = _Spans()
    last = pos = 0
    for m in _CJK_RUN.finditer(norm):
        if m.start() > last:
            to_norm.add(pos, last, m.start(), True)
            out.append(norm[last:m.start()])
            pos += m.start() - last
        run, base = m.group(), m.start()
        pieces = [" "] + [run[i:i + 2] + " " for i in range(len(run) - 1)] + [run[-1] + " "]
        spans = [(base, base + 1)] + [(base + i, base + i + 2) for i in range(len(run) - 1)]
        for piece, (a, b) in zip(pieces, [*spans, (base + len(run) - 1, base + len(run))],
                                 strict=True):
            to_norm.add(pos, a, b, False)
            out.append(piece)
            pos += len(piece)
        last = m.end()
    if last < len(norm) or not out:
        to_norm.add(pos, last, len(norm), True)
        out.append(norm[last:])
    return "".join(out), to_norm, to_text


def match_expression(query: str) -> str | None:
    """The FTS5 MATCH expression for what an agent typed: every word, in any order (see the
    module's docstring). None when the query has nothing searchable."""
    parts: list[str] = []
    for word in _normalized(query).split():
        last = 0
        for m in [*_CJK_RUN.finditer(word), None]:
            latin = word[last:m.start() if m else len(word)]
            if _WORD.search(latin):
                parts.append('"' + latin.replace('"', '""') + '"')
            if m is None:
                break
            run = m.group()
            if len(run) == 1:
                parts.append(f'"{run}"*')
            else:
                parts.append('"' + " ".join(run[i:i + 2] for i in range(len(run) - 1)) + '"')
            last = m.end()
    return " AND ".join(parts) if parts else None


def match_any(text: str, skip: frozenset[str] = frozenset(), most: int = 64) -> str | None:
    """An FTS5 expression matching rows with *any* of the words of ``text`` (what a customer
    wrote, for suggestions: bm25 then ranks the rows sharing the most, and rarest, words):
    each Latin word, and each bigram of a CJK run, is one term; the words in ``skip``
    (lower case) are left out; at most ``most`` terms, the first ones. None: no term."""
    terms: dict[str, None] = {}
    for word in _normalized(text).split():
        last = 0
        for m in [*_CJK_RUN.finditer(word), None]:
            for latin in _NOT_WORD.split(word[last:m.start() if m else len(word)]):
                if latin and latin.lower() not in skip:
                    terms['"' + latin + '"'] = None
            if m is None:
                break
            run = m.group()
            for gram in ([f'"{run}"*'] if len(run) == 1 else
                         [f'"{run[i:i + 2]}"' for i in range(len(run) - 1)]):
                if gram.strip('"*') not in skip:
                    terms[gram] = None
            last = m.end()
    picked = list(terms)[:most]
    return " OR ".join(picked) if picked else None


# --------------------------------------------------------------------------- schema

def register(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the SQL functions the index's views and triggers call (once: SQLite
    refuses to replace a function while a statement of the connection is running)."""
    try:
        conn.execute("SELECT rd_search_form(NULL), rd_json_words(NULL, '')").fetchone()
        return
    except sqlite3.OperationalError:
        pass
    conn.create_function("rd_search_form", 1, search_form, deterministic=True)
    conn.create_function("rd_json_words", 2, json_words, deterministic=True)


@contextlib.contextmanager
def _atomic(conn: sqlite3.Connection) -> Iterator[None]:
    """All or nothing, inside the caller's transaction when there is one (a bootstrap page's,
    a migration's): a savepoint, never a COMMIT (``with conn:`` would commit the caller's
    transaction half way, and a page's rows with it before its position)."""
    conn.execute("SAVEPOINT rd_fulltext")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO rd_fulltext")
        conn.execute("RELEASE rd_fulltext")
        raise
    conn.execute("RELEASE rd_fulltext")


def _present(conn: sqlite3.Connection, kinds: Iterable[str] | None) -> list[Kind]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [KINDS[k] for k in (kinds or KINDS) if KINDS[k].table in tables]


def _values(kind: Kind, row: str) -> str:
    return ", ".join(f"rd_search_form({c.sql.format(row=row)})" for c in kind.columns)


def _trigger_ddl(kind: Kind) -> list[str]:
    fts, cols = kind.fts, ", ".join(c.name for c in kind.columns)
    forget = (f"INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES "
              f"('delete', old.rowid, {_values(kind, 'old.')});")
    learn = f"INSERT INTO {fts} (rowid, {cols}) VALUES (new.rowid, {_values(kind, 'new.')});"
    watched = sorted({w for c in kind.columns for w in c.watches})
    changed = " OR ".join(f"old.{w} IS NOT new.{w}" for w in watched)
    insert, delete, update = kind.triggers
    return [f"CREATE TRIGGER IF NOT EXISTS {insert} AFTER INSERT ON {kind.table} "
            f"BEGIN {learn} END",
            f"CREATE TRIGGER IF NOT EXISTS {delete} AFTER DELETE ON {kind.table} "
            f"BEGIN {forget} END",
            f"CREATE TRIGGER IF NOT EXISTS {update} AFTER UPDATE OF {', '.join(watched)} "
            f"ON {kind.table} WHEN {changed} BEGIN {forget} {learn} END"]


def create(conn: sqlite3.Connection, kinds: Iterable[str] | None = None) -> list[str]:
    """Create the index of each kind whose table exists (empty, its triggers in place: call
    :func:`build` when the table already has rows). Returns the kinds created."""
    register(conn)
    done = []
    for kind in _present(conn, kinds):
        cols = ", ".join(c.name for c in kind.columns)
        named = ", ".join(f"rd_search_form({c.sql.format(row='')}) AS {c.name}"
                          for c in kind.columns)
        with _atomic(conn):
            conn.execute(f"CREATE VIEW IF NOT EXISTS {kind.fts}_src AS "
                         f"SELECT rowid AS doc, {named} FROM {kind.table}")
            conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {kind.fts} USING fts5({cols}, "
                         f"content='{kind.fts}_src', content_rowid='doc', "
                         f"tokenize='{TOKENIZER}')")
            for sql in _trigger_ddl(kind):
                conn.execute(sql)
        done.append(kind.name)
    return done


def _indexed(conn: sqlite3.Connection, kinds: Iterable[str] | None) -> list[Kind]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [k for k in _present(conn, kinds) if k.fts in tables]


def suspend(conn: sqlite3.Connection, kinds: Iterable[str] | None = None) -> None:
    """Stop keeping the indexes up (a first bootstrap's rows then go in untokenized) and
    empty them; :func:`build` brings them back."""
    with _atomic(conn):
        for kind in _indexed(conn, kinds):
            for trigger in kind.triggers:
                conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            conn.execute(f"INSERT INTO {kind.fts} ({kind.fts}) VALUES ('delete-all')")


def build(conn: sqlite3.Connection, kinds: Iterable[str] | None = None) -> dict[str, float]:
    """Index every row of each kind's table in one pass (FTS5 ``rebuild``, then ``optimize``
    into one segment), and put the triggers back. Returns seconds per kind."""
    register(conn)
    create(conn, kinds)
    took = {}
    for kind in _indexed(conn, kinds):
        start = time.perf_counter()
        with _atomic(conn):
            for trigger in kind.triggers:
                conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            conn.execute(f"INSERT INTO {kind.fts} ({kind.fts}) VALUES ('rebuild')")
            conn.execute(f"INSERT INTO {kind.fts} ({kind.fts}) VALUES ('optimize')")
            for sql in _trigger_ddl(kind):
                conn.execute(sql)
        took[kind.name] = time.perf_counter() - start
    return took


def integrity_check(conn: sqlite3.Connection, kinds: Iterable[str] | None = None) -> None:
    """Check each index: FTS5's own integrity-check (the index is well formed), then its
    every token against an index built afresh from the table (this SQLite's integrity-check
    does not compare an external content index with its table). Raises
    ``sqlite3.DatabaseError`` naming the first disagreement."""
    register(conn)
    for kind in _indexed(conn, kinds):
        conn.execute(f"INSERT INTO {kind.fts} ({kind.fts}) VALUES ('integrity-check')")
        cols = ", ".join(c.name for c in kind.columns)
        try:
            conn.execute(f"CREATE VIRTUAL TABLE temp.fulltext_fresh USING fts5({cols}, "
                         f"tokenize='{TOKENIZER}')")
            conn.execute(f"INSERT INTO temp.fulltext_fresh (rowid, {cols}) "
                         f"SELECT doc, {cols} FROM {kind.fts}_src")
            conn.execute("CREATE VIRTUAL TABLE temp.fulltext_fresh_terms USING "
                         "fts5vocab(temp, fulltext_fresh, 'instance')")
            conn.execute("CREATE VIRTUAL TABLE temp.fulltext_live_terms USING "
                         f"fts5vocab(main, {kind.fts}, 'instance')")
            for a, b, what in (("live", "fresh", "indexed but not in the table"),
                               ("fresh", "live", "in the table but not indexed")):
                wrong = conn.execute(f"SELECT * FROM temp.fulltext_{a}_terms EXCEPT "
                                     f"SELECT * FROM temp.fulltext_{b}_terms LIMIT 1").fetchone()
                if wrong:
                    raise sqlite3.DatabaseError(f"{kind.fts}: {wrong[0]!r} of row {wrong[1]} "
                                                f"is {what}")
        finally:
            for table in ("fulltext_live_terms", "fulltext_fresh_terms", "fulltext_fresh"):
                conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


# --------------------------------------------------------------------------- queries

@dataclass(frozen=True)
class Snippet:
    """Plain text (the original, not escaped) and the ``(start, end)`` spans to mark."""

    text: str
    marks: tuple[tuple[int, int], ...]

    def markup(self, escape: Callable[[str], str], open_: str = "<b>",
               close: str = "</b>") -> str:
        """The text with each mark wrapped in ``open_``/``close``, every piece of text passed
        through ``escape`` (e.g. ``html.escape``) first."""
        esc = escape
        out, at = [], 0
        for start, end in self.marks:
            out += [esc(self.text[at:start]), open_, esc(self.text[start:end]), close]
            at = end
        out.append(esc(self.text[at:]))
        return "".join(out)


@dataclass(frozen=True)
class Hit:
    kind: str
    id: str
    rowid: int
    score: float  # higher is better; comparable within a kind
    title: Snippet | None
    snippet: Snippet


def search(conn: sqlite3.Connection, query: str, kinds: Sequence[str] | None = None,
           limit: int = 20, *, locale: str | None = None, now_ms: int | None = None
           ) -> list[Hit]:
    """The best ``limit`` hits of each kind asked for (all indexed kinds by default), each
    kind's in score order, kinds in the order asked. ``locale``: only rows in that language
    (an article's, a contact's; a message's or conversation's contact's)."""
    match = match_expression(query)
    if match is None:
        return []
    return search_expression(conn, match, kinds, limit, locale=locale, now_ms=now_ms)


def search_expression(conn: sqlite3.Connection, match: str,
                      kinds: Sequence[str] | None = None, limit: int = 20, *,
                      locale: str | None = None, now_ms: int | None = None,
                      published_only: bool = False) -> list[Hit]:
    """:func:`search` for an FTS5 expression already made (:func:`match_expression`,
    :func:`match_any`). ``published_only``: articles in another status (a supervisor's
    mirror holds drafts) are left out."""
    register(conn)
    now = time.time() * 1000 if now_ms is None else now_ms
    hits: list[Hit] = []
    for kind in _indexed(conn, kinds):
        hits += _search_kind(conn, kind, match, limit, locale, now,
                             published_only and kind.name == "article")
    return hits


def _search_kind(conn: sqlite3.Connection, kind: Kind, match: str, limit: int,
                 locale: str | None, now: float, published_only: bool = False) -> list[Hit]:
    weights = ", ".join(str(c.weight) for c in kind.columns)
    score = f"-bm25({kind.fts}, {weights})"
    if kind.time_sql:
        score = (f"{score} * (1 + {RECENCY_BOOST} / (1 + max(0, :now - coalesce("
                 f"{kind.time_sql}, :now)) / 86400000.0 / {RECENCY_DAYS}))")
    where = f"{kind.fts} MATCH :match"
    if locale is not None and kind.locale_sql:
        where += f" AND {kind.locale_sql} = :locale"
    if published_only:
        where += " AND src.status = 'published'"
    sql = (f"SELECT doc, id, score FROM (SELECT {kind.fts}.rowid AS doc, src.id AS id, "
           f"{score} AS score FROM {kind.fts} JOIN {kind.table} AS src "
           f"ON src.rowid = {kind.fts}.rowid WHERE {where} "
           f"ORDER BY {kind.fts}.rowid DESC LIMIT :window) ORDER BY score DESC LIMIT :limit")
    rows = conn.execute(sql, {"match": match, "locale": locale, "now": now,
                              "window": WINDOW, "limit": limit}).fetchall()
    if not rows:
        return []
    texts, marked = _marked(conn, kind, match, [r[0] for r in rows])
    out = []
    for doc, id_, value in rows:
        if doc not in texts or doc not in marked:
            continue
        made: dict[int, Snippet] = {}

        def snippet(i: int, doc: int = doc, made: dict[int, Snippet] = made) -> Snippet:
            if i not in made:
                made[i] = _snippet(texts[doc][i], marked[doc][i])
            return made[i]

        # The snippet column, unless the words were found only in another (an article's tags)
        shown = snippet(kind.snippet)
        if not shown.marks:
            shown = next((snippet(i) for i in range(len(kind.columns))
                          if i not in (kind.snippet, kind.title) and snippet(i).marks), shown)
        out.append(Hit(kind.name, id_, doc, float(value),
                       None if kind.title is None else snippet(kind.title), _window(shown)))
    return out


def _marked(conn: sqlite3.Connection, kind: Kind, match: str, docs: list[int]
            ) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Per hit: each indexed column's original text and its search form with the matched
    tokens between the mark characters (FTS5's highlight)."""
    marks = ", ".join("?" * len(docs))
    originals = ", ".join(f"coalesce({c.sql.format(row='')}, '')" for c in kind.columns)
    texts = {r[0]: list(r[1:]) for r in conn.execute(
        f"SELECT rowid, {originals} FROM {kind.table} WHERE rowid IN ({marks})", docs)}
    lights = ", ".join(f"coalesce(highlight({kind.fts}, {i}, '{_MARK_OPEN}', "
                       f"'{_MARK_CLOSE}'), '')" for i in range(len(kind.columns)))
    marked = {r[0]: list(r[1:]) for r in conn.execute(
        f"SELECT rowid, {lights} FROM {kind.fts} WHERE {kind.fts} MATCH ? "
        f"AND rowid IN ({marks})", [match, *docs])}
    return texts, marked


def _snippet(original: str, marked: str) -> Snippet:
    """The marks FTS5 put in the search form, carried back onto the original text."""
    form, to_norm, to_text = _form_with_spans(original)
    spans, plain, at = [], [], 0
    for piece in re.split(f"({_MARK_OPEN}|{_MARK_CLOSE})", marked):
        if piece == _MARK_OPEN:
            start = at
        elif piece == _MARK_CLOSE:
            spans.append((start, at))
        else:
            plain.append(piece)
            at += len(piece)
    if "".join(plain) != form:  # not the text that was indexed: show it unmarked
        return Snippet(original, ())
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if end <= start:
            continue
        a = to_text.span(to_norm.span(start)[0])[0]
        b = to_text.span(to_norm.span(end - 1)[1] - 1)[1]
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return Snippet(original, tuple(merged))


def _window(snippet: Snippet, size: int = SNIPPET_CHARS) -> Snippet:
    """At most ``size`` characters of the text around its first mark, '…' where cut."""
    text = snippet.text
    if len(text) <= size:
        return snippet
    first = snippet.marks[0][0] if snippet.marks else 0
    start = max(0, min(first - size // 4, len(text) - size))
    space = text.rfind(" ", start - 12, start)  # begin on a word where one is near
    start = space + 1 if space > 0 and start > 0 else start
    end = min(len(text), start + size)
    head = "…" if start > 0 else ""
    marks = tuple((a - start + len(head), min(b, end) - start + len(head))
                  for a, b in snippet.marks if a >= start and a < end)
    return Snippet(head + text[start:end] + ("…" if end < len(text) else ""), marks)
