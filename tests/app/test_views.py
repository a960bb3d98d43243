"""Inbox views: saved views with their search, where a search looked (and every status on
request), views kept per workspace, and the view a desk opens on."""

from __future__ import annotations

import json
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from app.settings import DeskSettings, workspace_key
from app.window import MainWindow
from sync import queries
from sync.engine import EngineState
from sync.queries import ACTIVE_STATUSES, InboxFilter, Sort
from tests.app.conftest import DEMO_AGENT, DEMO_SUPERVISOR, until


def open_window(session, qtbot, settings: DeskSettings | None = None) -> MainWindow:
    window = MainWindow(session, settings if settings is not None else DeskSettings())
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    return window


def click_view(qtbot, window: MainWindow, key: str) -> None:
    """Click a navigation entry as the agent does."""
    tree = window.nav.tree
    item = window.nav.item(key)
    assert item is not None, key
    tree.scrollToItem(item)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(item).center())
    assert window.nav.current_key() == key


async def shown(window: MainWindow, flt: InboxFilter) -> None:
    model = window.inbox_model
    await until(lambda: model.inbox_filter == flt and not model._switching
                and model.total() is not None, what=f"the inbox to show {flt}")


async def search(window: MainWindow, text: str) -> None:
    window.inbox.search.setText(text)
    await until(lambda: window.inbox_model.inbox_filter.text == text
                and not window.inbox_model._switching
                and window.inbox_model.total() is not None, what=f"the search {text!r}")


