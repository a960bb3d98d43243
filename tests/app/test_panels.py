"""Navigation, customer panel, status bar, outbox dialog and notifications on the real backend."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QMessageBox, QVBoxLayout, QWidget
from sqlalchemy import text

from app.customer.panel import (
    CustomerPanel,
    ElidedLabel,
    attribute_label,
    language_name,
)
from app.inbox.nav import NavigationPane
from app.notifications import Notifier
from app.outbox_dialog import COL_REASON, COL_STATE, OutboxDialog
from app.statusbar import OfflineBanner, SyncStatusWidget
from sync import queries
from sync.engine import PROBLEMS, EngineState, EngineStatus
from sync.mirror import BootstrapProgress
from sync.queries import ContactView, Identity, InboxFilter
from sync.store import Store
from tests.app.conftest import DEMO_SUPERVISOR, until

HOSTILE = "<b>x</b><img src=http://e/x>"


def now_ms() -> int:
    return int(time.time() * 1000)


def contacts(store: Store) -> list[tuple[str, str, list[dict[str, Any]]]]:
    with store.read_mirror() as conn:
        return [(r[0], r[1], orjson.loads(r[2] or "[]")) for r in conn.execute(
            text("SELECT id, name, identities FROM contacts ORDER BY id"))]


async def eventually(session, fn, *args, timeout: float = 15, what: str = "data"):
    """Poll a read until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await session.read(fn, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def mine_rows(session, statuses=("open", "pending")) -> list[queries.ConversationRow]:
    ids = await session.read(queries.conversation_ids, InboxFilter(assignee="me",
                                                                   statuses=statuses),
                             queries.Sort.LAST_ACTIVITY, session.agent_id)
    rows = await session.read(queries.conversation_rows, ids, now_ms())
    return [rows[i] for i in ids]


def click(qtbot, tree, item) -> None:
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(item).center())


# --------------------------------------------------------------------------- navigation


async def test_navigation_counts_and_filters(backend, desks, qtbot):
    session = await desks.session(backend)
    pane = NavigationPane()
    qtbot.addWidget(pane)
    pane.resize(260, 700)
    pane.show()
    emitted: list[InboxFilter] = []
    pane.filterChanged.connect(emitted.append)
    pane.set_directory(session.directory)
    counts = await session.read(queries.nav_counts, session.agent_id)
    pane.set_counts(counts)

    assert counts.mine > 0
    assert pane.count_text("mine") == str(counts.mine)
    assert pane.count_text("unassigned") == str(counts.unassigned)
    assert pane.current_key() == "mine"
    assert pane.current_filter() == InboxFilter(assignee="me")
    channel = session.directory.channels[0]
    assert pane.item(f"channel:{channel.id}").text(0) == channel.name
    assert pane.count_text("status:snoozed") == str(counts.statuses.get("snoozed", 0))

    click(qtbot, pane.tree, pane.item("unassigned"))
    assert emitted == [InboxFilter(assignee="none")]
    assert pane.current_key() == "unassigned"

    # New counts and a new directory keep the selection and announce nothing.
    pane.set_directory(session.directory)
    pane.set_counts(await session.read(queries.nav_counts, session.agent_id))
    assert pane.current_key() == "unassigned"
    assert pane.tree.currentItem() is pane.item("unassigned")
    assert emitted == [InboxFilter(assignee="none")]

    team = session.directory.teams[0]
    assert pane.select_view(f"team:{team.id}")
    assert emitted[-1] == InboxFilter(team_id=team.id)
    tag = session.directory.tags[0]
    assert pane.select_view(f"tag:{tag.name}")
    assert emitted[-1] == InboxFilter(tag=tag.name)

    saved = InboxFilter(tag="vip", statuses=None)
    pane.set_saved_filters([("VIP, any status", saved)])
    assert pane.select_view("saved:VIP, any status")
    assert emitted[-1] == saved
    deleted: list[str] = []
    pane.deleteSavedFilter.connect(deleted.append)
    pane._on_context_menu(pane.tree.visualItemRect(pane.item("saved:VIP, any status")).center())
    pane._menu.actions()[0].trigger()
    assert deleted == ["VIP, any status"]
    pane.set_saved_filters([])  # the saved view is gone: back to Mine, announced
    assert pane.current_key() == "mine"
    assert emitted[-1] == InboxFilter(assignee="me")


