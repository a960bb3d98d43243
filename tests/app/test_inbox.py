"""The inbox model and view on a real mirror: lazy rows, filters, sorting, live updates."""

from __future__ import annotations

import asyncio
import time

from app.inbox.model import COL_CONTACT, COL_SUBJECT, ID_ROLE, ROW_ROLE, InboxModel
from app.inbox.view import InboxView
from sync import queries
from sync.queries import InboxFilter, Sort
from tests.app.conftest import DEMO_SUPERVISOR, until


def now_ms() -> int:
    return int(time.time() * 1000)


async def loaded(model: InboxModel) -> None:
    """Wait until every row of the model has been fetched."""
    await until(lambda: all(model.index(r, 0).data(ROW_ROLE) is not None
                            for r in range(model.rowCount())), 10, what="rows to load")


async def test_inbox_model_passes_qt_model_tester(backend, desks, qtmodeltester):
    session = await desks.session(backend)
    model = InboxModel(session)
    model.set_view(InboxFilter(statuses=None))
    await until(lambda: model.rowCount() > 0, what="the id list")
    await loaded(model)
    qtmodeltester.check(model, force_py=True)


async def test_views_show_the_seeded_conversations_filtered_and_sorted(backend, desks, qtbot):
    session = await desks.session(backend)
    model = InboxModel(session)
    view = InboxView(model)
    qtbot.addWidget(view)
    view.set_filter(InboxFilter(assignee="me"))
    await until(lambda: model.rowCount() > 0, what="Mine")
    counts = await session.read(queries.nav_counts, session.agent_id)
    assert model.rowCount() == counts.mine
    await loaded(model)
    rows = [model.index(r, 0).data(ROW_ROLE) for r in range(model.rowCount())]
    assert all(r.assignee_id == session.agent_id for r in rows)
    assert all(r.status in ("open", "pending") for r in rows)
    acts = [r.last_activity_at for r in rows]
    assert acts == sorted(acts, reverse=True)

    view.sort_box.setCurrentIndex(view.sort_box.findData(Sort.PRIORITY.value))
    await until(lambda: model.sort_order is Sort.PRIORITY, what="priority sort")
    await asyncio.sleep(0.3)
    await loaded(model)
    ranks = [queries.PRIORITY_RANK[model.index(r, 0).data(ROW_ROLE).priority]
             for r in range(model.rowCount())]
    assert ranks == sorted(ranks)

    # Search narrows the list to matching customers or text.
    first = rows[0]
    view.search.setText(first.contact_name)
    await until(lambda: model.inbox_filter.text == first.contact_name, what="the search")
    await until(lambda: 0 < model.rowCount() < len(rows) or model.rowCount() == 1,
                what="search results")
    await loaded(model)
    shown = {model.index(r, COL_CONTACT).data() for r in range(model.rowCount())}
    assert first.contact_name in shown


async def test_a_server_side_change_appears_without_losing_the_selection(backend, desks, qtbot):
    session = await desks.session(backend, DEMO_SUPERVISOR)
    model = InboxModel(session)
    view = InboxView(model)
    qtbot.addWidget(view)
    view.resize(1000, 400)
    view.show()
    view.set_filter(InboxFilter())
    await until(lambda: model.rowCount() > 10, what="All")
    await loaded(model)
    chosen = model.index(5, 0).data(ID_ROLE)
    assert view.select_id(chosen)
    before = model.rowCount()
    # A new customer writes in on the web chat: a new conversation at the top.
    await asyncio.to_thread(backend.inbound, "Website Chat", "visitor-test-123",
                            "Hello, is anyone there? My order never arrived.")
    await until(lambda: model.rowCount() == before + 1, 15, what="the new conversation")
    await loaded(model)
    top = model.index(0, COL_SUBJECT).data()
    assert "order never arrived" in top
    assert view.current_id() == chosen
    assert view.table.currentIndex().data(ID_ROLE) == chosen


