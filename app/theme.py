"""Light and dark, following the OS unless the agent chose one.

Fusion everywhere (the same look on every platform, and it honours a palette fully), one light
and one dark palette with readable contrast, and named semantic colours for what the desk
marks: pending, failed, overdue… Widgets read ``color(name)`` when they paint, so a theme
switch (Qt sends ``ApplicationPaletteChange``) needs no bookkeeping.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

log = logging.getLogger("relaydesk.theme")

CHOICES = ("system", "light", "dark")

# role -> (light, dark)
_PALETTE: dict[QPalette.ColorRole, tuple[str, str]] = {
    QPalette.ColorRole.Window: ("#f3f3f3", "#202124"),
    QPalette.ColorRole.WindowText: ("#1d1d1f", "#e8eaed"),
    QPalette.ColorRole.Base: ("#ffffff", "#17181a"),
    QPalette.ColorRole.AlternateBase: ("#f6f7f9", "#1e1f22"),
    QPalette.ColorRole.Text: ("#1d1d1f", "#e8eaed"),
    QPalette.ColorRole.PlaceholderText: ("#6b6b6b", "#9aa0a6"),
    QPalette.ColorRole.Button: ("#ececec", "#2b2c2f"),
    QPalette.ColorRole.ButtonText: ("#1d1d1f", "#e8eaed"),
    QPalette.ColorRole.BrightText: ("#ffffff", "#ffffff"),
    QPalette.ColorRole.Highlight: ("#2563c9", "#3b76d6"),
    QPalette.ColorRole.HighlightedText: ("#ffffff", "#ffffff"),
    QPalette.ColorRole.Link: ("#1a56b8", "#8ab4f8"),
    QPalette.ColorRole.LinkVisited: ("#6a3fb5", "#c58af9"),
    QPalette.ColorRole.ToolTipBase: ("#ffffe8", "#2b2c2f"),
    QPalette.ColorRole.ToolTipText: ("#1d1d1f", "#e8eaed"),
    QPalette.ColorRole.Light: ("#ffffff", "#3c3d41"),
    QPalette.ColorRole.Midlight: ("#e3e3e3", "#323336"),
    QPalette.ColorRole.Mid: ("#b8b8b8", "#4a4b4f"),
    QPalette.ColorRole.Dark: ("#9a9a9a", "#111214"),
    QPalette.ColorRole.Shadow: ("#5a5a5a", "#000000"),
}
_DISABLED: dict[QPalette.ColorRole, tuple[str, str]] = {
    QPalette.ColorRole.WindowText: ("#8c8c8c", "#6f7378"),
    QPalette.ColorRole.Text: ("#8c8c8c", "#6f7378"),
    QPalette.ColorRole.ButtonText: ("#8c8c8c", "#6f7378"),
    QPalette.ColorRole.Highlight: ("#b8c6dc", "#3a4250"),
}

# name -> (light, dark); text colours keep >= 4.5:1 on the view's base, *_bg are backgrounds
SEMANTIC: dict[str, tuple[str, str]] = {
    "pending": ("#8a5a00", "#f0b54a"),
    "failed": ("#b3261e", "#f28b82"),
    "overdue": ("#c5221f", "#ff8a80"),
    "due_soon": ("#9a5800", "#fdd663"),
    "ok": ("#1e7e34", "#81c995"),
    "note_bg": ("#fff6d5", "#3a3320"),
    "inbound_bg": ("#f1f3f4", "#2a2b2e"),
    "outbound_bg": ("#e3eefc", "#1f3350"),
    "banner_offline": ("#fde7c4", "#4a3512"),
}

# Dense, all-day use: tight paddings, no decoration that costs a row.
STYLESHEET = """
QToolBar { spacing: 2px; padding: 1px; }
QToolButton { padding: 2px; }
QStatusBar::item { border: none; }
QStatusBar QLabel { padding: 0 4px; }
QDockWidget::title { padding: 2px 4px; }
QMenu::item { padding: 3px 20px 3px 20px; }
"""

_state = {"choice": "system", "dark": False, "connected": False, "styled": False,
          "hinting": False}


def palette(dark: bool) -> QPalette:
    pal = QPalette()
    col = 1 if dark else 0
    for role, pair in _PALETTE.items():
        pal.setColor(role, QColor(pair[col]))
    if hasattr(QPalette.ColorRole, "Accent"):  # Qt >= 6.6
        pal.setColor(QPalette.ColorRole.Accent, pal.color(QPalette.ColorRole.Highlight))
    for role, pair in _DISABLED.items():
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(pair[col]))
    return pal


def system_is_dark(app: QGuiApplication) -> bool:
    """What the OS asks for (Qt >= 6.5); an OS that does not say counts as light."""
    hints = app.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, choice: str) -> bool:
    """Apply "system", "light" or "dark"; returns whether the result is dark."""
    if choice not in CHOICES:
        log.warning("unknown theme %r, following the system", choice)
        choice = "system"
    _state["choice"] = choice
    if not _state["connected"] and hasattr(app.styleHints(), "colorSchemeChanged"):
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: _on_system_change(app))
        _state["connected"] = True
    if not _state["styled"]:  # once: with a style sheet set, style().name() reads ""
        app.setStyle("Fusion")
        _state["styled"] = True
    _hint_scheme(app, choice)
    dark = system_is_dark(app) if choice == "system" else choice == "dark"
    _state["dark"] = dark
    app.setPalette(palette(dark))
    app.setStyleSheet(STYLESHEET)
    log.info("theme %s (%s)", choice, "dark" if dark else "light")
    return dark


def _hint_scheme(app: QApplication, choice: str) -> None:
    """Qt >= 6.8: tell the platform too, so native title bars and dialogs match."""
    hints = app.styleHints()
    if not hasattr(hints, "setColorScheme"):
        return
    _state["hinting"] = True
    try:
        if choice == "system":
            hints.unsetColorScheme()
        else:
            hints.setColorScheme(Qt.ColorScheme.Dark if choice == "dark"
                                 else Qt.ColorScheme.Light)
    finally:
        _state["hinting"] = False


def _on_system_change(app: QApplication) -> None:
    if _state["choice"] == "system" and not _state["hinting"]:
        apply_theme(app, "system")


def current_choice() -> str:
    return str(_state["choice"])


def is_dark(app: QGuiApplication | None = None) -> bool:
    """Whether the app's palette is dark (judged from the window colour, so it is also right
    before ``apply_theme`` ran)."""
    app = app or QGuiApplication.instance()  # type: ignore[assignment]
    if app is None:
        return bool(_state["dark"])
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def color(name: str, dark: bool | None = None) -> QColor:
    """A semantic colour for the current (or the given) theme; KeyError for an unknown name."""
    light_hex, dark_hex = SEMANTIC[name]
    if dark is None:
        dark = is_dark()
    return QColor(dark_hex if dark else light_hex)
