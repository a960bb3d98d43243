"""The sync wire protocol: request and response models shared by the desk and the server.

Defined once here; the server imports these models (and its OpenAPI document is generated
from them), the client validates what it receives with them. Timestamps on the wire are
UTC milliseconds since the Unix epoch (``*_at`` fields), which keeps 1M-row bootstraps cheap
to encode and leaves formatting to the desk.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from protocol import entities

# The protocol's names, defined without pydantic in protocol.names (modules that only need a
# name import them from there); re-exported here with the wire models.
from protocol.names import (  # noqa: F401
    API_PREFIX,
    ARTICLE_BODY_MAX_CHARS,
    ARTICLE_CATEGORY_MAX_CHARS,
    ARTICLE_KEY_MAX_CHARS,
    ARTICLE_MAX_TAGS,
    ARTICLE_MAX_TEAMS,
    ARTICLE_TAG_MAX_CHARS,
    ARTICLE_TITLE_MAX_CHARS,
    DISPLAY_NAME_MAX_CHARS,
    EMAIL_MAX_CHARS,
    HANDLE_MAX_CHARS,
    LOCALE_MAX_CHARS,
    MAX_EPOCH_MS,
    MAX_MUTATIONS_PER_PUSH,
    MAX_TEXT_CHARS,
    MESSAGE_ID_MAX_CHARS,
    MUTATION_NAME_MAX_CHARS,
    PASSWORD_MAX_CHARS,
    PROVIDER_ID_MAX_CHARS,
    SUBJECT_MAX_CHARS,
    TEMPLATE_MAX_CHARS,
    TOKEN_MAX_CHARS,
    ArticleStatus,
    ArticleVisibility,
    ChannelType,
    ConversationStatus,
    Delivery,
    Direction,
    Entity,
    MutationName,
    MutationStatus,
    Priority,
    RejectReason,
    Role,
)

PROTOCOL_VERSION = 1

EpochMs = Annotated[int, Field(description="UTC milliseconds since the Unix epoch")]
# In requests: a JSON integer (strict: not a boolean, float or string) in 0..MAX_EPOCH_MS.
EpochMsIn = Annotated[int, Field(
    strict=True, ge=0, le=MAX_EPOCH_MS,
    description="UTC milliseconds since the Unix epoch, 0 to 253402300799999 (year 9999), "
                "written as an integer (not true/false, 1.0 or a string)",
)]


def _no_nul(value: str) -> str:
    # NUL cannot be stored in PostgreSQL text; refuse it the same way on every engine.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# The schema says it too (as a pattern), so generated clients and fuzzers know the rule.
NO_NUL_PATTERN = "^[^\\u0000]*$"
Text = Annotated[str, AfterValidator(_no_nul), Field(json_schema_extra={
    "pattern": NO_NUL_PATTERN,
    "description": "Text without NUL (U+0000) characters; a NUL gets 422",
})]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Lenient(BaseModel):
    """Entity payloads: a newer server may add fields an older client ignores."""

    model_config = ConfigDict(extra="ignore")


# --------------------------------------------------------------------------- entity payloads


class ContactIdentityData(_Lenient):
    channel_type: ChannelType
    handle: str
    opted_out: bool = False


_TYPES: dict[entities.Type, Any] = {
    entities.Type.TEXT: str,
    entities.Type.INT: int,
    entities.Type.BOOL: bool,
    entities.Type.MS: EpochMs,
    entities.Type.TEXT_LIST: list[str],
    entities.Type.TEXT_MAP: dict[str, str],
    entities.Type.IDENTITIES: list[ContactIdentityData],
}


def _data_model(kind: entities.Kind) -> type[_Lenient]:
    """A kind's payload model, from its declaration (``protocol.entities``)."""
    fields: dict[str, Any] = {}
    for f in kind.fields:
        annotation = f.enum or _TYPES[f.type]
        if f.nullable:
            fields[f.name] = (annotation | None, None)
        elif f.required:
            fields[f.name] = (annotation, ...)
        elif isinstance(f.default, list | dict):  # a fresh one per payload
            fields[f.name] = (annotation, Field(default_factory=type(f.default)))
        else:
            fields[f.name] = (annotation, f.default)
    name = "".join(part.title() for part in kind.entity.value.split("_")) + "Data"
    model = create_model(name, __base__=_Lenient, __module__=__name__, **fields)
    model.__doc__ = kind.doc or None
    return model


