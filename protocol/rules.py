"""Messaging-window and opt-out rules, one table shared by the server and the desk.

The server enforces these on ``send_message``; the desk evaluates the same functions offline
to show the composer's state (time left, template only, human-agent tag only, opted out).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from protocol.names import ChannelType, RejectReason

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class WindowRule:
    """How long after the customer's last inbound message an agent may answer freely."""

    free_ms: int | None  # None: no window at all
    human_agent_ms: int | None = None  # extra time allowed with the human-agent tag
    template_after: bool = False  # once closed, an approved template may still be sent
    honours_opt_out: bool = False


WINDOW_RULES: dict[ChannelType, WindowRule] = {
    ChannelType.WHATSAPP: WindowRule(free_ms=24 * HOUR_MS, template_after=True),
    ChannelType.MESSENGER: WindowRule(free_ms=24 * HOUR_MS, human_agent_ms=7 * DAY_MS),
    ChannelType.INSTAGRAM: WindowRule(free_ms=24 * HOUR_MS, human_agent_ms=7 * DAY_MS),
    ChannelType.SMS: WindowRule(free_ms=None, honours_opt_out=True),
    ChannelType.EMAIL: WindowRule(free_ms=None),
    ChannelType.WEB_CHAT: WindowRule(free_ms=None),
    ChannelType.LINE: WindowRule(free_ms=None),
}

# How long after the customer's message a first answer is due, by priority. The server sets
# ``sla_due_at`` from it; the desk uses it to show a priority change offline the same way.
SLA_MS: dict[str, int] = {"urgent": 15 * 60_000, "high": HOUR_MS, "normal": 4 * HOUR_MS,
                          "low": 24 * HOUR_MS}


def sla_due(last_inbound_at: int, priority: str) -> int:
    return last_inbound_at + SLA_MS.get(priority, SLA_MS["normal"])


# Carrier-standard keywords; a message counts only when it is exactly one of these words.
OPT_OUT_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
OPT_IN_KEYWORDS = frozenset({"start", "unstop"})


class WindowKind(StrEnum):
    ALWAYS_OPEN = "always_open"  # the channel has no window
    OPEN = "open"  # free replies until ``open_until``
    HUMAN_AGENT_ONLY = "human_agent_only"  # only with the human-agent tag until ``open_until``
    TEMPLATE_ONLY = "template_only"  # only an approved template
    CLOSED = "closed"  # nothing may be sent until the customer writes again
    OPTED_OUT = "opted_out"  # the contact asked us to stop


@dataclass(frozen=True)
class WindowState:
    kind: WindowKind
    open_until: int | None = None  # epoch ms; for OPEN and HUMAN_AGENT_ONLY

    def remaining_ms(self, now_ms: int) -> int | None:
        if self.open_until is None:
            return None
        return max(0, self.open_until - now_ms)


def window_state(
    channel_type: ChannelType | str,
    last_inbound_at: int | None,
    now_ms: int,
    *,
    opted_out: bool = False,
) -> WindowState:
    """The messaging window of a conversation at ``now_ms``."""
    rule = WINDOW_RULES[ChannelType(channel_type)]
    if opted_out and rule.honours_opt_out:
        return WindowState(WindowKind.OPTED_OUT)
    if rule.free_ms is None:
        return WindowState(WindowKind.ALWAYS_OPEN)
    if last_inbound_at is not None:
        free_until = last_inbound_at + rule.free_ms
        if now_ms < free_until:
            return WindowState(WindowKind.OPEN, free_until)
        if rule.human_agent_ms is not None and now_ms < last_inbound_at + rule.human_agent_ms:
            return WindowState(WindowKind.HUMAN_AGENT_ONLY, last_inbound_at + rule.human_agent_ms)
    if rule.template_after:
        return WindowState(WindowKind.TEMPLATE_ONLY)
    return WindowState(WindowKind.CLOSED)


def send_refusal(
    state: WindowState, *, template: str | None, human_agent_tag: bool
) -> RejectReason | None:
    """Why a reply may not be sent in this window state, or None when it may."""
    kind = state.kind
    if kind is WindowKind.OPTED_OUT:
        return RejectReason.CONTACT_OPTED_OUT
    if kind in (WindowKind.ALWAYS_OPEN, WindowKind.OPEN):
        return None
    if kind is WindowKind.HUMAN_AGENT_ONLY:
        return None if human_agent_tag else RejectReason.HUMAN_AGENT_TAG_REQUIRED
    if kind is WindowKind.TEMPLATE_ONLY:
        return None if template else RejectReason.TEMPLATE_REQUIRED
    return RejectReason.WINDOW_CLOSED


# Refusals the same change meets again whatever happens meanwhile: only Discard helps.
FINAL_REFUSALS = frozenset({
    RejectReason.NOT_PERMITTED, RejectReason.CONVERSATION_GONE, RejectReason.UNKNOWN_TEMPLATE,
    RejectReason.UNKNOWN_AGENT, RejectReason.UNKNOWN_TEAM, RejectReason.INVALID,
    RejectReason.UNKNOWN_MUTATION})
# Refusals of the messaging window: the same reply passes once the window allows it (the
# customer wrote again, opted back in).
WINDOW_REFUSALS = frozenset({
    RejectReason.WINDOW_CLOSED, RejectReason.TEMPLATE_REQUIRED,
    RejectReason.HUMAN_AGENT_TAG_REQUIRED, RejectReason.CONTACT_OPTED_OUT})


def retry_may_pass(code: str | None, state: WindowState | None, *,
                   template: str | None = None, human_agent_tag: bool = False) -> bool:
    """Whether sending a refused change again can succeed: never after a final refusal;
    after a window refusal only while the conversation's window (``state``, now; None:
    unknown) lets this reply through; after any other (an unknown reason) it may."""
    if code in FINAL_REFUSALS:
        return False
    if code in WINDOW_REFUSALS:
        return state is not None and send_refusal(
            state, template=template, human_agent_tag=human_agent_tag) is None
    return True


def opt_keyword(channel_type: ChannelType | str, text: str) -> bool | None:
    """True for an opt-out keyword, False for opt-in, None for an ordinary message."""
    if not WINDOW_RULES[ChannelType(channel_type)].honours_opt_out:
        return None
    word = text.strip().casefold()
    if word in OPT_OUT_KEYWORDS:
        return True
    if word in OPT_IN_KEYWORDS:
        return False
    return None


REJECT_MESSAGES: dict[RejectReason, str] = {
    RejectReason.NOT_PERMITTED: "You are not permitted to change this conversation.",
    RejectReason.CONVERSATION_GONE: "This conversation no longer exists.",
    RejectReason.WINDOW_CLOSED: "The messaging window is closed; wait for the customer to write.",
    RejectReason.TEMPLATE_REQUIRED: (
        "More than 24 hours have passed since the customer's last message: "
        "only an approved template can be sent."
    ),
    RejectReason.HUMAN_AGENT_TAG_REQUIRED: (
        "More than 24 hours have passed since the customer's last message: "
        "replies need the human-agent tag (allowed up to 7 days)."
    ),
    RejectReason.CONTACT_OPTED_OUT: "The contact opted out of messages on this channel.",
    RejectReason.UNKNOWN_TEMPLATE: "There is no approved template with that name for this channel.",
    RejectReason.UNKNOWN_AGENT: "That agent does not exist or is not active.",
    RejectReason.UNKNOWN_TEAM: "That team does not exist.",
    RejectReason.INVALID: "The request was not valid.",
    RejectReason.UNKNOWN_MUTATION: "The server does not know this kind of change.",
}
