"""What the desk shows the moment an agent acts equals what the server then stores.

The desk lays each unconfirmed intent's declared effect over its mirror row
(``sync.overlay``); the server applies the same declaration with its own checks
(``server.mutations``). On random conversation rows (written straight into the real server's
database) and random batches of intents pushed over loopback HTTP by an agent or a
supervisor, the row the desk predicts from the intents the server took equals the row the
server stores, field by field; a field the server sets from its own clock (the declaration's
``server_clock``) is set by both, the server's at the time of the push. Intents the server
refuses (an assignee it does not know, a snooze in the past, a conversation the sender no
longer sees, a reply outside the messaging window…) leave the desk's view as they leave the
server's row: the overlay drops refused intents."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from protocol import intents
from protocol import wire as p
from protocol.intents import INTENTS, InvalidArgs
from protocol.names import MutationName
from protocol.rules import DAY_MS, HOUR_MS
from server import models as m
from server import serialize
from server.db import Database
from server.feed import now_ms
from sync import outbox, overlay
from sync.outbox import IntentRecord
from tests.server.harness import Api, LiveServer, Workspace
from tests.server.test_feed import sign_in

PRIORITIES = [x.value for x in p.Priority]
STATUSES = [x.value for x in p.ConversationStatus]
TAGS = ["vip", "billing", "返金", "a b"]
ALL_MUTATIONS = sorted(INTENTS)


@pytest.fixture
def senders(live_server: LiveServer, workspace: Workspace) -> Iterator[dict[str, Api]]:
    apis = {who: sign_in(live_server, workspace, who) for who in ("alice", "sam")}
    yield apis
    for api in apis.values():
        api.close()


# Times are drawn as offsets from now (ms) and made times by ``at``: hypothesis replays a
# draw, and now moves between replays.
def at(now: int, value: Any) -> Any:
    return value if value is None else now + value


def rows(ws: Workspace) -> st.SearchStrategy[dict[str, Any]]:
    """The fields of a conversation an intent reads or writes, at random (times relative)."""
    agents = [None, ws.agents["alice"], ws.agents["bob"], ws.agents["sam"]]
    past = st.integers(-3 * DAY_MS, -1)
    return st.fixed_dictionaries({
        "team_id": st.sampled_from(sorted(ws.teams.values())),
        "assignee_id": st.sampled_from(agents),
        "status": st.sampled_from(STATUSES),
        "priority": st.sampled_from(PRIORITIES),
        "tags": st.lists(st.sampled_from(TAGS), unique=True, max_size=3),
        "unread_count": st.integers(0, 3),
        "last_activity_at": past,
        "last_inbound_at": st.none() | past,
        "sla_due_at": st.none() | st.integers(-HOUR_MS, DAY_MS),
        "snooze_in": st.integers(60_000, DAY_MS),  # for a snoozed row only
    })


def one_intent(ws: Workspace) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """(name, values) of one intent, as an agent's desk could queue it (or not quite: a
    snooze in the past, an agent the server does not know, a whitespace-only tag)."""
    agents = [None, ws.agents["alice"], ws.agents["bob"], ws.agents["tina"], "no-such-agent"]
    teams = sorted(ws.teams.values())

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
        name = draw(st.sampled_from(ALL_MUTATIONS))
        v: dict[str, Any] = {}
        if name in (MutationName.SEND_MESSAGE, MutationName.ADD_NOTE):
            v = {"message_id": str(uuid.uuid4()),
                 "body": draw(st.sampled_from(["Thanks!", "x" * 300, "お問い合わせ", " hi "]))}
            if name == MutationName.SEND_MESSAGE:
                v["human_agent_tag"] = draw(st.booleans())
        elif name == MutationName.SET_STATUS:
            v["status"] = draw(st.sampled_from(STATUSES))
            if v["status"] == "snoozed" or draw(st.booleans()):
                v["snoozed_until"] = draw(st.sampled_from([HOUR_MS, DAY_MS, -HOUR_MS]))
        elif name == MutationName.ASSIGN:
            if draw(st.booleans()):
                v["agent_id"] = draw(st.sampled_from(agents))
            if "agent_id" not in v or draw(st.booleans()):
                v["team_id"] = draw(st.sampled_from(teams))
        elif name == MutationName.SET_PRIORITY:
            v["priority"] = draw(st.sampled_from(PRIORITIES))
        elif name in (MutationName.ADD_TAG, MutationName.REMOVE_TAG):
            v["tag"] = draw(st.sampled_from([*TAGS, " vip ", "new-tag", "  "]))
        return name, v

    return build()


def store_row(db: Database, conversation_id: str, fields: dict[str, Any], now: int) -> None:
    values = {k: v for k, v in fields.items() if k != "snooze_in"}
    for key in ("last_activity_at", "last_inbound_at", "sla_due_at"):
        values[key] = at(now, values[key])
    values["snoozed_until"] = now + fields["snooze_in"] if fields["status"] == "snoozed" \
        else None
    values["tags"] = orjson.dumps(values["tags"]).decode()
    with db.write() as s:
        s.execute(update(m.Conversation).where(m.Conversation.id == conversation_id)
                  .values(**values))


def stored(db: Database, conversation_id: str) -> dict[str, Any]:
    with db.read() as s:
        conv = s.scalars(select(m.Conversation).where(m.Conversation.id == conversation_id)
                         ).one()
        channel_type = s.scalar(select(m.Channel.type).where(m.Channel.id == conv.channel_id))
        return serialize.conversation(conv, channel_type)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_the_desks_view_of_an_intent_equals_what_the_server_stores(
        db: Database, workspace: Workspace, senders: dict[str, Api], data: st.DataObject
) -> None:
    now = now_ms()
    channel = data.draw(st.sampled_from(["a_email", "a_sms", "a_whatsapp"]), "channel")
    api = senders[data.draw(st.sampled_from(sorted(senders)), "sender")]
    conversation_id = api.inbound(workspace, channel, f"+8190{uuid.uuid4().int % 10**8:08d}",
                                  "Hello?").conversation_id
    store_row(db, conversation_id, data.draw(rows(workspace), "row"), now)
    before = stored(db, conversation_id)

    batch: list[tuple[str, dict[str, Any]]] = []
    for name, values in data.draw(st.lists(one_intent(workspace), min_size=1, max_size=5),
                                  "intents"):
        if "snoozed_until" in values:
            values["snoozed_until"] = at(now, values["snoozed_until"])
        try:  # as the desk builds them: through the declared model
            batch.append((name, intents.args(name, conversation_id=conversation_id,
                                             **values)))
        except InvalidArgs:
            continue  # the desk never queues it (the agent sees the model's error)
    if not batch:
        return
    client_id = str(uuid.uuid4())
    acted_at = now_ms()
    answer = api.push(client_id, [{"id": i, "name": name, "args": args}
                                  for i, (name, args) in enumerate(batch, 1)])
    pushed_by = now_ms()
    states = {r.id: (outbox.APPLIED if r.status is p.MutationStatus.APPLIED
                     else outbox.REJECTED) for r in answer.results}
    assert len(states) == len(batch)
    records = [IntentRecord(id=i, mutation_id=i, name=name, args=args,
                            conversation_id=conversation_id, state=states[i], attempts=1,
                            change_seq=None, error_code=None, error_message=None,
                            created_at=acted_at)
               for i, (name, args) in enumerate(batch, 1)]

    predicted = overlay.apply_to_conversation(before, records)
    predicted.pop("pending_intents")
    after = stored(db, conversation_id)
    clock = {f for name, _a in batch for f in INTENTS[name].server_clock}
    for field_name in clock:
        if predicted[field_name] != before[field_name]:  # the desk's guess: when it acted
            assert after[field_name] != before[field_name], (field_name, batch)
            assert acted_at <= after[field_name] <= pushed_by, field_name
            predicted[field_name] = after[field_name]
    assert predicted == after, {
        "intents": [(n, a, states[i]) for i, (n, a) in enumerate(batch, 1)],
        "differs": {k: (predicted.get(k), after.get(k)) for k in after
                    if predicted.get(k) != after.get(k)}}


def test_a_refused_intent_changes_neither_view(db: Database, workspace: Workspace,
                                               senders: dict[str, Api]) -> None:
    """The example the property test relies on most: a snooze in the past is refused by the
    server, and the desk, told so, shows the row as it was."""
    api = senders["alice"]
    cid = api.inbound(workspace, "a_email", "refused@example.com", "Hi").conversation_id
    before = stored(db, cid)
    args = intents.args(MutationName.SET_STATUS, conversation_id=cid, status="snoozed",
                        snoozed_until=now_ms() - 1_000)
    result = api.push(str(uuid.uuid4()), [{"id": 1, "name": "set_status",
                                           "args": args}]).results[0]
    assert result.status is p.MutationStatus.REJECTED
    record = IntentRecord(1, 1, "set_status", args, cid, outbox.REJECTED, 1, None,
                          result.error.code if result.error else None, None, int(time.time()))
    shown = overlay.apply_to_conversation(before, [record])
    shown.pop("pending_intents")
    assert shown == stored(db, cid) == before
