"""Customer messages arriving on channels, opt-out keywords and the loopback outbound log,
against the real server over loopback HTTP."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from protocol import wire as p
from protocol.rules import SLA_MS
from server import models as m
from server.db import Database
from server.feed import now_ms
from tests.server.harness import PREFIX, Api, LiveServer, Mirror, Workspace


class Desk:
    """An agent's desk: signed in, with its own client id and mutation counter."""

    def __init__(self, url: str, email: str) -> None:
        self.api = Api(url).login(email)
        self.client_id = f"desk-{uuid.uuid4().hex[:12]}"
        self.next_id = 1
        self.mirror = Mirror()

    def push(self, name: str, **args: Any) -> p.MutationResult:
        res = self.api.push(self.client_id, [{"id": self.next_id, "name": name, "args": args}])
        self.next_id += 1
        assert len(res.results) == 1
        return res.results[0]

    def reply(self, conversation_id: str, body: str) -> p.MutationResult:
        return self.push("send_message", conversation_id=conversation_id,
                         message_id=str(uuid.uuid4()), body=body)

    def sync(self) -> Mirror:
        return self.mirror.sync(self.api)

    def conversation(self, conversation_id: str) -> p.ConversationData:
        return p.ConversationData.model_validate(self.sync().of("conversation")[conversation_id])

    def contact(self, contact_id: str) -> p.ContactData:
        return p.ContactData.model_validate(self.sync().of("contact")[contact_id])

    def messages(self, conversation_id: str) -> list[p.MessageData]:
        rows = [p.MessageData.model_validate(v) for v in self.sync().of("message").values()
                if v["conversation_id"] == conversation_id]
        return sorted(rows, key=lambda msg: msg.created_at)


@pytest.fixture
def alice(live_server: LiveServer, workspace: Workspace) -> Iterator[Desk]:
    desk = Desk(live_server.url, workspace.emails["alice"])
    yield desk
    desk.api.close()


@pytest.fixture
def hook(live_server: LiveServer) -> Iterator[Api]:
    """The channel provider's side: posts inbound messages, reads the outbound log."""
    api = Api(live_server.url)
    yield api
    api.close()


def _post(http: httpx.Client, channel_id: str, secret: str | None, **body: Any) -> httpx.Response:
    headers = {} if secret is None else {"X-Relaydesk-Channel-Secret": secret}
    payload = {"handle": "+15550000001", "text": "hello",
               "provider_message_id": uuid.uuid4().hex, **body}
    return http.post(f"{PREFIX}/channels/{channel_id}/inbound", headers=headers, json=payload)


