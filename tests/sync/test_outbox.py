"""The outbox: durable intents with push ids the server can deduplicate, and their life cycle
(pending → applied → settled once pulled, or rejected → retried / discarded)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from protocol import wire as p
from sync import outbox
from sync.outbox import APPLIED, PENDING, REJECTED, InvalidIntent
from sync.store import Store
from tests.server.harness import Api

NOW = 1_700_000_000_000


def run(store: Store, fn: Any, *args: Any) -> Any:
    """An outbox function in one write transaction on the writer thread."""

    def work() -> Any:
        with store.write_outbox() as conn:
            return fn(conn, *args)

    return store.write_sync(work)


def queue(store: Store, name: str = "mark_read", **args: Any) -> outbox.IntentRecord:
    args.setdefault("conversation_id", "c1")
    return run(store, outbox.enqueue, name, args, NOW)


def rows(store: Store) -> list[outbox.IntentRecord]:
    with store.read_outbox() as conn:
        return outbox.unsettled(conn)


def result(mid: int, status: str, *, change_seq: int | None = None,
           original: str | None = None, error: tuple[str, str] | None = None
           ) -> p.MutationResult:
    return p.MutationResult(
        id=mid, status=p.MutationStatus(status), change_seq=change_seq,
        original_status=p.MutationStatus(original) if original else None,
        error=p.MutationError(code=p.RejectReason(error[0]), message=error[1]) if error else None,
    )


def response(*results: p.MutationResult) -> p.PushResponse:
    return p.PushResponse(results=list(results),
                          last_mutation_id=max((r.id for r in results), default=0))


# --------------------------------------------------------------------------- ids


def test_push_ids_count_from_one_without_gaps_and_survive_a_restart(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.open()
    ids = [queue(s, conversation_id=f"c{i}").mutation_id for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    local = [r.id for r in rows(s)]
    assert local == sorted(local) and len(set(local)) == 5
    s.close()

    s = Store(tmp_path)
    s.open()
    try:
        assert queue(s).mutation_id == 6
        with s.read_outbox() as conn:
            assert [i.mutation_id for i in outbox.pending(conn)] == [1, 2, 3, 4, 5, 6]
            assert [i.mutation_id for i in outbox.pending(conn, limit=2)] == [1, 2]
    finally:
        s.close()


def test_client_id_is_created_once_and_is_a_valid_push_identity(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.open()
    first = run(s, outbox.client_id)
    assert run(s, outbox.client_id) == first
    queue(s)
    assert run(s, outbox.client_id) == first
    s.close()
    s = Store(tmp_path)
    s.open()
    try:
        assert run(s, outbox.client_id) == first
    finally:
        s.close()
    # What the server accepts (protocol.PushRequest.client_id).
    assert re.fullmatch(r"[A-Za-z0-9_-]{8,64}", first)
    p.PushRequest(client_id=first, mutations=[])
    other = Store(tmp_path / "other")
    other.open()
    try:
        assert run(other, outbox.client_id) != first  # another installation, another id
    finally:
        other.close()


def test_messages_get_a_client_uuid_unless_they_bring_one(store: Store) -> None:
    reply = queue(store, "send_message", body="Hi")
    note = queue(store, "add_note", body="Internal")
    assert uuid.UUID(reply.message_id) and uuid.UUID(note.message_id)
    assert reply.message_id != note.message_id
    mine = str(uuid.uuid4())
    assert queue(store, "send_message", body="Again", message_id=mine).message_id == mine
    assert queue(store, "set_status", status="resolved").message_id is None
    # Stored durably with the id: a retry after a crash resends the same message id.
    assert [r.message_id for r in rows(store)][:3] == [reply.message_id, note.message_id, mine]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("name", "args", "says"), [
    ("send_mesage", {"conversation_id": "c1", "body": "x"}, "unknown action 'send_mesage'"),
    ("send_message", {"body": "x"}, "conversation_id"),
    ("set_status", {"conversation_id": "c1", "status": "closed"}, "status"),
    ("set_priority", {"conversation_id": "c1", "priority": "asap"}, "priority"),
    ("add_tag", {"conversation_id": "c1", "tag": ""}, "tag"),
    ("add_tag", {"conversation_id": "c1", "tag": "x" * 65}, "tag"),
    ("add_note", {"conversation_id": "c1", "body": ""}, "body"),
    ("send_message", {"conversation_id": "c1", "body": "a\x00b"}, "NUL"),
    ("mark_read", {"conversation_id": "c1", "extra": 1}, "extra"),
    ("send_message", {"conversation_id": "c1", "body": "x", "message_id": "short"},
     "message_id"),
])
def test_bad_input_is_refused_with_a_clear_message_and_queues_nothing(
        store: Store, name: str, args: dict[str, Any], says: str) -> None:
    queue(store)  # id 1
    with pytest.raises(InvalidIntent) as excinfo:
        run(store, outbox.enqueue, name, args, NOW)
    message = str(excinfo.value)
    assert says in message
    assert message.startswith(("unknown action", name))
    assert len(rows(store)) == 1
    assert queue(store).mutation_id == 2, "a refused intent must not burn a push id"


def test_validate_keeps_an_explicit_null_that_means_unassign() -> None:
    assert outbox.validate("assign", {"conversation_id": "c1", "agent_id": None}) == {
        "conversation_id": "c1", "agent_id": None}
    assert outbox.validate("assign", {"conversation_id": "c1", "team_id": "t"}) == {
        "conversation_id": "c1", "team_id": "t"}


# --------------------------------------------------------------------------- results


def test_record_results_applied_duplicate_and_rejected(store: Store) -> None:
    a, b, c, d, e = (queue(store, conversation_id=f"c{i}") for i in range(5))
    counts = run(store, outbox.record_results, response(
        result(a.mutation_id, "applied", change_seq=10),
        result(b.mutation_id, "duplicate", original="applied", change_seq=11),
        result(c.mutation_id, "duplicate", original="rejected",
               error=("not_permitted", "You are not permitted to change this conversation.")),
        result(d.mutation_id, "rejected", error=("conversation_gone", "It is gone.")),
        result(e.mutation_id, "applied"),  # a no-op on the server: nothing to pull
    ), NOW)
    assert counts == (3, 2)
    by_id = {r.id: r for r in rows(store)}
    assert (by_id[a.id].state, by_id[a.id].change_seq) == (APPLIED, 10)
    assert (by_id[b.id].state, by_id[b.id].change_seq) == (APPLIED, 11)
    assert (by_id[c.id].state, by_id[c.id].error_code) == (REJECTED, "not_permitted")
    assert by_id[c.id].error_message == "You are not permitted to change this conversation."
    assert (by_id[d.id].state, by_id[d.id].error_code, by_id[d.id].error_message) == (
        REJECTED, "conversation_gone", "It is gone.")
    assert (by_id[e.id].state, by_id[e.id].change_seq) == (APPLIED, None)
    with store.read_outbox() as conn:
        assert outbox.counts(conn) == {PENDING: 0, APPLIED: 3, REJECTED: 2}
        assert outbox.pending(conn) == []


def test_record_results_from_the_real_server_including_a_repeated_push(
        server: Any, ws: Any, store: Store) -> None:
    """The same batch pushed twice (the answer to the first was lost): the second answers are
    duplicates and leave every intent where the first put it."""
    api = Api(server.url)
    conv = api.inbound(ws, "a_sms", "+15550100001", "Where is my parcel?").conversation_id
    reply = queue(store, "send_message", conversation_id=conv, body="On its way")
    gone = queue(store, "set_status", conversation_id="no-such-conversation", status="resolved")
    tag = queue(store, "add_tag", conversation_id=conv, tag="parcel")
    api.login(ws.emails["alice"])
    client_id = run(store, outbox.client_id)
    with store.read_outbox() as conn:
        batch = [{"id": i.mutation_id, "name": i.name, "args": i.args}
                 for i in outbox.pending(conn)]
    first = api.push(client_id, batch)
    assert run(store, outbox.record_results, first, NOW) == (2, 1)
    after_first = rows(store)
    second = api.push(client_id, batch)
    assert {r.status for r in second.results} == {p.MutationStatus.DUPLICATE}
    assert run(store, outbox.record_results, second, NOW) == (2, 1)
    assert rows(store) == after_first
    by_id = {r.id: r for r in after_first}
    assert by_id[reply.id].state == APPLIED and by_id[reply.id].change_seq
    assert by_id[tag.id].state == APPLIED and by_id[tag.id].change_seq
    assert by_id[gone.id].state == REJECTED and by_id[gone.id].error_code == "conversation_gone"
    assert [o.body for o in api.outbound(ws, "a_sms")] == ["On its way"]

    # Settled once a pull has passed the changes they made.
    page = api.pull(0, client_id=client_id)
    while page.has_more:
        page = api.pull(page.cursor, client_id=client_id)
    run(store, outbox.settle, page.cursor)
    assert [(r.id, r.state) for r in rows(store)] == [(gone.id, REJECTED)]
    api.close()


# --------------------------------------------------------------------------- settle


def test_settle_only_once_the_change_has_been_pulled(store: Store) -> None:
    a, b, c, d = (queue(store, conversation_id=f"c{i}") for i in range(4))
    run(store, outbox.record_results, response(
        result(a.mutation_id, "applied", change_seq=10),
        result(b.mutation_id, "applied", change_seq=12),
        result(c.mutation_id, "applied"),
        result(d.mutation_id, "rejected", error=("not_permitted", "No.")),
    ), NOW)
    e = queue(store, conversation_id="c9")  # still pending

    assert run(store, outbox.settle, 9) == 1  # c: nothing to wait for
    assert {r.id for r in rows(store)} == {a.id, b.id, d.id, e.id}
    assert run(store, outbox.settle, 10) == 1  # a: its change is in the mirror now
    assert {r.id for r in rows(store)} == {b.id, d.id, e.id}
    assert run(store, outbox.settle, 11) == 0
    assert run(store, outbox.settle, 1_000) == 1  # b
    # Never settled: what the server has not confirmed, and what it refused.
    assert {(r.id, r.state) for r in rows(store)} == {(d.id, REJECTED), (e.id, PENDING)}


# --------------------------------------------------------------------------- retry / discard


def test_retry_requeues_a_rejected_intent_under_a_new_push_id(store: Store) -> None:
    a = queue(store, "send_message", body="Hello")
    b = queue(store)
    run(store, outbox.record_results, response(
        result(a.mutation_id, "rejected", error=("window_closed", "Closed."))), NOW)
    again = run(store, outbox.retry, a.id)
    assert again.id == a.id and again.state == PENDING
    assert again.mutation_id == 3  # after b: a new id, never reusing the rejected one
    assert again.error_code is None and again.error_message is None
    assert again.message_id == a.message_id and again.args == a.args
    with store.read_outbox() as conn:
        assert [i.id for i in outbox.pending(conn)] == [b.id, a.id]
    with pytest.raises(InvalidIntent, match="only a rejected intent"):
        run(store, outbox.retry, b.id)  # pending
    with pytest.raises(InvalidIntent, match="only a rejected intent"):
        run(store, outbox.retry, 999)  # unknown


def test_discard_only_what_the_server_rejected(store: Store) -> None:
    a, b, c = (queue(store, conversation_id=f"c{i}") for i in range(3))
    run(store, outbox.record_results, response(
        result(a.mutation_id, "rejected", error=("not_permitted", "No.")),
        result(b.mutation_id, "applied", change_seq=5)), NOW)
    with pytest.raises(InvalidIntent, match="only a rejected intent"):
        run(store, outbox.discard, b.id)  # confirmed: waits for the pull instead
    with pytest.raises(InvalidIntent, match="only a rejected intent"):
        run(store, outbox.discard, c.id)  # pending: unsent work is never thrown away here
    run(store, outbox.discard, a.id)
    assert {r.id for r in rows(store)} == {b.id, c.id}
    run(store, outbox.discard, a.id)  # already gone: harmless
    assert {r.id for r in rows(store)} == {b.id, c.id}


# --------------------------------------------------------------------------- new client


def test_start_new_client_renumbers_pending_from_one_keeping_message_ids(store: Store) -> None:
    old_client = run(store, outbox.client_id)
    a = queue(store, "send_message", body="one")  # 1
    b = queue(store)  # 2
    c = queue(store, "add_note", body="two")  # 3
    d = queue(store, "send_message", body="three")  # 4
    run(store, outbox.record_results, response(
        result(b.mutation_id, "applied", change_seq=7),
        result(c.mutation_id, "rejected", error=("not_permitted", "No."))), NOW)

    new_client = run(store, outbox.start_new_client)
    assert new_client != old_client and run(store, outbox.client_id) == new_client
    assert re.fullmatch(r"[A-Za-z0-9_-]{8,64}", new_client)
    by_id = {r.id: r for r in rows(store)}
    with store.read_outbox() as conn:
        pending = outbox.pending(conn)
    assert [(i.id, i.mutation_id) for i in pending] == [(a.id, 1), (d.id, 2)]
    assert [i.message_id for i in pending] == [a.message_id, d.message_id]
    # Confirmed or refused ones keep waiting (settle / the agent) under ids that cannot clash.
    assert by_id[b.id].state == APPLIED and by_id[b.id].mutation_id < 1
    assert by_id[c.id].state == REJECTED and by_id[c.id].mutation_id < 1
    assert queue(store).mutation_id == 3
    retried = run(store, outbox.retry, c.id)
    assert retried.mutation_id == 4 and retried.message_id == c.message_id
    with store.read_outbox() as conn:
        assert [i.mutation_id for i in outbox.pending(conn)] == [1, 2, 3, 4]


# --------------------------------------------------------------------------- undo: cancel, hold


def test_cancel_takes_back_an_unclaimed_intent_and_keeps_push_ids_gapless(store: Store) -> None:
    a = queue(store, "set_status", status="resolved")  # 1
    batch, held = run(store, outbox.claim, NOW, 1)
    assert [i.id for i in batch] == [a.id] and batch[0].attempts == 1 and held is None
    b = queue(store, "set_status", status="resolved")  # 2
    c = queue(store, "send_message", body="after")  # 3
    d = queue(store)  # 4
    # Claimed by a push: it may be on the wire, so it is never cancelled (reversed instead).
    assert run(store, outbox.cancel, a.id) is False
    assert run(store, outbox.cancel, b.id) is True
    with store.read_outbox() as conn:
        left = outbox.pending(conn)
    assert [(i.id, i.mutation_id) for i in left] == [(a.id, 1), (c.id, 2), (d.id, 3)]
    assert left[1].message_id == c.message_id
    assert queue(store).mutation_id == 4
    assert run(store, outbox.cancel, b.id) is False  # gone already
    # The next claim takes up where the last one stopped: what a server expects next.
    batch, _ = run(store, outbox.claim, NOW, 500, 1)
    assert [i.mutation_id for i in batch] == [2, 3, 4]
    assert all(run(store, outbox.cancel, i.id) is False for i in batch)


def test_an_applied_intent_is_not_cancelled_and_a_rejected_one_is(store: Store) -> None:
    a = queue(store)
    b = queue(store, "set_priority", priority="high")
    run(store, outbox.claim, NOW)
    run(store, outbox.record_results, response(
        result(a.mutation_id, "applied", change_seq=3),
        result(b.mutation_id, "rejected", error=("not_permitted", "No."))), NOW)
    assert run(store, outbox.cancel, a.id) is False
    assert run(store, outbox.cancel, b.id) is True  # it changed nothing: undoing drops it
    assert [r.id for r in rows(store)] == [a.id]


def test_a_held_intent_stops_the_queue_until_it_is_due(store: Store) -> None:
    a = queue(store)  # 1
    reply = run(store, outbox.enqueue, "send_message",
                {"conversation_id": "c1", "body": "hi"}, NOW, NOW + 5_000)  # 2
    queue(store, "set_status", status="resolved")  # 3: after the reply, so it waits too
    batch, held = run(store, outbox.claim, NOW + 1_000)
    assert [i.id for i in batch] == [a.id] and held == NOW + 5_000
    assert run(store, outbox.claim, NOW + 4_999, 500, 1) == ([], NOW + 5_000)
    assert run(store, outbox.cancel, reply.id) is True  # still on the desk: undone
    batch, held = run(store, outbox.claim, NOW + 1_000, 500, 1)
    assert [(i.name, i.mutation_id) for i in batch] == [("set_status", 2)] and held is None


def test_a_held_intent_is_pushed_once_due_and_survives_a_restart(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.open()
    reply = run(s, outbox.enqueue, "send_message", {"conversation_id": "c1", "body": "hi"},
                NOW, NOW + 5_000)
    s.close()  # (a crash during the delay: the reply is already on disk)
    s = Store(tmp_path)
    s.open()
    try:
        assert run(s, outbox.claim, NOW + 2_000) == ([], NOW + 5_000)
        batch, held = run(s, outbox.claim, NOW + 5_000)
        assert [i.message_id for i in batch] == [reply.message_id] and held is None
    finally:
        s.close()


def test_a_new_client_makes_pending_intents_cancellable_only_if_never_claimed(
        store: Store) -> None:
    a = queue(store)
    run(store, outbox.claim, NOW)
    b = queue(store)
    run(store, outbox.start_new_client)
    assert run(store, outbox.cancel, a.id) is False  # it went out once: maybe applied
    assert run(store, outbox.cancel, b.id) is True
    with store.read_outbox() as conn:
        assert [(i.id, i.mutation_id) for i in outbox.pending(conn)] == [(a.id, 1)]


def test_a_push_that_never_left_gives_its_claims_back(store: Store) -> None:
    a = queue(store)  # 1
    run(store, outbox.claim, NOW)  # pushed: answer lost (maybe applied)
    b = queue(store)  # 2
    run(store, outbox.claim, NOW)  # 1 and 2 again: no connection this time
    run(store, outbox.release, 1)
    assert run(store, outbox.cancel, a.id) is False  # the first push may have applied it
    assert run(store, outbox.cancel, b.id) is True  # only the unsent push ever took it
