"""The main window's layout on small and large screens, in English and Japanese: at 1024×700
nothing is drawn over anything else, cut or pushed out of the window; a wide window gives its
room to the conversation; a new window fits the screen it opens on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale, QPoint, QRect, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QStyle,
    QStyleOptionComboBox,
    QWidget,
)

from app import i18n
from app.inbox.model import ROW_ROLE
from app.layout import COMPACT_WIDTH
from app.settings import DeskSettings
from app.widgets import ElidedLabel
from app.window import MainWindow
from sync import queries
from sync.queries import InboxFilter
from tests.app.conftest import until

ROOT = Path(__file__).resolve().parents[2]
SMALL = (1024, 700)


@pytest.fixture(params=["en", "ja"])
def language(request, qapp: QApplication, tmp_path: Path) -> Iterator[str]:
    """The desk in English, or in Japanese from a .qm built from the repo's .ts."""
    locale = QLocale()
    if request.param == "ja":
        ts = i18n.TRANSLATIONS_DIR / "relaydesk_ja.ts"
        shutil.copy(ts, tmp_path / ts.name)
        i18n.build_qm(tmp_path)
        assert i18n.install_translations(qapp, "ja", tmp_path) == "ja"
    yield request.param
    i18n.install_translations(qapp, "en")
    QLocale.setDefault(locale)


