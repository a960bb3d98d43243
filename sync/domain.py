"""Domain helpers for the desk that need no GUI: messaging windows, SLA clocks, unread counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from protocol.rules import WindowState, window_state

DUE_SOON_MS = 15 * 60_000


def conversation_window(conv: Mapping[str, Any], contact: Mapping[str, Any] | None,
                        now_ms: int) -> WindowState:
    """The messaging window of a conversation, from the same rule table the server enforces."""
    channel_type = conv["channel_type"]
    opted_out = False
    if contact is not None:
        identities = contact.get("identities") or []
        if isinstance(identities, str | bytes):  # a raw mirror row keeps them as JSON text
            identities = orjson.loads(identities)
        opted_out = any(
            ident.get("opted_out") and ident.get("channel_type") == channel_type
            for ident in identities
        )
    return window_state(channel_type, conv.get("last_inbound_at"), now_ms, opted_out=opted_out)


class SlaState(StrEnum):
    NONE = "none"  # nothing owed (answered, resolved, or no SLA)
    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class SlaClock:
    state: SlaState
    remaining_ms: int | None  # negative when overdue


def sla_clock(conv: Mapping[str, Any], now_ms: int) -> SlaClock:
    due = conv.get("sla_due_at")
    if due is None or conv.get("status") in ("resolved", "snoozed"):
        return SlaClock(SlaState.NONE, None)
    remaining = due - now_ms
    if remaining < 0:
        return SlaClock(SlaState.OVERDUE, remaining)
    if remaining <= DUE_SOON_MS:
        return SlaClock(SlaState.DUE_SOON, remaining)
    return SlaClock(SlaState.OK, remaining)


def unread_total(conversations: Iterable[Mapping[str, Any]]) -> int:
    """Unread conversations (not messages): what a badge beside a view counts."""
    return sum(1 for c in conversations if (c.get("unread_count") or 0) > 0
               and c.get("status") != "resolved")
