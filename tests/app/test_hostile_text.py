"""A customer's name, address, subject and words carrying a right-to-left override or
zero-width characters, through the real inbound API into the mirror: the inbox, the
conversation header, the customer panel, the notifications and the outbox list show those
characters as visible codes, and isolate customer text placed beside other text."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from PySide6.QtWidgets import QLabel, QStyleOptionViewItem

from app.conversation.pane import ConversationPane
from app.customer.panel import CustomerPanel
from app.inbox.model import COL_CONTACT, COL_SUBJECT, ID_ROLE, ROW_ROLE, InboxModel
from app.inbox.view import InboxView
from app.notifications import Notifier
from app.outbox_dialog import COL_CONVERSATION, OutboxDialog
from protocol.wire import API_PREFIX
from sync import queries
from sync.display import FSI, PDI
from sync.engine import EngineState
from sync.queries import ContactView, Identity
from tests.app.conftest import DEMO_SUPERVISOR, DemoBackend, until

CHANNEL = "Website Chat"
NAME = "Admin\u202egnp.exe\u202c"  # draws as "Adminexe.png" when the override acts
NAME_SHOWN = "Admin⟨U+202E⟩gnp.exe⟨U+202C⟩"
HANDLE = "admin\u200b@example.com"
HANDLE_SHOWN = "admin⟨U+200B⟩@example.com"
SUBJECT = "Invoice \u202bfdp.exe\u202c"
SUBJECT_SHOWN = "Invoice ⟨U+202B⟩fdp.exe⟨U+202C⟩"
TEXT = "Please pay \u2066now\u2069 \ufeff"
TEXT_SHOWN = "Please pay ⟨U+2066⟩now⟨U+2069⟩ ⟨U+FEFF⟩"
# Characters that must never reach a widget as themselves (they would act, not show).
ACTIVE = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u200b\ufeff")


def isolated(text: str) -> str:
    return f"{FSI}{text}{PDI}"


def now_ms() -> int:
    return int(time.time() * 1000)


def inbound(backend: DemoBackend, text: str, **fields: Any) -> dict[str, Any]:
    """The channel provider delivering a customer's message, through the real API."""
    cid, secret = backend.channel(CHANNEL)
    r = httpx.post(f"{backend.url}{API_PREFIX}/channels/{cid}/inbound",
                   headers={"X-Relaydesk-Channel-Secret": secret},
                   json={"handle": HANDLE, "text": text,
                         "provider_message_id": f"hostile-{time.time_ns()}", **fields},
                   timeout=10)
    r.raise_for_status()
    return r.json()


async def hostile_conversation_assigned_to_me(backend, desks, notify: bool = False):
    """The hostile customer writes in; the supervisor assigns the conversation to the
    agent. Returns the agent's session, the inbound result and (``notify``) a Notifier
    primed before it all."""
    session = await desks.session(backend)
    notifier = Notifier(session) if notify else None
    if notifier is not None:
        await until(lambda: notifier.primed, what="the first snapshot")
    result = await asyncio.to_thread(inbound, backend, TEXT, display_name=NAME,
                                     subject=SUBJECT)
    supervisor = await desks.session(backend, DEMO_SUPERVISOR, name="supervisor")
    await until(lambda: supervisor.status.state is EngineState.UP_TO_DATE, 30)
    await supervisor.assign(result["conversation_id"], agent_id=session.agent_id)
    return session, result, notifier


async def test_the_inbox_shows_hidden_characters_and_isolates_subject_and_preview(
        backend, desks, qtbot):
    session, result, _ = await hostile_conversation_assigned_to_me(backend, desks)
    model = InboxModel(session)
    view = InboxView(model)
    qtbot.addWidget(view)
    view.resize(1400, 400)
    view.show()

    def row_of_it() -> int | None:
        for r in range(model.rowCount()):
            if (model.index(r, 0).data(ID_ROLE) == result["conversation_id"]
                    and model.index(r, 0).data(ROW_ROLE) is not None):
                return r
        return None

    await until(lambda: row_of_it() is not None, 30, what="the hostile conversation in Mine")
    r = row_of_it()
    assert r is not None
    contact, subject = model.index(r, COL_CONTACT), model.index(r, COL_SUBJECT)
    assert contact.data() == NAME_SHOWN
    assert subject.data() == f"{isolated(SUBJECT_SHOWN)} — {isolated(TEXT_SHOWN.strip())}"
    # What the table's delegate paints is that text too.
    option = QStyleOptionViewItem()
    view.table.itemDelegate().initStyleOption(option, contact)
    assert option.text == NAME_SHOWN
    for index in (contact, subject):
        for role in (0, 3, 11):  # display, tooltip, accessible text
            assert not ACTIVE & set(str(index.data(role) or "")), (index.column(), role)


