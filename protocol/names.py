"""The protocol's names (entity kinds, intents, statuses, refusal reasons) and sizes: plain
enums and numbers, no pydantic, so modules that only need a name (the rule table, the
overlay, the outbox, the mirror) or a size (the server's body limits) load without the wire
models. ``protocol.wire`` re-exports every one of them."""

from __future__ import annotations

from enum import StrEnum

API_PREFIX = "/api/v1"  # every endpoint's path begins with it
# The event stream's heartbeat interval in seconds, announced by the server in this header of
# its answer; a server that does not announce it is taken to send one every 15 s.
HEARTBEAT_HEADER = "X-Relaydesk-Heartbeat"
DEFAULT_HEARTBEAT_S = 15.0

# The longest texts a request may carry (characters, as pydantic counts them: code points).
# The server derives its request body limits from these and MAX_MUTATIONS_PER_PUSH.
MAX_TEXT_CHARS = 65536  # a message, a note, an inbound customer text
EMAIL_MAX_CHARS = 320
PASSWORD_MAX_CHARS = 1024
TOKEN_MAX_CHARS = 512
HANDLE_MAX_CHARS = 320
DISPLAY_NAME_MAX_CHARS = 200
SUBJECT_MAX_CHARS = 500
PROVIDER_ID_MAX_CHARS = 200
MESSAGE_ID_MAX_CHARS = 64
TEMPLATE_MAX_CHARS = 128
MUTATION_NAME_MAX_CHARS = 64
MAX_MUTATIONS_PER_PUSH = 500
# Knowledge articles: the key is a file name (the import's), unique per locale.
ARTICLE_KEY_MAX_CHARS = 128
ARTICLE_TITLE_MAX_CHARS = 200
ARTICLE_BODY_MAX_CHARS = 200_000  # Markdown: a long help page, not a book
ARTICLE_CATEGORY_MAX_CHARS = 100
ARTICLE_TAG_MAX_CHARS = 64
ARTICLE_MAX_TAGS = 50
ARTICLE_MAX_TEAMS = 50
LOCALE_MAX_CHARS = 16
# The last millisecond of year 9999: the latest instant ISO 8601 calendars (and databases'
# timestamp types) can show, so any later value is a client's bug, not a time.
MAX_EPOCH_MS = 253_402_300_799_999


class ChannelType(StrEnum):
    EMAIL = "email"
    WEB_CHAT = "web_chat"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    LINE = "line"


class Role(StrEnum):
    AGENT = "agent"
    TRAINEE = "trainee"
    SUPERVISOR = "supervisor"


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    NOTE = "note"
    SYSTEM = "system"
    BOT = "bot"


class Delivery(StrEnum):
    RECEIVED = "received"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class Entity(StrEnum):
    """Entity kinds in the change feed (each declared in ``protocol.entities``, whose order is
    the bootstrap order)."""

    TEAM = "team"
    AGENT = "agent"
    CHANNEL = "channel"
    TAG = "tag"
    TEMPLATE = "template"
    CANNED_REPLY = "canned_reply"
    CONTACT = "contact"
    CONVERSATION = "conversation"
    MESSAGE = "message"
    ARTICLE = "article"


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class ArticleVisibility(StrEnum):
    """Who an article may be shown to: ``internal`` ones are for agents only, never quoted
    or linked to a customer."""

    PUBLIC = "public"
    INTERNAL = "internal"


class MutationName(StrEnum):
    SEND_MESSAGE = "send_message"
    ADD_NOTE = "add_note"
    SET_STATUS = "set_status"
    ASSIGN = "assign"
    SET_PRIORITY = "set_priority"
    ADD_TAG = "add_tag"
    REMOVE_TAG = "remove_tag"
    MARK_READ = "mark_read"


class MutationStatus(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class RejectReason(StrEnum):
    """Why the server refused an intent; each has a sentence the desk can show."""

    NOT_PERMITTED = "not_permitted"
    CONVERSATION_GONE = "conversation_gone"
    WINDOW_CLOSED = "window_closed"
    TEMPLATE_REQUIRED = "template_required"
    HUMAN_AGENT_TAG_REQUIRED = "human_agent_tag_required"
    CONTACT_OPTED_OUT = "contact_opted_out"
    UNKNOWN_TEMPLATE = "unknown_template"
    UNKNOWN_AGENT = "unknown_agent"
    UNKNOWN_TEAM = "unknown_team"
    INVALID = "invalid"
    UNKNOWN_MUTATION = "unknown_mutation"
