"""Each intent is declared once (``protocol.intents``) and every part that acts on intents is
registered against that declaration: an intent the wire names but nobody declared, or a
declaration the server cannot apply or the desk cannot show, fails here by name."""

from __future__ import annotations

import inspect

import pytest
from pydantic import BaseModel

from protocol import intents, wire
from protocol.intents import INTENTS, InvalidArgs, Sender
from protocol.names import MutationName
from server import mutations
from sync import outbox, overlay


def test_every_mutation_name_is_declared_and_every_declaration_is_a_mutation_name() -> None:
    assert set(INTENTS) == set(MutationName), (
        f"undeclared: {sorted(set(MutationName) - set(INTENTS))}; "
        f"declared but not on the wire: {sorted(set(INTENTS) - set(MutationName))}")
    for name, intent in INTENTS.items():
        assert intent.name == name


def test_every_declaration_names_a_wire_model_that_carries_the_conversation() -> None:
    for name, intent in INTENTS.items():
        model = getattr(wire, intent.args_model, None)
        assert inspect.isclass(model) and issubclass(model, BaseModel), (name, intent.args_model)
        assert "conversation_id" in model.model_fields, name
        for key in intent.omit:
            assert key in model.model_fields, f"{name}: omits {key!r}, not one of its fields"


def test_the_server_has_a_handler_and_a_sender_check_for_every_declaration() -> None:
    missing_handler = sorted(n for n in INTENTS if n not in mutations._HANDLERS)
    stray_handler = sorted(n for n in mutations._HANDLERS if n not in INTENTS)
    assert not missing_handler and not stray_handler, (missing_handler, stray_handler)
    assert {i.sender for i in INTENTS.values()} <= set(mutations._SENDERS)
    assert set(mutations._SENDERS) == set(Sender)


def test_the_desk_lays_every_declared_effect_over_its_rows() -> None:
    assert set(overlay._EFFECTS) == set(INTENTS)
    for name, intent in INTENTS.items():
        assert overlay._EFFECTS[name] is intent.effect, name


def test_arguments_are_checked_by_the_declared_model_with_a_clear_error() -> None:
    with pytest.raises(InvalidArgs) as err:
        intents.args(MutationName.SET_PRIORITY, conversation_id="c", priority="whenever")
    assert err.value.name == "set_priority" and err.value.where == "priority"
    with pytest.raises(InvalidArgs, match="add_tag: tag"):
        intents.args(MutationName.ADD_TAG, conversation_id="c", tag="")
    with pytest.raises(KeyError):
        intents.args("delete_everything", conversation_id="c")
    # The outbox refuses the same before anything is queued.
    with pytest.raises(outbox.InvalidIntent, match="set_status: status"):
        outbox.validate("set_status", {"conversation_id": "c", "status": "gone"})


def test_arguments_keep_the_keys_given_less_the_declared_defaults() -> None:
    # A present agent_id None unassigns: it is sent; an absent one keeps the assignee.
    assert intents.args(MutationName.ASSIGN, conversation_id="c", agent_id=None,
                        team_id=None) == {"conversation_id": "c", "agent_id": None}
    assert intents.args(MutationName.ASSIGN, conversation_id="c", team_id="t") == {
        "conversation_id": "c", "team_id": "t"}
    assert intents.args(MutationName.SEND_MESSAGE, conversation_id="c", message_id="m-000001",
                        body="Hi", template=None, human_agent_tag=False) == {
        "conversation_id": "c", "message_id": "m-000001", "body": "Hi"}
    # Written in the model's field order, whatever order the caller used.
    assert list(intents.args(MutationName.SET_STATUS, snoozed_until=5, status="snoozed",
                             conversation_id="c")) == ["conversation_id", "status",
                                                       "snoozed_until"]


def test_the_server_clock_fields_are_fields_the_effect_can_set() -> None:
    row = {"last_activity_at": 0, "tags": [], "unread_count": 1, "status": "open",
           "priority": "normal", "sla_due_at": None, "last_inbound_at": None}
    for name, intent in INTENTS.items():
        for field_name in intent.server_clock:
            assert field_name in row, (name, field_name)
    sent = INTENTS[MutationName.SEND_MESSAGE].effect(row, {"body": "x"}, 123)
    assert set(INTENTS[MutationName.SEND_MESSAGE].server_clock) <= set(sent)
