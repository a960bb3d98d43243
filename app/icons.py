"""Icons: tiny stroke SVGs in the ``resources`` package's ``icons/``, drawn in the palette's
text colour.

Each icon is rendered from its SVG at the size a view asks for (in device pixels, so it stays
crisp on a high-DPI screen) when it is first asked for, not before, and tinted so it reads on
light and dark alike. An icon without a colour of its own follows the palette as it is
drawn: after a theme switch it is drawn in the new theme's colour, nobody re-sets it.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QImage,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer

import resources

log = logging.getLogger("relaydesk.icons")

ICONS_DIR = resources.files("icons")  # read through importlib.resources: installed or not

CHANNEL_TYPES = ("email", "web_chat", "sms", "whatsapp", "messenger", "instagram", "line")
STATUSES = ("open", "pending", "snoozed", "resolved")
PRIORITIES = ("urgent", "high")
ACTIONS = ("assign", "resolve", "snooze", "tag", "send", "note", "search", "offline", "sync",
           "warning")

_svg: dict[str, QByteArray | None] = {}
_cache: dict[tuple[str, int | None], QIcon] = {}


def names() -> list[str]:
    return sorted(p.name.removesuffix(".svg") for p in ICONS_DIR.iterdir()
                  if p.name.endswith(".svg"))


def _source(name: str) -> QByteArray | None:
    if name not in _svg:
        try:
            _svg[name] = QByteArray(ICONS_DIR.joinpath(f"{name}.svg").read_bytes())
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


_engines: list[QIconEngine] = []


def _keep(engine: QIconEngine) -> QIconEngine:
    """Engines are Python objects that C++ icons point at: keep each alive with the cache."""
    _engines.append(engine)
    return engine


class _TintedSvgEngine(QIconEngine):
    """Draws one SVG tinted (the disabled colour for disabled widgets) at whatever size is
    asked, rendering each size once: a list shows seven channel icons at one size, and
    rendering every size up front cost the first paint tens of milliseconds. Without a
    colour of its own it takes the palette's text colours when it draws, so icons already
    set on items follow a theme switch (they were dark on dark until a restart)."""

    def __init__(self, name: str, normal: QColor | None) -> None:
        super().__init__()
        self._name, self._normal = name, QColor(normal) if normal is not None else None
        self._pixmaps: dict[tuple[int, int], QPixmap] = {}

    def _color(self, mode: QIcon.Mode) -> QColor:
        if mode == QIcon.Mode.Disabled:
            return _palette_color(QPalette.ColorGroup.Disabled)
        return self._normal if self._normal is not None else _palette_color(
            QPalette.ColorGroup.Active)

    def _pixmap(self, width: int, height: int, mode: QIcon.Mode) -> QPixmap:
        side = max(1, min(width, height))
        color = self._color(mode)
        key = (side, color.rgba())
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            pixmap = render(self._name, side, color)
            self._pixmaps[key] = pixmap
        return pixmap

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return QPixmap(self._pixmap(size.width(), size.height(), mode))

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State,
                     scale: float) -> QPixmap:
        pixmap = QPixmap(self._pixmap(round(size.width() * scale),
                                      round(size.height() * scale), mode))
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode,
              state: QIcon.State) -> None:
        scale = painter.device().devicePixelRatioF() if painter.device() else 1.0
        side = min(rect.width(), rect.height())
        pixmap = self._pixmap(round(side * scale), round(side * scale), mode)
        target = QRect(0, 0, side, side)
        target.moveCenter(rect.center())
        painter.drawPixmap(target, pixmap)

    def actualSize(self, size: QSize, mode: QIcon.Mode,
                   state: QIcon.State) -> QSize:
        side = min(size.width(), size.height())
        return QSize(side, side)

    def clone(self) -> QIconEngine:
        return _keep(_TintedSvgEngine(self._name, self._normal))

    def key(self) -> str:
        return "relaydesk-tinted-svg"


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """The named icon, tinted ``color``; without one, in the palette's text colour of the
    moment it is drawn (a theme switch included). Disabled widgets get the palette's
    disabled text colour. Unknown names give an empty icon and a warning."""
    normal = QColor(color) if color is not None else None
    key = (name, normal.rgba() if normal is not None else None)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    result = (QIcon(_keep(_TintedSvgEngine(name, normal)))
              if _source(name) is not None else QIcon())
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
    _cache.clear()  # (engines stay: icons handed out earlier may still be drawn)
