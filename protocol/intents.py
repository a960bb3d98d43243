"""Each intent the desk can queue, declared once.

An intent is its name, its argument model (a pydantic model in ``protocol.wire``, named here
and looked up only when arguments are built or checked: the desk's first paint does not load
pydantic), who may send it, and its optimistic effect on the desk's view of a conversation
row. From this:

- the desk builds every intent's arguments (``app.session``, ``app.undo``) with ``args()``,
  and the outbox checks them (``sync.outbox.validate``);
- the desk's view lays each unconfirmed intent's effect over its row (``sync.overlay``);
- the server checks who may send it and applies the same effect (``server.mutations``),
  keeping its own checks, refusals, timeline sentences and feed.

Tests fail when a ``MutationName`` has no declaration or a declaration no server handler
(tests/protocol/test_intents.py), and when the desk's view of random rows and intents differs
from what the server stores (tests/server/test_intent_effects.py).

Plain data: no pydantic, no SQLAlchemy, no Qt at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from protocol.names import ConversationStatus, MutationName
from protocol.rules import sla_due

if TYPE_CHECKING:
    from pydantic import BaseModel

Row = Mapping[str, Any]  # a conversation as the wire carries it (tags: a list)
# (row, wire arguments, now in epoch ms) -> the fields it sets; empty when it leaves the row
# as it is (the server then writes nothing and says nothing in the timeline).
Effect = Callable[[Row, Mapping[str, Any], int], dict[str, Any]]


class Sender(StrEnum):
    """Who may send an intent (supervisors see every conversation)."""

    SEES_CONVERSATION = "sees_conversation"  # whoever sees the conversation it names:
    # its team's members, its assignee


class InvalidArgs(ValueError):
    """The arguments do not fit the intent's model; ``str()`` is ``"name: where: why"``."""

    def __init__(self, name: str, where: str, why: str) -> None:
        super().__init__(f"{name}: {where}: {why}")
        self.name, self.where, self.why = name, where, why


@dataclass(frozen=True)
class Intent:
    name: MutationName
    args_model: str  # the pydantic model's name in protocol.wire
    sender: Sender
    effect: Effect
    # Keys ``args()`` leaves out at these values: the wire has never carried them so.
    omit: Mapping[str, Any] = field(default_factory=dict)
    # Fields the server sets from its own clock; the effect's value is the desk's guess
    # (``now`` is when the agent acted, and an older row's later activity is kept).
    server_clock: tuple[str, ...] = ()
    doc: str = ""

    @cached_property
    def model(self) -> type[BaseModel]:
        """The argument model (loads pydantic and the wire models on first use)."""
        from protocol import wire

        model: type[BaseModel] = getattr(wire, self.args_model)
        return model

    def validate(self, values: Mapping[str, Any]) -> BaseModel:
        """``values`` checked by the model; raises ``InvalidArgs`` with the first problem."""
        from pydantic import ValidationError

        try:
            return self.model.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            raise InvalidArgs(self.name.value, where, str(first.get("msg"))) from None


# --------------------------------------------------------------------------- effects


def _no_effect(row: Row, a: Mapping[str, Any], now: int) -> dict[str, Any]:
    return {}


def _send_message(row: Row, a: Mapping[str, Any], now: int) -> dict[str, Any]:
    return {"preview": (a.get("body") or a.get("template") or "")[:200],
            "last_activity_at": max(row.get("last_activity_at") or 0, now),
            "unread_count": 0,
            "sla_due_at": None}  # answered: nothing is owed any more


def _set_status(row: Row, a: Mapping[str, Any], now: int) -> dict[str, Any]:
    status = a["status"]
    until = a.get("snoozed_until") if status == ConversationStatus.SNOOZED else None
    if row.get("status") == status and row.get("snoozed_until") == until:
        return {}
    if status == ConversationStatus.RESOLVED:  # nothing is owed any more
        return {"status": status, "snoozed_until": until, "sla_due_at": None}
    return {"status": status, "snoozed_until": until}


def _assign(row: Row, a: Mapping[str, Any], now: int) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    # A key present is a change: agent_id None unassigns; no agent_id keeps the assignee.
    if "agent_id" in a and a["agent_id"] != row.get("assignee_id"):
        changes["assignee_id"] = a["agent_id"]
    if a.get("team_id") and a["team_id"] != row.get("team_id"):
        changes["team_id"] = a["team_id"]
    return changes


def _set_priority(row: Row, a: Mapping[str, Any], now: int) -> dict[str, Any]:
    priority = a["priority"]
    if row.get("priority") == priority:
        return {}
    inbound = row.get("last_inbound_at")
    if row.get("sla_due_at") is not None and inbound is not None:
        # An answer still owed is due by the new priority's clock.
        return {"priority": priority, "sla_due_at": sla_due(inbound, priority)}
    return {"priority": priority}


def _add_tag(row: Row, a: Mapping[str, Any], now: int) -> dict[str, Any]:
    tag = a["tag"].strip()
    tags = row.get("tags") or []
    return {"tags": [*tags, tag]} if tag and tag not in tags else {}


def _remove_tag(row: Row, a: Mapping[str, Any], now: int) -> dict[str, Any]:
    tags = row.get("tags") or []
    return {"tags": [t for t in tags if t != a["tag"]]} if a["tag"] in tags else {}


def _mark_read(row: Row, a: Mapping[str, Any], now: int) -> dict[str, Any]:
    return {"unread_count": 0} if row.get("unread_count") else {}


# --------------------------------------------------------------------------- declarations

_SEES = Sender.SEES_CONVERSATION

INTENTS: dict[str, Intent] = {i.name: i for i in (
    Intent(MutationName.SEND_MESSAGE, "SendMessageArgs", _SEES, _send_message,
           omit={"template": None, "human_agent_tag": False},
           server_clock=("last_activity_at",),
           doc="A reply to the customer. The server fills an empty body with the template's "
               "text, so its preview is that text where the desk shows the template's name."),
    Intent(MutationName.ADD_NOTE, "AddNoteArgs", _SEES, _no_effect,
           doc="An internal note: a message in the thread, nothing on the row."),
    Intent(MutationName.SET_STATUS, "SetStatusArgs", _SEES, _set_status,
           omit={"snoozed_until": None},
           doc="Open, pending, snoozed until a time (in the future: the server refuses a "
               "past one) or resolved (no answer owed any more)."),
    Intent(MutationName.ASSIGN, "AssignArgs", _SEES, _assign, omit={"team_id": None},
           doc="To an agent (agent_id; None unassigns) and/or a team (team_id)."),
    Intent(MutationName.SET_PRIORITY, "SetPriorityArgs", _SEES, _set_priority,
           doc="A new priority; an answer still owed is due by its clock."),
    Intent(MutationName.ADD_TAG, "TagArgs", _SEES, _add_tag,
           doc="A tag, stripped (the server creates it when it is new)."),
    Intent(MutationName.REMOVE_TAG, "TagArgs", _SEES, _remove_tag),
    Intent(MutationName.MARK_READ, "MarkReadArgs", _SEES, _mark_read),
)}


def args(name: str, /, **values: Any) -> dict[str, Any]:
    """The wire arguments of intent ``name``: ``values`` checked by its model and written in
    the model's field order, with the keys given (a key present can mean something: assign's
    agent_id None unassigns) less the declared ``omit`` ones. Raises ``InvalidArgs``, and
    ``KeyError`` for a name not declared."""
    intent = INTENTS[name]
    dumped = intent.validate(values).model_dump(mode="json", exclude_unset=True)
    omit = intent.omit
    return {k: v for k, v in dumped.items() if k not in omit or v != omit[k]}
