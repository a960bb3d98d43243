"""What the agent sees: mirror rows with their unconfirmed intents laid over, and the thread
with the agent's own replies and notes in flight (pending, sent, failed) — never twice."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from protocol import wire as p
from sync import entities, outbox, overlay
from sync.outbox import APPLIED, PENDING, REJECTED, IntentRecord
from sync.store import Store

T0 = 1_700_000_000_000
ME = "agent-me"


def intent(local_id: int, name: str, *, state: str = PENDING, created_at: int = T0 + 5_000,
           error: tuple[str, str] | None = None, **args: Any) -> IntentRecord:
    args.setdefault("conversation_id", "c1")
    if name in ("send_message", "add_note"):
        args.setdefault("message_id", str(uuid.uuid4()))
    return IntentRecord(
        id=local_id, mutation_id=local_id, name=name, args=args,
        conversation_id=args["conversation_id"], state=state, attempts=0, change_seq=None,
        error_code=error[0] if error else None, error_message=error[1] if error else None,
        created_at=created_at,
    )


def conversation(**changes: Any) -> dict[str, Any]:
    conv = {
        "id": "c1", "channel_id": "ch1", "channel_type": "sms", "contact_id": "k1",
        "team_id": "team-a", "assignee_id": None, "subject": None, "status": "open",
        "snoozed_until": None, "priority": "normal", "tags": ["vip"], "unread_count": 3,
        "preview": "Where is my order?", "last_activity_at": T0, "last_inbound_at": T0,
        "sla_due_at": T0 + 3_600_000, "created_at": T0 - 1000,
    }
    conv.update(changes)
    return conv


def message(mid: str, created_at: int, direction: str = "inbound", body: str = "hello",
            author: str | None = None) -> dict[str, Any]:
    return {"id": mid, "conversation_id": "c1", "direction": direction, "author_id": author,
            "body": body, "template": None, "delivery": "sent", "mentions": "[]",
            "created_at": created_at}


# --------------------------------------------------------------------------- conversations


@pytest.mark.parametrize(("name", "args", "expected"), [
    ("set_status", {"status": "resolved"},
     {"status": "resolved", "snoozed_until": None, "sla_due_at": None}),
    ("set_status", {"status": "snoozed", "snoozed_until": T0 + 86_400_000},
     {"status": "snoozed", "snoozed_until": T0 + 86_400_000}),
    ("set_status", {"status": "pending"}, {"status": "pending"}),
    ("assign", {"agent_id": "bob"}, {"assignee_id": "bob"}),
    ("assign", {"agent_id": None}, {"assignee_id": None}),
    ("assign", {"team_id": "team-b"}, {"team_id": "team-b"}),
    ("assign", {"team_id": "team-b", "agent_id": "bob"},
     {"team_id": "team-b", "assignee_id": "bob"}),
    ("set_priority", {"priority": "urgent"},  # an owed answer is due by the new clock
     {"priority": "urgent", "sla_due_at": T0 + 15 * 60_000}),
    ("add_tag", {"tag": "billing"}, {"tags": ["vip", "billing"]}),
    ("add_tag", {"tag": " billing "}, {"tags": ["vip", "billing"]}),
    ("add_tag", {"tag": "vip"}, {"tags": ["vip"]}),
    ("remove_tag", {"tag": "vip"}, {"tags": []}),
    ("remove_tag", {"tag": "absent"}, {"tags": ["vip"]}),
    ("mark_read", {}, {"unread_count": 0}),
    ("send_message", {"body": "On its way!"},
     {"preview": "On its way!", "last_activity_at": T0 + 5_000, "unread_count": 0,
      "sla_due_at": None}),
    ("add_note", {"body": "Customer is VIP"}, {}),
])
def test_each_kind_of_intent_shows_at_once(name: str, args: dict[str, Any],
                                           expected: dict[str, Any]) -> None:
    base = conversation()
    shown = overlay.apply_to_conversation(base, [intent(1, name, **args)])
    changed = {k: v for k, v in shown.items() if k != "pending_intents" and base.get(k) != v}
    assert changed == {k: v for k, v in expected.items() if base.get(k) != v}
    assert shown["pending_intents"] == 1
    assert base == conversation(), "the mirror row itself is not modified"


def test_later_intents_win_and_rejected_ones_change_nothing() -> None:
    intents = [
        intent(3, "set_status", status="resolved"),
        intent(1, "set_status", status="pending"),
        intent(2, "set_priority", priority="high", state=APPLIED),
        intent(4, "set_priority", priority="low", state=REJECTED,
               error=("not_permitted", "No.")),
        intent(5, "add_tag", tag="late"),
        intent(6, "remove_tag", tag="late", state=REJECTED, error=("not_permitted", "No.")),
    ]
    shown = overlay.apply_to_conversation(conversation(), intents)
    assert shown["status"] == "resolved"  # 3 after 1, whatever the list order
    # Confirmed but not pulled yet still shows (no flicker back to the old value).
    assert shown["priority"] == "high"
    assert shown["tags"] == ["vip", "late"]
    assert shown["pending_intents"] == 3  # 1, 3 and 5: applied and rejected are not pending
    assert [i.id for i in overlay.rejected(intents)] == [4, 6]


def test_a_raw_mirror_row_with_json_tags_is_understood() -> None:
    row = conversation(tags=orjson.dumps(["vip", "返品"]).decode())
    shown = overlay.apply_to_conversation(row, [intent(1, "add_tag", tag="late")])
    assert shown["tags"] == ["vip", "返品", "late"]
    assert overlay.apply_to_conversation(conversation(tags=None), [])["tags"] == []


def test_send_message_with_only_a_template_shows_the_template_and_keeps_newer_activity() -> None:
    shown = overlay.apply_to_conversation(
        conversation(last_activity_at=T0 + 60_000),
        [intent(1, "send_message", body="", template="order_update", created_at=T0 + 1)])
    assert shown["preview"] == "order_update"
    assert shown["last_activity_at"] == T0 + 60_000  # a newer inbound stays the newest


# --------------------------------------------------------------------------- thread


def test_thread_shows_pending_sent_and_failed_lines_in_time_order() -> None:
    messages = [message("m1", T0, body="Where is my order?"),
                message("m2", T0 + 2_000, direction="outbound", body="Checking", author=ME)]
    pending = intent(1, "send_message", body="Found it", created_at=T0 + 9_000)
    sent = intent(2, "add_note", body="Carrier delayed", state=APPLIED, created_at=T0 + 1_000)
    failed = intent(3, "send_message", body="Sorry", state=REJECTED, created_at=T0 + 3_000,
                    error=("window_closed", "The messaging window is closed."))
    other = intent(4, "set_status", status="resolved", created_at=T0 + 4_000)
    items = overlay.thread(messages, [pending, sent, failed, other], ME)

    assert [(i.id, i.local_state) for i in items] == [
        ("m1", None),
        (sent.message_id, overlay.LOCAL_SENT),
        ("m2", None),
        (failed.message_id, overlay.LOCAL_FAILED),
        (pending.message_id, overlay.LOCAL_PENDING),
    ]
    by_id = {i.id: i for i in items}
    assert by_id[sent.message_id].direction == "note"
    assert by_id[pending.message_id].direction == "outbound"
    assert by_id[pending.message_id].author_id == ME
    assert by_id[pending.message_id].body == "Found it"
    assert by_id[pending.message_id].intent_id == 1
    fail = by_id[failed.message_id]
    assert (fail.error_code, fail.error_message) == ("window_closed",
                                                    "The messaging window is closed.")
    assert fail.intent_id == 3  # what the agent's retry / discard buttons act on


def test_no_duplicate_line_once_the_mirror_has_the_message(tmp_path: Path) -> None:
    """Through its whole life the reply is on screen exactly once: queued (pending), confirmed
    (sent), pulled (the mirror's copy) and settled — with a real outbox and mirror."""
    store = Store(tmp_path)
    store.open()
    try:
        def in_outbox(fn: Any, *args: Any) -> Any:
            def work() -> Any:
                with store.write_outbox() as conn:
                    return fn(conn, *args)
            return store.write_sync(work)

        def lines() -> list[overlay.ThreadItem]:
            table = entities.SPECS[entities.Entity.MESSAGE].table
            with store.read_mirror() as conn:
                msgs = [dict(r) for r in conn.execute(select(table)).mappings()]
            with store.read_outbox() as conn:
                return overlay.thread(msgs, outbox.unsettled(conn, "c1"), ME)

        rec = in_outbox(outbox.enqueue, "send_message",
                        {"conversation_id": "c1", "body": "On its way"}, T0)
        assert [(i.id, i.local_state) for i in lines()] == [(rec.message_id, "pending")]

        in_outbox(outbox.record_results, p.PushResponse(
            results=[p.MutationResult(id=rec.mutation_id, status=p.MutationStatus.APPLIED,
                                      change_seq=41)], last_mutation_id=rec.mutation_id), T0)
        assert [(i.id, i.local_state) for i in lines()] == [(rec.message_id, "sent")]

        def pull() -> None:
            with store.write_mirror() as conn:
                entities.apply_changes(conn, [("message", rec.message_id, "upsert", {
                    "id": rec.message_id, "conversation_id": "c1", "direction": "outbound",
                    "author_id": ME, "body": "On its way", "template": None,
                    "delivery": "sent", "mentions": [], "created_at": T0 + 700})])

        store.write_sync(pull)  # pulled, not settled yet: the mirror's copy wins
        assert [(i.id, i.local_state, i.created_at) for i in lines()] == [
            (rec.message_id, None, T0 + 700)]
        in_outbox(outbox.settle, 41)
        assert [(i.id, i.local_state) for i in lines()] == [(rec.message_id, None)]
    finally:
        store.close()


def test_a_failed_note_and_a_failed_reply_stay_visible_until_discarded() -> None:
    note = intent(1, "add_note", body="x", state=REJECTED, error=("not_permitted", "No."))
    assert [i.local_state for i in overlay.thread([], [note], ME)] == ["failed"]
    assert overlay.thread([], [], ME) == []
