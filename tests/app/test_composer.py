"""The composer on real demo conversations: sending, messaging windows, canned replies,
mentions and drafts that survive a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel

from app import theme
from app.conversation.composer import MAX_BODY, Composer, SendRequest
from app.conversation.composer_window import placeholder_context
from app.conversation.placeholders import (
    canned_for,
    fill,
    find_canned,
    first_name,
    language_of,
    readable_name,
    templates_for,
    unfilled,
)
from app.drafts import Draft, DraftStore
from protocol.rules import HOUR_MS, WindowKind, WindowState
from sync import queries
from sync.queries import CannedReplyInfo, ConversationRow, Directory, TemplateInfo
from tests.app.conftest import until

CTRL = Qt.KeyboardModifier.ControlModifier
OPTED_OUT_REASON = ("This contact replied STOP (opted out of SMS). "
                    "You can't message them on SMS.")


def now_ms() -> int:
    return int(time.time() * 1000)


async def demo_rows(backend, desks):
    session = await desks.session(backend)
    ids = await session.read(queries.conversation_ids, queries.InboxFilter(statuses=None),
                             queries.Sort.LAST_ACTIVITY, session.agent_id)
    rows = await session.read(queries.conversation_rows, ids, now_ms())
    return session, list(rows.values())


def pick(rows: list[ConversationRow], channel_type: str, kind: WindowKind) -> ConversationRow:
    return next(r for r in rows if r.channel_type == channel_type and r.window.kind is kind)


def composer_for(qtbot, row, directory, me, drafts=None, draft=None) -> tuple[Composer, list]:
    composer = Composer(drafts)
    qtbot.addWidget(composer)
    composer.resize(640, 260)
    composer.show()
    composer.set_conversation(row, directory, me, draft)
    sent: list[SendRequest] = []
    composer.sendRequested.connect(sent.append)
    return composer, sent


def made_row(channel_type: str, window: WindowState, name: str = "Olivia Bennett"
             ) -> ConversationRow:
    t = now_ms()
    return ConversationRow(
        id=f"conv-{channel_type}", channel_id="ch-1", channel_type=channel_type,
        channel_name=channel_type.title(), contact_id="k-1", contact_name=name,
        team_id="support", team_name="Customer Support", assignee_id=None, assignee_name=None,
        subject=None, preview="Hello", status="open", snoozed_until=None, priority="normal",
        tags=(), unread_count=0, last_activity_at=t, last_inbound_at=t - 30 * HOUR_MS,
        sla_due_at=None, created_at=t - 40 * HOUR_MS, window=window)


# --------------------------------------------------------------------------- placeholders


def test_placeholders_fill_names_and_leave_unknown_ones_visible():
    body = "Hi {{contact.first_name}} ({{contact.name}}), {{agent.first_name}} here. {{order}}"
    assert fill(body, "Olivia Bennett", "Alex Morgan") == \
        "Hi Olivia (Olivia Bennett), Alex here. {{order}}"
    assert fill("{{contact.first_name}}様 {{agent.name}}", "山田花子", "Kenji Sato") == \
        "山田花子様 Kenji Sato"
    assert fill("Hi {{contact.first_name}}", "", "Alex") == "Hi {{contact.first_name}}"
    assert fill("Hi {{1}}, order {{2}}", "A B", "C", {"1": "Ann"}) == "Hi Ann, order {{2}}"
    assert unfilled("Hi {{1}}, {{2}} and {{2}}") == ["1", "2"]
    assert first_name("  Olivia   Bennett ") == "Olivia"


def test_find_canned_ranks_shortcut_prefix_before_title_matches():
    canned = [CannedReplyInfo("1", "thanks", "Thanks for waiting", "", None),
              CannedReplyInfo("2", "jp-refund", "返金のご案内", "", "japan"),
              CannedReplyInfo("3", "refund", "Refund issued", "", "billing"),
              CannedReplyInfo("4", "closing", "Closing (no REFUND)", "", None)]
    assert [c.id for c in find_canned(canned, "/REF")] == ["3", "2", "4"]
    assert [c.id for c in find_canned(canned, "")] == ["1", "2", "3", "4"]
    assert find_canned(canned, "nothing-like-it") == []


def test_canned_replies_and_templates_for_the_customers_language():
    canned = [CannedReplyInfo("1", "greet", "Greeting", "Hi", None, "en"),
              CannedReplyInfo("2", "jp-greet", "挨拶", "様", "japan", "ja"),
              CannedReplyInfo("3", "sig", "Signature", "{{agent.name}}", None, None),
              CannedReplyInfo("4", "jp-wait", "確認中", "様", "japan", "ja")]
    assert [c.id for c in canned_for(canned, "ja-JP")] == ["2", "4", "3"]  # then any language
    assert [c.id for c in canned_for(canned, "en")] == ["1", "3"]
    assert [c.id for c in canned_for(canned, None)] == ["1", "2", "3", "4"]  # unknown: all
    templates = [TemplateInfo("a", "follow_up", "whatsapp", "en", ""),
                 TemplateInfo("b", "follow_up", "whatsapp", "ja", ""),
                 TemplateInfo("c", "order_update", "whatsapp", "en", ""),
                 TemplateInfo("d", "order_update", "whatsapp", "ja", "")]
    assert [t.id for t in templates_for(templates, "ja")] == ["b", "d", "a", "c"]  # none hidden
    assert [t.id for t in templates_for(templates, None)] == ["a", "b", "c", "d"]
    assert readable_name("order_update") == "Order update"
    assert language_of("ja_JP") == language_of("ja") == "ja" and language_of(None) == ""


# --------------------------------------------------------------------------- sending


async def test_ctrl_enter_sends_one_reply_and_clears(backend, desks, qtbot):
    session, rows = await demo_rows(backend, desks)
    row = pick(rows, "email", WindowKind.ALWAYS_OPEN)
    composer, sent = composer_for(qtbot, row, session.directory, session.me)
    assert not composer.banner.isVisible()  # email has no window: nothing to warn about
    assert not composer.send_button.isEnabled()
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return, CTRL)  # empty: nothing is sent
    qtbot.keyClicks(composer.editor, "   ")
    assert not composer.send_button.isEnabled()
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return, CTRL)
    assert sent == []
    composer.editor.clear()
    qtbot.keyClicks(composer.editor, "Your replacement ships today.")
    assert composer.send_button.isEnabled()
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return, CTRL)
    assert sent == [SendRequest(row.id, "reply", "Your replacement ships today.")]
    assert composer.editor.toPlainText() == ""
    assert not composer.send_button.isEnabled()
    qtbot.keyClicks(composer.editor, "And a second line")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Enter, CTRL)  # the keypad's Enter too
    assert [r.body for r in sent] == ["Your replacement ships today.", "And a second line"]


def test_a_message_over_the_server_limit_cannot_be_sent(qtbot):
    row = made_row("email", WindowState(WindowKind.ALWAYS_OPEN))
    composer, sent = composer_for(qtbot, row, Directory(), None)
    composer.editor.setPlainText("x" * 1000)
    assert not composer.counter.isVisible() and composer.send_button.isEnabled()
    composer.editor.setPlainText("x" * MAX_BODY)
    assert composer.counter.isVisible() and composer.send_button.isEnabled()
    composer.editor.setPlainText("x" * (MAX_BODY + 1))
    assert composer.counter.isVisible() and not composer.send_button.isEnabled()
    assert "65" in composer.counter.text()
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return, CTRL)
    assert sent == []


# --------------------------------------------------------------------------- windows


async def test_an_opted_out_sms_contact_cannot_be_messaged_but_noted(backend, desks, qtbot):
    session, rows = await demo_rows(backend, desks)
    row = pick(rows, "sms", WindowKind.OPTED_OUT)
    composer, sent = composer_for(qtbot, row, session.directory, session.me)
    assert not composer.editor.isEnabled()
    assert not composer.send_button.isEnabled()
    assert composer.banner.label.isVisible()
    assert composer.banner.label.text() == OPTED_OUT_REASON
    assert composer.send_button.toolTip() == OPTED_OUT_REASON
    composer.set_mode("note")
    assert composer.editor.isEnabled()
    qtbot.keyClicks(composer.editor, "Customer opted out; call instead.")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return, CTRL)
    assert [(r.kind, r.body) for r in sent] == [("note", "Customer opted out; call instead.")]


async def test_whatsapp_after_24_hours_sends_only_a_chosen_template(backend, desks, qtbot):
    session, rows = await demo_rows(backend, desks)
    row = pick(rows, "whatsapp", WindowKind.TEMPLATE_ONLY)
    composer, sent = composer_for(qtbot, row, session.directory, session.me)
    editor, banner = composer.editor, composer.banner
    assert editor.isReadOnly()
    assert "template" in banner.label.text()
    qtbot.keyClicks(editor, "free text")
    assert editor.toPlainText() == ""  # read-only: typing does nothing
    assert not composer.send_button.isEnabled()
    qtbot.keyClick(editor, Qt.Key.Key_Return, CTRL)
    assert sent == []
    assert composer.hint.text() == "Choose a template first."  # said, not silent

    box = banner.template_box
    names = [box.itemText(i) for i in range(1, box.count())]
    # By name and language, not "follow_up · en"; the customer's language (English) first.
    assert row.contact_locale == "en"
    assert names == ["Delivery reminder · English", "Follow up · English",
                     "Order update · English", "Delivery reminder · 日本語",
                     "Follow up · 日本語", "Order update · 日本語"]  # the others still follow
    box.setCurrentIndex(names.index("Order update · English") + 1)  # needs two values
    first = row.contact_name.split()[0]
    assert editor.toPlainText().startswith(f"Hi {first}, there's an update")
    assert not composer.send_button.isEnabled()  # the order's number and status are empty
    # One field per value, labelled by the template's parameter names, below the picker;
    # empty, it shows its place.
    assert list(banner.params) == ["customer_name", "order_number", "order_status"]

    def at(widget, corner):
        return widget.mapTo(composer, corner(widget.rect()))

    labels = []
    for edit in banner.params.values():
        label = next(w for w in edit.parentWidget().findChildren(QLabel) if w.buddy() is edit)
        labels.append(label.text())
        qtbot.waitUntil(lambda e=edit: e.isVisible()
                        and at(e, QRect.topLeft).y() > at(box, QRect.bottomLeft).y()
                        and at(e, QRect.topRight).x() >= at(box, QRect.topRight).x() - 1)
    assert labels == ["Customer name:", "Order number:", "Order status:"]  # not "Value 1:"
    assert banner.params["customer_name"].text() == first  # the greeting: the first name
    assert "order {{order_number}}" in banner.params["order_number"].placeholderText()
    banner.params["order_number"].setText("AH-1234567")
    qtbot.keyClicks(banner.params["order_status"], "out for delivery")
    assert "order AH-1234567: out for delivery." in editor.toPlainText()
    assert composer.send_button.isEnabled()
    qtbot.keyClick(banner.params["order_status"], Qt.Key.Key_Return, CTRL)  # from a field too
    assert len(sent) == 1 and sent[0].template == "order_update"
    assert sent[0].kind == "reply" and sent[0].body.startswith(f"Hi {first}, there's an update")
    assert "{{" not in sent[0].body
    assert banner.template() is None and editor.toPlainText() == ""

    composer.set_mode("note")  # notes are always allowed
    assert not editor.isReadOnly() and editor.isEnabled()
    qtbot.keyClicks(editor, "Sent the order update template")
    qtbot.keyClick(editor, Qt.Key.Key_Return, CTRL)
    assert sent[1] == SendRequest(row.id, "note", "Sent the order update template")
    assert sent[1].template is None


def test_template_value_placeholders_show_the_words_around_them():
    body = ("Hi Ann, there's an update on your Acme Home Electronics order {{2}}: {{3}}. "
            "Reply to this message if you have any questions.")
    assert placeholder_context(body, "2") == "…Home Electronics order {{2}}: {{3}}. Reply to…"
    assert placeholder_context("Hi {{1}}!", "1") == "Hi {{1}}!"
    assert placeholder_context("Hi {{1}}!", "9") == ""
    ja = "アクメ家電をご利用いただきありがとうございます。ご注文 {{2}} の状況が更新されました"
    shown = placeholder_context(ja, "2")
    assert shown.startswith("…") and shown.endswith("…") and "ご注文 {{2}} の" in shown
    assert len(shown) < 30  # wide characters count double: it fits the field


def test_reply_and_note_modes_look_like_one_control(qtbot):
    composer, _sent = composer_for(qtbot, made_row("sms", WindowState(
        WindowKind.OPEN, now_ms() + 5 * HOUR_MS)), Directory(), None)
    reply, note = composer.reply_button, composer.note_button
    assert not reply.autoRaise() and not note.autoRaise()  # both framed, not one plain text
    assert reply.height() == note.height() and reply.y() == note.y()
    assert note.mapTo(composer, note.rect().topLeft()).x() == reply.mapTo(
        composer, reply.rect().topRight()).x() + 1  # side by side, no gap
    qtbot.mouseClick(note, Qt.MouseButton.LeftButton)
    assert composer.mode() == "note" and note.isChecked() and not reply.isChecked()


def test_a_note_is_written_on_the_note_colour_of_the_theme(qtbot, qapp):
    composer, _sent = composer_for(qtbot, made_row("email", WindowState(
        WindowKind.ALWAYS_OPEN)), Directory(), None)

    def painted() -> str:  # what the agent sees behind the text, not what the palette says
        image = composer.editor.viewport().grab().toImage()
        return image.pixelColor(image.width() // 2, image.height() - 4).name()

    palette, sheet = QPalette(qapp.palette()), qapp.styleSheet()
    try:
        theme.apply_theme(qapp, "light")
        reply = painted()
        composer.set_mode("note")
        assert painted() == theme.color("note_bg").name() != reply  # the note bubbles' colour
        theme.apply_theme(qapp, "dark")
        assert painted() == theme.color("note_bg", dark=True).name()
        theme.apply_theme(qapp, "light")
        assert painted() == theme.color("note_bg", dark=False).name()
    finally:
        theme.apply_theme(qapp, "light")
        qapp.setPalette(palette)
        qapp.setStyleSheet(sheet)
    composer.set_mode("reply")
    assert painted() == reply


def test_messenger_after_24_hours_needs_the_human_agent_tag(qtbot):
    row = made_row("messenger", WindowState(WindowKind.HUMAN_AGENT_ONLY,
                                            now_ms() + 3 * 24 * HOUR_MS + 2 * HOUR_MS))
    composer, sent = composer_for(qtbot, row, Directory(), None)
    assert composer.banner.human_tag.isVisible()
    assert "3 d 2 h left" in composer.banner.label.text()
    qtbot.keyClicks(composer.editor, "Sorry for the wait!")
    assert not composer.editor.isReadOnly()
    assert not composer.send_button.isEnabled()
    composer.activateWindow()
    composer.focus_editor()
    qtbot.waitUntil(composer.editor.hasFocus)
    usual = composer.hint.text()
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return, CTRL)
    assert sent == []
    # Not silence: beside the Send button it says why, and the tick box has the focus.
    assert composer.hint.text() == "Tick “Send with the human agent tag” first."
    tag = composer.banner.human_tag
    qtbot.waitUntil(tag.hasFocus)
    qtbot.keyClick(tag, Qt.Key.Key_Space)
    assert tag.isChecked() and composer.hint.text() == usual  # the reason is gone
    qtbot.keyClick(tag, Qt.Key.Key_Return, CTRL)  # and it sends from there
    assert sent == [SendRequest(row.id, "reply", "Sorry for the wait!", human_agent_tag=True)]


def test_open_window_shows_time_left_and_moves_on_when_it_ends(qtbot):
    t = now_ms()
    long = made_row("whatsapp", WindowState(WindowKind.OPEN, t + 3 * HOUR_MS + 12 * 60_000))
    composer, _sent = composer_for(qtbot, long, Directory(), None)
    assert composer.banner.label.text() == "Window open — 3 h 12 min left"
    short = dataclasses.replace(long, id="conv-2",
                                window=WindowState(WindowKind.OPEN, t + 30 * 60_000))
    composer.set_conversation(short, Directory(), None, None)
    assert composer.banner.label.text() == "Window open — 30 min left"
    warning = composer.banner.label.palette().color(composer.banner.label.foregroundRole())
    normal = composer.palette().color(composer.foregroundRole())
    assert warning != normal  # under an hour: the warning colour
    qtbot.keyClicks(composer.editor, "Quick answer")
    assert composer.send_button.isEnabled()
    # Re-read after the window ended (31 h after the last message): the composer follows.
    ended = dataclasses.replace(short, window=WindowState(WindowKind.OPEN, t - 1))
    composer.update_row(ended)
    assert composer.editor.isReadOnly() and not composer.send_button.isEnabled()
    assert composer.banner.template_box.isVisible()
    composer.set_mode("note")  # what was typed is still there, as a note now
    assert composer.editor.toPlainText() == "Quick answer"


def test_a_closed_window_disables_replies_with_the_reason(qtbot):
    row = made_row("instagram", WindowState(WindowKind.CLOSED))
    composer, sent = composer_for(qtbot, row, Directory(), None,
                                  draft=Draft(row.id, "reply", "Hi", 0))
    assert not composer.editor.isEnabled() and not composer.send_button.isEnabled()
    assert "closed" in composer.banner.label.text()
    assert not composer.send() and sent == []
    composer.set_mode("note")
    assert composer.editor.isEnabled() and composer.send()
    assert sent == [SendRequest(row.id, "note", "Hi")]


# --------------------------------------------------------------------------- canned, mentions


async def test_slash_inserts_a_canned_reply_with_names_filled(backend, desks, qtbot):
    session, rows = await demo_rows(backend, desks)
    row = next(r for r in rows if r.channel_type == "email" and r.contact_locale == "en")
    composer, _sent = composer_for(qtbot, row, session.directory, session.me)
    editor = composer.editor
    qtbot.keyClicks(editor, "/gre")
    await until(editor.popup_visible, 5, what="the canned reply list")
    assert editor.popup_kind() == "canned"
    qtbot.keyClick(editor._completer.popup(), Qt.Key.Key_Return)  # the list has the keys
    first = row.contact_name.split()[0]
    assert editor.toPlainText() == (
        f"Hi {first}, thanks for contacting Acme Home Electronics! "
        "My name is Alex and I'll be helping you today.")
    assert not editor.popup_visible()

    # The window's "/" shortcut: a "/" on a new line, the whole list, narrowed by typing.
    composer.open_canned_picker()
    await until(editor.popup_visible, 5, what="the list from the shortcut")
    qtbot.keyClicks(editor, "closing")
    editor.choose(0)
    text = editor.toPlainText()
    assert text.endswith("Have a great day!\nAlex Morgan, Acme Home Electronics")
    assert f"\nI'm glad we could sort this out, {first}." in text
    assert "/" not in text and "{{" not in text
    assert not any(c.shortcut.startswith("jp-") for c in editor.canned)  # none in Japanese

    # A Japanese customer: the same keys bring the Japanese greeting, and only Japanese.
    japanese = next(r for r in rows if r.channel_type == "email" and r.contact_locale == "ja")
    composer.set_conversation(japanese, session.directory, session.me)
    assert editor.canned and all(c.locale == "ja" for c in editor.canned)
    qtbot.keyClicks(editor, "/gre")
    await until(editor.popup_visible, 5, what="the canned reply list")
    qtbot.keyClick(editor._completer.popup(), Qt.Key.Key_Return)
    assert editor.toPlainText().startswith(f"{japanese.contact_name}様\nお問い合わせ")


async def test_at_mentions_an_agent_in_a_note(backend, desks, qtbot):
    session, rows = await demo_rows(backend, desks)
    row = pick(rows, "email", WindowKind.ALWAYS_OPEN)
    composer, sent = composer_for(qtbot, row, session.directory, session.me)
    editor = composer.editor
    qtbot.keyClicks(editor, "me@example.com @Jam")  # a reply: no mention list
    assert not editor.popup_visible()
    editor.clear()
    composer.set_mode("note")
    qtbot.keyClicks(editor, "Can you check this, @Jam")
    await until(editor.popup_visible, 5, what="the agent list")
    assert editor.popup_kind() == "mention"
    qtbot.keyClick(editor._completer.popup(), Qt.Key.Key_Return)
    qtbot.keyClicks(editor, "please?")
    jamie = next(a for a in session.directory.agents if a.name == "Jamie Chen")
    qtbot.keyClick(editor, Qt.Key.Key_Return, CTRL)
    assert sent == [SendRequest(row.id, "note", "Can you check this, @Jamie Chen please?",
                                mentions=(jamie.id,))]


# --------------------------------------------------------------------------- drafts


def on_disk(path: Path, conversation_id: str) -> str | None:
    if not path.exists():
        return None
    with closing(sqlite3.connect(path)) as conn:
        try:
            row = conn.execute("SELECT body FROM drafts WHERE conversation_id = ?",
                               (conversation_id,)).fetchone()
        except sqlite3.OperationalError:  # created a moment ago, no table yet
            return None
    return row[0] if row else None


async def test_a_draft_is_saved_while_typing_and_restored(backend, desks, qtbot, tmp_path):
    session, rows = await demo_rows(backend, desks)
    row = pick(rows, "email", WindowKind.ALWAYS_OPEN)
    drafts = DraftStore(tmp_path / "ws")
    desks.closers.append(lambda: asyncio.to_thread(drafts.close))
    composer, _sent = composer_for(qtbot, row, session.directory, session.me, drafts)
    composer.set_mode("note")
    qtbot.keyClicks(composer.editor, "Half-written note")
    path = tmp_path / "ws" / "drafts.sqlite3"
    assert on_disk(path, row.id) is None  # debounced: not one write per key
    await until(lambda: on_disk(path, row.id), 10, what="the debounced draft write")

    other = DraftStore(tmp_path / "ws")  # a restarted desk: nothing flushed or closed
    try:
        draft = await other.load(row.id)
    finally:
        await asyncio.to_thread(other.close)
    assert draft is not None and (draft.mode, draft.body) == ("note", "Half-written note")

    restored, sent2 = composer_for(qtbot, row, session.directory, session.me, drafts, draft)
    assert restored.mode() == "note" and restored.note_button.isChecked()
    assert restored.editor.toPlainText() == "Half-written note"
    qtbot.keyClick(restored.editor, Qt.Key.Key_Return, CTRL)
    assert [r.body for r in sent2] == ["Half-written note"]
    await drafts.flush()
    assert await drafts.load(row.id) is None  # sent: the draft is gone


def test_a_draft_survives_the_process_being_killed(tmp_path: Path):
    script = textwrap.dedent("""
        import os, signal, sys
        from PySide6.QtCore import QCoreApplication, QTimer
        from app.drafts import Draft, DraftStore
        app = QCoreApplication([])
        store = DraftStore(sys.argv[1])
        store.save_later("conv-1", "reply", "typed just before the crash")
        store.save_later("conv-2", "reply", "")
        QTimer.singleShot(1500, lambda: os.kill(os.getpid(), signal.SIGKILL))
        app.exec()
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env,
                          cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert proc.returncode == -9  # killed, not closed

    store = DraftStore(tmp_path)
    try:
        draft = store._load("conv-1")  # the writer's own query, on this (test) thread
        assert draft is not None and draft.body == "typed just before the crash"
        assert store._load("conv-2") is None
    finally:
        store.close()