def _count(db: Database, model: Any, *where: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# --------------------------------------------------------------------------- authentication


def test_channel_secret_required(hook: Api, workspace: Workspace, db: Database) -> None:
    a_sms, b_sms = workspace.channels["a_sms"], workspace.channels["b_sms"]
    for secret in (None, "", "rdch_wrong", workspace.secrets[b_sms]):
        r = _post(hook.http, a_sms, secret)
        assert r.status_code == 401, (secret, r.text)
        assert r.json()["error"] == "invalid_channel_secret"
    r = _post(hook.http, str(uuid.uuid4()), workspace.secrets[a_sms])
    assert r.status_code == 404
    assert r.json()["error"] == "channel_not_found"
    assert _count(db, m.Message) == 0
    assert _count(db, m.Contact) == 0
    # The outbound log is just as private.
    for secret in (None, "rdch_wrong", workspace.secrets[b_sms]):
        headers = {} if secret is None else {"X-Relaydesk-Channel-Secret": secret}
        r = hook.http.get(f"{PREFIX}/channels/{a_sms}/outbound", headers=headers)
        assert r.status_code == 401


# --------------------------------------------------------------------------- conversations


def test_new_handle_opens_a_conversation(
    hook: Api, alice: Desk, workspace: Workspace, db: Database
) -> None:
    before = now_ms()
    res = hook.inbound(workspace, "a_sms", "+15550001111", "Where is my parcel?",
                       display_name="Pat Lee", subject="Parcel")
    assert not res.duplicate and not res.opted_out
    conv = alice.conversation(res.conversation_id)
    assert conv.channel_id == workspace.channels["a_sms"]
    assert conv.channel_type is p.ChannelType.SMS
    assert conv.team_id == workspace.teams["A"]
    assert conv.contact_id == res.contact_id
    assert conv.status is p.ConversationStatus.OPEN
    assert conv.assignee_id is None
    assert conv.subject == "Parcel"
    assert conv.unread_count == 1
    assert conv.preview == "Where is my parcel?"
    assert conv.last_inbound_at is not None and conv.last_inbound_at >= before
    assert conv.sla_due_at == conv.last_inbound_at + SLA_MS["normal"]
    contact = alice.contact(res.contact_id)
    assert contact.name == "Pat Lee"
    assert [(i.channel_type, i.handle, i.opted_out) for i in contact.identities] == [
        (p.ChannelType.SMS, "+15550001111", False)]
    [msg] = alice.messages(res.conversation_id)
    assert msg.id == res.message_id
    assert msg.direction is p.Direction.INBOUND
    assert msg.body == "Where is my parcel?"
    assert msg.author_id is None
    assert _count(db, m.Contact) == 1
    assert _count(db, m.ContactIdentity) == 1
    # Team B never hears of it.
    with Api(hook.base_url) as bob:
        bob.login(workspace.emails["bob"])
        items, _cursor = bob.bootstrap()
        assert res.conversation_id not in {i.id for i in items}


def test_second_message_appends_to_the_open_conversation(
    hook: Api, alice: Desk, workspace: Workspace, db: Database
) -> None:
    first = hook.inbound(workspace, "a_whatsapp", "+15550002222", "one")
    second = hook.inbound(workspace, "a_whatsapp", "+15550002222", "two")
    assert second.conversation_id == first.conversation_id
    assert second.contact_id == first.contact_id
    assert second.message_id != first.message_id
    conv = alice.conversation(first.conversation_id)
    assert conv.unread_count == 2
    assert conv.preview == "two"
    assert [msg.body for msg in alice.messages(first.conversation_id)] == ["one", "two"]
    assert _count(db, m.Conversation) == 1
    # The same handle on another channel of the same type is another conversation.
    other = hook.inbound(workspace, "b_whatsapp", "+15550002222", "three")
    assert other.contact_id == first.contact_id
    assert other.conversation_id != first.conversation_id


def test_after_resolve_a_new_conversation_opens(
    hook: Api, alice: Desk, workspace: Workspace
) -> None:
    first = hook.inbound(workspace, "a_email", "pat@example.com", "Help", subject="Help")
    assert alice.push("set_status", conversation_id=first.conversation_id,
                      status="resolved").status is p.MutationStatus.APPLIED
    again = hook.inbound(workspace, "a_email", "pat@example.com", "Me again", subject="Again")
    assert again.contact_id == first.contact_id
    assert again.conversation_id != first.conversation_id
    assert alice.conversation(first.conversation_id).status is p.ConversationStatus.RESOLVED
    new = alice.conversation(again.conversation_id)
    assert new.status is p.ConversationStatus.OPEN
    assert new.unread_count == 1
    assert new.subject == "Again"
    assert [msg.body for msg in alice.messages(again.conversation_id)] == ["Me again"]


@pytest.mark.parametrize("status", ["pending", "snoozed"])
def test_pending_and_snoozed_conversations_reopen(
    hook: Api, alice: Desk, workspace: Workspace, status: str
) -> None:
    first = hook.inbound(workspace, "a_web_chat", "visitor-abc123", "hi")
    args: dict[str, Any] = {"conversation_id": first.conversation_id, "status": status}
    if status == "snoozed":
        args["snoozed_until"] = now_ms() + 3_600_000
    assert alice.push("set_status", **args).status is p.MutationStatus.APPLIED
    conv = alice.conversation(first.conversation_id)
    assert conv.status.value == status
    again = hook.inbound(workspace, "a_web_chat", "visitor-abc123", "still there?")
    assert again.conversation_id == first.conversation_id
    conv = alice.conversation(first.conversation_id)
    assert conv.status is p.ConversationStatus.OPEN
    assert conv.snoozed_until is None


# --------------------------------------------------------------------------- dedupe


def test_provider_message_id_dedupe(
    hook: Api, alice: Desk, workspace: Workspace, db: Database
) -> None:
    first = hook.inbound(workspace, "a_sms", "+15550003333", "once", provider_id="SM-1")
    head = alice.sync().cursor
    again = hook.inbound(workspace, "a_sms", "+15550003333", "once", provider_id="SM-1")
    assert again.duplicate
    assert not first.duplicate
    assert (again.message_id, again.conversation_id, again.contact_id) == (
        first.message_id, first.conversation_id, first.contact_id)
    assert _count(db, m.Message) == 1
    assert alice.conversation(first.conversation_id).unread_count == 1
    assert alice.mirror.cursor == head  # a duplicate writes nothing to the feed
    # The same provider id on another channel is another message.
    elsewhere = hook.inbound(workspace, "a_whatsapp", "+15550003333", "once", provider_id="SM-1")
    assert not elsewhere.duplicate
    assert elsewhere.message_id != first.message_id
    assert _count(db, m.Message) == 2


def test_concurrent_deliveries_of_one_message_store_it_once(
    live_server: LiveServer, workspace: Workspace, db: Database
) -> None:
    """Providers retry webhooks: the same message arriving at once is one message."""
    cid = workspace.channels["a_sms"]
    results: list[httpx.Response] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as http:
            barrier.wait()
            results.append(_post(http, cid, workspace.secrets[cid], handle="+15550009999",
                                 text="race", provider_message_id="SM-race"))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.status_code for r in results] == [200] * 8, [r.text for r in results]
    bodies = [p.InboundResult.model_validate(r.json()) for r in results]
    assert sum(not b.duplicate for b in bodies) == 1
    assert len({b.message_id for b in bodies}) == 1
    assert _count(db, m.Message) == 1
    assert _count(db, m.Contact) == 1
    assert _count(db, m.Conversation) == 1