def in_window(window: QWidget, widget: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def assert_whole(window: QWidget, widgets: dict[str, QWidget]) -> None:
    """Each widget is shown whole: inside the window and its parent, at least its size hint
    when it is a button (its text is not cut), its text elided when it is an elided label,
    and no two of them overlap."""
    inside = window.rect()
    for name, widget in widgets.items():
        assert widget.isVisible(), name
        rect = in_window(window, widget)
        assert inside.contains(rect), f"{name} {rect} runs out of the window {inside}"
        parent = widget.parentWidget()
        assert parent.rect().contains(widget.geometry()), f"{name} is cut by its parent"
        if isinstance(widget, QAbstractButton):
            hint = widget.sizeHint()
            assert widget.width() >= hint.width() and widget.height() >= hint.height(), \
                f"{name} ({widget.text()!r}) is {widget.size()}, needs {hint}"
        if isinstance(widget, ElidedLabel):
            shown = widget.displayed_text()
            assert widget.fontMetrics().horizontalAdvance(shown) \
                <= widget.contentsRect().width(), f"{name} is cut: {shown!r}"
    names = list(widgets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            overlap = in_window(window, widgets[a]).intersected(in_window(window, widgets[b]))
            assert overlap.isEmpty(), f"{a} and {b} overlap at {overlap}"


def assert_choices_fit(box: QComboBox) -> None:
    """Every choice of a combo box reads whole in its text field."""
    option = QStyleOptionComboBox()
    box.initStyleOption(option)
    field = box.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                       QStyle.SubControl.SC_ComboBoxEditField, box)
    for i in range(box.count()):
        text = box.itemText(i)
        assert box.fontMetrics().horizontalAdvance(text) <= field.width(), \
            f"{text!r} is cut in a {field.width()}-pixel field"


async def email_of_mine(session) -> str:
    """An email conversation of the agent's: it has the longest header (a subject)."""
    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    rows = await session.read(queries.conversation_rows, mine, int(time.time() * 1000))
    return next(cid for cid in mine if rows[cid].channel_type == "email")


async def test_the_window_is_usable_at_1024_by_700(language, backend, desks, qtbot):
    session = await desks.session(backend)
    window = MainWindow(session, DeskSettings())
    qtbot.addWidget(window)
    window.resize(*SMALL)
    window.show()
    cid = await email_of_mine(session)
    window.open_conversation(cid)
    pane = window.conversation
    await until(lambda: pane.row is not None and pane.row.id == cid, what="the conversation")
    await until(lambda: window.inbox_model.total(), what="the inbox")
    window.inbox.search.setText("a")  # where the search looked shows too
    await until(lambda: window.inbox.bar.scope_row.isVisible(), what="the search's scope")
    await until(lambda: window.customer.contact() is not None, what="the customer")

    assert (window.width(), window.height()) == SMALL  # no minimum widens the window
    assert not window.customer_dock.isVisible()  # folded away below COMPACT_WIDTH
    bar, composer = window.inbox.bar, pane.composer
    parts = {
        "navigation": window.nav, "search": bar.search, "save view": bar.save_button,
        "count": bar.count_label, "sort": bar.sort_box, "search scope": bar.scope_label,
        "every status": bar.scope_button, "list": window.inbox.table,
        "title": pane.title, "details": pane.details, "assign": pane.assign_button,
        "status": pane.status_button, "priority": pane.priority_button,
        "tags": pane.tags_button, "thread": pane.thread, "reply tab": composer.reply_button,
        "note tab": composer.note_button, "editor": composer.editor,
        "send": composer.send_button,
    }
    assert_whole(window, parts)
    assert_choices_fit(bar.sort_box)

    # The agent opens the customer panel anyway: it fits beside the rest.
    window.customer_dock.toggleViewAction().trigger()
    await until(lambda: window.customer_dock.isVisible(), what="the customer panel")
    await until(lambda: window.customer_dock.width() > 0, what="the panel's layout")
    assert (window.width(), window.height()) == SMALL
    assert_whole(window, {**parts, "customer panel": window.customer_dock})
    assert_choices_fit(bar.sort_box)


async def test_times_and_the_snoozed_view_read_whole_at_1024_by_700(language, backend, desks,
                                                                    qtbot):
    from app.inbox.model import COL_ACTIVITY, COL_SUBJECT, COL_UNTIL

    if language == "en":
        QLocale.setDefault(QLocale("en_US"))  # "12:37 PM": wider than "12:37" (the fixture
        # puts the locale back)
    session = await desks.session(backend)
    mine = await session.read(queries.conversation_ids, InboxFilter(assignee="me"),
                              queries.Sort.LAST_ACTIVITY, session.agent_id)
    await session.set_status(mine[0], "snoozed", int(time.time() * 1000) + 50 * 3_600_000)
    window = MainWindow(session, DeskSettings())
    qtbot.addWidget(window)
    window.resize(*SMALL)
    window.show()
    window.open_conversation(mine[1])
    pane = window.conversation
    await until(lambda: pane.row is not None and pane.row.id == mine[1], what="a conversation")
    table, model = window.inbox.table, window.inbox_model

    def cut(col: int) -> list[str]:
        """The cells of ``col`` on screen whose text does not fit (bold: unread)."""
        out = []
        for row in table.visible_rows():
            index = model.index(row, col)
            font = index.data(Qt.ItemDataRole.FontRole) or table.font()
            text = index.data() or ""
            if QFontMetrics(font).horizontalAdvance(text) + 8 > table.columnWidth(col):
                out.append(text)
        return out

    for key, flt, col in (("mine", InboxFilter(assignee="me"), COL_ACTIVITY),
                          ("status:snoozed", InboxFilter(statuses=("snoozed",)), COL_UNTIL)):
        window.nav.select_view(key)
        await until(lambda f=flt: model.inbox_filter == f and not model._switching
                    and model.total(), what=key)
        rows = table.visible_rows()
        await until(lambda r=rows: all(model.index(n, 0).data(ROW_ROLE) for n in r),
                    what="the rows on screen")
        assert not table.isColumnHidden(col), key
        assert cut(col) == [], key  # "12:37 …", "Dec 10 11:2…" were cut
        assert table.columnWidth(COL_SUBJECT) >= 100, key  # the subject keeps its room
        assert table.horizontalScrollBar().maximum() == 0, key


async def test_the_customer_panel_folds_in_a_narrow_window_and_returns(backend, desks,
                                                                       qtbot):
    session = await desks.session(backend)
    window = MainWindow(session, DeskSettings())
    qtbot.addWidget(window)
    window.resize(1400, 800)
    window.show()
    await until(lambda: window.customer_dock.isVisible(), what="the customer panel")
    window.resize(COMPACT_WIDTH - 100, 700)
    await until(lambda: not window.customer_dock.isVisible(), what="the panel to fold")
    window.resize(1400, 800)
    await until(lambda: window.customer_dock.isVisible(), what="the panel to come back")

    window.resize(COMPACT_WIDTH - 100, 700)
    await until(lambda: not window.customer_dock.isVisible(), what="the panel to fold")
    window.customer_dock.toggleViewAction().trigger()  # the agent wants it here
    window.customer_dock.close()  # … and closes it again: it stays closed when wide
    window.resize(1400, 800)
    await until(lambda: window.width() == 1400, what="the wide window")
    assert not window.customer_dock.isVisible()


async def test_a_panel_folded_for_the_width_opens_on_a_wide_screen_next_time(backend, desks,
                                                                             qtbot):
    session = await desks.session(backend)
    settings = DeskSettings()
    small = MainWindow(session, settings)
    qtbot.addWidget(small)
    small.resize(*SMALL)
    small.show()
    await until(lambda: small.folder.folded(), what="the panel to fold")
    small.close()

    settings.window_geometry = ""  # the next start is on another, wider screen
    wide = MainWindow(session, settings)
    qtbot.addWidget(wide)
    wide.resize(1600, 900)
    wide.show()
    await until(lambda: wide.width() == 1600, what="the wide window")
    assert wide.customer_dock.isVisible()


async def test_a_wider_window_gives_its_room_to_the_conversation(backend, desks, qtbot):
    session = await desks.session(backend)
    window = MainWindow(session, DeskSettings())
    qtbot.addWidget(window)
    window.resize(1440, 860)
    window.show()
    await until(lambda: window.splitter.sizes()[0] > 0, what="the first layout")
    nav, inbox, conversation = window.splitter.sizes()
    assert conversation >= inbox
    window.resize(3000, 1600)
    await until(lambda: window.splitter.sizes()[2] > conversation, what="the wider layout")
    wide_nav, wide_inbox, wide_conversation = window.splitter.sizes()
    assert (wide_nav, wide_inbox) == (nav, inbox)
    assert wide_conversation - conversation >= 1000


SCREEN_SCRIPT = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    import qasync
    from PySide6.QtWidgets import QApplication
    from app import tasks
    from app.session import DeskSession
    from app.settings import DeskSettings
    from app.window import MainWindow
    from sync.workspace import WorkspaceConfig

    async def main() -> dict:
        data_dir = Path(sys.argv[1])
        session = DeskSession(data_dir, WorkspaceConfig("http://127.0.0.1:9", "a@b.test"))
        await session.open(connect=False)
        window = MainWindow(session, DeskSettings())
        window.show()
        await asyncio.sleep(0.3)
        frame, screen = window.frameGeometry(), window.screen().availableGeometry()
        window.close()
        await window.drafts.flush()
        window.drafts.close()
        await session.close()
        await tasks.cancel_all()
        return {"frame": frame.getRect(), "screen": screen.getRect()}

    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # the window closes before the loop ends
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        print(json.dumps(runner.run(main())))
""")


@pytest.mark.parametrize("screen", [(1280, 800), (1366, 768), (3840, 2160)])
def test_a_new_window_fits_the_screen_it_opens_on(screen, tmp_path):
    """On a real (offscreen) screen of that size, in a process of its own."""
    width, height = screen
    config = tmp_path / "screen.json"
    config.write_text(json.dumps({"screens": [{
        "name": "screen", "x": 0, "y": 0, "width": width, "height": height,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}), encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
           "RELAYDESK_CONFIG_DIR": str(tmp_path / "config"),
           "RELAYDESK_LOG_DIR": str(tmp_path / "logs")}
    done = subprocess.run([sys.executable, "-c", SCREEN_SCRIPT, str(tmp_path / "desk")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    frame, available = QRect(*shown["frame"]), QRect(*shown["screen"])
    assert available == QRect(0, 0, width, height)
    assert available.contains(frame), f"the window {frame} runs off the screen {available}"
    assert frame.width() >= min(width, 1440) - 40 and frame.height() >= min(height, 860) - 60
