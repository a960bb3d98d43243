"""Articles as a folder of Markdown files, so a team can keep its knowledge base in git:
``relaydesk-server articles import DIR`` and ``articles export DIR``.

One file per article and locale, named ``KEY.LOCALE.md`` (``returns.en.md``,
``returns.ja.md``: the same key in another locale is that article's translation). On import
the locale suffix may be left out (``returns.md``) when the front matter names the locale;
when both are given they must agree. The file starts with YAML front matter between two
``---`` lines, then the Markdown body::

    ---
    title: Returns and refunds
    locale: en
    category: Orders
    tags:
    - returns
    - refund
    visibility: public        # or internal (the default): agents only
    teams:                    # team names or ids; none: every team
    - Billing
    status: published         # the default; or draft, archived
    ---

    Send it back within 30 days…

An import matches files to articles by key and locale: a new pair is created, an existing
one changed in place (a new version only when a field differs), each with the importing
supervisor as its author. A bad file is reported by name with the reason and changes nothing;
the others still import. An export writes every article (every status) in one canonical form
(the fields above in that order, teams by name sorted, LF, UTF-8, one newline at the end), so
export → import → export gives the same bytes; it overwrites files it writes and leaves other
files in the folder alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import wire as p
from server import articles
from server import models as m
from server.auth import normalize_email
from server.db import Database
from server.feed import Viewer

SUFFIX = ".md"
# A body may hold 200,000 characters (up to 3 bytes each in UTF-8) plus its front matter.
MAX_FILE_BYTES = 1024 * 1024
FRONT_MATTER_FIELDS = ("title", "locale", "category", "tags", "visibility", "teams", "status")
_DELIMITER = "---"
_KEY = re.compile(p.ARTICLE_KEY_PATTERN)
_LOCALE = re.compile(p.LOCALE_PATTERN)
# ISO 639-1: a two-letter language subtag must be one of these (catches "jp" for "ja").
_LANGUAGES = frozenset((
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
    "ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
    "vi vo wa wo xh yi yo za zh zu").split())
_LIKELY = {"jp": "ja", "cn": "zh", "kr": "ko", "gr": "el", "dk": "da", "se": "sv"}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class BadFile(Exception):
    """A file that cannot be imported; the message says why, for a person to fix it."""


@dataclass(frozen=True)
class ArticleFile:
    """One parsed file: the article's fields, teams as written (names or ids)."""

    name: str
    key: str
    locale: str
    title: str
    body: str
    category: str | None
    tags: tuple[str, ...]
    visibility: str
    teams: tuple[str, ...]
    status: str


@dataclass(frozen=True)
class FileProblem:
    name: str
    reason: str


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[FileProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading files


def normal_body(text: str) -> str:
    """The body as stored: LF line ends, no blank lines before or after it."""
    return text.replace("\r\n", "\n").strip("\n")


def _locale_problem(locale: str) -> str | None:
    if not _LOCALE.fullmatch(locale) or len(locale) > p.LOCALE_MAX_CHARS:
        return f"locale {locale!r} is not a language tag (e.g. en, ja, pt-BR)"
    language = locale.split("-", 1)[0]
    if len(language) == 2 and language not in _LANGUAGES:
        hint = f"; did you mean {_LIKELY[language]!r}?" if language in _LIKELY else ""
        return f"unknown locale {locale!r}: {language!r} is not a language code{hint}"
    return None


def _split_front_matter(text: str) -> tuple[str, str]:
    lines = text.split("\n")
    if lines[0].rstrip() != _DELIMITER:
        raise BadFile("no front matter: the file must start with a line '---', then "
                      "title, locale… and another '---' line")
    for i in range(1, len(lines)):
        if lines[i].rstrip() == _DELIMITER:
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:])
    raise BadFile("the front matter has no closing '---' line")


def _text(meta: dict[str, Any], name: str) -> str | None:
    value = meta.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadFile(f"{name}: must be text, not {type(value).__name__} {value!r} "
                      "(put it in quotes)")
    return value


def _text_list(meta: dict[str, Any], name: str) -> tuple[str, ...]:
    value = meta.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise BadFile(f"{name}: must be a list, e.g. [{name[:-1]}-one, {name[:-1]}-two]")
    for item in value:
        if not isinstance(item, str):
            raise BadFile(f"{name}: each entry must be text, not {type(item).__name__} "
                          f"{item!r} (put it in quotes)")
    return tuple(value)