def test_concurrent_first_messages_share_one_conversation(
    live_server: LiveServer, workspace: Workspace, db: Database
) -> None:
    """A customer who writes several messages at once gets one conversation, not several."""
    cid = workspace.channels["a_sms"]
    results: list[httpx.Response] = []
    barrier = threading.Barrier(8)

    def deliver(i: int) -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as http:
            barrier.wait()
            results.append(_post(http, cid, workspace.secrets[cid], handle="+15550008888",
                                 text=f"part {i}"))

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.status_code for r in results] == [200] * 8, [r.text for r in results]
    assert len({r.json()["conversation_id"] for r in results}) == 1
    assert _count(db, m.Conversation) == 1
    assert _count(db, m.Contact) == 1
    assert _count(db, m.Message) == 8
    with db.read() as s:
        assert s.scalar(select(m.Conversation.unread_count)) == 8


def test_email_handles_are_case_normalised(
    hook: Api, alice: Desk, workspace: Workspace
) -> None:
    first = hook.inbound(workspace, "a_email", "Pat.Lee@Example.COM", "one")
    second = hook.inbound(workspace, "a_email", "  pat.lee@example.com ", "two")
    assert second.contact_id == first.contact_id
    assert second.conversation_id == first.conversation_id
    contact = alice.contact(first.contact_id)
    assert [i.handle for i in contact.identities] == ["pat.lee@example.com"]


# --------------------------------------------------------------------------- opt-out


def _opted_out(desk: Desk, contact_id: str, channel: p.ChannelType) -> bool:
    [ident] = [i for i in desk.contact(contact_id).identities if i.channel_type is channel]
    return ident.opted_out