async def test_lazy_rows_load_only_what_is_looked_at(backend, desks):
    from app.inbox.model import BLOCK

    session = await desks.session(backend, DEMO_SUPERVISOR)
    model = InboxModel(session)
    model.set_view(InboxFilter(statuses=None))
    await until(lambda: model.rowCount() > 200, what="All statuses")
    # The first screen arrives with the ids (one paint, with data); the rest waits.
    assert model.cached(model.index(0, 0).data(ID_ROLE)) is not None
    further = BLOCK + 60
    assert model.cached(model.index(further, 0).data(ID_ROLE)) is None
    assert model.index(further, 0).data(ROW_ROLE) is None  # asking starts the fetch
    await until(lambda: model.index(further, 0).data(ROW_ROLE) is not None,
                what="the block around it")
    assert model.cached(model.index(model.rowCount() - 1, 0).data(ID_ROLE)) is None


async def test_a_live_update_keeps_the_scroll_position(backend, desks, qtbot):
    session = await desks.session(backend, DEMO_SUPERVISOR)
    model = InboxModel(session)
    view = InboxView(model)
    qtbot.addWidget(view)
    view.resize(1000, 300)
    view.show()
    view.set_filter(InboxFilter(statuses=None))
    await until(lambda: model.rowCount() > 150, what="every conversation")
    view.table.scrollTo(model.index(120, 0), view.table.ScrollHint.PositionAtTop)
    await asyncio.sleep(0.2)
    top = view.table.indexAt(view.table.viewport().rect().topLeft()).data(ID_ROLE)
    before = model.rowCount()
    await asyncio.to_thread(backend.inbound, "Website Chat", "visitor-scroll-1",
                            "A new chat arrives while the agent reads further down.")
    await until(lambda: model.rowCount() == before + 1, 15, what="the new conversation")
    await asyncio.sleep(0.2)
    assert view.table.indexAt(view.table.viewport().rect().topLeft()).data(ID_ROLE) == top


async def test_a_narrow_list_gives_up_minor_columns_before_the_subject(backend, desks, qtbot):
    from app.inbox.model import COL_ASSIGNEE, COL_PRIORITY, COL_TAGS

    session = await desks.session(backend)
    view = InboxView(InboxModel(session))
    qtbot.addWidget(view)
    view.show()
    view.set_filter(InboxFilter())  # All: the assignee column is shown
    view.resize(700, 300)
    await asyncio.sleep(0.1)
    assert view.table.isColumnHidden(COL_TAGS) and not view.table.isColumnHidden(COL_ASSIGNEE)
    assert view.table.columnWidth(COL_SUBJECT) >= InboxView.SUBJECT_MIN
    view.resize(1400, 300)
    await asyncio.sleep(0.1)
    assert not view.table.isColumnHidden(COL_TAGS)
    assert not view.table.isColumnHidden(COL_PRIORITY)


async def test_the_unread_column_is_named_and_stays_narrow(backend, desks, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QAccessible

    from app.inbox.model import COL_UNREAD

    session = await desks.session(backend)
    model = InboxModel(session)
    view = InboxView(model)
    qtbot.addWidget(view)
    view.resize(1400, 300)
    view.show()
    view.set_filter(InboxFilter())
    await until(lambda: model.rowCount() > 0, what="All")
    horizontal = Qt.Orientation.Horizontal
    assert model.headerData(COL_UNREAD, horizontal).strip()  # a title, not a blank
    assert model.headerData(COL_UNREAD, horizontal, Qt.ItemDataRole.ToolTipRole) \
        == "Unread messages"
    assert model.headerData(COL_UNREAD, horizontal, Qt.ItemDataRole.AccessibleTextRole) \
        == "Unread messages"
    table = QAccessible.queryAccessibleInterface(view.table)
    titles = [table.child(n).text(QAccessible.Text.Name) for n in range(table.childCount())
              if table.child(n).role() == QAccessible.Role.ColumnHeader]
    assert "Unread messages" in titles  # what a screen reader says for the column
    assert view.table.columnWidth(COL_UNREAD) <= 34
