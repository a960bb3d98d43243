"""Bootstrap: an agent's whole visible workspace, in pages, pinned to one feed position.

The first page reads the feed head (the snapshot) before any entity. Pages then walk each
entity kind by id (keyset pagination) and send current rows. A row changed after the snapshot
may arrive in its newer state; that is harmless because the client then pulls every change
after the snapshot and applies them in order, ending at the same state as the server.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from protocol.entities import BOOTSTRAP_ORDER, BY_ENTITY, Audience
from protocol.names import Entity
from server import models as m
from server import serialize
from server.feed import Viewer, read_head


class BadPageToken(ValueError):
    pass


@dataclass(frozen=True)
class PageToken:
    snapshot: int
    entity_index: int
    after_id: str

    def encode(self) -> str:
        raw = orjson.dumps([self.snapshot, self.entity_index, self.after_id])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> PageToken:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            snapshot, index, after = orjson.loads(raw)
            if not (isinstance(snapshot, int) and isinstance(index, int)
                    and isinstance(after, str)):
                raise TypeError
            if not 0 <= index < len(BOOTSTRAP_ORDER) or not 0 <= snapshot < 2**63:
                raise ValueError
            if "\x00" in after:  # no id has one, and PostgreSQL text cannot hold it
                raise ValueError
        except (ValueError, TypeError) as exc:
            raise BadPageToken("page_token is not one this server issued") from exc
        return cls(snapshot, index, after)


def _conversation_visible(viewer: Viewer) -> Any:
    clauses = [m.Conversation.assignee_id == viewer.agent_id]
    if viewer.team_ids:
        clauses.append(m.Conversation.team_id.in_(sorted(viewer.team_ids)))
    return or_(*clauses)


def published_visible(viewer: Viewer) -> Any:
    """For a non-supervisor: a published article scoped to no team or to one of theirs."""
    scope = m.ArticleTeam
    clauses = [~exists().where(scope.article_id == m.Article.id)]
    if viewer.team_ids:
        clauses.append(exists().where(scope.article_id == m.Article.id,
                                      scope.team_id.in_(sorted(viewer.team_ids))))
    return and_(m.Article.status == "published", or_(*clauses))


# Each kind's rows as bootstrap reads them (the first selected column is the id): kinds
# sent from the driver's tuples select their serializer's columns (serialize.*_COLUMNS).
_SOURCES: dict[Entity, tuple[type[m.Base], Callable[[], Select[Any]]]] = {
    Entity.TEAM: (m.Team, lambda: select(m.Team)),
    Entity.AGENT: (m.Agent, lambda: select(m.Agent)),
    Entity.CHANNEL: (m.Channel, lambda: select(m.Channel)),
    Entity.TAG: (m.Tag, lambda: select(m.Tag)),
    Entity.TEMPLATE: (m.Template, lambda: select(m.Template)),
    Entity.CANNED_REPLY: (m.CannedReply, lambda: select(m.CannedReply)),
    Entity.CONTACT: (m.Contact,
                     lambda: select(*_columns(m.Contact, serialize.CONTACT_COLUMNS))),
    Entity.CONVERSATION: (m.Conversation, lambda: select(
        *_columns(m.Conversation, serialize.CONVERSATION_COLUMNS),
        m.Channel.type.label("channel_type"),
    ).join(m.Channel, m.Channel.id == m.Conversation.channel_id)),
    Entity.MESSAGE: (m.Message,
                     lambda: select(*_columns(m.Message, serialize.MESSAGE_COLUMNS))),
    Entity.ARTICLE: (m.Article, lambda: select(m.Article)),
}


def _base_query(entity: Entity, viewer: Viewer) -> Select[Any]:
    """Rows of ``entity`` this viewer may see, as its declared audience says
    (protocol.entities); first selected column is the id."""
    model, source = _SOURCES[entity]
    q = source()
    audience = BY_ENTITY[entity].audience
    if viewer.is_supervisor or audience is Audience.EVERYONE:
        return q
    if audience is Audience.TEAM:
        team = model.team_id  # type: ignore[attr-defined]
        return q.where(or_(team.is_(None), team.in_(sorted(viewer.team_ids))))
    if audience is Audience.PUBLISHED:
        return q.where(published_visible(viewer))
    visible = _conversation_visible(viewer)
    if audience is Audience.CONTACT:
        return q.where(exists().where(m.Conversation.contact_id == model.id, visible))
    if entity is Entity.CONVERSATION:
        return q.where(visible)
    # A correlated EXISTS keeps the walk along the row's id index (one conversation lookup
    # per row); a join lets SQLite gather and sort every visible row on every page.
    return q.where(exists().where(
        m.Conversation.id == model.conversation_id, visible))  # type: ignore[attr-defined]


_ID_COLUMNS = {entity: model.id for entity, (model, _source) in _SOURCES.items()}


def _columns(model: type[m.Base], names: tuple[str, ...]) -> list[Any]:
    table = model.__table__
    return [table.c[name] for name in names]


# Kinds sent from the driver's own tuples (columns as in serialize.*_COLUMNS): their columns
# are strings and integers, which need no result processing, and skipping SQLAlchemy's row
# objects for a million rows is most of bootstrap's speed.
_TUPLE_KINDS = (Entity.CONTACT, Entity.CONVERSATION, Entity.MESSAGE)


def _serialize_page(session: Session, entity: Entity, rows: list[Any]) -> list[dict[str, Any]]:
    """Payloads of the kinds other than messages (those go by ``_group`` as values)."""
    if entity is Entity.CONVERSATION:
        conversation = serialize.conversation_from_tuple
        return [conversation(r, r[-1]) for r in rows]
    if entity is Entity.CONTACT:
        idents = _identities(session, [r[0] for r in rows])
        return [serialize.contact_from_tuple(r, idents.get(r[0], ())) for r in rows]
    if entity is Entity.AGENT:
        teams = serialize.team_ids_by_agent(session, [r.id for r in rows])
        return [serialize.agent(r, teams.get(r.id, ())) for r in rows]
    if entity is Entity.ARTICLE:
        scopes = serialize.team_ids_by_article(session, [r.id for r in rows])
        return [serialize.article(r, scopes.get(r.id, ())) for r in rows]
    simple: dict[Entity, Callable[[Any], dict[str, Any]]] = {
        Entity.TEAM: serialize.team,
        Entity.CHANNEL: serialize.channel,
        Entity.TAG: serialize.tag,
        Entity.TEMPLATE: serialize.template,
        Entity.CANNED_REPLY: serialize.canned_reply,
    }
    fn = simple[entity]
    return [fn(r) for r in rows]


def _identities(session: Session, contact_ids: list[str]) -> dict[str, list[Any]]:
    """(channel_type, handle, opted_out) of each contact's identities."""
    out: dict[str, list[Any]] = defaultdict(list)
    if contact_ids:
        ci = m.ContactIdentity
        for contact_id, channel_type, handle, opted_out in session.execute(
            select(ci.contact_id, ci.channel_type, ci.handle, ci.opted_out).where(
                ci.contact_id.in_(contact_ids)
            )
        ):
            out[contact_id].append((channel_type, handle, opted_out))
    return out