def test_sms_stop_and_start(hook: Api, alice: Desk, workspace: Workspace) -> None:
    handle = "+15550004444"
    first = hook.inbound(workspace, "a_sms", handle, "Hi, question about my bill")
    conv_id = first.conversation_id
    assert alice.reply(conv_id, "Happy to help!").status is p.MutationStatus.APPLIED

    res = hook.inbound(workspace, "a_sms", handle, "stop please")
    assert not res.opted_out
    assert not _opted_out(alice, first.contact_id, p.ChannelType.SMS)

    res = hook.inbound(workspace, "a_sms", handle, "  StOp \n")
    assert res.opted_out
    assert res.conversation_id == conv_id
    assert _opted_out(alice, first.contact_id, p.ChannelType.SMS)
    refused = alice.reply(conv_id, "Are you sure?")
    assert refused.status is p.MutationStatus.REJECTED
    assert refused.error is not None
    assert refused.error.code is p.RejectReason.CONTACT_OPTED_OUT
    assert refused.error.message

    res = hook.inbound(workspace, "a_sms", handle, "START")
    assert not res.opted_out
    assert not _opted_out(alice, first.contact_id, p.ChannelType.SMS)
    assert alice.reply(conv_id, "Welcome back").status is p.MutationStatus.APPLIED
    sent = [r.body for r in hook.outbound(workspace, "a_sms")]
    assert sent == ["Happy to help!", "Welcome back"]


def test_duplicate_stop_reports_the_opt_out(hook: Api, workspace: Workspace) -> None:
    first = hook.inbound(workspace, "a_sms", " +15550004545 ", "STOP", provider_id="SM-stop")
    assert first.opted_out
    again = hook.inbound(workspace, "a_sms", " +15550004545 ", "STOP", provider_id="SM-stop")
    assert again.duplicate
    assert again.opted_out


def test_whatsapp_stop_has_no_opt_out_effect(
    hook: Api, alice: Desk, workspace: Workspace
) -> None:
    res = hook.inbound(workspace, "a_whatsapp", "+15550005555", "STOP")
    assert not res.opted_out
    assert not _opted_out(alice, res.contact_id, p.ChannelType.WHATSAPP)
    assert alice.reply(res.conversation_id, "Noted.").status is p.MutationStatus.APPLIED


# --------------------------------------------------------------------------- outbound log