async def test_supervisor_navigation_lists_every_team(backend, desks, qtbot):
    session = await desks.session(backend, DEMO_SUPERVISOR)
    pane = NavigationPane()
    qtbot.addWidget(pane)
    pane.set_directory(session.directory)
    pane.set_counts(await session.read(queries.nav_counts, session.agent_id))
    teams = pane._groups["teams"]
    names = {teams.child(n).text(0) for n in range(teams.childCount())}
    assert len(names) == 3 and "日本サポート" in names
    for team in session.directory.teams:
        assert int(pane.count_text(f"team:{team.id}")) > 0


# --------------------------------------------------------------------------- customer panel


async def test_customer_panel_shows_every_identity_and_opens_conversations(backend, desks,
                                                                           qtbot):
    session = await desks.session(backend)
    view = None
    for cid, _name, idents in await session.read(contacts):
        if len(idents) >= 2:
            candidate = await session.read(queries.contact_view, cid, now_ms())
            # (an English one: the demo agent also has Japanese customers)
            if (candidate is not None and len(candidate.conversations) >= 2
                    and candidate.locale == "en"):
                view = candidate
                break
    assert view is not None, "the demo has customers on several channels"
    panel = CustomerPanel()
    qtbot.addWidget(panel)
    panel.resize(360, 700)
    panel.show()
    assert panel.empty_label.isVisible()

    current = view.conversations[0].id
    panel.set_contact(view, current)
    assert panel.name_label.text() == view.name
    shown = [w.text() for w in panel.identities.findChildren(QLabel)]
    for ident in view.identities:
        assert ident.address in shown
    attrs = [w.text() for w in panel.attributes.findChildren(QLabel)]
    for value in view.attributes.values():
        assert str(value) in attrs
    assert "Customer ID:" in attrs and "customer_id:" not in attrs  # keys read as labels
    assert panel.locale_label.text() == "Language: English"  # the demo's "en"
    tree = panel.conversations
    # The channel is an icon with its name as tooltip: the subject gets the width.
    assert tree.topLevelItem(0).text(0) == "" and not tree.topLevelItem(0).icon(0).isNull()
    assert tree.columnWidth(1) > max(tree.columnWidth(0), tree.columnWidth(2),
                                     tree.columnWidth(3))
    assert tree.topLevelItemCount() == len(view.conversations)
    assert tree.topLevelItem(0).font(0).bold()  # the open one is marked
    assert not tree.topLevelItem(1).font(0).bold()
    assert [tree.topLevelItem(n).toolTip(0) for n in range(tree.topLevelItemCount())] == [
        c.channel_name for c in view.conversations]

    opened: list[str] = []
    panel.openConversation.connect(opened.append)
    click(qtbot, tree, tree.topLevelItem(1))
    assert opened == [view.conversations[1].id]
    assert tree.topLevelItem(1).font(0).bold()

    panel.set_contact(None, None)
    assert panel.empty_label.isVisible()


async def test_customer_panel_shows_a_hostile_name_literally(backend, desks, qtbot):
    session = await desks.session(backend)
    # A new customer whose handle (and so name) is markup, arriving through the real API.
    result = await asyncio.to_thread(backend.inbound, "Website Chat", HOSTILE, "hello")
    view = await eventually(session, queries.contact_view, result["contact_id"], now_ms(),
                            what="the new contact")
    assert view.name == HOSTILE
    panel = CustomerPanel()
    qtbot.addWidget(panel)
    panel.set_contact(view, result["conversation_id"])
    assert panel.name_label.textFormat() == Qt.TextFormat.PlainText
    assert panel.name_label.text() == HOSTILE
    handles = [w for w in panel.identities.findChildren(QLabel) if w.text() == HOSTILE]
    assert handles and all(w.textFormat() == Qt.TextFormat.PlainText for w in handles)