def parse_article(name: str, data: bytes) -> ArticleFile:
    """The article in a file's bytes (``name`` gives its key and maybe its locale)."""
    if not name.endswith(SUFFIX):
        raise BadFile(f"not a Markdown file (the name must end in {SUFFIX})")
    stem = name[:-len(SUFFIX)]
    key, _, name_locale = stem.partition(".")
    if not _KEY.fullmatch(key) or len(key) > p.ARTICLE_KEY_MAX_CHARS:
        raise BadFile(f"the file name must be KEY.md or KEY.LOCALE.md, KEY being letters, "
                      f"digits, - and _ (at most {p.ARTICLE_KEY_MAX_CHARS}); {key!r} is not")
    if len(data) > MAX_FILE_BYTES:
        raise BadFile(f"too big: {len(data):,} bytes (the limit is {MAX_FILE_BYTES:,})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile(f"not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x}); save "
                      "it as UTF-8") from None
    if "\x00" in text:
        raise BadFile("contains a NUL character: is it a binary file?")
    front, rest = _split_front_matter(text.replace("\r\n", "\n"))
    try:
        meta = yaml.load(front, Loader=_Loader) or {}  # a safe loader
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" on line {where.line + 2}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BadFile(f"the front matter is not valid YAML{line}: {problem}") from None
    if not isinstance(meta, dict):
        raise BadFile("the front matter must be 'field: value' lines")
    unknown = sorted(str(k) for k in meta if k not in FRONT_MATTER_FIELDS)
    if unknown:
        raise BadFile(f"unknown field {unknown[0]!r} in the front matter (known: "
                      f"{', '.join(FRONT_MATTER_FIELDS)})")
    title = _text(meta, "title")
    if title is None or not title.strip():
        raise BadFile("no title: add 'title: …' to the front matter")
    locale = _text(meta, "locale")
    if locale is None and not name_locale:
        raise BadFile("no locale: add 'locale: en' (or ja…) to the front matter, or name the "
                      "file KEY.LOCALE.md")
    if locale is not None and name_locale and locale != name_locale:
        raise BadFile(f"the file name says locale {name_locale!r}, the front matter "
                      f"{locale!r}")
    locale = locale or name_locale
    problem = _locale_problem(locale)
    if problem:
        raise BadFile(problem)
    visibility = _text(meta, "visibility") or p.ArticleVisibility.INTERNAL.value
    if visibility not in {v.value for v in p.ArticleVisibility}:
        raise BadFile(f"unknown visibility {visibility!r}: public (customers may see it) or "
                      "internal (agents only)")
    status = _text(meta, "status") or p.ArticleStatus.PUBLISHED.value
    if status not in {s.value for s in p.ArticleStatus}:
        raise BadFile(f"unknown status {status!r}: published (the default), draft or archived")
    body = normal_body(rest)
    if len(body) > p.ARTICLE_BODY_MAX_CHARS:
        raise BadFile(f"too long: the body has {len(body):,} characters (the limit is "
                      f"{p.ARTICLE_BODY_MAX_CHARS:,})")
    article = ArticleFile(
        name=name, key=key, locale=locale, title=title, body=body,
        category=_text(meta, "category"), tags=_text_list(meta, "tags"),
        visibility=visibility, teams=_text_list(meta, "teams"), status=status)
    try:  # the limits the REST API enforces (lengths, counts, characters)
        p.ArticleCreate(key=key, locale=locale, title=title, body=article.body,
                        category=article.category, tags=list(article.tags),
                        visibility=visibility, team_ids=list(article.teams), status=status)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]).replace("team_ids", "teams")
        raise BadFile(f"{where}: {err['msg']}") from None
    return article


def read_folder(folder: Path) -> tuple[list[ArticleFile], list[FileProblem]]:
    """Every ``*.md`` file directly in ``folder``, by name: those that parse, and the
    problems of those that do not (two files for one key and locale: both, since which one
    is meant is the author's call)."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    parsed: list[ArticleFile] = []
    bad: list[FileProblem] = []
    for path in sorted(folder.iterdir(), key=lambda x: x.name):
        if path.suffix != SUFFIX or not path.is_file():
            continue
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise BadFile(f"too big: {size:,} bytes (the limit is {MAX_FILE_BYTES:,})")
            article = parse_article(path.name, path.read_bytes())
        except BadFile as exc:
            bad.append(FileProblem(path.name, str(exc)))
            continue
        except OSError as exc:
            bad.append(FileProblem(path.name, f"cannot read it: {exc.strerror or exc}"))
            continue
        parsed.append(article)
    names: dict[tuple[str, str], list[str]] = {}
    for article in parsed:
        names.setdefault((article.key, article.locale), []).append(article.name)
    good = []
    for article in parsed:
        others = [n for n in names[(article.key, article.locale)] if n != article.name]
        if others:
            bad.append(FileProblem(article.name, f"{', '.join(others)} is the same article "
                                                 f"(key {article.key!r}, locale "
                                                 f"{article.locale!r}): keep one"))
        else:
            good.append(article)
    return good, sorted(bad, key=lambda b: b.name)


def demo_articles() -> list[ArticleFile]:
    """The demo workspace's knowledge base, shipped in ``server/demo_articles``."""
    from importlib.resources import files

    folder = files("server") / "demo_articles"
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(SUFFIX):
            out.append(parse_article(entry.name, entry.read_bytes()))
    return out


# --------------------------------------------------------------------------- writing articles