def test_outbound_list(hook: Api, alice: Desk, workspace: Workspace) -> None:
    handle = "+15550006666"
    res = hook.inbound(workspace, "a_sms", handle, "hello?")
    message_id = str(uuid.uuid4())
    mutation = {"id": alice.next_id, "name": "send_message",
                "args": {"conversation_id": res.conversation_id, "message_id": message_id,
                         "body": "Hello from support"}}
    first = alice.api.push(alice.client_id, [mutation])
    # The response was lost: the desk pushes the same mutation again.
    retry = alice.api.push(alice.client_id, [mutation])
    alice.next_id += 1
    assert first.results[0].status is p.MutationStatus.APPLIED
    assert retry.results[0].status is p.MutationStatus.DUPLICATE

    [record] = hook.outbound(workspace, "a_sms")
    assert record.message_id == message_id
    assert record.to_handle == handle
    assert record.body == "Hello from support"
    assert record.conversation_id == res.conversation_id
    assert record.template is None
    assert hook.outbound(workspace, "b_sms") == []
    assert hook.outbound(workspace, "a_whatsapp") == []

    for i in range(3):
        assert alice.reply(res.conversation_id, f"more {i}").status is p.MutationStatus.APPLIED
    cid = workspace.channels["a_sms"]
    headers = {"X-Relaydesk-Channel-Secret": workspace.secrets[cid]}

    def page(**params: int) -> list[p.OutboundRecord]:
        r = hook.http.get(f"{PREFIX}/channels/{cid}/outbound", headers=headers, params=params)
        assert r.status_code == 200, r.text
        return p.OutboundList.model_validate(r.json()).messages

    everything = page()
    assert [r.body for r in everything] == ["Hello from support", "more 0", "more 1", "more 2"]
    seqs = [r.seq for r in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert [r.body for r in page(after=seqs[0])] == ["more 0", "more 1", "more 2"]
    assert [r.body for r in page(after=seqs[1], limit=1)] == ["more 1"]
    assert page(after=seqs[-1]) == []
    # Walking the log page by page sees every message once.
    walked: list[str] = []
    after = 0
    while batch := page(after=after, limit=1):
        walked.append(batch[0].message_id)
        after = batch[-1].seq
    assert walked == [r.message_id for r in everything]


# --------------------------------------------------------------------------- hostile text


def test_hostile_text_is_stored_verbatim(hook: Api, alice: Desk, workspace: Workspace) -> None:
    script = "<script>alert('x')</script><img src=x onerror=alert(1)> & &amp; \u202e ✓ 日本"
    huge = ("<b>" + "A" * 60_000 + "</b>\r\n\t" + "😀" * 100)
    assert len(huge) < 65536
    a = hook.inbound(workspace, "a_web_chat", "visitor-evil01",
                     script, display_name="<i>Mallory</i>", subject="<h1>hi</h1>")
    b = hook.inbound(workspace, "a_web_chat", "visitor-evil01", huge)
    bodies = {msg.id: msg.body for msg in alice.messages(a.conversation_id)}
    assert bodies == {a.message_id: script, b.message_id: huge}
    conv = alice.conversation(a.conversation_id)
    assert conv.subject == "<h1>hi</h1>"
    assert conv.preview == huge[:200]
    assert alice.contact(a.contact_id).name == "<i>Mallory</i>"


def test_body_over_the_limit_is_refused(hook: Api, workspace: Workspace, db: Database) -> None:
    cid = workspace.channels["a_web_chat"]
    ok = _post(hook.http, cid, workspace.secrets[cid], text="x" * 65536)
    assert ok.status_code == 200, ok.text
    r = _post(hook.http, cid, workspace.secrets[cid], text="x" * 65537)
    assert r.status_code == 422
    body = p.ErrorBody.model_validate(r.json())
    assert body.error == "invalid_request"
    assert "text" in body.message
    assert _count(db, m.Message) == 1


def test_sent_at_must_be_a_time_in_range(hook: Api, workspace: Workspace, db: Database) -> None:
    """Not silently replaced: a negative or far-future time, a boolean (lax pydantic reads
    ``false`` as 0), a string or a float is refused with 422; an in-range integer is taken."""
    cid = workspace.channels["a_sms"]
    for value in (-1, 10**20, p.MAX_EPOCH_MS + 1, False, True, "1700000000000", 1.5, 1e12):
        r = _post(hook.http, cid, workspace.secrets[cid], sent_at=value)
        assert r.status_code == 422, (value, r.text)
        body = p.ErrorBody.model_validate(r.json())
        assert body.error == "invalid_request" and "sent_at" in body.message
    assert _count(db, m.Message) == 0
    for value in (0, 1_700_000_000_000, p.MAX_EPOCH_MS, None):
        r = _post(hook.http, cid, workspace.secrets[cid], sent_at=value)
        assert r.status_code == 200, (value, r.text)
    assert _count(db, m.Message) == 4


def test_an_inbound_body_that_is_not_json_gets_400_in_the_error_shape(
    hook: Api, workspace: Workspace
) -> None:
    cid = workspace.channels["a_sms"]
    for content in (b'{"handle": ', b'{"handle": "\xff"}', b"\x00"):
        r = hook.http.post(f"{PREFIX}/channels/{cid}/inbound", content=content,
                           headers={"X-Relaydesk-Channel-Secret": workspace.secrets[cid],
                                    "Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert p.ErrorBody.model_validate(r.json()).error == "invalid_json"
