"""Checks on the demo workspace that ``relaydesk-server seed demo`` inserts."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

from protocol import events
from server.demo_data import DemoConversation, DemoWorkspace, build_demo_workspace

WS: DemoWorkspace = build_demo_workspace()
DEMO_AGENT = "agent@demo.relaydesk.test"
CHANNEL_TYPES = {"email", "web_chat", "sms", "whatsapp", "messenger", "instagram", "line"}
DAY = 24 * 60
WEEK = 7 * DAY
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
HANDLE_FORMS = {
    "email": re.compile(r"^[a-z0-9][a-z0-9._-]*@example\.(com|jp)$"),
    "sms": re.compile(r"^\+(1555010\d{4}|81900000\d{4})$"),
    "whatsapp": re.compile(r"^\+(1555010\d{4}|81900000\d{4})$"),
    "messenger": re.compile(r"^psid-\d{5,}$"),
    "instagram": re.compile(r"^ig-\d{6,}$"),
    "line": re.compile(r"^line-U[0-9a-f]{32}$"),
    "web_chat": re.compile(r"^visitor-[a-z0-9]{6,}$"),
}
CANNED_PLACEHOLDERS = {
    "{{contact.first_name}}",
    "{{contact.name}}",
    "{{agent.name}}",
    "{{agent.first_name}}",
}

channels = {c.key: c for c in WS.channels}
contacts = {c.key: c for c in WS.contacts}
agents = {a.email: a for a in WS.agents}


def _channel_type(conv: DemoConversation) -> str:
    return channels[conv.channel].type


def _last_inbound(conv: DemoConversation) -> int:
    return min(m.minutes_ago for m in conv.messages if m.direction == "inbound")


def test_deterministic() -> None:
    assert build_demo_workspace() == build_demo_workspace()
    assert build_demo_workspace() == WS


def test_counts() -> None:
    assert len(WS.teams) >= 3
    assert len(WS.conversations) >= 220
    assert len(WS.contacts) >= 80
    assert 8 <= len(WS.tags) <= 12
    assert len(WS.canned_replies) >= 12
    assert len(WS.templates) >= 4


def test_keys_unique() -> None:
    for items, attr in (
        (WS.teams, "key"),
        (WS.agents, "email"),
        (WS.channels, "key"),
        (WS.contacts, "key"),
        (WS.conversations, "key"),
        (WS.tags, "name"),
        (WS.canned_replies, "shortcut"),
    ):
        values = [getattr(item, attr) for item in items]
        assert len(values) == len(set(values)), attr
    assert len({(t.name, t.locale) for t in WS.templates}) == len(WS.templates)


def test_agents_and_roles() -> None:
    first = WS.agents[0]
    assert first.email == DEMO_AGENT
    assert first.role == "agent"
    roles = {a.role for a in WS.agents}
    assert roles == {"agent", "trainee", "supervisor"}
    assert agents["trainee@demo.relaydesk.test"].role == "trainee"
    supervisor = agents["supervisor@demo.relaydesk.test"]
    assert supervisor.role == "supervisor"
    assert set(supervisor.teams) == {t.key for t in WS.teams}
    assert 6 <= len(WS.agents) <= 8
    team_keys = {t.key for t in WS.teams}
    for agent in WS.agents:
        assert agent.teams and set(agent.teams) <= team_keys
        assert agent.password


def test_every_channel_type_present() -> None:
    assert {c.type for c in WS.channels} == CHANNEL_TYPES
    team_keys = {t.key for t in WS.teams}
    assert all(c.team in team_keys for c in WS.channels)
    assert {_channel_type(c) for c in WS.conversations} == CHANNEL_TYPES


def test_references_resolve() -> None:
    tag_names = {t.name for t in WS.tags}
    for conv in WS.conversations:
        channel = channels[conv.channel]
        contact = contacts[conv.contact]
        assert channel.type in {i.channel_type for i in contact.identities}, conv.key
        if conv.assignee is not None:
            agent = agents[conv.assignee]
            assert channel.team in agent.teams or agent.role == "supervisor", conv.key
        assert set(conv.tags) <= tag_names
        assert len(conv.tags) <= 3
        assert len(set(conv.tags)) == len(conv.tags)
        for message in conv.messages:
            if message.direction in ("outbound", "note"):
                assert message.author in agents, conv.key
            else:
                assert message.author is None, conv.key
    team_keys = {t.key for t in WS.teams}
    assert all(r.team is None or r.team in team_keys for r in WS.canned_replies)


def test_enumerations() -> None:
    for conv in WS.conversations:
        assert conv.status in {"open", "pending", "snoozed", "resolved"}
        assert conv.priority in {"low", "normal", "high", "urgent"}
        if conv.status == "snoozed":
            assert conv.snoozed_minutes is not None and conv.snoozed_minutes > 0
        else:
            assert conv.snoozed_minutes is None
        if _channel_type(conv) == "email":
            assert conv.subject
        for message in conv.messages:
            assert message.direction in {"inbound", "outbound", "note", "system"}
            assert message.body.strip()
    assert all(c.locale in {"en", "ja"} for c in WS.contacts)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", t.color) for t in WS.tags)


def test_handles_unique_and_well_formed() -> None:
    seen: set[tuple[str, str]] = set()
    for contact in WS.contacts:
        assert contact.identities
        types = [i.channel_type for i in contact.identities]
        assert len(types) == len(set(types))
        for identity in contact.identities:
            assert identity.channel_type in CHANNEL_TYPES
            key = (identity.channel_type, identity.handle)
            assert key not in seen, key
            seen.add(key)
            assert HANDLE_FORMS[identity.channel_type].match(identity.handle), key


def test_multi_channel_contacts_use_several_channels() -> None:
    types_used: dict[str, set[str]] = {}
    for conv in WS.conversations:
        types_used.setdefault(conv.contact, set()).add(_channel_type(conv))
    multi = [
        c for c in WS.contacts
        if len(c.identities) >= 2 and len(types_used.get(c.key, ())) >= 2
    ]
    assert len(multi) >= 15
    assert {c.locale for c in multi} == {"en", "ja"}


def test_messages_chronological() -> None:
    for conv in WS.conversations:
        assert 1 <= len(conv.messages) <= 12, conv.key
        ages = [m.minutes_ago for m in conv.messages]
        assert all(a >= 0 for a in ages)
        assert all(a > b for a, b in pairwise(ages)), conv.key
        assert any(m.direction == "inbound" for m in conv.messages)
    lengths = Counter(len(c.messages) for c in WS.conversations)
    assert lengths[1] > 0 and max(lengths) >= 10


def test_message_mix() -> None:
    messages = [m for c in WS.conversations for m in c.messages]
    directions = Counter(m.direction for m in messages)
    assert all(directions[d] > 0 for d in ("inbound", "outbound", "note", "system"))
    assert any(m.direction == "note" and "@" in m.body for m in messages)
    assert any(m.body.startswith("Conversation assigned to") for m in messages)


def test_sms_opt_out() -> None:
    opted_out = [
        (c, i) for c in WS.contacts for i in c.identities if i.opted_out and i.channel_type == "sms"
    ]
    assert opted_out
    keys = {c.key for c, _ in opted_out}
    stopped = [
        conv for conv in WS.conversations
        if conv.contact in keys and _channel_type(conv) == "sms"
        and [m.body for m in conv.messages if m.direction == "inbound"][-1] == "STOP"
    ]
    assert stopped


def test_messaging_windows() -> None:
    whatsapp = [_last_inbound(c) for c in WS.conversations if _channel_type(c) == "whatsapp"]
    assert sum(age > DAY for age in whatsapp) >= 3
    assert sum(age < DAY for age in whatsapp) >= 3
    for kind in ("messenger", "instagram"):
        ages = [_last_inbound(c) for c in WS.conversations if _channel_type(c) == kind]
        assert ages, kind
        assert all(age < WEEK for age in ages), kind
        assert any(DAY < age < WEEK for age in ages), kind
        assert any(age < DAY for age in ages), kind


def test_activity_spread() -> None:
    latest = [min(m.minutes_ago for m in c.messages) for c in WS.conversations]
    recent = sum(age <= 2 * DAY for age in latest)
    assert recent > len(latest) / 2
    assert max(latest) <= 15 * DAY
    assert any(age > 5 * DAY for age in latest)


def test_status_priority_and_assignment_mix() -> None:
    n = len(WS.conversations)
    status = Counter(c.status for c in WS.conversations)
    assert abs(status["open"] / n - 0.55) < 0.05
    assert abs(status["pending"] / n - 0.15) < 0.05
    assert abs(status["snoozed"] / n - 0.08) < 0.04
    assert abs(status["resolved"] / n - 0.22) < 0.05
    priority = Counter(c.priority for c in WS.conversations)
    assert priority["normal"] > n / 2
    assert priority["high"] > priority["urgent"] > 0
    assert priority["low"] > 0
    unassigned = sum(c.assignee is None for c in WS.conversations)
    assert abs(unassigned / n - 0.30) < 0.05
    mine = [c for c in WS.conversations if c.assignee == DEMO_AGENT]
    assert 20 <= len(mine) <= 30
    assert sum(c.status in ("open", "pending") for c in mine) > len(mine) / 2


def test_locales() -> None:
    def text(conv: DemoConversation) -> str:
        return " ".join(m.body for m in conv.messages if m.direction != "system")

    english = [c for c in WS.conversations if contacts[c.contact].locale == "en"]
    japanese = [c for c in WS.conversations if contacts[c.contact].locale == "ja"]
    assert len(english) > 60 and len(japanese) > 60
    assert all(JAPANESE.search(text(c)) for c in japanese)
    assert not any(JAPANESE.search(text(c)) for c in english)
    assert any(JAPANESE.search(c.name) for c in WS.contacts)
    assert any(not JAPANESE.search(c.name) for c in WS.contacts)
    # Japanese contacts are served by Japan Support, English ones by the other teams.
    assert all(channels[c.channel].team == "japan" for c in japanese)
    assert all(channels[c.channel].team != "japan" for c in english)
    assert {"line", "email"} <= {_channel_type(c) for c in japanese}


def test_placeholders() -> None:
    placeholder = re.compile(r"\{\{[^}]*\}\}")
    for reply in WS.canned_replies:
        found = set(placeholder.findall(reply.body))
        assert found <= CANNED_PLACEHOLDERS, reply.shortcut
        assert "{" not in placeholder.sub("", reply.body), reply.shortcut
    assert any(JAPANESE.search(r.body) for r in WS.canned_replies)
    assert any(not JAPANESE.search(r.body) for r in WS.canned_replies)
    assert {"greet", "thanks", "refund", "jp-greet"} <= {r.shortcut for r in WS.canned_replies}
    for reply in WS.canned_replies:  # each says its language, so a desk can offer the right one
        assert reply.locale == ("ja" if JAPANESE.search(reply.body) else "en"), reply.shortcut
    for template in WS.templates:
        assert template.channel_type == "whatsapp"
        found = placeholder.findall(template.body)
        # Named parameters (WhatsApp's named format): the desk labels each value by its name.
        assert found and all(re.fullmatch(r"\{\{[a-z]+(?:_[a-z]+)*\}\}", p) for p in found), \
            template.name
        assert "{" not in placeholder.sub("", template.body), template.name
    assert {(t.name, t.locale) for t in WS.templates} >= {
        ("order_update", "en"),
        ("follow_up", "en"),
        ("order_update", "ja"),
        ("follow_up", "ja"),
    }
    # Conversation text is fully rendered: no template syntax left over.
    for conv in WS.conversations:
        for text in (conv.subject or "", *(m.body for m in conv.messages)):
            assert "{" not in text and "}" not in text, conv.key


def test_the_demo_agent_has_japanese_work_to_try() -> None:
    """`make run` signs in as the demo agent: a newcomer meets Japanese conversations in Mine
    without switching roles."""
    assert "japan" in agents[DEMO_AGENT].teams
    japanese = [c for c in WS.conversations
                if c.assignee == DEMO_AGENT and contacts[c.contact].locale == "ja"]
    assert len(japanese) >= 3
    assert sum(c.status in ("open", "pending") for c in japanese) >= 3
    assert len({_channel_type(c) for c in japanese}) >= 2
    assert all(channels[c.channel].team == "japan" for c in japanese)


def test_system_messages_are_the_declared_sentences() -> None:
    """The desk shows them translated: each is one of ``protocol.events``' sentences."""
    system = [m.body for c in WS.conversations for m in c.messages if m.direction == "system"]
    assert system and all(events.recognise(body) is not None for body in system)


