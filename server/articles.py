"""Knowledge articles: supervisors write them (create, edit, publish, archive, restore a
version), everyone reads what they may see. Each save that changes something is a new
version holding every field, its author and time, and which fields changed; the desk gets
the article through the change feed (``server.emit.emit_article``).

The routes are thin: the storage work is the functions above them, each one transaction.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations, which
# name a type made inside ``router``.
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from protocol import wire as p
from server import models as m
from server import serialize
from server.bootstrap import published_visible
from server.emit import emit_article
from server.feed import ChangeBuffer, Viewer, now_ms

T = TypeVar("T")

# An article's fields a version keeps (and "what changed" names), in wire order.
FIELDS = ("key", "locale", "title", "body", "category", "tags", "visibility", "team_ids",
          "status")
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 100, 500
ArticleId = Annotated[p.Text, Path(max_length=64)]


class Refused(Exception):
    """A request the server will not carry out: an HTTP status, a code and a sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# --------------------------------------------------------------------------- storage


def _require_supervisor(viewer: Viewer) -> None:
    if not viewer.is_supervisor:
        raise Refused(403, "not_permitted", "Only supervisors may change articles or see "
                                            "their version history; agents and trainees "
                                            "may read the published ones.")


def _visible(q: Any, viewer: Viewer) -> Any:
    return q if viewer.is_supervisor else q.where(published_visible(viewer))


def _snapshot(row: m.Article, team_ids: list[str]) -> dict[str, Any]:
    return {"key": row.key, "locale": row.locale, "title": row.title, "body": row.body,
            "category": row.category, "tags": orjson.loads(row.tags),
            "visibility": row.visibility, "team_ids": sorted(team_ids), "status": row.status}


def _team_ids(session: Session, article_id: str) -> list[str]:
    return sorted(session.scalars(
        select(m.ArticleTeam.team_id).where(m.ArticleTeam.article_id == article_id)))


def _tags(tags: list[str]) -> list[str]:
    """Trimmed, each once, in the order given."""
    return list(dict.fromkeys(t.strip() for t in tags))


def _check_teams(session: Session, team_ids: list[str]) -> list[str]:
    wanted = sorted(set(team_ids))
    found = set(session.scalars(select(m.Team.id).where(m.Team.id.in_(wanted))))
    missing = [t for t in wanted if t not in found]
    if missing:
        raise Refused(422, "unknown_team", f"Invalid request: team_ids: there is no team "
                                           f"with the id {missing[0]!r}.")
    return wanted


def _check_key_free(session: Session, key: str, locale: str, article_id: str | None) -> None:
    other = session.scalar(select(m.Article.id).where(
        m.Article.key == key, m.Article.locale == locale))
    if other is not None and other != article_id:
        raise Refused(409, "article_key_taken",
                      f"An article with the key {key!r} in locale {locale!r} exists already "
                      f"(id {other}); edit that one, or choose another key.")


def _save_version(session: Session, row: m.Article, fields: dict[str, Any],
                  previous: dict[str, Any] | None, author_id: str | None, now: int) -> None:
    changed = list(FIELDS) if previous is None else [
        f for f in FIELDS if fields[f] != previous[f]]
    session.add(m.ArticleVersion(
        article_id=row.id, version=row.version, key=fields["key"], locale=fields["locale"],
        title=fields["title"], body=fields["body"], category=fields["category"],
        tags=orjson.dumps(fields["tags"]).decode(), visibility=fields["visibility"],
        team_ids=orjson.dumps(fields["team_ids"]).decode(), status=fields["status"],
        author_id=author_id, created_at=now, changed=orjson.dumps(changed).decode()))