ENTITY_MODELS: dict[Entity, type[_Lenient]] = {
    kind.entity: _data_model(kind) for kind in entities.KINDS}
TeamData = ENTITY_MODELS[Entity.TEAM]
AgentData = ENTITY_MODELS[Entity.AGENT]
ChannelData = ENTITY_MODELS[Entity.CHANNEL]
TagData = ENTITY_MODELS[Entity.TAG]
TemplateData = ENTITY_MODELS[Entity.TEMPLATE]
CannedReplyData = ENTITY_MODELS[Entity.CANNED_REPLY]
ContactData = ENTITY_MODELS[Entity.CONTACT]
ConversationData = ENTITY_MODELS[Entity.CONVERSATION]
MessageData = ENTITY_MODELS[Entity.MESSAGE]
ArticleData = ENTITY_MODELS[Entity.ARTICLE]


# --------------------------------------------------------------------------- errors


class ErrorBody(_Model):
    """Every non-2xx answer: a machine code and a sentence a person can act on."""

    error: str
    message: str
    retry_after: float | None = None


# --------------------------------------------------------------------------- auth


class LoginRequest(_Model):
    email: Text = Field(min_length=3, max_length=EMAIL_MAX_CHARS)
    password: Text = Field(min_length=1, max_length=PASSWORD_MAX_CHARS)


class RefreshRequest(_Model):
    refresh_token: Text = Field(min_length=1, max_length=TOKEN_MAX_CHARS)


class LogoutRequest(_Model):
    refresh_token: Text | None = Field(default=None, max_length=TOKEN_MAX_CHARS)


class TokenPair(_Model):
    access_token: str
    access_expires_at: EpochMs
    refresh_token: str
    refresh_expires_at: EpochMs
    token_type: Literal["bearer"] = "bearer"


class LoginResponse(TokenPair):
    agent: AgentData
    server_time: EpochMs


# --------------------------------------------------------------------------- sync feed