# --------------------------------------------------------------------------- knowledge base


def test_demo_articles_parse_and_cover_both_languages() -> None:
    from server.article_files import demo_articles

    kb = demo_articles()
    assert len(kb) >= 40
    by_locale: dict[str, set[str]] = {}
    for a in kb:
        by_locale.setdefault(a.locale, set()).add(a.key)
        assert a.name == f"{a.key}.{a.locale}.md"
    assert set(by_locale) == {"en", "ja"}
    assert len(by_locale["en"] & by_locale["ja"]) >= 20  # translations share the key
    for a in kb:
        if a.locale == "ja":
            assert JAPANESE.search(a.title) and JAPANESE.search(a.body), a.name
    team_names = {t.name for t in WS.teams}
    assert {t for a in kb for t in a.teams} <= team_names
    assert {t for a in kb for t in a.teams} == team_names  # each team has its own
    assert any(a.visibility == "internal" for a in kb)
    assert sum(a.status == "draft" for a in kb) >= 2


def test_demo_articles_have_no_images_or_dangling_links() -> None:
    from server.article_files import demo_articles

    for a in demo_articles():
        assert "![" not in a.body and "<img" not in a.body, a.name  # pictures: later work
        assert not re.search(r"\]\((?!https?://)", a.body), a.name  # no relative links


def test_demo_articles_answer_what_the_conversations_are_about() -> None:
    """Each tag the demo's conversations carry (but vip) is a topic some article covers,
    in English and in Japanese."""
    from server.article_files import demo_articles

    text = {loc: " ".join(f"{a.title} {' '.join(a.tags)} {a.body}" for a in demo_articles()
                          if a.locale == loc).lower() for loc in ("en", "ja")}
    topics = {"shipping": ("deliver", "配送"), "refund": ("refund", "返金"),
              "billing": ("invoice", "請求"), "warranty": ("warranty", "保証"),
              "installation": ("installation", "設置"), "bug": ("update", "アプリ"),
              "返品": ("return", "返品"), "至急": ("priority", "優先"),
              "feedback": ("technician", "技術員")}
    tags = {t for c in WS.conversations for t in c.tags} - {"vip"}
    assert tags <= set(topics)
    for tag in tags:
        en, ja = topics[tag]
        assert en in text["en"] and ja in text["ja"], tag
