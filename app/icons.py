"""Icons: tiny stroke SVGs in ``resources/icons``, drawn in the palette's text colour.

Each icon is rendered from its SVG at every size a view asks for on a high-DPI screen, so it
stays crisp, and tinted so it reads on light and dark alike. Icons are cached per colour:
after a theme switch (``ApplicationPaletteChange``) ask for them again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

log = logging.getLogger("relaydesk.icons")

ICONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 20, 24, 32, 40, 48, 64, 96, 128)  # logical sizes × device pixel ratios in use

CHANNEL_TYPES = ("email", "web_chat", "sms", "whatsapp", "messenger", "instagram", "line")
STATUSES = ("open", "pending", "snoozed", "resolved")
PRIORITIES = ("urgent", "high")
ACTIONS = ("assign", "resolve", "snooze", "tag", "send", "note", "search", "offline", "sync",
           "warning")

_svg: dict[str, QByteArray | None] = {}
_cache: dict[tuple[str, int, int], QIcon] = {}


def names() -> list[str]:
    return sorted(p.stem for p in ICONS_DIR.glob("*.svg"))


def _source(name: str) -> QByteArray | None:
    if name not in _svg:
        try:
            _svg[name] = QByteArray((ICONS_DIR / f"{name}.svg").read_bytes())
        except OSError:
            log.warning("no icon %r in %s", name, ICONS_DIR)
            _svg[name] = None
    return _svg[name]


def render(name: str, size: int, color: QColor) -> QPixmap:
    """One tinted bitmap, ``size`` device pixels square (transparent if the icon is missing)."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    data = _source(name)
    if data is not None:
        renderer = QSvgRenderer(data)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        # Keep the drawn shape's alpha, take the colour: a monochrome icon in any tint.
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
        painter.fillRect(image.rect(), color)
        painter.end()
    return QPixmap.fromImage(image)


def _palette_color(group: QPalette.ColorGroup) -> QColor:
    return QGuiApplication.palette().color(group, QPalette.ColorRole.Text)


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """The named icon, tinted ``color`` (default: the palette's text colour; disabled widgets
    get the palette's disabled text colour). Unknown names give an empty icon and a warning."""
    normal = QColor(color) if color is not None else _palette_color(QPalette.ColorGroup.Active)
    disabled = _palette_color(QPalette.ColorGroup.Disabled)
    key = (name, normal.rgba(), disabled.rgba())
    cached = _cache.get(key)
    if cached is not None:
        return cached
    result = QIcon()
    if _source(name) is not None:
        for size in SIZES:
            result.addPixmap(render(name, size, normal), QIcon.Mode.Normal)
            result.addPixmap(render(name, size, disabled), QIcon.Mode.Disabled)
    _cache[key] = result
    return result


def channel_icon(channel_type: str, color: QColor | str | None = None) -> QIcon:
    """The icon for a channel type ("email", "whatsapp"…); a plain bubble for others."""
    return icon(channel_type if channel_type in CHANNEL_TYPES else "channel", color)


def status_icon(status: str, color: QColor | str | None = None) -> QIcon:
    return icon(f"status_{status}" if status in STATUSES else "status_open", color)


def priority_icon(priority: str, color: QColor | str | None = None) -> QIcon | None:
    """Urgent and high have an icon; normal and low show none."""
    return icon(f"priority_{priority}", color) if priority in PRIORITIES else None


def clear_cache() -> None:
    _cache.clear()