def supervisor(session: Session, email: str) -> Viewer:
    """The supervisor an import acts as (its versions name them as the author)."""
    agent = session.scalar(select(m.Agent).where(m.Agent.email == normalize_email(email)))
    if agent is None:
        raise ValueError(f"there is no agent with the email {email!r}")
    if agent.role != "supervisor":
        raise ValueError(f"{email} is a {agent.role}: only supervisors write articles")
    teams = session.scalars(select(m.TeamMember.team_id)
                            .where(m.TeamMember.agent_id == agent.id))
    return Viewer(agent_id=agent.id, role=agent.role, team_ids=frozenset(teams))


def team_ids_by_reference(session: Session) -> dict[str, str]:
    """Each team's id by its id and by its name (what a file's ``teams`` may say)."""
    out: dict[str, str] = {}
    for team_id, name in session.execute(select(m.Team.id, m.Team.name)):
        out[team_id] = team_id
        out.setdefault(name, team_id)
    return out


def save_article(session: Session, author: Viewer, article: ArticleFile,
                 teams: dict[str, str], *, is_postgres: bool = False) -> tuple[str, int | None]:
    """Create or change the article with this key and locale: ``created``, ``updated`` or
    ``unchanged``, and the feed head after it. Raises ``BadFile`` for an unknown team and
    ``articles.Refused`` for what the server refuses."""
    team_ids = []
    for ref in article.teams:
        if ref not in teams:
            raise BadFile(f"teams: there is no team named {ref!r} (nor with that id)")
        team_ids.append(teams[ref])
    fields = {"key": article.key, "locale": article.locale, "title": article.title,
              "body": article.body, "category": article.category, "tags": list(article.tags),
              "visibility": article.visibility, "team_ids": team_ids,
              "status": article.status}
    existing = session.scalar(select(m.Article.id).where(
        m.Article.key == article.key, m.Article.locale == article.locale))
    if existing is None:
        _, head = articles.create(session, author, p.ArticleCreate(**fields),
                                  is_postgres=is_postgres)
        return "created", head
    _, head = articles.change(session, author, existing, fields, is_postgres=is_postgres)
    return ("updated" if head is not None else "unchanged"), head


def import_folder(db: Database, folder: Path, author_email: str) -> ImportReport:
    """Import every file in ``folder``, each in its own transaction."""
    files, problems = read_folder(folder)
    with db.read() as s:
        author = supervisor(s, author_email)
        teams = team_ids_by_reference(s)
    report = ImportReport(failed=problems)
    for article in files:
        try:
            with db.write() as s:
                outcome, _ = save_article(s, author, article, teams,
                                          is_postgres=db.is_postgres)
        except BadFile as exc:
            report.failed.append(FileProblem(article.name, str(exc)))
            continue
        except articles.Refused as exc:
            report.failed.append(FileProblem(article.name, exc.message))
            continue
        getattr(report, outcome).append(article.name)
    report.failed.sort(key=lambda f: f.name)
    return report


# --------------------------------------------------------------------------- export


def file_name(key: str, locale: str) -> str:
    return f"{key}.{locale}{SUFFIX}"


def render_article(row: m.Article, team_names: Iterable[str]) -> bytes:
    """The article's file, in the one canonical form an import reads back unchanged."""
    meta: dict[str, Any] = {"title": row.title, "locale": row.locale}
    if row.category is not None:
        meta["category"] = row.category
    tags = orjson.loads(row.tags)
    if tags:
        meta["tags"] = list(tags)
    meta["visibility"] = row.visibility
    names = sorted(team_names)
    if names:
        meta["teams"] = names
    meta["status"] = row.status
    front = yaml.dump(meta, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                      default_flow_style=False, width=1_000_000, line_break="\n")
    body = normal_body(row.body)
    text = f"{_DELIMITER}\n{front}{_DELIMITER}\n" + (f"\n{body}\n" if body else "")
    return text.encode("utf-8")


def _rendered(session: Session) -> Iterator[tuple[str, bytes]]:
    names = {team_id: name for team_id, name in session.execute(select(m.Team.id, m.Team.name))}
    scopes: dict[str, list[str]] = {}
    for article_id, team_id in session.execute(
            select(m.ArticleTeam.article_id, m.ArticleTeam.team_id)):
        scopes.setdefault(article_id, []).append(names[team_id])
    for row in session.scalars(select(m.Article).order_by(m.Article.key, m.Article.locale)):
        yield file_name(row.key, row.locale), render_article(row, scopes.get(row.id, ()))


def export_folder(db: Database, folder: Path) -> ExportReport:
    """Write every article to ``folder`` (made if missing); a file whose bytes are already
    right is left untouched, so its modification time says when it last changed."""
    folder.mkdir(parents=True, exist_ok=True)
    report = ExportReport()
    with db.read() as s:
        rendered = list(_rendered(s))
    for name, data in rendered:
        path = folder / name
        if path.is_file() and path.read_bytes() == data:
            report.unchanged.append(name)
            continue
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        report.written.append(name)
    return report
