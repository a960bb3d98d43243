"""A new inbox view shows its first page at once and fills in the rest of its ids behind it;
the rows keep what a delegate paints them with cell by cell (``multiData``)."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QModelRoleData, QModelRoleDataSpan, Qt
from PySide6.QtGui import QIcon

from app.inbox.model import COL_CHANNEL, COL_CONTACT, COLUMNS, ID_ROLE, ROW_ROLE, InboxModel
from app.inbox.view import InboxView
from sync import queries
from sync.queries import InboxFilter, Sort
from tests.app.conftest import DEMO_SUPERVISOR, until

PAGE = 25  # the demo workspace has a few hundred conversations: many pages of this size


def inbox(session, qtbot, page: int, height: int | None = None) -> tuple[InboxModel, InboxView]:
    """An inbox reading ``page`` ids first; shown at 1000 × ``height`` when given."""
    model = InboxModel(session)
    model.page_size = page
    view = InboxView(model)
    qtbot.addWidget(view)
    if height is not None:
        view.resize(1000, height)
        view.show()
    return model, view


async def test_a_view_larger_than_a_page_shows_its_top_then_every_row(backend, desks, qtbot):
    session = await desks.session(backend, DEMO_SUPERVISOR)
    model, view = inbox(session, qtbot, PAGE, 400)
    first: list[tuple[int, int, bool, str | None]] = []

    def on_loaded() -> None:
        if not first:
            first.append((len(model.ids()), model.rowCount(), model.complete(),
                          view.count_label.text()))

    model.loaded.connect(on_loaded)
    view.set_filter(InboxFilter(statuses=None))
    await until(lambda: model.complete() and model.rowCount() > PAGE, what="every id")
    expected = await session.read(queries.conversation_ids, InboxFilter(statuses=None),
                                  Sort.LAST_ACTIVITY, session.agent_id)
    assert len(expected) > 4 * PAGE
    # First: one page of ids, the top rows with data, and already the view's whole size.
    known, rows, complete, label = first[0]
    assert known == PAGE and not complete
    assert rows == len(expected)
    assert label.replace(",", "").startswith(str(len(expected)))
    # Then every id, in the view's order; the rows far down load when they are looked at.
    assert list(model.ids()) == expected
    assert model.index(0, COL_CONTACT).data(ROW_ROLE) is not None
    last = model.rowCount() - 1
    view.table.scrollToBottom()
    await until(lambda: model.index(last, 0).data(ROW_ROLE) is not None, what="the last row")
    assert model.index(last, 0).data(ID_ROLE) == expected[-1]


async def test_the_selection_and_the_place_survive_the_fill(backend, desks, qtbot):
    session = await desks.session(backend, DEMO_SUPERVISOR)
    model, view = inbox(session, qtbot, PAGE, 300)
    opened: list[str] = []
    view.conversationActivated.connect(opened.append)
    chosen: list[str] = []

    def choose_on_first_page() -> None:
        if not chosen:  # before the rest of the ids are read
            assert not model.complete()
            cid = model.index(PAGE - 5, 0).data(ID_ROLE)
            chosen.append(cid)
            assert view.select_id(cid)

    model.loaded.connect(choose_on_first_page)
    view.set_filter(InboxFilter(statuses=None))
    await until(lambda: model.complete() and model.rowCount() > PAGE, what="every id")
    await asyncio.sleep(0.2)
    top = view.table.indexAt(view.table.viewport().rect().topLeft()).row()
    assert top > 0  # scrolled down to the chosen row, and it stayed there
    assert view.current_id() == chosen[0] == opened[-1]
    assert view.table.currentIndex().data(ID_ROLE) == chosen[0]
    assert view.table.currentIndex().row() == PAGE - 5


async def test_a_search_larger_than_a_page_counts_once_its_ids_are_in(backend, desks, qtbot):
    session = await desks.session(backend, DEMO_SUPERVISOR)
    model, view = inbox(session, qtbot, 3)
    flt = InboxFilter(statuses=None, text="e")  # a common letter: many matches
    expected = await session.read(queries.conversation_ids, flt, Sort.LAST_ACTIVITY,
                                  session.agent_id)
    assert len(expected) > 3
    view.search.setText("e")
    view.set_filter(InboxFilter(statuses=None))
    await until(lambda: model.complete() and model.inbox_filter.text == "e", what="the search")
    assert list(model.ids()) == expected
    assert model.rowCount() == model.total() == len(expected)
    assert view.count_label.text().replace(",", "").startswith(str(len(expected)))


async def test_leaving_a_view_before_its_ids_are_in_shows_the_next_one(backend, desks):
    session = await desks.session(backend, DEMO_SUPERVISOR)
    model = InboxModel(session)
    model.page_size = 2
    for flt in (InboxFilter(statuses=None), InboxFilter(statuses=None, text="a"),
                InboxFilter(assignee="none"), InboxFilter(statuses=None)):
        model.set_view(flt)  # each one leaves the last before its read is done
    expected = await session.read(queries.conversation_ids, InboxFilter(statuses=None),
                                  Sort.LAST_ACTIVITY, session.agent_id)
    await until(lambda: model.complete() and model.rowCount() == len(expected), what="All")
    assert list(model.ids()) == expected


async def test_a_cell_paints_with_what_data_says(backend, desks, qtbot):
    session = await desks.session(backend, DEMO_SUPERVISOR)
    model = InboxModel(session)
    model.set_view(InboxFilter(statuses=None))
    await until(lambda: model.complete() and model.rowCount() > 10
                and model.index(5, 0).data(ROW_ROLE), what="rows")
    roles = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole,
             Qt.ItemDataRole.FontRole, Qt.ItemDataRole.ForegroundRole,
             Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.TextAlignmentRole,
             Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.CheckStateRole]
    for row in range(10):
        for col in range(COLUMNS):
            index = model.index(row, col)
            for role in roles:
                # A delegate hands the same storage to every cell: a value left over from
                # the last cell must not stay.
                item = QModelRoleData(int(role))
                item.setData("left over")
                model.multiData(index, QModelRoleDataSpan(item))
                got, want = item.data(), model.data(index, role)
                if isinstance(want, QIcon):
                    got, want = got.cacheKey(), want.cacheKey()
                assert got == want, (row, col, role)
    assert model.index(0, COL_CHANNEL).data(Qt.ItemDataRole.DecorationRole) is not None