def _fetch(session: Session, entity: Entity, viewer: Viewer, after: str, limit: int) -> list[Any]:
    id_col = _ID_COLUMNS[entity]
    q = _base_query(entity, viewer).where(id_col > after).order_by(id_col).limit(limit)
    if entity in _TUPLE_KINDS:
        result = session.connection().execute(q)
        try:
            return list(result.cursor.fetchall())
        finally:
            result.close()
    return list(session.scalars(q).all())


def totals(session: Session, viewer: Viewer) -> dict[str, int]:
    out: dict[str, int] = {}
    for entity in BOOTSTRAP_ORDER:
        sub = _base_query(entity, viewer).subquery()
        out[entity.value] = int(session.scalar(select(func.count()).select_from(sub)) or 0)
    return out


@dataclass
class Group:
    """Rows of one entity kind in a page: payloads as value lists in ``columns`` order."""

    entity: str
    columns: list[str]
    rows: list[Any]


@dataclass
class BootstrapPage:
    groups: list[Group]
    next_token: str | None
    cursor: int | None
    snapshot: int
    totals: dict[str, int] | None


def bootstrap_page(
    session: Session, viewer: Viewer, token: str | None, limit: int
) -> BootstrapPage:
    if token is None:
        snapshot, _pruned = read_head(session)
        state = PageToken(snapshot, 0, "")
        first_totals: dict[str, int] | None = totals(session, viewer)
    else:
        state = PageToken.decode(token)
        first_totals = None
    groups: list[Group] = []
    count = 0
    index, after = state.entity_index, state.after_id
    while index < len(BOOTSTRAP_ORDER) and count < limit:
        entity = BOOTSTRAP_ORDER[index]
        want = limit - count
        rows = _fetch(session, entity, viewer, after, want)
        if rows:
            groups.append(_group(session, entity, rows))
            count += len(rows)
        if len(rows) < want:
            index, after = index + 1, ""
        else:
            after = rows[-1][0] if entity in _TUPLE_KINDS else rows[-1].id
    done = index >= len(BOOTSTRAP_ORDER)
    return BootstrapPage(
        groups=groups,
        next_token=None if done else PageToken(state.snapshot, index, after).encode(),
        cursor=state.snapshot if done else None,
        snapshot=state.snapshot,
        totals=first_totals,
    )


def _group(session: Session, entity: Entity, rows: list[Any]) -> Group:
    if entity is Entity.MESSAGE:  # a million of them: straight from the driver's tuples
        return Group(entity.value, list(BY_ENTITY[entity].field_names),
                     list(map(serialize.message_values, rows)))
    payloads = _serialize_page(session, entity, rows)
    # The serializers write the declared fields in their declared order (a test holds them
    # to it), so each payload's values are the row; checked once a page, never misaligned.
    columns = list(BY_ENTITY[entity].field_names)
    if list(payloads[0]) != columns:
        raise AssertionError(f"{entity.value} payloads are not its declared fields: "
                             f"{list(payloads[0])}")
    return Group(entity.value, columns, [tuple(d.values()) for d in payloads])


def encode_page(page: BootstrapPage, *, columns: bool = False) -> bytes:
    """The page as JSON: ``items`` (one object per row, the documented default) or, when
    asked, ``groups`` of value rows under their column names (``format=columns``: less to
    encode and parse for a million rows)."""
    body: dict[str, Any] = {
        "next_page_token": page.next_token,
        "cursor": page.cursor,
        "snapshot_seq": page.snapshot,
        "totals": page.totals,
    }
    if columns:
        body["groups"] = [{"entity": g.entity, "columns": g.columns, "rows": g.rows}
                          for g in page.groups]
    else:
        body["items"] = [
            {"entity": g.entity, "id": data["id"], "data": data}
            for g in page.groups
            for data in (dict(zip(g.columns, row, strict=True)) for row in g.rows)
        ]
    return orjson.dumps(body)