def create(session: Session, viewer: Viewer, body: p.ArticleCreate, *,
           is_postgres: bool = False, author_id: str | None = None
           ) -> tuple[dict[str, Any], int | None]:
    """A new article (version 1); its payload and the feed head after it."""
    _require_supervisor(viewer)
    fields = {"key": body.key, "locale": body.locale, "title": body.title, "body": body.body,
              "category": body.category, "tags": _tags(body.tags),
              "visibility": body.visibility.value,
              "team_ids": _check_teams(session, body.team_ids), "status": body.status.value}
    _check_key_free(session, body.key, body.locale, None)
    now = now_ms()
    author = author_id or viewer.agent_id
    row = m.Article(id=str(uuid.uuid4()), key=fields["key"], locale=fields["locale"],
                    title=fields["title"], body=fields["body"], category=fields["category"],
                    tags=orjson.dumps(fields["tags"]).decode(),
                    visibility=fields["visibility"], status=fields["status"], version=1,
                    updated_by=author, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    session.add_all(m.ArticleTeam(article_id=row.id, team_id=t) for t in fields["team_ids"])
    _save_version(session, row, fields, None, author, now)
    session.flush()
    data = serialize.article(row, fields["team_ids"])
    buf = ChangeBuffer(session, is_postgres=is_postgres)
    emit_article(buf, data)
    return data, buf.flush()


def _load_for_write(session: Session, viewer: Viewer, article_id: str) -> m.Article:
    _require_supervisor(viewer)
    row = session.get(m.Article, article_id)
    if row is None:
        raise Refused(404, "article_not_found", "There is no article with this id.")
    return row


def change(session: Session, viewer: Viewer, article_id: str, new: dict[str, Any], *,
           base_version: int | None = None, is_postgres: bool = False
           ) -> tuple[dict[str, Any], int | None]:
    """Set the fields in ``new`` (names from ``FIELDS``); a new version when anything
    differs, none when nothing does. The payload and the feed head after it."""
    row = _load_for_write(session, viewer, article_id)
    if base_version is not None and base_version != row.version:
        raise Refused(409, "version_conflict",
                      f"The article has changed since version {base_version} (it is at "
                      f"version {row.version} now); load it again and redo the edit.")
    before = _snapshot(row, _team_ids(session, row.id))
    after = {**before, **new}
    if "tags" in new:
        after["tags"] = _tags(new["tags"])
    if "team_ids" in new:
        after["team_ids"] = _check_teams(session, new["team_ids"])
    if after == before:
        return serialize.article(row, before["team_ids"]), None
    if (after["key"], after["locale"]) != (before["key"], before["locale"]):
        _check_key_free(session, after["key"], after["locale"], row.id)
    now = now_ms()
    row.key, row.locale, row.title, row.body = (after["key"], after["locale"], after["title"],
                                                after["body"])
    row.category, row.tags = after["category"], orjson.dumps(after["tags"]).decode()
    row.visibility, row.status = after["visibility"], after["status"]
    row.version += 1
    row.updated_by, row.updated_at = viewer.agent_id, now
    if after["team_ids"] != before["team_ids"]:
        session.execute(delete(m.ArticleTeam).where(m.ArticleTeam.article_id == row.id))
        session.add_all(m.ArticleTeam(article_id=row.id, team_id=t) for t in after["team_ids"])
    _save_version(session, row, after, before, viewer.agent_id, now)
    session.flush()
    data = serialize.article(row, after["team_ids"])
    buf = ChangeBuffer(session, is_postgres=is_postgres)
    emit_article(buf, data, (before["status"], before["team_ids"]))
    return data, buf.flush()


def edit(session: Session, viewer: Viewer, article_id: str, body: p.ArticleEdit, *,
         is_postgres: bool = False) -> tuple[dict[str, Any], int | None]:
    given = body.model_fields_set - {"base_version"}
    new: dict[str, Any] = {}
    for name in given:
        value = getattr(body, name)
        if value is None and name != "category":
            raise Refused(422, "invalid_request", f"Invalid request: {name}: may be left out, "
                                                  "not null.")
        new[name] = value.value if isinstance(value, p.ArticleVisibility) else value
    return change(session, viewer, article_id, new, base_version=body.base_version,
                  is_postgres=is_postgres)


def restore(session: Session, viewer: Viewer, article_id: str, version: int, *,
            is_postgres: bool = False) -> tuple[dict[str, Any], int | None]:
    """A new version equal to ``version`` (every field, the status too)."""
    _load_for_write(session, viewer, article_id)
    old = session.get(m.ArticleVersion, (article_id, version))
    if old is None:
        raise Refused(404, "version_not_found", f"This article has no version {version}.")
    fields = serialize.article_version(old)
    return change(session, viewer, article_id, {f: fields[f] for f in FIELDS},
                  is_postgres=is_postgres)


def read_one(session: Session, viewer: Viewer, article_id: str) -> dict[str, Any]:
    row = session.scalar(_visible(select(m.Article).where(m.Article.id == article_id), viewer))
    if row is None:  # or not the viewer's to see: the same answer, so ids reveal nothing
        raise Refused(404, "article_not_found", "There is no article with this id.")
    return serialize.article(row, _team_ids(session, row.id))


def read_list(session: Session, viewer: Viewer, *, locale: str | None, status: str | None,
              key: str | None, after: str | None, limit: int) -> p.ArticleList:
    q = _visible(select(m.Article), viewer)
    for column, value in ((m.Article.locale, locale), (m.Article.status, status),
                          (m.Article.key, key), (m.Article.id, after)):
        if value is not None:
            q = q.where(column > value if column is m.Article.id else column == value)
    rows = list(session.scalars(q.order_by(m.Article.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    scopes = serialize.team_ids_by_article(session, [r.id for r in rows])
    return p.ArticleList(
        articles=[p.ArticleData.model_validate(serialize.article(r, scopes.get(r.id, ())))
                  for r in rows],
        next_after=rows[-1].id if more else None)


def versions(session: Session, viewer: Viewer, article_id: str) -> p.ArticleVersionList:
    _load_for_write(session, viewer, article_id)  # history holds drafts: supervisors only
    rows = session.scalars(select(m.ArticleVersion)
                           .where(m.ArticleVersion.article_id == article_id)
                           .order_by(m.ArticleVersion.version.desc()))
    return p.ArticleVersionList(versions=[
        p.ArticleVersion.model_validate(serialize.article_version(r)) for r in rows])


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Wiring:
    """What the routes take from the app: the signed-in viewer, transactions, the feed's
    wake-up, the body reader and the OpenAPI error documentation."""

    current: Callable[..., Any]  # a dependency giving an object with ``.viewer``
    read: Callable[[Callable[[Session], Any]], Any]  # fn(session) in a read transaction
    write: Callable[[Callable[[Session], Any]], Any]  # … in a write transaction (retried)
    published: Callable[[int], None]
    read_body: Callable[[Request, type[BaseModel]], Any]  # awaitable: the body as the model
    errors: Callable[..., dict[int | str, dict[str, Any]]]
    json_body: Callable[[type[BaseModel]], dict[str, Any]]
    is_postgres: bool


# The request bodies the routes read themselves (after authenticating).
RAW_BODIES: tuple[type[BaseModel], ...] = (p.ArticleCreate, p.ArticleEdit)

_WRITE_ERRORS = {
    "e403": "Only supervisors may change articles or see their history (not_permitted)",
    "e404": "No such article (article_not_found)",
    "e409": "Another article has this key in this locale (article_key_taken), or the "
            "article moved on from base_version (version_conflict)",
    "e422": "A field breaks the schema, or team_ids names no team (invalid_request, "
            "unknown_team)",
}


def router(w: Wiring) -> APIRouter:
    api = APIRouter(prefix=f"{p.API_PREFIX}/articles", tags=["articles"])
    Authed = Annotated[Any, Depends(w.current)]

    def saved(result: tuple[dict[str, Any], int | None]) -> Any:
        data, head = result
        if head is not None:
            w.published(head)
        return p.ArticleData.model_validate(data)

    @api.get("", response_model=p.ArticleList, responses=w.errors(401))
    def list_articles(
        ctx: Authed,
        locale: Annotated[str | None, Query(max_length=p.LOCALE_MAX_CHARS)] = None,
        status: p.ArticleStatus | None = None,
        key: Annotated[str | None, Query(max_length=p.ARTICLE_KEY_MAX_CHARS)] = None,
        after: Annotated[str | None, Query(max_length=64, description=(
            "The next_after of the page before"))] = None,
        limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = LIST_LIMIT_DEFAULT,
    ) -> p.ArticleList:
        """The articles this agent may see (supervisors: every one, drafts and archived
        too; agents and trainees: published ones for every team or one of theirs), by id."""
        return w.read(lambda s: read_list(
            s, ctx.viewer, locale=_no_nul(locale), status=status.value if status else None,
            key=_no_nul(key), after=_no_nul(after), limit=limit))

    @api.post("", response_model=p.ArticleData, status_code=201,
              responses=w.errors(400, 401, 403, 409, **_WRITE_ERRORS),
              openapi_extra=w.json_body(p.ArticleCreate))
    async def create_article(ctx: Authed, request: Request) -> Any:
        """A new article (a draft unless ``status`` says otherwise): version 1."""
        _require_supervisor(ctx.viewer)
        body = await w.read_body(request, p.ArticleCreate)
        return saved(await _threaded(w.write, lambda s: create(
            s, ctx.viewer, body, is_postgres=w.is_postgres)))

    @api.get("/{article_id}", response_model=p.ArticleData,
             responses=w.errors(401, 404, e404="No such article, or not one this agent may "
                                               "see (article_not_found)"))
    def get_article(ctx: Authed, article_id: ArticleId) -> Any:
        return w.read(lambda s: read_one(s, ctx.viewer, article_id))

    @api.patch("/{article_id}", response_model=p.ArticleData,
               responses=w.errors(400, 401, 403, 404, 409, **_WRITE_ERRORS),
               openapi_extra=w.json_body(p.ArticleEdit))
    async def edit_article(ctx: Authed, article_id: ArticleId, request: Request) -> Any:
        """Change the fields given: a new version when anything differs."""
        _require_supervisor(ctx.viewer)
        body = await w.read_body(request, p.ArticleEdit)
        return saved(await _threaded(w.write, lambda s: edit(
            s, ctx.viewer, article_id, body, is_postgres=w.is_postgres)))

    def _status_route(status: p.ArticleStatus, doc: str) -> Callable[..., Any]:
        def route(ctx: Authed, article_id: ArticleId) -> Any:
            return saved(w.write(lambda s: change(
                s, ctx.viewer, article_id, {"status": status.value},
                is_postgres=w.is_postgres)))
        route.__doc__ = doc
        return route

    api.post("/{article_id}/publish", response_model=p.ArticleData,
             responses=w.errors(401, 403, 404, **_WRITE_ERRORS),
             name="publish_article")(_status_route(
                 p.ArticleStatus.PUBLISHED, "Publish: every desk that may see it gets it."))
    api.post("/{article_id}/archive", response_model=p.ArticleData,
             responses=w.errors(401, 403, 404, **_WRITE_ERRORS),
             name="archive_article")(_status_route(
                 p.ArticleStatus.ARCHIVED, "Archive: agents' desks drop it; supervisors "
                                           "keep it."))

    @api.get("/{article_id}/versions", response_model=p.ArticleVersionList,
             responses=w.errors(401, 403, 404, **_WRITE_ERRORS))
    def list_versions(ctx: Authed, article_id: ArticleId) -> p.ArticleVersionList:
        """Every saved version, newest first (supervisors only: it holds drafts)."""
        return w.read(lambda s: versions(s, ctx.viewer, article_id))

    @api.post("/{article_id}/versions/{version}/restore", response_model=p.ArticleData,
              responses=w.errors(401, 403, 404, 409, **{
                  **_WRITE_ERRORS, "e404": "No such article or version (article_not_found, "
                                           "version_not_found)"}))
    def restore_version(ctx: Authed, article_id: ArticleId,
                        version: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Any:
        """A new version equal to that one (every field, its status too); nothing happens
        when the article equals it already."""
        return saved(w.write(lambda s: restore(s, ctx.viewer, article_id, version,
                                               is_postgres=w.is_postgres)))

    return api


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise Refused(422, "invalid_request", "Invalid request: a parameter contains a NUL "
                                              "character.")
    return value


async def _threaded(fn: Callable[[Callable[[Session], T]], T], work: Callable[[Session], T]
                    ) -> T:
    return await run_in_threadpool(fn, work)
