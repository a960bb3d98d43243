"""The main window's layout: navigation | inbox | conversation in a splitter, side panels
docked on the right, and the window's size on the screen it opens on.

Usable from 1024×700 to 4K: the panes' minimum widths add up to less than 1024 pixels even
with a side panel open; below ``COMPACT_WIDTH`` the side panels fold away (View → Customer
still opens them) and come back when the window is wide again, unless the agent opened or
closed one meanwhile. A wider window gives its extra room to the conversation, not the list.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QByteArray, QEvent, QMargins, QObject, QRect, QSize, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QSplitter, QWidget

from app.settings import DeskSettings

NAV_MIN, INBOX_MIN, CONVERSATION_MIN, SIDE_PANEL_MIN = 130, 300, 340, 220
COMPACT_WIDTH = 1200  # narrower than this, the side panels fold away by default
PREFERRED_SIZE = QSize(1440, 860)
# Room kept for the window manager's frame before the window is shown (and it is known).
FRAME_ALLOWANCE = QMargins(8, 40, 8, 8)


def default_geometry(available: QRect) -> QRect:
    """A new window's geometry (inside its frame): the preferred size, or less so that it
    fits the screen's available area with its frame, centred there."""
    room = available.marginsRemoved(FRAME_ALLOWANCE)
    rect = QRect(0, 0, min(PREFERRED_SIZE.width(), room.width()),
                 min(PREFERRED_SIZE.height(), room.height()))
    rect.moveCenter(room.center())
    return rect


def first_sizes(splitter: QSplitter) -> list[int]:
    """Widths of navigation, inbox and conversation before the agent moved a handle: the
    list gets what it needs to be read, the conversation the rest."""
    width = splitter.width() - 2 * splitter.handleWidth()
    nav = max(NAV_MIN, min(210, width // 6))
    inbox = max(INBOX_MIN, min(560, (width - nav) // 2))
    return [nav, inbox, max(CONVERSATION_MIN, width - nav - inbox)]


def make_splitter(parent: QWidget, nav: QWidget, inbox: QWidget,
                  conversation: QWidget) -> QSplitter:
    splitter = QSplitter(Qt.Orientation.Horizontal, parent)
    splitter.setObjectName("mainSplitter")
    for widget, minimum in ((nav, NAV_MIN), (inbox, INBOX_MIN),
                            (conversation, CONVERSATION_MIN)):
        splitter.addWidget(widget)
        widget.setMinimumWidth(minimum)
    # Room gained or lost by resizing the window goes to (or comes from) the conversation.
    for index, stretch in enumerate((0, 0, 1)):
        splitter.setStretchFactor(index, stretch)
    splitter.setChildrenCollapsible(False)
    return splitter


def add_side_panel(window: QMainWindow, name: str, title: str,
                   widget: QWidget) -> QDockWidget:
    """Dock a panel on the right; later ones are tabbed with the first."""
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    dock.setWidget(widget)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    existing = [d for d in window.findChildren(QDockWidget)
                if d is not dock and window.dockWidgetArea(d)
                == Qt.DockWidgetArea.RightDockWidgetArea]
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    if existing:
        window.tabifyDockWidget(existing[0], dock)
    dock.setMinimumWidth(SIDE_PANEL_MIN)
    return dock


class SidePanelFolder(QObject):
    """Folds docked panels away while the window is narrower than ``COMPACT_WIDTH`` and
    brings them back when it is wide again — those the agent has not opened or closed
    themselves in between. ``may_show()`` says whether panels may come back now (not while
    signed out)."""

    def __init__(self, window: QMainWindow, may_show: Callable[[], bool]) -> None:
        super().__init__(window)
        self._window = window
        self._may_show = may_show
        self._docks: list[QDockWidget] = []
        self._folded: list[QDockWidget] = []
        self._compact = False

    def watch(self, dock: QDockWidget) -> None:
        self._docks.append(dock)
        dock.toggleViewAction().triggered.connect(lambda _on, d=dock: self._agent_chose(d))
        dock.installEventFilter(self)  # its title bar's close button

    def folded(self) -> list[QDockWidget]:
        return list(self._folded)

    def fit(self, width: int) -> None:
        """The window is ``width`` wide now: fold or unfold."""
        compact = width < COMPACT_WIDTH
        if compact and not self._compact:
            for dock in self._docks:
                if not dock.isHidden() and not dock.isFloating():
                    self._folded.append(dock)
                    dock.hide()
        elif not compact and self._compact:
            if not self._may_show():
                return  # asked again at the next resize
            for dock in self._folded:
                dock.show()
            self._folded.clear()
        self._compact = compact

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close and watched in self._docks:
            self._agent_chose(watched)  # type: ignore[arg-type]
        return super().eventFilter(watched, event)

    def _agent_chose(self, dock: QDockWidget) -> None:
        if dock in self._folded:
            self._folded.remove(dock)


def restore(window: QMainWindow, splitter: QSplitter, settings: DeskSettings) -> bool:
    """The window's last geometry, docks and pane widths; False when the panes have no
    saved widths (``first_sizes`` then sets them at the first show)."""
    if settings.window_geometry:
        window.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))
    else:
        window.setGeometry(default_geometry(window.screen().availableGeometry()))
    if settings.window_state:
        window.restoreState(QByteArray.fromBase64(settings.window_state.encode()))
    if settings.splitter_state:  # the agent's own widths of nav, inbox and thread
        return splitter.restoreState(QByteArray.fromBase64(settings.splitter_state.encode()))
    return False


def remember(window: QMainWindow, splitter: QSplitter, folder: SidePanelFolder,
             settings: DeskSettings) -> None:
    """Keep geometry, docks and pane widths in ``settings``; a panel folded away for the
    width is kept as open, so a wider screen next time shows it."""
    settings.window_geometry = bytes(window.saveGeometry().toBase64()).decode()
    settings.splitter_state = bytes(splitter.saveState().toBase64()).decode()
    folded = folder.folded()
    window.setUpdatesEnabled(False)  # shown only for saveState: never painted
    try:
        for dock in folded:
            dock.show()
        settings.window_state = bytes(window.saveState().toBase64()).decode()
        for dock in folded:
            dock.hide()
    finally:
        window.setUpdatesEnabled(True)