def test_customer_panel_elides_long_handles_and_names_languages_and_details(qtbot):
    line_id = "line-U5f7cd3d65ddc4102f33325d32866bd27"
    view = ContactView("k-1", "山田 美咲", "ja", (
        Identity("email", "misaki.yamada@example.jp", False), Identity("line", line_id, False)),
        {"orders": "6", "last_order_date": "2026-01-02", "customer_id": "CU-339946",
         "city": "宮城県仙台市"}, ())
    panel = CustomerPanel()
    qtbot.addWidget(panel)
    panel.resize(230, 500)
    panel.show()
    panel.set_contact(view, None)
    assert panel.minimumSizeHint().width() < 230  # a long handle does not widen the dock
    handle = next(w for w in panel.identities.findChildren(ElidedLabel) if w.text() == line_id)
    qtbot.waitUntil(lambda: "…" in handle.displayed_text())
    shown = handle.displayed_text()
    assert shown.startswith("line-U5") and shown.endswith("bd27")  # elided in the middle
    assert handle.toolTip() == line_id
    assert panel.locale_label.text() == "Language: 日本語"
    labels = [panel._attribute_layout.itemAt(n, QFormLayout.ItemRole.LabelRole).widget().text()
              for n in range(panel._attribute_layout.rowCount())]
    assert labels == ["Customer ID:", "Orders:", "City:", "Last order date:"]

    hostile = ElidedLabel(HOSTILE)
    qtbot.addWidget(hostile)
    assert HOSTILE not in hostile.toolTip() and "&lt;b&gt;" in hostile.toolTip()


def test_panel_labels_for_languages_details_and_dates():
    assert language_name("ja") == "日本語"
    assert language_name("en") == "English"
    assert language_name("pt-BR") == "português"
    assert language_name("zz-unknown") == "zz-unknown"
    assert attribute_label("tier") == "Tier"
    assert attribute_label("last_order_date") == "Last order date"
    assert attribute_label("lifetimeValue") == "Lifetime value"
    # (dates and times: tests/app/test_times.py)


# --------------------------------------------------------------------------- status bar


async def test_status_widget_and_banner_follow_offline_and_back(backend, desks, qtbot):
    session = await desks.session(backend)
    host = QWidget()
    qtbot.addWidget(host)
    layout = QVBoxLayout(host)
    widget, banner = SyncStatusWidget(), OfflineBanner()
    layout.addWidget(banner)
    layout.addWidget(widget)
    for w in (widget, banner):
        session.statusChanged.connect(w.update_status)
        w.update_status(session.status)
    host.show()
    assert widget.state_text() == "Online · up to date"
    assert widget.synced_label.text().startswith("Synced ")
    assert not widget.pending_button.isVisible() and not banner.isVisible()

    email = next(r for r in await mine_rows(session) if r.channel_type == "email")
    await asyncio.to_thread(backend.stop)
    await session.send_reply(email.id, "We'll ship a replacement today.")
    await until(lambda: widget.state_text().startswith("Offline")
                and widget.pending_button.isVisible(), 30, what="offline with 1 pending")
    assert widget.pending_button.text() == "1 pending"
    assert not widget.failed_button.isVisible()
    assert banner.isVisible() and "You're offline" in banner.label.text()
    requested: list[bool] = []
    widget.outboxRequested.connect(lambda: requested.append(True))
    widget.pending_button.click()
    assert requested == [True]

    await asyncio.to_thread(backend.start)
    session.engine.trigger("test")
    await until(lambda: widget.state_text() == "Online · up to date"
                and not widget.pending_button.isVisible(), 30, what="back up to date")
    assert not banner.isVisible()
    assert session.status.pending == 0


