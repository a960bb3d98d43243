"""GUI-free domain helpers: the messaging window of a conversation (the same rule table the
server enforces), SLA clocks and unread counts — at their boundaries, and against the server's
own decisions on rows straight from a real mirror."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from protocol.rules import DAY_MS, HOUR_MS, WINDOW_RULES, WindowKind, send_refusal
from protocol.wire import ChannelType, RejectReason
from sync import domain, entities, outbox, overlay
from sync.client import ApiClient
from sync.domain import SlaState
from sync.engine import EngineOptions, SyncEngine
from sync.store import Store
from tests.server.harness import PASSWORD, Api

T0 = 1_700_000_000_000
MIN = 60_000


def conv(channel_type: str, last_inbound_at: int | None = T0, **more: Any) -> dict[str, Any]:
    return {"id": "c1", "channel_type": channel_type, "last_inbound_at": last_inbound_at,
            **more}


def contact(*identities: tuple[str, bool]) -> dict[str, Any]:
    return {"id": "k1", "identities": [{"channel_type": t, "handle": "h", "opted_out": o}
                                       for t, o in identities]}


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize(("channel", "last", "now", "kind", "open_until"), [
    # WhatsApp: 24 h of free replies, then approved templates only.
    ("whatsapp", T0, T0, WindowKind.OPEN, T0 + 24 * HOUR_MS),
    ("whatsapp", T0, T0 + 24 * HOUR_MS - 1, WindowKind.OPEN, T0 + 24 * HOUR_MS),
    ("whatsapp", T0, T0 + 24 * HOUR_MS, WindowKind.TEMPLATE_ONLY, None),
    ("whatsapp", None, T0, WindowKind.TEMPLATE_ONLY, None),
    # Messenger and Instagram: 24 h, then the human-agent tag up to 7 days, then closed.
    ("messenger", T0, T0 + 24 * HOUR_MS - 1, WindowKind.OPEN, T0 + 24 * HOUR_MS),
    ("messenger", T0, T0 + 24 * HOUR_MS, WindowKind.HUMAN_AGENT_ONLY, T0 + 7 * DAY_MS),
    ("messenger", T0, T0 + 7 * DAY_MS - 1, WindowKind.HUMAN_AGENT_ONLY, T0 + 7 * DAY_MS),
    ("messenger", T0, T0 + 7 * DAY_MS, WindowKind.CLOSED, None),
    ("messenger", None, T0, WindowKind.CLOSED, None),
    ("instagram", T0, T0 + 24 * HOUR_MS, WindowKind.HUMAN_AGENT_ONLY, T0 + 7 * DAY_MS),
    ("instagram", T0, T0 + 7 * DAY_MS, WindowKind.CLOSED, None),
    # No window at all.
    ("sms", None, T0, WindowKind.ALWAYS_OPEN, None),
    ("sms", T0, T0 + 365 * DAY_MS, WindowKind.ALWAYS_OPEN, None),
    ("email", T0, T0 + 30 * DAY_MS, WindowKind.ALWAYS_OPEN, None),
    ("web_chat", None, T0, WindowKind.ALWAYS_OPEN, None),
    ("line", T0, T0 + 30 * DAY_MS, WindowKind.ALWAYS_OPEN, None),
])
def test_window_state_at_the_boundaries(channel: str, last: int | None, now: int,
                                        kind: WindowKind, open_until: int | None) -> None:
    state = domain.conversation_window(conv(channel, last), contact((channel, False)), now)
    assert (state.kind, state.open_until) == (kind, open_until)
    if open_until is not None:
        assert state.remaining_ms(now) == open_until - now
        assert state.remaining_ms(open_until + 5) == 0  # never negative
    else:
        assert state.remaining_ms(now) is None


@pytest.mark.parametrize("channel", [c.value for c in ChannelType])
def test_an_opt_out_counts_on_its_own_channel_where_the_channel_honours_it(channel: str) -> None:
    honours = WINDOW_RULES[ChannelType(channel)].honours_opt_out
    opted_here = domain.conversation_window(conv(channel), contact((channel, True)), T0 + 1)
    assert (opted_here.kind is WindowKind.OPTED_OUT) == honours
    # An opt-out on another channel, or no contact known yet, changes nothing.
    other = "email" if channel != "email" else "sms"
    baseline = domain.conversation_window(conv(channel), None, T0 + 1)
    assert domain.conversation_window(conv(channel), contact((other, True), (channel, False)),
                                      T0 + 1) == baseline
    assert baseline.kind is not WindowKind.OPTED_OUT


def test_sms_opt_out_wins_over_an_open_conversation_and_blocks_sending() -> None:
    state = domain.conversation_window(conv("sms"), contact(("sms", True)), T0)
    assert state.kind is WindowKind.OPTED_OUT
    assert send_refusal(state, template=None, human_agent_tag=False) is (
        RejectReason.CONTACT_OPTED_OUT)


def test_retry_is_worth_it_only_where_the_same_change_can_pass() -> None:
    from protocol.rules import WindowState, retry_may_pass

    opted_out, open_now = WindowState(WindowKind.OPTED_OUT), WindowState(WindowKind.ALWAYS_OPEN)
    tag_only = WindowState(WindowKind.HUMAN_AGENT_ONLY, 10 * HOUR_MS)
    # An opted-out contact: not until they opt back in.
    assert not retry_may_pass(RejectReason.CONTACT_OPTED_OUT, opted_out)
    assert retry_may_pass(RejectReason.CONTACT_OPTED_OUT, open_now)
    # After 24 h: a reply without the tag never passes; one with it does while it lasts.
    assert not retry_may_pass(RejectReason.HUMAN_AGENT_TAG_REQUIRED, tag_only)
    assert retry_may_pass(RejectReason.HUMAN_AGENT_TAG_REQUIRED, tag_only,
                          human_agent_tag=True)
    assert not retry_may_pass(RejectReason.WINDOW_CLOSED, None)  # window unknown
    for final in (RejectReason.INVALID, RejectReason.CONVERSATION_GONE,
                  RejectReason.UNKNOWN_TEMPLATE, RejectReason.NOT_PERMITTED):
        assert not retry_may_pass(final, open_now)
    assert retry_may_pass("server_had_a_hiccup", None)  # a reason this desk does not know


def test_a_raw_mirror_contact_row_with_json_identities_is_understood() -> None:
    row = {"id": "k1", "identities": orjson.dumps(
        [{"channel_type": "sms", "handle": "+1555", "opted_out": True}]).decode()}
    assert domain.conversation_window(conv("sms"), row, T0).kind is WindowKind.OPTED_OUT


# --------------------------------------------------------------------------- SLA clock


@pytest.mark.parametrize(("row", "now", "state", "remaining"), [
    ({"sla_due_at": None, "status": "open"}, T0, SlaState.NONE, None),
    ({"sla_due_at": T0, "status": "resolved"}, T0 + MIN, SlaState.NONE, None),
    ({"sla_due_at": T0, "status": "snoozed"}, T0 + MIN, SlaState.NONE, None),
    ({"sla_due_at": T0 + 15 * MIN + 1, "status": "open"}, T0, SlaState.OK, 15 * MIN + 1),
    ({"sla_due_at": T0 + 15 * MIN, "status": "open"}, T0, SlaState.DUE_SOON, 15 * MIN),
    ({"sla_due_at": T0, "status": "pending"}, T0, SlaState.DUE_SOON, 0),
    ({"sla_due_at": T0, "status": "open"}, T0 + 1, SlaState.OVERDUE, -1),
    ({"sla_due_at": T0, "status": "open"}, T0 + DAY_MS, SlaState.OVERDUE, -DAY_MS),
])
def test_sla_clock(row: dict[str, Any], now: int, state: SlaState,
                   remaining: int | None) -> None:
    clock = domain.sla_clock(row, now)
    assert (clock.state, clock.remaining_ms) == (state, remaining)


def test_unread_total_counts_conversations_not_messages_and_skips_resolved() -> None:
    rows = [
        {"id": "a", "unread_count": 5, "status": "open"},
        {"id": "b", "unread_count": 1, "status": "pending"},
        {"id": "c", "unread_count": 0, "status": "open"},
        {"id": "d", "unread_count": 2, "status": "resolved"},
        {"id": "e", "unread_count": None, "status": "open"},
        {"id": "f", "unread_count": 1, "status": "snoozed"},
    ]
    assert domain.unread_total(rows) == 3
    assert domain.unread_total([]) == 0


# --------------------------------------------------------------------------- against the server


def _mirror_row(store: Store, entity: entities.Entity, row_id: str) -> dict[str, Any]:
    table = entities.SPECS[entity].table
    with store.read_mirror() as conn:
        return dict(conn.execute(select(table).where(table.c.id == row_id)).mappings().one())


@pytest.mark.asyncio
async def test_helpers_agree_with_the_server_on_real_mirror_rows(server, ws,
                                                                 tmp_path: Path) -> None:
    """An SMS contact opts out and back in; the desk's window, SLA clock and unread badge —
    computed offline from the mirror and the outbox — match what the server then decides."""
    api = Api(server.url)
    handle = "+15550100077"
    first = api.inbound(ws, "a_sms", handle, "Hi, my parcel is late")
    chat = api.inbound(ws, "a_whatsapp", handle, "Also on WhatsApp")
    store = Store(tmp_path / "desk")
    store.open()
    client = ApiClient(server.url)
    engine = SyncEngine(store, client, None, EngineOptions(use_events=False))
    try:
        await engine.login(ws.emails["alice"], PASSWORD)
        assert await engine.run_cycle_guarded(), engine.status

        def state(conv_id: str) -> tuple[dict[str, Any], Any]:
            c = _mirror_row(store, entities.Entity.CONVERSATION, conv_id)
            k = _mirror_row(store, entities.Entity.CONTACT, c["contact_id"])
            return c, k

        row, person = state(first.conversation_id)
        now = row["last_inbound_at"] + 1_000
        assert domain.conversation_window(row, person, now).kind is WindowKind.ALWAYS_OPEN
        wa_row, wa_person = state(chat.conversation_id)
        wa = domain.conversation_window(wa_row, wa_person, now)
        assert (wa.kind, wa.open_until) == (WindowKind.OPEN,
                                            wa_row["last_inbound_at"] + 24 * HOUR_MS)
        clock = domain.sla_clock(row, now)
        assert clock.state is SlaState.OK and clock.remaining_ms > 15 * MIN
        assert domain.unread_total([row, wa_row]) == 2

        # The customer texts STOP: the desk knows before trying, and the server agrees.
        api.inbound(ws, "a_sms", handle, "STOP")
        assert await engine.run_cycle_guarded()
        row, person = state(first.conversation_id)
        window = domain.conversation_window(row, person, now)
        assert window.kind is WindowKind.OPTED_OUT
        predicted = send_refusal(window, template=None, human_agent_tag=False)
        reply = await engine.enqueue("send_message", {"conversation_id": first.conversation_id,
                                                      "body": "Your parcel ships today"})
        assert await engine.run_cycle_guarded()
        with store.read_outbox() as conn:
            (kept,) = outbox.unsettled(conn)
        assert (kept.id, kept.state) == (reply.id, outbox.REJECTED)
        assert kept.error_code == predicted.value == RejectReason.CONTACT_OPTED_OUT
        # WhatsApp does not take SMS keywords: still open there.
        wa_row, wa_person = state(chat.conversation_id)
        assert domain.conversation_window(wa_row, wa_person, now).kind is WindowKind.OPEN

        # START opts back in; the agent retries and the reply goes out once.
        api.inbound(ws, "a_sms", handle, "START")
        assert await engine.run_cycle_guarded()
        row, person = state(first.conversation_id)
        assert domain.conversation_window(row, person, now).kind is WindowKind.ALWAYS_OPEN
        await engine.retry_intent(reply.id)
        # Shown at once: answered (SLA clock stopped) and read, before the server confirms.
        with store.read_outbox() as conn:
            shown = overlay.apply_to_conversation(row, outbox.unsettled(conn))
        assert domain.sla_clock(shown, now).state is SlaState.NONE
        assert domain.unread_total([shown, wa_row]) == 1
        assert await engine.run_cycle_guarded()
        row, _ = state(first.conversation_id)
        assert domain.sla_clock(row, now).state is SlaState.NONE  # the server agrees
        assert row["unread_count"] == 0
        assert [o.body for o in api.outbound(ws, "a_sms")
                if o.message_id == reply.message_id] == ["Your parcel ships today"]
    finally:
        await engine.stop()
        await client.aclose()
        store.close()
        api.close()