async def test_the_header_and_the_customer_panel_show_hidden_characters(backend, desks,
                                                                        qtbot):
    session, result, _ = await hostile_conversation_assigned_to_me(backend, desks)
    pane = ConversationPane(session)
    qtbot.addWidget(pane)
    pane.resize(1200, 600)
    pane.show()
    await until(lambda: session.store.read_state("cursor") is not None, what="a sync")
    pane.open_conversation(result["conversation_id"])
    await until(lambda: pane.row is not None, 15, what="the conversation")
    assert pane.title.text() == f"{isolated(NAME_SHOWN)} — {isolated(SUBJECT_SHOWN)}"
    assert "⟨U+202E⟩gnp.exe⟨U+202C⟩" in pane.title.displayed_text()  # painted, not elided

    panel = CustomerPanel()
    qtbot.addWidget(panel)
    panel.show()
    await panel.show_contact(session, result["contact_id"], result["conversation_id"])
    assert panel.name_label.text() == NAME_SHOWN
    assert panel.disguise_label.isVisible()
    labels = [w.text() for w in panel.identities.findChildren(QLabel)]
    assert HANDLE_SHOWN in labels and HANDLE not in labels
    tree = panel.conversations
    subjects = [tree.topLevelItem(n).text(1) for n in range(tree.topLevelItemCount())]
    assert subjects == [SUBJECT_SHOWN]

    # A real Arabic or Hebrew name is not disguise: it shows as it is, with no warning.
    honest = ContactView("k-2", "سارة المصري", "ar", (Identity("email", "sara@example.com",
                                                               False),),
                         {"city": "القاهرة", "note\u202e": "vip\u200b"}, ())
    panel.set_contact(honest, None)
    assert panel.name_label.text() == "سارة المصري"
    assert not panel.disguise_label.isVisible()
    values = [w.text() for w in panel.attributes.findChildren(QLabel)]
    assert "القاهرة" in values and "vip⟨U+200B⟩" in values and "Note⟨U+202E⟩:" in values


async def test_notifications_show_hidden_characters_and_isolate_the_name(backend, desks):
    _, result, notifier = await hostile_conversation_assigned_to_me(backend, desks,
                                                                    notify=True)
    assert notifier is not None
    await until(lambda: notifier.history, 30, what="the assignment notification")
    assert notifier.history[0] == (f"Assigned to you: {isolated(NAME_SHOWN)}",
                                   TEXT_SHOWN.strip(), result["conversation_id"])

    await asyncio.to_thread(inbound, backend, "It\u202eu is urgent")
    await until(lambda: len(notifier.history) == 2, 30, what="the reply notification")
    assert notifier.history[1] == (NAME_SHOWN, "It⟨U+202E⟩u is urgent",
                                   result["conversation_id"])


async def test_the_outbox_list_isolates_the_customer_and_subject(backend, desks, qtbot):
    session, result, _ = await hostile_conversation_assigned_to_me(backend, desks)
    cid = result["conversation_id"]
    await until(lambda: session.status.state is EngineState.UP_TO_DATE, 30)
    await until(lambda: session.store.read_state("cursor") is not None, what="a sync")
    await until(lambda: bool(queries.conversation_rows(session.store, [cid], now_ms())), 30,
                what="the conversation in the agent's mirror")
    dialog = OutboxDialog(session)
    qtbot.addWidget(dialog)
    dialog.show()
    await session.set_status(cid, "snoozed")  # no time: the server refuses; it stays listed
    await until(lambda: dialog.tree.topLevelItemCount() == 1
                and dialog.intents()[0].state == "rejected", 30, what="the refusal")
    where = dialog.tree.topLevelItem(0).text(COL_CONVERSATION)
    assert where == f"{isolated(NAME_SHOWN)} — {isolated(SUBJECT_SHOWN)} ({CHANNEL})"