def test_status_phrases_progress_and_keyring_warning(qtbot):
    widget, banner = SyncStatusWidget(), OfflineBanner()
    for w in (widget, banner):
        qtbot.addWidget(w)
    widget.show()
    progress = BootstrapProgress(done={"messages": 42}, totals={"messages": 100})
    widget.update_status(EngineStatus(EngineState.BOOTSTRAPPING, "Downloading the workspace…",
                                      progress=progress, credentials_secure=False))
    assert widget.state_text() == "Downloading workspace 42%"
    assert widget.progress_bar.isVisible() and widget.progress_bar.value() == 42
    assert widget.keyring_label.isVisible()
    assert "session only" in widget.keyring_label.toolTip()
    assert not widget.synced_label.isVisible()  # never synced yet

    widget.update_status(EngineStatus(EngineState.OFFLINE, "Cannot reach the server.",
                                      retry_in_s=8.2, rejected=1, last_sync_at=now_ms()))
    assert widget.state_text() == "Offline — retrying in 8 s"
    assert widget.synced_label.text().startswith("Last sync ")  # not "Synced": it is not
    widget.resize(900, widget.height())  # the status bar gives it the whole width:
    qtbot.waitUntil(lambda: widget.synced_label.x() - widget.state_label.geometry().right()
                    < 40)  # the time stays beside the state
    assert widget.state_label.toolTip() == "Cannot reach the server."
    assert not widget.progress_bar.isVisible() and not widget.keyring_label.isVisible()
    assert widget.failed_button.isVisible() and widget.failed_button.text() == "1 failed"
    assert not widget.pending_button.isVisible()

    widget.update_status(EngineStatus(EngineState.ERROR, "The server answered 500."))
    assert widget.state_text() == "Error: The server answered 500."  # a kind it cannot name
    widget.update_status(EngineStatus(EngineState.ERROR, "The server answered 500.",
                                      problem="server_failed"))
    assert widget.state_text() == "Server error — retrying"  # its own words, translatable
    assert widget.state_label.toolTip() == "The server answered 500."  # the detail stays
    phrases = set()
    for problem in PROBLEMS:  # every kind the engine names has words of its own
        widget.update_status(EngineStatus(EngineState.ERROR, "detail", problem=problem))
        phrases.add(widget.state_text())
    assert len(phrases) == len(PROBLEMS) and not any("detail" in p for p in phrases)
    banner.update_status(EngineStatus(EngineState.ERROR, "The server answered 500."))
    assert not banner.isHidden() and "You're offline" not in banner.label.text()
    widget.update_status(EngineStatus(EngineState.SIGN_IN_REQUIRED, "Sign in to sync."))
    assert widget.state_text() == "Sign-in required"
    banner.update_status(EngineStatus(EngineState.SIGN_IN_REQUIRED, "Sign in to sync."))
    assert banner.isHidden()


# --------------------------------------------------------------------------- outbox dialog


def _opted_out_sms(rows: list[tuple[str, str, list[dict[str, Any]]]]) -> tuple[str, str]:
    for cid, _name, idents in rows:
        for ident in idents:
            if ident["channel_type"] == "sms" and ident["opted_out"]:
                return cid, ident["handle"]
    raise AssertionError("the demo has an opted-out SMS contact")


async def test_outbox_dialog_shows_reasons_and_retries_and_discards(backend, desks, qtbot):
    session = await desks.session(backend)
    contact_id, handle = _opted_out_sms(await session.read(contacts))
    view = await session.read(queries.contact_view, contact_id, now_ms())
    sms = next(c for c in view.conversations if c.channel_type == "sms")
    snooze_target = (await mine_rows(session))[0]

    dialog = OutboxDialog(session)
    qtbot.addWidget(dialog)
    dialog.show()
    await session.set_status(snooze_target.id, "snoozed")  # no time: the server refuses
    reply = await session.send_reply(sms.id, "Your refund was issued.")
    await until(lambda: session.status.rejected == 2, 30, what="two refusals")
    await until(lambda: len(dialog.intents()) == 2
                and all(i.state == "rejected" for i in dialog.intents()), what="the list")
    tree = dialog.tree
    by_id = {tree.topLevelItem(n).data(0, Qt.ItemDataRole.UserRole): tree.topLevelItem(n)
             for n in range(tree.topLevelItemCount())}
    reply_item = by_id[reply.id]
    assert reply_item.text(0) == "Reply: \u2068Your refund was issued.\u2069"  # (isolated)
    assert reply_item.text(COL_STATE) == "Failed"
    # Sending either again would be refused the same way: it says so, and offers Discard.
    assert reply_item.text(COL_REASON) == ("The contact opted out of messages on this "
                                           "channel. Sending it again would be refused too.")
    snooze_id = next(iid for iid in by_id if iid != reply.id)
    assert by_id[snooze_id].text(0) == "Status change: Snoozed"
    assert by_id[snooze_id].text(COL_REASON) == (
        "The server did not accept this change: Snooze needs a time in the future. "
        "Sending it again would be refused too.")
    assert not dialog.retry_button.isEnabled()  # nothing selected
    for ids in ([reply.id], [snooze_id], [reply.id, snooze_id]):
        dialog.select_intents(ids)
        assert not dialog.retry_button.isEnabled() and dialog.discard_button.isEnabled()
    page = await session.read(queries.thread_page, sms.id, session.agent_id)
    failed = next(i for i in page.items if i.intent_id == reply.id)
    assert not failed.retryable  # the thread offers Discard only too

    # The customer opts back in; Retry sends the reply once.
    await asyncio.to_thread(backend.inbound, "SMS +1 555-0100", handle, "START")
    await until(lambda: session.status.state is EngineState.UP_TO_DATE, 30)
    await eventually(session, lambda store: not queries.contact_view(
        store, contact_id, now_ms()).identities[0].opted_out, what="the opt-in")
    def reason_of(intent_id: int) -> str:
        return next(tree.topLevelItem(n).text(COL_REASON) for n in range(tree.topLevelItemCount())
                    if tree.topLevelItem(n).data(0, Qt.ItemDataRole.UserRole) == intent_id)

    await until(lambda: "Sending it again" not in reason_of(reply.id), 20,
                what="the reply to become retryable")
    page = await session.read(queries.thread_page, sms.id, session.agent_id)
    assert next(i for i in page.items if i.intent_id == reply.id).retryable
    dialog.select_intents([reply.id])
    assert dialog.retry_button.isEnabled()  # the customer opted back in: it can go now
    dialog.retry_button.click()
    await until(lambda: [i.id for i in dialog.intents()] == [snooze_id], 30,
                what="the retried reply to land")
    assert session.status.rejected == 1
    sent = await asyncio.to_thread(backend.outbound, "SMS +1 555-0100")
    assert [m["body"] for m in sent].count("Your refund was issued.") == 1

    # Discard asks first; Cancel keeps it, Discard removes it.
    dialog.select_intents([i.id for i in dialog.intents()])
    dialog.discard_button.click()
    assert dialog.confirm_box is not None
    dialog.confirm_box.button(QMessageBox.StandardButton.Cancel).click()
    await asyncio.sleep(0.3)
    assert len(dialog.intents()) == 1
    dialog.select_intents([i.id for i in dialog.intents()])
    dialog.discard_button.click()
    dialog.confirm_box.button(QMessageBox.StandardButton.Discard).click()
    await until(lambda: not dialog.intents() and session.status.rejected == 0, 15,
                what="the discard")
    assert dialog.summary.text() == "Nothing is waiting to be sent."