async def test_a_saved_view_opens_with_its_search(backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    click_view(qtbot, window, "all")
    await shown(window, InboxFilter())
    ids = window.inbox_model.ids()
    rows = await session.read(queries.conversation_rows, ids[:1], int(time.time() * 1000))
    name = rows[ids[0]].contact_name

    # The agent searches, saves the view, clears the search and goes elsewhere.
    await search(window, name)
    found = window.inbox_model.total()
    assert found and found < len(ids)
    window.inbox.save_button.click()
    dialog = window.findChild(QInputDialog)
    dialog.setTextValue("Their cases")
    dialog.accept()
    saved = window.nav.item("saved:Their cases")
    assert saved is not None
    # One name for one thing: the agent saved a view, and finds it under Saved views.
    assert window.inbox.save_button.text() == "Save view"
    assert saved.parent().text(0) == "Saved views"
    window.nav._on_context_menu(window.nav.tree.visualItemRect(saved).center())
    assert [a.text() for a in window.nav._menu.actions()] == ["Delete saved view"]
    window.nav._menu.close()
    words = [saved.toolTip(0), window.inbox.save_button.toolTip()]
    assert not any("filter" in w.lower() for w in words), words
    window.inbox.search.clear()
    click_view(qtbot, window, "mine")
    await shown(window, InboxFilter(assignee="me"))

    click_view(qtbot, window, "saved:Their cases")
    await shown(window, InboxFilter(text=name))
    assert window.inbox.search.text() == name  # the agent sees what the view searches
    assert window.inbox_model.total() == found

    click_view(qtbot, window, "all")  # leaving the saved view leaves its search too
    await shown(window, InboxFilter())
    assert window.inbox.search.text() == ""


async def only_in_closed_conversations(session) -> tuple[str, str]:
    """A customer name the agent's All view does not find, and a resolved or snoozed
    conversation of theirs."""
    now = int(time.time() * 1000)
    closed = await session.read(queries.conversation_ids,
                                InboxFilter(statuses=("snoozed", "resolved")),
                                queries.Sort.LAST_ACTIVITY, session.agent_id)
    rows = await session.read(queries.conversation_rows, closed, now)
    for cid in closed:
        name = rows[cid].contact_name
        active = await session.read(queries.conversation_ids, InboxFilter(text=name),
                                    queries.Sort.LAST_ACTIVITY, session.agent_id)
        if not active:
            return name, cid
    raise AssertionError("every customer of a closed conversation has an open one too")


async def test_a_search_says_where_it_looked_and_searches_every_status_on_request(
        backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    bar = window.inbox.bar
    click_view(qtbot, window, "all")
    await shown(window, InboxFilter())
    assert not bar.scope_row.isVisible()  # no search: nothing to explain
    name, old_case = await only_in_closed_conversations(session)

    await search(window, name)
    assert window.inbox_model.total() == 0
    await until(lambda: bar.scope_row.isVisible(), what="where the search looked")
    said = bar.scope_label.text()
    assert name in said and "“All”" in said and "open and pending" in said, said
    assert bar.scope_button.isVisible() and bar.scope_button.text() == "Search every status"

    bar.scope_button.click()
    await shown(window, InboxFilter(text=name, statuses=None))
    assert window.inbox_model.row_of(old_case) >= 0
    said = bar.scope_label.text()
    assert "every status" in said and "“All”" in said and name not in said, said
    assert bar.scope_button.text() == "Only the view's statuses"

    bar.scope_button.click()  # back to what All shows
    await shown(window, InboxFilter(text=name))
    assert window.inbox_model.total() == 0

    bar.scope_button.click()
    await shown(window, InboxFilter(text=name, statuses=None))
    window.inbox.search.clear()  # a new search starts in the view's own statuses again
    await shown(window, InboxFilter())
    assert window.inbox_model.inbox_filter.statuses == ACTIVE_STATUSES
    assert not bar.scope_row.isVisible()


async def test_saved_views_and_the_last_view_are_kept_per_workspace(backend, desks, qtbot,
                                                                   tmp_path):
    agent = await desks.session(backend, DEMO_AGENT, name="agent")
    supervisor = await desks.session(backend, DEMO_SUPERVISOR, name="supervisor")
    settings = DeskSettings()  # one settings file for the person, two workspaces
    first = open_window(agent, qtbot, settings)
    await shown(first, InboxFilter(assignee="me"))
    first._save_filter(InboxFilter(tag="vip"))
    first.findChild(QInputDialog).textValueSelected.emit("VIP")
    click_view(qtbot, first, "unassigned")
    first.close()

    second = open_window(supervisor, qtbot, settings)
    assert second.nav.item("saved:VIP") is None  # the agent's view is not the supervisor's
    assert second.nav.current_key() == "all"
    second.close()

    path = tmp_path / "settings.json"
    settings.save(path)
    again = DeskSettings.load(path)
    third = open_window(agent, qtbot, again)
    assert third.nav.item("saved:VIP") is not None
    assert third.nav.current_key() == "unassigned"  # where the agent was last time
    assert again.workspace(workspace_key(supervisor.data_dir)).saved_filters == []
    third.close()


async def test_the_order_of_the_list_is_kept_per_workspace(backend, desks, qtbot, tmp_path):
    agent = await desks.session(backend, DEMO_AGENT, name="agent")
    supervisor = await desks.session(backend, DEMO_SUPERVISOR, name="supervisor")
    path = tmp_path / "settings.json"
    saved: list[DeskSettings] = []
    settings = DeskSettings()
    window = MainWindow(agent, settings, lambda s: (s.save(path), saved.append(s)))
    qtbot.addWidget(window)
    window.show()
    await shown(window, InboxFilter(assignee="me"))
    box = window.inbox.sort_box
    box.setCurrentIndex(box.findData(Sort.WAITING.value))  # the agent picks an order
    await until(lambda: window.inbox_model.sort_order is Sort.WAITING, what="the new order")
    assert saved, "the choice is saved at once"
    window.close()

    again = DeskSettings.load(path)
    assert again.workspace(workspace_key(agent.data_dir)).inbox_sort == "waiting"
    other = open_window(supervisor, qtbot, again)  # another workspace keeps its own
    assert other.inbox.sort_box.currentData() == Sort.LAST_ACTIVITY.value
    other.close()
    reopened = open_window(agent, qtbot, again)
    assert reopened.inbox.sort_box.currentData() == Sort.WAITING.value
    await shown(reopened, InboxFilter(assignee="me"))
    assert reopened.inbox_model.sort_order is Sort.WAITING  # the list is in it, not just the box
    reopened.close()


async def test_the_snoozed_view_says_until_when(backend, desks, qtbot):
    from app import times
    from app.inbox.model import COL_UNTIL

    session = await desks.session(backend)
    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    until_ms = int(time.time() * 1000) + 26 * 3_600_000
    await session.set_status(mine[0], "snoozed", until_ms)
    window = open_window(session, qtbot)
    await shown(window, InboxFilter(assignee="me"))
    table, model = window.inbox.table, window.inbox_model
    assert table.isColumnHidden(COL_UNTIL)  # nothing in Mine is snoozed

    click_view(qtbot, window, "status:snoozed")
    await shown(window, InboxFilter(statuses=("snoozed",)))
    assert not table.isColumnHidden(COL_UNTIL)
    assert model.headerData(COL_UNTIL, Qt.Orientation.Horizontal,
                            Qt.ItemDataRole.ToolTipRole) == "Snoozed until"
    row = model.row_of(mine[0])
    await until(lambda: model.index(row, COL_UNTIL).data(), what="the row")
    assert model.index(row, COL_UNTIL).data() == times.date_time_text(until_ms)
    assert table.columnWidth(COL_UNTIL) >= table.fontMetrics().horizontalAdvance(
        times.date_time_text(until_ms))  # read whole

    click_view(qtbot, window, "all")
    await shown(window, InboxFilter())
    assert table.isColumnHidden(COL_UNTIL)


async def test_a_supervisor_opens_on_all_then_on_the_view_they_used_last(backend, desks,
                                                                          qtbot):
    # A first start: the role is known only once the first sync brought the directory.
    session = await desks.session(backend, DEMO_SUPERVISOR, sign_in=False)
    settings = DeskSettings()
    window = open_window(session, qtbot, settings)
    assert window.nav.current_key() == "mine"
    await session.sign_in(*DEMO_SUPERVISOR)
    await until(lambda: session.status.state is EngineState.UP_TO_DATE, 30,
                what="the first sync")
    await session.refresh_directory()
    await until(lambda: window.nav.current_key() == "all", what="the supervisor's All")
    await shown(window, InboxFilter())
    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    assert window.inbox_model.total() > len(mine)

    team = next(t for t in session.directory.teams if t.name == "日本サポート")
    click_view(qtbot, window, f"team:{team.id}")
    window.close()

    again = open_window(session, qtbot, settings)
    assert again.nav.current_key() == f"team:{team.id}"
    await shown(again, InboxFilter(team_id=team.id))
    again.close()


async def test_an_agent_opens_on_mine(backend, desks, qtbot):
    session = await desks.session(backend)
    window = open_window(session, qtbot)
    assert window.nav.current_key() == "mine"
    await shown(window, InboxFilter(assignee="me"))


def test_version_1_settings_keep_their_views_in_each_workspace(tmp_path):
    path = tmp_path / "settings.json"
    vip = InboxFilter(tag="vip", statuses=None)
    path.write_text(json.dumps({"theme": "dark", "inbox_sort": "waiting", "saved_filters": [
        {"name": "VIP", "filter": vip.to_json()}]}), encoding="utf-8")

    settings = DeskSettings.load(path)
    assert settings.version == 2 and settings.theme == "dark"
    for key in ("/work/a", "/work/b"):  # both showed the views before: both still do
        workspace = settings.workspace(key)
        assert workspace.filters() == [("VIP", vip)] and workspace.inbox_sort == "waiting"
    settings.workspace("/work/a").remove_filter("VIP")
    assert settings.workspace("/work/b").filters() == [("VIP", vip)]

    settings.save(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["version"] == 2 and "saved_filters" not in raw
    again = DeskSettings.load(path)
    assert again.workspace("/work/a").filters() == []
    assert again.workspace("/work/b").filters() == [("VIP", vip)]
