"""Push over loopback HTTP: intents applied at most once, in order, with readable rejections;
every mutation kind; the messaging-window and opt-out rules (server and ``protocol.rules``)."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from protocol import events
from protocol import wire as p
from protocol.rules import (
    DAY_MS,
    HOUR_MS,
    WindowKind,
    opt_keyword,
    send_refusal,
    window_state,
)
from server import models as m
from server.db import Database
from server.feed import now_ms
from tests.server.harness import Api, LiveServer, Workspace, expected_state
from tests.server.test_feed import Outbox, describe_diff, full_sync, sign_in

Status = p.MutationStatus
Reason = p.RejectReason


def mid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def alice(live_server: LiveServer, workspace: Workspace) -> Iterator[Api]:
    with sign_in(live_server, workspace, "alice") as api:
        yield api


@pytest.fixture
def bob(live_server: LiveServer, workspace: Workspace) -> Iterator[Api]:
    with sign_in(live_server, workspace, "bob") as api:
        yield api


@pytest.fixture
def conv(alice: Api, workspace: Workspace) -> str:
    """A team-A email conversation with one inbound message."""
    return alice.inbound(workspace, "a_email", "carol@example.com", "Where is my order?",
                         display_name="Carol").conversation_id


def one(outbox: Outbox, name: str, **args: Any) -> p.MutationResult:
    return outbox.push((name, args)).results[0]


def assert_rejected(result: p.MutationResult, reason: p.RejectReason) -> None:
    assert result.status is Status.REJECTED, result
    assert result.error is not None and result.error.code is reason, result
    assert result.error.message.strip(), result
    assert result.change_seq is None


def count(db: Database, stmt: Any) -> int:
    with db.read() as s:
        return int(s.scalar(stmt) or 0)


def messages_with_id(db: Database, message_id: str) -> int:
    return count(db, select(func.count()).select_from(m.Message)
                 .where(m.Message.id == message_id))


def conversation_row(db: Database, conversation_id: str) -> m.Conversation:
    with db.read() as s:
        row = s.get(m.Conversation, conversation_id)
        assert row is not None
        return row


def head(api: Api) -> int:
    return int(api.http.get("/healthz").json()["head_seq"])


def reply(conversation_id: str, body: str = "Thanks, on it.", **extra: Any) -> dict[str, Any]:
    """Arguments of a ``send_message`` with a fresh message id."""
    return {"conversation_id": conversation_id, "message_id": mid(), "body": body, **extra}


# --------------------------------------------------------------------------- at most once


def test_applied_duplicate_and_rejected(alice: Api, conv: str, db: Database) -> None:
    box = Outbox(alice)
    first = box.push(("send_message", reply(conv)),
                     ("set_status", {"conversation_id": conv, "status": "snoozed",
                                     "snoozed_until": now_ms() - 1000}))
    applied, rejected = first.results
    assert applied.status is Status.APPLIED and applied.change_seq is not None
    assert applied.error is None and applied.original_status is None
    assert_rejected(rejected, Reason.INVALID)
    assert "future" in rejected.error.message  # type: ignore[union-attr]
    assert first.last_mutation_id == 2 and not first.stopped_at_gap
    assert conversation_row(db, conv).status == "open"


def test_resent_batch_is_duplicate_with_no_second_effect(
    alice: Api, conv: str, db: Database, workspace: Workspace
) -> None:
    box = Outbox(alice)
    batch = [
        {"id": 1, "name": "send_message",
         "args": {"conversation_id": conv, "message_id": mid(), "body": "It ships today."}},
        {"id": 2, "name": "add_note",
         "args": {"conversation_id": conv, "message_id": mid(), "body": "checked the depot"}},
        {"id": 3, "name": "set_priority", "args": {"conversation_id": conv, "priority": "low"}},
        {"id": 4, "name": "assign", "args": {"conversation_id": conv, "agent_id": "nobody"}},
    ]
    original = alice.push(box.client_id, batch)
    assert [r.status for r in original.results] == [Status.APPLIED] * 3 + [Status.REJECTED]
    head_before = head(alice)
    again = alice.push(box.client_id, batch)
    assert again.last_mutation_id == 4
    for before, after in zip(original.results, again.results, strict=True):
        assert after.status is Status.DUPLICATE
        assert after.original_status is before.status
        assert after.change_seq == before.change_seq
        assert after.error == before.error
    assert head(alice) == head_before  # no new changes at all
    sent = [r for r in alice.outbound(workspace, "a_email") if r.conversation_id == conv]
    assert [r.body for r in sent] == ["It ships today."]
    assert messages_with_id(db, batch[0]["args"]["message_id"]) == 1
    assert messages_with_id(db, batch[1]["args"]["message_id"]) == 1


def test_gap_stops_the_batch(alice: Api, conv: str, db: Database) -> None:
    box = Outbox(alice)
    mut = [
        {"id": 1, "name": "mark_read", "args": {"conversation_id": conv}},
        {"id": 2, "name": "set_priority", "args": {"conversation_id": conv, "priority": "low"}},
        {"id": 4, "name": "set_priority", "args": {"conversation_id": conv, "priority": "urgent"}},
    ]
    resp = alice.push(box.client_id, mut)
    assert resp.stopped_at_gap
    assert resp.last_mutation_id == 2
    assert [(r.id, r.status) for r in resp.results] == [(1, Status.APPLIED), (2, Status.APPLIED)]
    assert conversation_row(db, conv).priority == "low"  # 4 was not applied
    # The client pushes again from last_mutation_id + 1.
    resp = alice.push(box.client_id, [
        {"id": 3, "name": "set_priority", "args": {"conversation_id": conv, "priority": "high"}},
        mut[2],
    ])
    assert [r.status for r in resp.results] == [Status.APPLIED, Status.APPLIED]
    assert resp.last_mutation_id == 4 and not resp.stopped_at_gap
    assert conversation_row(db, conv).priority == "urgent"
    # A new client whose first id is not 1 has a gap at the start.
    resp = alice.push(f"fresh-{uuid.uuid4().hex}", [
        {"id": 2, "name": "mark_read", "args": {"conversation_id": conv}}])
    assert resp.results == [] and resp.stopped_at_gap and resp.last_mutation_id == 0


def test_rejection_in_the_middle_never_blocks_the_queue(alice: Api, conv: str,
                                                        db: Database) -> None:
    box = Outbox(alice)
    resp = box.push(
        ("set_priority", {"conversation_id": conv, "priority": "high"}),
        ("set_priority", {"conversation_id": str(uuid.uuid4()), "priority": "low"}),
        ("add_tag", {"conversation_id": conv, "tag": "after-poison"}),
    )
    assert [r.status for r in resp.results] == [Status.APPLIED, Status.REJECTED,
                                                Status.APPLIED]
    assert_rejected(resp.results[1], Reason.CONVERSATION_GONE)
    assert resp.last_mutation_id == 3
    row = conversation_row(db, conv)
    assert row.priority == "high" and json.loads(row.tags) == ["after-poison"]
    assert one(box, "mark_read", conversation_id=conv).status is Status.APPLIED
    # The rejection's outcome is kept: resent, it is a duplicate that replays it.
    dup = alice.push(box.client_id, [{"id": 2, "name": "set_priority",
                                      "args": {"conversation_id": conv, "priority": "low"}}])
    assert dup.results[0].status is Status.DUPLICATE
    assert dup.results[0].original_status is Status.REJECTED
    assert dup.results[0].error is not None
    assert dup.results[0].error.code is Reason.CONVERSATION_GONE
    assert conversation_row(db, conv).priority == "high"


class ResponseEatingProxy:
    """A real TCP proxy: forwards each request to the server, waits until the server has
    answered (so the work is committed), then resets the client's connection instead of
    passing the answer on — a response lost on the way back."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.eaten: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @staticmethod
    def _read_message(sock: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with client, socket.create_connection(("127.0.0.1", self.upstream_port)) as up:
                request = self._read_message(client)
                up.sendall(request)
                self.eaten.append(self._read_message(up))
                # RST instead of FIN: the client sees a reset connection, no response.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self) -> None:
        self.listener.close()


def test_mutation_retried_after_lost_response_has_one_effect(
    live_server: LiveServer, alice: Api, conv: str, db: Database, workspace: Workspace
) -> None:
    proxy = ResponseEatingProxy(live_server.port)
    client_id = f"desk-{uuid.uuid4().hex}"
    message_id = mid()
    body = {"client_id": client_id, "mutations": [
        {"id": 1, "name": "send_message",
         "args": {"conversation_id": conv, "message_id": message_id, "body": "Exactly once"}}]}
    try:
        with httpx.Client(base_url=proxy.url, timeout=10) as via_proxy, \
                pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            via_proxy.post(f"{p.API_PREFIX}/sync/push", json=body, headers=alice.headers)
    finally:
        proxy.close()
    assert len(proxy.eaten) == 1 and b" 200 " in proxy.eaten[0].split(b"\r\n")[0]
    lost = p.PushResponse.model_validate_json(proxy.eaten[0].partition(b"\r\n\r\n")[2])
    assert lost.results[0].status is Status.APPLIED
    # The desk never saw that answer; it retries the same intent directly.
    retry = alice.push(client_id, body["mutations"])
    assert retry.results[0].status is Status.DUPLICATE
    assert retry.results[0].original_status is Status.APPLIED
    assert retry.results[0].change_seq == lost.results[0].change_seq
    assert retry.last_mutation_id == 1
    sent = [r for r in alice.outbound(workspace, "a_email") if r.message_id == message_id]
    assert len(sent) == 1
    assert messages_with_id(db, message_id) == 1


def test_same_message_id_under_a_new_mutation_id_is_duplicate(
    alice: Api, conv: str, db: Database, workspace: Workspace
) -> None:
    """A desk that lost its outbox bookkeeping re-queues a sent reply with a new mutation id
    (CmisSync #683): the message id alone must prevent a second message."""
    box = Outbox(alice)
    args = {"conversation_id": conv, "message_id": mid(), "body": "only once please"}
    assert one(box, "send_message", **args).status is Status.APPLIED
    head_before = head(alice)
    again = one(box, "send_message", **args)
    assert again.status is Status.DUPLICATE and again.original_status is Status.APPLIED
    other_box = Outbox(alice)  # even from another installation of the same agent
    assert one(other_box, "send_message", **args).status is Status.DUPLICATE
    assert head(alice) == head_before
    assert messages_with_id(db, args["message_id"]) == 1
    assert len([r for r in alice.outbound(workspace, "a_email")
                if r.message_id == args["message_id"]]) == 1
    note = {"conversation_id": conv, "message_id": mid(), "body": "note once"}
    assert one(box, "add_note", **note).status is Status.APPLIED
    assert one(box, "add_note", **note).status is Status.DUPLICATE
    assert messages_with_id(db, note["message_id"]) == 1


def test_message_id_of_someone_else_is_invalid(
    alice: Api, live_server: LiveServer, workspace: Workspace, conv: str, db: Database
) -> None:
    args = {"conversation_id": conv, "message_id": mid(), "body": "mine"}
    assert one(Outbox(alice), "send_message", **args).status is Status.APPLIED
    with sign_in(live_server, workspace, "tina") as tina:
        assert_rejected(one(Outbox(tina), "send_message", **{**args, "body": "hers"}),
                        Reason.INVALID)
    assert messages_with_id(db, args["message_id"]) == 1


def test_client_id_of_another_agent(alice: Api, bob: Api, conv: str) -> None:
    box = Outbox(alice)
    assert one(box, "mark_read", conversation_id=conv).status is Status.APPLIED
    r = bob.post("/sync/push", json={"client_id": box.client_id, "mutations": [
        {"id": 2, "name": "mark_read", "args": {"conversation_id": conv}}]})
    assert r.status_code == 409, r.text
    assert p.ErrorBody.model_validate(r.json()).error == "client_id_taken"
    # Nor does bob learn alice's progress through pull.
    assert bob.pull(0, client_id=box.client_id).last_mutation_id == 0
    assert alice.pull(0, client_id=box.client_id).last_mutation_id == 1


def test_pull_reports_the_settled_mutation_id(alice: Api, conv: str) -> None:
    box = Outbox(alice)
    cursor = alice.pull(0).cursor
    assert alice.pull(cursor, client_id=box.client_id).last_mutation_id == 0
    box.push(("mark_read", {"conversation_id": conv}),
             ("no_such_thing", {}),
             ("set_priority", {"conversation_id": conv, "priority": "high"}))
    assert alice.pull(cursor, client_id=box.client_id).last_mutation_id == 3
    assert alice.pull(cursor).last_mutation_id == 0
    alice.push(box.client_id, [{"id": 9, "name": "mark_read", "args": {"conversation_id": conv}}])
    assert alice.pull(cursor, client_id=box.client_id).last_mutation_id == 3
    for client_id in ("bad\x00client-id", "short", "x" * 64 + "y"):  # never a push client id
        r = alice.get("/sync/pull", params={"cursor": 0, "limit": 1, "client_id": client_id})
        if r.status_code == 200:
            assert r.json()["last_mutation_id"] == 0
        else:
            assert r.status_code == 422, r.text


# --------------------------------------------------------------------------- mutation kinds


def test_send_message(alice: Api, conv: str, workspace: Workspace, db: Database) -> None:
    box = Outbox(alice)
    cursor = alice.pull(0).cursor
    args = reply(conv, "Your parcel left the depot.")
    res = one(box, "send_message", **args)
    assert res.status is Status.APPLIED
    changes = alice.pull(cursor).changes
    msg = next(c for c in changes if c.entity is p.Entity.MESSAGE)
    data = p.MessageData.model_validate(msg.data)
    assert data.id == args["message_id"] and data.direction is p.Direction.OUTBOUND
    assert data.author_id == workspace.agents["alice"] and data.body == args["body"]
    conv_data = p.ConversationData.model_validate(
        next(c for c in changes if c.entity is p.Entity.CONVERSATION).data)
    assert conv_data.preview == args["body"] and conv_data.unread_count == 0
    assert res.change_seq == max(c.seq for c in changes)
    sent = alice.outbound(workspace, "a_email")
    assert [(r.message_id, r.to_handle, r.body) for r in sent] == [
        (args["message_id"], "carol@example.com", args["body"])]
    assert_rejected(one(box, "send_message", **reply(conv, "   ")), Reason.INVALID)


def test_add_note_validates_mentions(alice: Api, conv: str, workspace: Workspace,
                                     db: Database) -> None:
    box = Outbox(alice)
    tina = workspace.agents["tina"]
    note = {"conversation_id": conv, "message_id": mid(), "body": "@tina look", "mentions":
            [tina, tina]}
    assert one(box, "add_note", **note).status is Status.APPLIED
    with db.read() as s:
        row = s.get(m.Message, note["message_id"])
        assert row is not None and row.direction == "note"
        assert json.loads(row.mentions) == [tina]
    bad = {"conversation_id": conv, "message_id": mid(), "body": "@ghost",
           "mentions": [tina, str(uuid.uuid4())]}
    assert_rejected(one(box, "add_note", **bad), Reason.UNKNOWN_AGENT)
    assert messages_with_id(db, bad["message_id"]) == 0
    assert alice.outbound(workspace, "a_email") == []  # notes never reach the customer


def test_set_status(alice: Api, conv: str, db: Database) -> None:
    box = Outbox(alice)
    assert one(box, "set_status", conversation_id=conv, status="pending").status \
        is Status.APPLIED
    assert conversation_row(db, conv).status == "pending"
    until = now_ms() + HOUR_MS
    assert one(box, "set_status", conversation_id=conv, status="snoozed",
               snoozed_until=until).status is Status.APPLIED
    row = conversation_row(db, conv)
    assert (row.status, row.snoozed_until) == ("snoozed", until)
    for bad in ({"status": "snoozed"}, {"status": "snoozed", "snoozed_until": now_ms() - 1},
                {"status": "closed"}):
        assert_rejected(one(box, "set_status", conversation_id=conv, **bad), Reason.INVALID)
    assert conversation_row(db, conv).status == "snoozed"
    assert one(box, "set_status", conversation_id=conv, status="resolved").status \
        is Status.APPLIED
    row = conversation_row(db, conv)
    assert (row.status, row.snoozed_until, row.sla_due_at) == ("resolved", None, None)


def test_assign_to_agent_and_rejections(alice: Api, conv: str, workspace: Workspace,
                                        db: Database) -> None:
    box = Outbox(alice)
    assert one(box, "assign", conversation_id=conv, agent_id=workspace.agents["tina"]).status \
        is Status.APPLIED
    assert conversation_row(db, conv).assignee_id == workspace.agents["tina"]
    assert_rejected(one(box, "assign", conversation_id=conv, agent_id=str(uuid.uuid4())),
                    Reason.UNKNOWN_AGENT)
    assert_rejected(one(box, "assign", conversation_id=conv, team_id=str(uuid.uuid4())),
                    Reason.UNKNOWN_TEAM)
    assert_rejected(one(box, "assign", conversation_id=conv), Reason.INVALID)
    assert_rejected(one(box, "assign", conversation_id=conv, team_id=None), Reason.INVALID)
    row = conversation_row(db, conv)
    assert (row.team_id, row.assignee_id) == (workspace.teams["A"], workspace.agents["tina"])
    assert one(box, "assign", conversation_id=conv, agent_id=None).status is Status.APPLIED
    assert conversation_row(db, conv).assignee_id is None


def test_assign_to_other_team_moves_it_between_mirrors(
    alice: Api, bob: Api, conv: str, workspace: Workspace, db: Database
) -> None:
    box = Outbox(alice)
    one(box, "send_message", **reply(conv))
    one(box, "add_note", conversation_id=conv, message_id=mid(), body="for team B")
    alice_mirror, bob_mirror = full_sync(alice), full_sync(bob)
    assert conv in alice_mirror.of("conversation") and conv not in bob_mirror.of("conversation")
    res = one(box, "assign", conversation_id=conv, team_id=workspace.teams["B"])
    assert res.status is Status.APPLIED
    alice_changes, alice_mirror.cursor = alice.pull_all(alice_mirror.cursor)
    revoke = [c for c in alice_changes if c.id == conv]
    assert [c.op for c in revoke] == [p.Op.DELETE]  # a direct tombstone, nothing else
    alice_mirror.apply_changes(alice_changes)
    bob_changes, bob_mirror.cursor = bob.pull_all(bob_mirror.cursor)
    bob_mirror.apply_changes(bob_changes)
    assert conv not in alice_mirror.of("conversation")
    assert not [v for v in alice_mirror.of("message").values() if v["conversation_id"] == conv]
    with db.read() as s:
        all_messages = set(s.scalars(select(m.Message.id)
                                     .where(m.Message.conversation_id == conv)))
    assert len(all_messages) == 4  # inbound, reply, note, "moved to team" notice
    assert {k for k, v in bob_mirror.of("message").items()
            if v["conversation_id"] == conv} == all_messages
    assert bob_mirror.of("conversation")[conv]["team_id"] == workspace.teams["B"]
    for api, mirror in ((alice, alice_mirror), (bob, bob_mirror)):
        expected = expected_state(db, api.agent["id"])  # type: ignore[index]
        assert mirror.rows == expected, describe_diff(mirror.rows, expected)
    # Alice's queued intents for it now answer not_permitted.
    assert_rejected(one(box, "mark_read", conversation_id=conv), Reason.NOT_PERMITTED)


def test_system_messages_are_the_declared_sentences(alice: Api, conv: str,
                                                    workspace: Workspace, db: Database) -> None:
    """What happened to a conversation is written with ``protocol.events``' templates, so the
    desk can recognise each sentence and show it in the agent's language."""
    box = Outbox(alice)
    until = (int(time.time()) // 60 + 90) * 60_000  # a whole minute, as the sentence has it
    for name, args in (("set_status", {"status": "pending"}),
                       ("set_status", {"status": "snoozed", "snoozed_until": until}),
                       ("assign", {"agent_id": workspace.agents["tina"]}),
                       ("assign", {"agent_id": workspace.agents["alice"]}),
                       ("assign", {"agent_id": None}),
                       ("assign", {"team_id": workspace.teams["B"]})):
        assert one(box, name, conversation_id=conv, **args).status is Status.APPLIED
    with db.read() as s:
        bodies = list(s.scalars(select(m.Message.body).where(
            m.Message.conversation_id == conv, m.Message.direction == "system")))
    expected = {
        events.STATUS_SET.format(status="pending", by="Alice"):
            (events.STATUS_SET, {"status": "pending", "by": "Alice"}),
        events.SNOOZED_UNTIL.format(until=events.instant(until), by="Alice"):
            (events.SNOOZED_UNTIL, {"until": events.instant(until), "by": "Alice"}),
        events.ASSIGNED.format(agent="Tina", by="Alice"):
            (events.ASSIGNED, {"agent": "Tina", "by": "Alice"}),
        events.SELF_ASSIGNED.format(by="Alice"):  # was "Assigned to Alice by Alice"
            (events.SELF_ASSIGNED, {"by": "Alice"}),
        events.UNASSIGNED.format(by="Alice"):  # was "Assigned to nobody by Alice"
            (events.UNASSIGNED, {"by": "Alice"}),
        events.MOVED_TO_TEAM.format(team="Team Beta"):
            (events.MOVED_TO_TEAM, {"team": "Team Beta"}),
    }
    assert sorted(bodies) == sorted(expected)  # (one millisecond may hold several)
    assert all(events.recognise(body) == expected[body] for body in bodies)
    assert events.instant_ms(events.instant(until)) == until


def test_set_priority(alice: Api, conv: str, db: Database) -> None:
    box = Outbox(alice)
    assert one(box, "set_priority", conversation_id=conv, priority="urgent").status \
        is Status.APPLIED
    row = conversation_row(db, conv)
    assert row.priority == "urgent"
    assert row.last_inbound_at is not None
    assert row.sla_due_at == row.last_inbound_at + 15 * 60_000
    assert_rejected(one(box, "set_priority", conversation_id=conv, priority="meh"),
                    Reason.INVALID)


def test_add_and_remove_tag(alice: Api, conv: str, workspace: Workspace,
                                               db: Database) -> None:
    other = alice.inbound(workspace, "a_sms", "+15550100", "hi").conversation_id
    box = Outbox(alice)
    start = alice.pull(0).cursor
    for conversation_id in (conv, other, conv):
        assert one(box, "add_tag", conversation_id=conversation_id, tag="refund").status \
            is Status.APPLIED
    assert count(db, select(func.count()).select_from(m.Tag).where(m.Tag.name == "refund")) == 1
    changes, _ = alice.pull_all(start)
    tags = [c for c in changes if c.entity is p.Entity.TAG]
    assert len(tags) == 1 and p.TagData.model_validate(tags[0].data).name == "refund"
    assert json.loads(conversation_row(db, conv).tags) == ["refund"]
    assert json.loads(conversation_row(db, other).tags) == ["refund"]
    assert_rejected(one(box, "add_tag", conversation_id=conv, tag="   "), Reason.INVALID)
    # remove_tag; removing a tag that isn't there is a no-op, not an error.
    assert one(box, "add_tag", conversation_id=conv, tag="b").status is Status.APPLIED
    assert one(box, "remove_tag", conversation_id=conv, tag="refund").status is Status.APPLIED
    assert json.loads(conversation_row(db, conv).tags) == ["b"]
    assert one(box, "remove_tag", conversation_id=conv, tag="zzz").status is Status.APPLIED
    assert json.loads(conversation_row(db, conv).tags) == ["b"]
    assert json.loads(conversation_row(db, other).tags) == ["refund"]


def test_mark_read(alice: Api, conv: str, workspace: Workspace, db: Database) -> None:
    alice.inbound(workspace, "a_email", "carol@example.com", "hello again?")
    assert conversation_row(db, conv).unread_count == 2
    assert one(Outbox(alice), "mark_read", conversation_id=conv).status is Status.APPLIED
    assert conversation_row(db, conv).unread_count == 0


def test_unknown_and_invalid_mutations(alice: Api, conv: str) -> None:
    box = Outbox(alice)
    res = one(box, "delete_everything", conversation_id=conv)
    assert_rejected(res, Reason.UNKNOWN_MUTATION)
    assert "delete_everything" in res.error.message  # type: ignore[union-attr]
    res = one(box, "send_message", conversation_id=conv, body="no message id")
    assert_rejected(res, Reason.INVALID)
    assert "message_id" in res.error.message  # type: ignore[union-attr]
    res = one(box, "set_priority", conversation_id=conv, priority="high", colour="red")
    assert_rejected(res, Reason.INVALID)
    assert "colour" in res.error.message  # type: ignore[union-attr]


def test_not_permitted_and_gone(bob: Api, conv: str, db: Database) -> None:
    box = Outbox(bob)
    before = conversation_row(db, conv)
    bob_id = bob.agent["id"]  # type: ignore[index]
    for name, args in (("send_message", reply(conv)),
                       ("set_status", {"conversation_id": conv, "status": "resolved"}),
                       ("assign", {"conversation_id": conv, "agent_id": bob_id}),
                       ("mark_read", {"conversation_id": conv})):
        assert_rejected(one(box, name, **args), Reason.NOT_PERMITTED)
    after = conversation_row(db, conv)
    assert (after.status, after.assignee_id, after.unread_count) == (
        before.status, before.assignee_id, before.unread_count)
    assert_rejected(one(box, "mark_read", conversation_id=str(uuid.uuid4())),
                    Reason.CONVERSATION_GONE)


# --------------------------------------------------------------------------- windows


def set_last_inbound(db: Database, conversation_id: str, ago_ms: int) -> None:
    with db.write() as s:
        s.execute(update(m.Conversation).where(m.Conversation.id == conversation_id)
                  .values(last_inbound_at=now_ms() - ago_ms))


def test_whatsapp_window(alice: Api, workspace: Workspace, db: Database) -> None:
    conv = alice.inbound(workspace, "a_whatsapp", "+15550200", "hi").conversation_id
    box = Outbox(alice)
    set_last_inbound(db, conv, 23 * HOUR_MS)
    assert one(box, "send_message", **reply(conv, "free reply")).status is Status.APPLIED
    set_last_inbound(db, conv, 25 * HOUR_MS)
    assert_rejected(one(box, "send_message", **reply(conv, "too late")),
                    Reason.TEMPLATE_REQUIRED)
    assert one(box, "send_message", **reply(conv, "", template="order_update")).status \
        is Status.APPLIED
    assert_rejected(one(box, "send_message", **reply(conv, "", template="nope")),
                    Reason.UNKNOWN_TEMPLATE)
    sent = alice.outbound(workspace, "a_whatsapp")
    assert [r.template for r in sent] == [None, "order_update"]
    assert "{{1}}" in sent[1].body  # the template's text went out


def test_messenger_and_instagram_window(alice: Api, workspace: Workspace, db: Database
                                        ) -> None:
    for channel in ("a_messenger", "a_instagram"):
        conv = alice.inbound(workspace, channel, f"user-{channel}", "hi").conversation_id
        box = Outbox(alice)
        set_last_inbound(db, conv, 23 * HOUR_MS)
        assert one(box, "send_message", **reply(conv)).status is Status.APPLIED
        set_last_inbound(db, conv, 3 * DAY_MS)
        assert_rejected(one(box, "send_message", **reply(conv)),
                        Reason.HUMAN_AGENT_TAG_REQUIRED)
        assert one(box, "send_message", **reply(conv, human_agent_tag=True)).status \
            is Status.APPLIED
        set_last_inbound(db, conv, 8 * DAY_MS)
        assert_rejected(one(box, "send_message", **reply(conv, human_agent_tag=True)),
                        Reason.WINDOW_CLOSED)
        assert_rejected(one(box, "send_message", **reply(conv, template="order_update")),
                        Reason.WINDOW_CLOSED)
        assert len(alice.outbound(workspace, channel)) == 2, channel


def test_channels_without_window(alice: Api, workspace: Workspace, db: Database) -> None:
    for channel in ("a_email", "a_web_chat", "a_line"):
        conv = alice.inbound(workspace, channel, f"someone-{channel}", "hi").conversation_id
        set_last_inbound(db, conv, 400 * DAY_MS)
        assert one(Outbox(alice), "send_message", **reply(conv)).status is Status.APPLIED, \
            channel


def test_opted_out_sms(alice: Api, workspace: Workspace, db: Database) -> None:
    handle = "+15550300"
    conv = alice.inbound(workspace, "a_sms", handle, "hello").conversation_id
    box = Outbox(alice)
    assert alice.inbound(workspace, "a_sms", handle, "please stop texting").opted_out is False
    assert one(box, "send_message", **reply(conv)).status is Status.APPLIED
    assert alice.inbound(workspace, "a_sms", handle, " Stop ").opted_out is True
    assert_rejected(one(box, "send_message", **reply(conv)), Reason.CONTACT_OPTED_OUT)
    assert alice.inbound(workspace, "a_sms", handle, "START").opted_out is False
    assert one(box, "send_message", **reply(conv)).status is Status.APPLIED
    assert len(alice.outbound(workspace, "a_sms")) == 2


# --------------------------------------------------------------------------- rules (unit)


T0 = 1_700_000_000_000


@pytest.mark.parametrize(("channel", "age", "kind"), [
    ("whatsapp", 24 * HOUR_MS - 1, WindowKind.OPEN),
    ("whatsapp", 24 * HOUR_MS, WindowKind.TEMPLATE_ONLY),
    ("messenger", 24 * HOUR_MS - 1, WindowKind.OPEN),
    ("messenger", 24 * HOUR_MS, WindowKind.HUMAN_AGENT_ONLY),
    ("messenger", 7 * DAY_MS - 1, WindowKind.HUMAN_AGENT_ONLY),
    ("messenger", 7 * DAY_MS, WindowKind.CLOSED),
    ("instagram", 24 * HOUR_MS, WindowKind.HUMAN_AGENT_ONLY),
    ("instagram", 7 * DAY_MS, WindowKind.CLOSED),
    ("email", 365 * DAY_MS, WindowKind.ALWAYS_OPEN),
    ("web_chat", 365 * DAY_MS, WindowKind.ALWAYS_OPEN),
    ("line", 365 * DAY_MS, WindowKind.ALWAYS_OPEN),
    ("sms", 365 * DAY_MS, WindowKind.ALWAYS_OPEN),
])
def test_window_state_boundaries(channel: str, age: int, kind: WindowKind) -> None:
    state = window_state(channel, T0, T0 + age)
    assert state.kind is kind
    if kind is WindowKind.OPEN:
        assert state.open_until == T0 + 24 * HOUR_MS
        assert state.remaining_ms(T0 + age) == 1
    if kind is WindowKind.HUMAN_AGENT_ONLY:
        assert state.open_until == T0 + 7 * DAY_MS


def test_window_state_without_inbound_and_opt_out() -> None:
    assert window_state("whatsapp", None, T0).kind is WindowKind.TEMPLATE_ONLY
    assert window_state("messenger", None, T0).kind is WindowKind.CLOSED
    assert window_state("sms", T0, T0, opted_out=True).kind is WindowKind.OPTED_OUT
    # Opt-out is an SMS rule; other channels ignore the flag.
    assert window_state("email", T0, T0, opted_out=True).kind is WindowKind.ALWAYS_OPEN


def test_send_refusal() -> None:
    def refusal(channel: str, age: int, template: str | None = None, tag: bool = False,
                opted_out: bool = False) -> p.RejectReason | None:
        state = window_state(channel, T0, T0 + age, opted_out=opted_out)
        return send_refusal(state, template=template, human_agent_tag=tag)

    assert refusal("whatsapp", 24 * HOUR_MS - 1) is None
    assert refusal("whatsapp", 24 * HOUR_MS) is Reason.TEMPLATE_REQUIRED
    assert refusal("whatsapp", 24 * HOUR_MS, template="order_update") is None
    assert refusal("whatsapp", 30 * DAY_MS, tag=True) is Reason.TEMPLATE_REQUIRED
    assert refusal("messenger", 24 * HOUR_MS) is Reason.HUMAN_AGENT_TAG_REQUIRED
    assert refusal("messenger", 24 * HOUR_MS, tag=True) is None
    assert refusal("messenger", 7 * DAY_MS - 1, tag=True) is None
    assert refusal("messenger", 7 * DAY_MS, tag=True) is Reason.WINDOW_CLOSED
    assert refusal("instagram", 7 * DAY_MS, template="order_update") is Reason.WINDOW_CLOSED
    assert refusal("sms", 0, opted_out=True) is Reason.CONTACT_OPTED_OUT
    assert refusal("sms", 0) is None
    assert refusal("email", 10 * 365 * DAY_MS) is None


@pytest.mark.parametrize(("channel", "text", "expected"), [
    ("sms", "STOP", True), ("sms", " stop\n", True), ("sms", "Unsubscribe", True),
    ("sms", "QUIT", True), ("sms", "start", False), ("sms", "UNSTOP", False),
    ("sms", "please stop", None), ("sms", "stop!", None), ("sms", "stopp", None),
    ("sms", "", None), ("whatsapp", "STOP", None), ("email", "unsubscribe", None),
])
def test_opt_keyword(channel: str, text: str, expected: bool | None) -> None:
    assert opt_keyword(channel, text) is expected


def test_unstorable_arguments_are_rejections_not_failed_requests(alice: Api, conv: str,
                                                                 db: Database) -> None:
    """Values no column can hold (NUL in text, integers beyond 64 bits) are rejected one by
    one; before, they failed the whole request (500), and a desk retrying it would be stuck
    behind that poison intent forever — on PostgreSQL for NUL, on both engines for numbers."""
    box = Outbox(alice)
    resp = box.push(
        ("set_status", {"conversation_id": conv, "status": "snoozed",
                        "snoozed_until": 2**70}),
        ("add_tag", {"conversation_id": conv, "tag": "nul\x00tag"}),
        ("send_message", reply(conv, "hello\x00world")),
        ("mark\x00read", {"conversation_id": conv}),
        ("mark_read", {"conversation_id": conv}),
    )
    assert [r.status for r in resp.results] == [Status.REJECTED] * 4 + [Status.APPLIED]
    for result in resp.results[:3]:
        assert_rejected(result, Reason.INVALID)
    assert_rejected(resp.results[3], Reason.UNKNOWN_MUTATION)
    assert resp.last_mutation_id == 5
    row = conversation_row(db, conv)
    assert (row.status, row.tags, row.unread_count) == ("open", "[]", 0)


def test_booleans_are_not_numbers_in_a_push(alice: Api, conv: str) -> None:
    """Lax pydantic reads ``true`` as 1: a mutation id or a snooze time must be an integer."""
    r = alice.post("/sync/push", json={"client_id": "client-bools", "mutations": [
        {"id": True, "name": "mark_read", "args": {"conversation_id": conv}}]})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_request"
    res = alice.push("client-bools", [{"id": 1, "name": "set_status", "args": {
        "conversation_id": conv, "status": "snoozed", "snoozed_until": True}}])
    assert res.results[0].status is p.MutationStatus.REJECTED
    assert res.results[0].error is not None and res.results[0].error.code is p.RejectReason.INVALID
