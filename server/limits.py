"""Request body limits, derived from the protocol's sizes (enforced by server.body_limit).

Plain numbers, no web framework: the command line shows them in its help."""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocol.names import (
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
    MAX_MUTATIONS_PER_PUSH,
    MAX_TEXT_CHARS,
    PASSWORD_MAX_CHARS,
    PROVIDER_ID_MAX_CHARS,
    SUBJECT_MAX_CHARS,
    TOKEN_MAX_CHARS,
)

# Any JSON encoder may write a code point beyond the BMP as two \uXXXX escapes (Python's
# json does, with ensure_ascii): 12 bytes for one character as the protocol counts them.
ESCAPED_JSON_BYTES_PER_CHAR = 12
# The desk and relaydesk-sync write pushes as UTF-8 JSON (orjson): at most 4 bytes a character.
UTF8_BYTES_PER_CHAR = 4
# Keys, quotes, commas, numbers and whitespace around a request's texts.
JSON_SYNTAX_BYTES = 1024
# Beside its text, one intent: its name, ids, up to 50 mentions and its JSON syntax.
MUTATION_OVERHEAD_BYTES = 4 * JSON_SYNTAX_BYTES

# The largest legal sign-in or refresh body, in the most verbose JSON encoding (~17 KiB).
AUTH_BODY_LIMIT = (max(EMAIL_MAX_CHARS + PASSWORD_MAX_CHARS, TOKEN_MAX_CHARS)
                   * ESCAPED_JSON_BYTES_PER_CHAR + JSON_SYNTAX_BYTES)
# The largest legal inbound customer message, in the most verbose JSON encoding (~783 KiB).
INBOUND_BODY_LIMIT = ((HANDLE_MAX_CHARS + DISPLAY_NAME_MAX_CHARS + MAX_TEXT_CHARS
                       + SUBJECT_MAX_CHARS + PROVIDER_ID_MAX_CHARS)
                      * ESCAPED_JSON_BYTES_PER_CHAR + JSON_SYNTAX_BYTES)
# The largest legal push (500 intents with a full-length text each) as UTF-8 JSON (~127 MiB);
# it is read only after the bearer token is checked.
PUSH_BODY_LIMIT = MAX_MUTATIONS_PER_PUSH * (MAX_TEXT_CHARS * UTF8_BYTES_PER_CHAR
                                            + MUTATION_OVERHEAD_BYTES)
# The largest legal article (create or edit), in the most verbose JSON encoding (~2.5 MB);
# read only after the bearer token is checked. A team id is 64 characters at most.
ARTICLE_BODY_LIMIT = ((ARTICLE_KEY_MAX_CHARS + LOCALE_MAX_CHARS + ARTICLE_TITLE_MAX_CHARS
                       + ARTICLE_BODY_MAX_CHARS + ARTICLE_CATEGORY_MAX_CHARS
                       + ARTICLE_MAX_TAGS * ARTICLE_TAG_MAX_CHARS + ARTICLE_MAX_TEAMS * 64)
                      * ESCAPED_JSON_BYTES_PER_CHAR
                      + (ARTICLE_MAX_TAGS + ARTICLE_MAX_TEAMS) * 4 + JSON_SYNTAX_BYTES)

_INBOUND_PATH = re.compile(rf"^{re.escape(API_PREFIX)}/channels/[^/]+/inbound$")
_PUSH_PATH = f"{API_PREFIX}/sync/push"
# Creating (…/articles) and editing (…/articles/ID) an article: the routes with its body.
_ARTICLE_PATH = re.compile(rf"^{re.escape(API_PREFIX)}/articles(/[^/]+)?$")

@dataclass(frozen=True)
class BodyLimits:
    """Bytes a request body may have: sign-in and everything else, inbound, push, an
    article."""

    auth: int = AUTH_BODY_LIMIT
    inbound: int = INBOUND_BODY_LIMIT
    push: int = PUSH_BODY_LIMIT
    article: int = ARTICLE_BODY_LIMIT

    def for_path(self, path: str) -> tuple[int, str]:
        """The limit for a request path, and the ``serve`` option that sets it."""
        if path == _PUSH_PATH:
            return self.push, "--push-body-limit"
        if _INBOUND_PATH.match(path):
            return self.inbound, "--inbound-body-limit"
        if _ARTICLE_PATH.match(path):
            return self.article, "--article-body-limit"
        return self.auth, "--auth-body-limit"


def too_large_message(limit: int, option: str) -> str:
    return (f"The request body is larger than the {limit:,} bytes this endpoint accepts "
            f"(relaydesk-server serve {option}).")


def parse_size(text: str) -> int:
    """'16KiB', '1MiB', '2MB', '900k' or plain bytes."""
    units = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
             "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3}
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", text.lower())
    if match is None or match.group(2) not in units:
        raise ValueError(f"not a size: {text!r} (e.g. 16KiB, 1MiB, 65536)")
    size = int(float(match.group(1)) * units[match.group(2)])
    if size < 1:
        raise ValueError(f"not a size: {text!r} (it must be at least 1 byte)")
    return size
