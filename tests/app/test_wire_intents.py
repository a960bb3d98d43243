"""The intents a desk queues keep their wire form (issue 12: "no wire change"): what each
call of the session puts in the outbox, and so pushes, is pinned here as the desk of
December 2026 wrote it (ids as placeholders)."""

from __future__ import annotations

import re
from typing import Any

from sync import queries
from tests.app.conftest import until

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_FUTURE = 4_102_444_800_000  # 2100-01-01

U = "<uuid>"
RECORDED: list[tuple[str, dict[str, Any]]] = [
    ("send_message", {"conversation_id": U, "message_id": U, "body": "Hello"}),
    ("send_message", {"conversation_id": U, "message_id": U, "body": "Hi",
                      "template": "order_update", "human_agent_tag": True}),
    ("add_note", {"conversation_id": U, "message_id": U, "body": "See @Alex",
                  "mentions": [U]}),
    ("add_note", {"conversation_id": U, "message_id": U, "body": "Plain note",
                  "mentions": []}),
    ("set_status", {"conversation_id": U, "status": "snoozed", "snoozed_until": _FUTURE}),
    ("set_status", {"conversation_id": U, "status": "open"}),
    ("assign", {"conversation_id": U, "agent_id": U}),
    ("assign", {"conversation_id": U, "agent_id": None}),
    ("assign", {"conversation_id": U, "team_id": U}),
    ("assign", {"conversation_id": U, "agent_id": U, "team_id": U}),
    ("set_priority", {"conversation_id": U, "priority": "high"}),
    ("add_tag", {"conversation_id": U, "tag": "vip"}),
    ("remove_tag", {"conversation_id": U, "tag": "vip"}),
    ("mark_read", {"conversation_id": U}),
]


def _ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ids(v) for v in value]
    return "<uuid>" if isinstance(value, str) and _UUID.match(value) else value


async def test_the_desk_queues_intents_as_the_recorded_desk_did(backend, desks, qtbot):
    session = await desks.session(backend)
    ids = await session.read(queries.conversation_ids, queries.InboxFilter(statuses=None),
                             queries.Sort.LAST_ACTIVITY, session.agent_id)
    cid, me = ids[0], session.agent_id
    team = session.directory.teams[0].id
    records = [
        await session.send_reply(cid, "Hello"),
        await session.send_reply(cid, "Hi", template="order_update", human_agent_tag=True),
        await session.add_note(cid, "See @Alex", [me]),
        await session.add_note(cid, "Plain note"),
        await session.set_status(cid, "snoozed", _FUTURE),
        await session.set_status(cid, "open"),
        await session.assign(cid, agent_id=me),
        await session.assign(cid, agent_id=None),
        await session.assign(cid, team_id=team),
        await session.assign(cid, agent_id=me, team_id=team),
        await session.set_priority(cid, "high"),
        await session.add_tag(cid, "vip"),
        await session.remove_tag(cid, "vip"),
        await session.mark_read(cid),
    ]
    got = [(r.name, _ids(r.args)) for r in records]
    assert got == RECORDED
    # The keys in the same order too: the JSON pushed is byte for byte what it was.
    assert [list(args) for _, args in got] == [list(args) for _, args in RECORDED]
    await until(lambda: session.status.pending == 0, 30, what="the intents pushed")
