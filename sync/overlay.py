"""The agent's view: server-confirmed mirror rows with their unconfirmed intents laid over.

Pending and applied-but-not-yet-pulled intents change what the agent sees at once; rejected
ones do not change the data but stay visible (a failed reply in the thread, with its reason).
Everything here is plain data in, plain data out: no database, no Qt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from protocol.intents import INTENTS
from protocol.names import MutationName
from protocol.rules import WindowState
from sync.outbox import APPLIED, PENDING, REJECTED, IntentRecord, retry_may_pass

# How the thread shows an outbound message or note the agent wrote.
LOCAL_PENDING = "pending"  # queued, not confirmed (offline, or push in flight)
LOCAL_SENT = "sent"  # confirmed by the server, the change not pulled yet
LOCAL_FAILED = "failed"  # rejected: reason shown, retry or discard


def _live(intents: Iterable[IntentRecord]) -> list[IntentRecord]:
    return [i for i in intents if i.state in (PENDING, APPLIED)]


# Each intent's optimistic effect, as protocol.intents declares it.
_EFFECTS = {name: intent.effect for name, intent in INTENTS.items()}


def apply_to_conversation(conv: dict[str, Any], intents: Iterable[IntentRecord]) -> dict[str, Any]:
    """A conversation row (as in the mirror; tags as a list or as the mirror's JSON text) with
    its live intents applied."""
    out = dict(conv)
    tags = out.get("tags") or []
    if isinstance(tags, str | bytes):  # a raw mirror row: JSON text, not a list of characters
        tags = orjson.loads(tags)
    out["tags"] = list(tags)
    pending_changes = 0
    for intent in sorted(_live(intents), key=lambda i: i.id):
        effect = _EFFECTS.get(intent.name)
        if effect is not None:
            # The intent's declared effect, at the time the agent acted.
            changes = effect(out, intent.args, intent.created_at)
            if changes:
                out.update(changes)
        if intent.state == PENDING:
            pending_changes += 1
    out["pending_intents"] = pending_changes
    return out


@dataclass(frozen=True)
class ThreadItem:
    """One line of the thread: a mirror message, or one the agent wrote that is in flight."""

    id: str
    direction: str
    body: str
    created_at: int
    author_id: str | None
    template: str | None
    local_state: str | None  # None for confirmed messages
    intent_id: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool = True  # a refused one: whether Retry can get it through now


def thread(messages: Iterable[dict[str, Any]], intents: Iterable[IntentRecord],
           my_agent_id: str | None, written: Mapping[str, int] | None = None,
           window: WindowState | None = None) -> list[ThreadItem]:
    """Mirror messages plus the agent's own unconfirmed replies and notes, in time order.

    The agent's own messages carry the time they wrote them (the intent's, then ``written``
    once the server confirmed them), not the server's arrival time: a reply written offline
    keeps its time and its place in the thread when it is sent and confirmed."""
    written = written or {}
    items = [
        ThreadItem(id=m["id"], direction=m["direction"], body=m["body"],
                   created_at=written.get(m["id"], m["created_at"]),
                   author_id=m.get("author_id"), template=m.get("template"), local_state=None)
        for m in messages
    ]
    known = {item.id for item in items}
    for intent in intents:
        if intent.name not in (MutationName.SEND_MESSAGE, MutationName.ADD_NOTE):
            continue
        message_id = intent.args.get("message_id")
        if message_id in known:
            continue  # the mirror has it: the confirmed copy wins, no duplicate line
        state = {PENDING: LOCAL_PENDING, APPLIED: LOCAL_SENT, REJECTED: LOCAL_FAILED}[intent.state]
        items.append(ThreadItem(
            id=message_id or f"intent-{intent.id}",
            direction="outbound" if intent.name == MutationName.SEND_MESSAGE else "note",
            body=intent.args.get("body") or "", created_at=intent.created_at,
            author_id=my_agent_id, template=intent.args.get("template"), local_state=state,
            intent_id=intent.id, error_code=intent.error_code,
            error_message=intent.error_message,
            retryable=intent.state != REJECTED or retry_may_pass(intent, window),
        ))
    items.sort(key=lambda i: (i.created_at, i.id))
    return items


def rejected(intents: Iterable[IntentRecord]) -> list[IntentRecord]:
    return [i for i in intents if i.state == REJECTED]
