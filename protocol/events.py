"""The sentences a conversation's timeline shows for what happened to it (system messages),
declared once for both sides.

The server writes each system message as an English sentence made from one of these
templates (``SystemEvent.format``); the body stays that sentence, so the wire and the
databases do not change. The desk recognises a body against the templates
(``recognise``) and shows the sentence in the agent's language (``SystemEvent.sentence``);
a body no template makes (an older server's, another tool's) is shown as it is.

``QT_TRANSLATE_NOOP`` marks each template for Qt's lupdate, which collects them into the
desk's translations (``app.i18n.update_ts`` reads this file too); it is a plain function here,
and this module imports no Qt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from protocol.names import ConversationStatus

CONTEXT = "SystemEvent"  # the translations' context for every template

# A moment in a sentence: UTC to the minute in ISO 8601 ("2026-12-08T09:00Z"), which the
# desk shows in the agent's locale and time zone (``instant_ms``).
_INSTANT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z"

# Values a field may take, where they are known: ``recognise`` then needs no guessing.
_FIELD_PATTERNS = {"status": "|".join(re.escape(s.value) for s in ConversationStatus),
                   "until": _INSTANT}


def instant(ms: int) -> str:
    """A moment (epoch ms) as a sentence's ``{until}`` writes it (UTC, to the minute)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


def instant_ms(text: str) -> int:
    """The epoch ms of an ``instant`` text."""
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC).timestamp()
               * 1000)


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:  # the name lupdate looks for
    """Mark ``text`` for translation in ``context``; returns it unchanged."""
    return text


@dataclass(frozen=True)
class SystemEvent:
    key: str
    template: str  # English, with {fields}
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = re.split(r"\{(\w+)\}", self.template)
        regex = "".join(
            re.escape(part) if i % 2 == 0
            else f"(?P<{part}>{_FIELD_PATTERNS.get(part, '.+?')})"
            for i, part in enumerate(parts))
        object.__setattr__(self, "_pattern", re.compile(regex, re.DOTALL))

    def format(self, **values: str) -> str:
        """The server's sentence (English) with these values."""
        return self.template.format(**values)

    def match(self, body: str) -> dict[str, str] | None:
        found = self._pattern.fullmatch(body)
        return found.groupdict() if found is not None else None

    def sentence(self, values: Mapping[str, str],
                 translate: Callable[[str, str], str]) -> str:
        """The sentence in the language ``translate(context, template)`` gives (Qt's
        ``QCoreApplication.translate`` on the desk); a translation that lost or renamed a
        field falls back to the English template."""
        try:
            return translate(CONTEXT, self.template).format(**values)
        except (KeyError, IndexError, ValueError):
            return self.template.format(**values)


STATUS_SET = SystemEvent("status_set", QT_TRANSLATE_NOOP(
    "SystemEvent", "Status set to {status} by {by}"))
SNOOZED_UNTIL = SystemEvent("snoozed_until", QT_TRANSLATE_NOOP(
    "SystemEvent", "Snoozed until {until} by {by}"))  # {until}: ``instant``
ASSIGNED = SystemEvent("assigned", QT_TRANSLATE_NOOP(
    "SystemEvent", "Assigned to {agent} by {by}"))
SELF_ASSIGNED = SystemEvent("self_assigned", QT_TRANSLATE_NOOP(
    "SystemEvent", "Self-assigned by {by}"))
UNASSIGNED = SystemEvent("unassigned", QT_TRANSLATE_NOOP(
    "SystemEvent", "Unassigned by {by}"))
MOVED_TO_TEAM = SystemEvent("moved_to_team", QT_TRANSLATE_NOOP(
    "SystemEvent", "Moved to team {team}"))
# What the demo workspace's conversations carry from before the desk (server/demo_data.py).
CONVERSATION_ASSIGNED = SystemEvent("conversation_assigned", QT_TRANSLATE_NOOP(
    "SystemEvent", "Conversation assigned to {agent}"))
CONVERSATION_RESOLVED = SystemEvent("conversation_resolved", QT_TRANSLATE_NOOP(
    "SystemEvent", "Conversation resolved by {agent}"))
SMS_OPTED_OUT = SystemEvent("sms_opted_out", QT_TRANSLATE_NOOP(
    "SystemEvent", "Contact opted out of SMS. Outbound SMS to this number is blocked."))

EVENTS = (STATUS_SET, SNOOZED_UNTIL, ASSIGNED, SELF_ASSIGNED, UNASSIGNED, MOVED_TO_TEAM,
          CONVERSATION_ASSIGNED, CONVERSATION_RESOLVED, SMS_OPTED_OUT)

# Before UNASSIGNED existed the server wrote "Assigned to nobody by …".
LEGACY_NOBODY = "nobody"


def recognise(body: str) -> tuple[SystemEvent, dict[str, str]] | None:
    """The event a system message's body states and its values; None for any other body."""
    for event in EVENTS:
        values = event.match(body)
        if values is not None:
            if event is ASSIGNED and values["agent"] == LEGACY_NOBODY:
                return UNASSIGNED, {"by": values["by"]}
            return event, values
    return None