class Op(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class Change(_Model):
    seq: int
    entity: Entity
    id: str
    op: Op
    data: dict[str, Any] | None = Field(
        default=None, description="The entity's full state for upserts; null for deletes"
    )


class PullResponse(_Model):
    changes: list[Change]
    cursor: int = Field(description="Pass back as ?cursor= to continue after these changes")
    has_more: bool
    last_mutation_id: int = Field(
        description="Highest mutation id the server has settled for the requesting client_id "
        "(0 when none or no client_id was given)"
    )


class BootstrapItem(_Model):
    entity: Entity
    id: str
    data: dict[str, Any]


class BootstrapResponse(_Model):
    items: list[BootstrapItem]
    next_page_token: str | None = Field(
        description="Pass back as ?page_token= for the next page; null on the last page"
    )
    cursor: int | None = Field(
        description="On the last page only: the change sequence position to pull from"
    )
    snapshot_seq: int
    totals: dict[str, int] | None = Field(
        default=None, description="On the first page only: rows per entity the bootstrap will send"
    )


class BootstrapFormat(StrEnum):
    ITEMS = "items"
    COLUMNS = "columns"


class BootstrapGroup(_Model):
    entity: Entity
    columns: list[str] = Field(description="The payload fields, in the order of each row")
    rows: list[list[Any]] = Field(description="One payload per row, as values in column order")


class BootstrapColumnsResponse(_Model):
    """A bootstrap page asked for with ``format=columns``: the same rows as ``items`` would
    carry, grouped by kind (in bootstrap order), without repeating field names per row."""

    groups: list[BootstrapGroup]
    next_page_token: str | None
    cursor: int | None
    snapshot_seq: int
    totals: dict[str, int] | None = None


class Mutation(_Model):
    # strict: ``true`` is not mutation 1 (pydantic's lax mode takes a boolean for an int).
    id: int = Field(strict=True, ge=1,
                    description="Monotonic per client_id, starting at 1, no gaps; written as "
                                "an integer (not true, 1.0 or a string)")
    name: str = Field(max_length=MUTATION_NAME_MAX_CHARS)
    args: dict[str, Any] = Field(default_factory=dict)


class PushRequest(_Model):
    client_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    mutations: list[Mutation] = Field(max_length=MAX_MUTATIONS_PER_PUSH)


class MutationError(_Model):
    code: RejectReason
    message: str


class MutationResult(_Model):
    id: int
    status: MutationStatus
    error: MutationError | None = None
    change_seq: int | None = Field(
        default=None, description="Position of the last change this mutation produced"
    )
    original_status: MutationStatus | None = Field(
        default=None, description="For duplicates: what happened the first time"
    )


class PushResponse(_Model):
    results: list[MutationResult]
    last_mutation_id: int
    stopped_at_gap: bool = Field(
        default=False,
        description="True when a mutation id skipped ahead of last_mutation_id + 1; the rest of "
        "the batch was not looked at and must be pushed again starting at last_mutation_id + 1",
    )


# --------------------------------------------------------------------------- mutation arguments


class SendMessageArgs(_Model):
    conversation_id: str
    message_id: Text = Field(min_length=8, max_length=MESSAGE_ID_MAX_CHARS,
                             description="Client-generated UUID")
    body: Text = Field(max_length=MAX_TEXT_CHARS)
    template: Text | None = Field(default=None, max_length=TEMPLATE_MAX_CHARS)
    human_agent_tag: bool = False


class AddNoteArgs(_Model):
    conversation_id: str
    message_id: Text = Field(min_length=8, max_length=MESSAGE_ID_MAX_CHARS)
    body: Text = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    mentions: list[str] = Field(default_factory=list, max_length=50)


class SetStatusArgs(_Model):
    conversation_id: str
    status: ConversationStatus
    snoozed_until: EpochMsIn | None = None


class AssignArgs(_Model):
    """Keys that are present are changed: ``agent_id: null`` unassigns the agent."""

    model_config = ConfigDict(extra="forbid")
    conversation_id: str
    agent_id: str | None = None
    team_id: str | None = None


class SetPriorityArgs(_Model):
    conversation_id: str
    priority: Priority


class TagArgs(_Model):
    conversation_id: str
    tag: Text = Field(min_length=1, max_length=64)


class MarkReadArgs(_Model):
    conversation_id: str


# (Which intent takes which of these models: protocol.intents, the one declaration.)


# --------------------------------------------------------------------------- articles


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# A file name on every system (the import's): letters, digits, - and _, no dots or slashes.
ARTICLE_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
# A language tag: en, ja, pt-BR, zh-Hant.
LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
ArticleKey = Annotated[str, Field(min_length=1, max_length=ARTICLE_KEY_MAX_CHARS,
                                  pattern=ARTICLE_KEY_PATTERN,
                                  description="The article's file name (letters, digits, - "
                                              "and _), unique per locale")]
Locale = Annotated[str, Field(min_length=2, max_length=LOCALE_MAX_CHARS, pattern=LOCALE_PATTERN,
                              description="A language tag: en, ja, pt-BR")]
ArticleTitle = Annotated[Text, AfterValidator(_not_blank),
                         Field(min_length=1, max_length=ARTICLE_TITLE_MAX_CHARS)]
ArticleBody = Annotated[Text, Field(max_length=ARTICLE_BODY_MAX_CHARS,
                                    description="Markdown")]
ArticleCategory = Annotated[Text, AfterValidator(_not_blank),
                            Field(min_length=1, max_length=ARTICLE_CATEGORY_MAX_CHARS)]
ArticleTag = Annotated[Text, AfterValidator(_not_blank),
                       Field(min_length=1, max_length=ARTICLE_TAG_MAX_CHARS)]
TeamIds = Annotated[list[Annotated[Text, Field(min_length=1, max_length=64)]],
                    Field(max_length=ARTICLE_MAX_TEAMS,
                          description="The teams that may see it; empty: every team")]
ArticleTags = Annotated[list[ArticleTag], Field(max_length=ARTICLE_MAX_TAGS)]


class ArticleCreate(_Model):
    key: ArticleKey
    locale: Locale
    title: ArticleTitle
    body: ArticleBody = ""
    category: ArticleCategory | None = None
    tags: ArticleTags = Field(default_factory=list)
    visibility: ArticleVisibility = Field(
        default=ArticleVisibility.INTERNAL,
        description="public: may be shown to customers; internal (the default): agents only")
    team_ids: TeamIds = Field(default_factory=list)
    status: ArticleStatus = Field(default=ArticleStatus.DRAFT,
                                  description="draft (the default), published or archived")


class ArticleEdit(_Model):
    """The fields given are changed (``category: null`` clears it); the rest stay."""

    key: ArticleKey | None = None
    locale: Locale | None = None
    title: ArticleTitle | None = None
    body: ArticleBody | None = None
    category: ArticleCategory | None = None
    tags: ArticleTags | None = None
    visibility: ArticleVisibility | None = None
    team_ids: TeamIds | None = None
    base_version: int | None = Field(
        default=None, strict=True, ge=1,
        description="The version this edit was made from: if the article has moved on since, "
                    "nothing is changed and the answer is 409 version_conflict")


class ArticleList(_Model):
    articles: list[ArticleData]  # type: ignore[valid-type]
    next_after: str | None = Field(
        description="Pass back as ?after= for the next page; null on the last page")


class ArticleVersion(_Model):
    """One saved version of an article: its fields as they were saved, who saved it and
    when, and which fields differ from the version before (all of them for the first)."""

    version: int
    key: str
    locale: str
    title: str
    body: str
    category: str | None
    tags: list[str]
    visibility: ArticleVisibility
    team_ids: list[str]
    status: ArticleStatus
    author_id: str | None
    created_at: EpochMs
    changed: list[str]


class ArticleVersionList(_Model):
    versions: list[ArticleVersion] = Field(description="Newest first")


# --------------------------------------------------------------------------- channels


class InboundMessage(_Model):
    handle: Text = Field(min_length=1, max_length=HANDLE_MAX_CHARS,
                        description="The customer's address here")
    display_name: Text | None = Field(default=None, max_length=DISPLAY_NAME_MAX_CHARS)
    text: Text = Field(max_length=MAX_TEXT_CHARS)
    subject: Text | None = Field(default=None, max_length=SUBJECT_MAX_CHARS)
    provider_message_id: Text = Field(min_length=1, max_length=PROVIDER_ID_MAX_CHARS)
    sent_at: EpochMsIn | None = None


class InboundResult(_Model):
    message_id: str
    conversation_id: str
    contact_id: str
    duplicate: bool
    opted_out: bool = Field(description="The contact's opt-out state on this channel afterwards")


class OutboundRecord(_Model):
    seq: int
    message_id: str
    conversation_id: str
    to_handle: str
    body: str
    template: str | None = None
    created_at: EpochMs


class OutboundList(_Model):
    messages: list[OutboundRecord]


class Health(_Model):
    status: Literal["ok"]
    database: str
    head_seq: int
    protocol_version: int = PROTOCOL_VERSION