# --------------------------------------------------------------------------- notifications


async def test_notifier_announces_customer_replies_and_assignments(backend, desks):
    session = await desks.session(backend)
    notifier = Notifier(session)
    silent = Notifier(session, enabled=False)
    await until(lambda: notifier.primed, what="the first snapshot")
    assert notifier.history == []

    # One of mine whose customer's next message on that channel lands in it.
    target = None
    for row in await mine_rows(session):
        view = await session.read(queries.contact_view, row.contact_id, now_ms())
        others = [c for c in view.conversations if c.channel_id == row.channel_id
                  and c.status != "resolved" and c.id != row.id]
        ident = next((i for i in view.identities if i.channel_type == row.channel_type), None)
        if not others and ident is not None and not ident.opted_out:
            target, handle = row, ident.address
            break
    assert target is not None
    result = await asyncio.to_thread(backend.inbound, target.channel_name, handle,
                                      "Any news on my   order?\nThanks")
    assert result["conversation_id"] == target.id
    await until(lambda: notifier.history, 15, what="the reply notification")
    assert notifier.history == [(target.contact_name, "Any news on my order? Thanks",
                                 target.id)]

    # Assigning one to myself is no news; the supervisor assigning me one is.
    unassigned = await session.read(queries.conversation_ids, InboxFilter(assignee="none"),
                                    queries.Sort.LAST_ACTIVITY, session.agent_id)
    mine_by_me, theirs = unassigned[0], unassigned[1]
    await session.assign(mine_by_me, agent_id=session.agent_id)
    await until(lambda: session.status.pending == 0
                and session.status.state is EngineState.UP_TO_DATE, 30)
    supervisor = await desks.session(backend, DEMO_SUPERVISOR, name="supervisor")
    await supervisor.assign(theirs, agent_id=session.agent_id)
    await until(lambda: len(notifier.history) == 2, 20, what="the assignment notification")
    title, _body, cid = notifier.history[1]
    row = (await session.read(queries.conversation_rows, [theirs], now_ms()))[theirs]
    assert cid == theirs and title == f"Assigned to you: \u2068{row.contact_name}\u2069"
    await asyncio.sleep(0.5)
    assert [h[2] for h in notifier.history] == [target.id, theirs]
    assert silent.history == []
