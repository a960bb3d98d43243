"""Help → About: the desk's version, the parts it bundles with their licences (Qt and PySide6
under the LGPL among them), and where its data, settings and logs live — what an agent
reads out to IT, and can copy into a bug report."""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

# What the desk ships with (the distributions the desk's process loads), in the order shown.
BUNDLED = ("PySide6-Essentials", "shiboken6", "qasync", "httpx", "httpx-sse", "httpcore",
           "anyio", "SQLAlchemy", "alembic", "pydantic", "pydantic-core", "keyring",
           "platformdirs", "orjson", "nh3", "pluggy", "certifi", "fastapi", "starlette",
           "uvicorn")
QT_LICENCE = "LGPL-3.0-only"  # how Qt for Python's libraries are used here (dynamically linked)


@dataclass(frozen=True)
class Part:
    name: str
    version: str
    licence: str


def version() -> str:
    """The desk's version, as installed."""
    try:
        return metadata.version("relaydesk")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _licence(meta: metadata.PackageMetadata) -> str:
    """A distribution's licence: its SPDX expression, else its short licence field, else
    what its classifiers say."""
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80:
        return text
    classifiers = [c.rsplit(" :: ", 1)[-1] for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    return " / ".join(classifiers) or "?"


@functools.cache
def bundled_parts() -> tuple[Part, ...]:
    """Qt itself, then each bundled distribution that is installed (read once)."""
    parts = [Part("Qt", qVersion(), QT_LICENCE)]
    for name in BUNDLED:
        try:
            meta = metadata.metadata(name)
        except metadata.PackageNotFoundError:
            continue
        parts.append(Part(meta.get("Name") or name, meta.get("Version") or "?", _licence(meta)))
    parts.append(Part("Python", platform.python_version(), "PSF-2.0"))
    return tuple(parts)


class AboutDialog(QDialog):
    """Version, bundled parts and licences, and where things are."""

    def __init__(self, places: dict[str, Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("About Relaydesk"))
        self.places = places
        title = QLabel(self.tr("Relaydesk {version}").format(version=version()), self)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)
        summary = QLabel(self.tr("The desk for contact-center agents: every channel in one "
                                 "inbox, working offline too."), self)
        summary.setWordWrap(True)
        built = QLabel(self.tr("Built with Qt {qt} and PySide6 {pyside}, used under the GNU "
                               "Lesser General Public License version 3 (the Qt libraries "
                               "are loaded dynamically and can be replaced).").format(
            qt=qVersion(), pyside=PySide6.__version__), self)
        built.setWordWrap(True)

        self.parts = QTreeWidget(self)
        self.parts.setHeaderLabels([self.tr("Component"), self.tr("Version"),
                                    self.tr("Licence")])
        self.parts.setAccessibleName(self.tr("Bundled components and their licences"))
        self.parts.setRootIsDecorated(False)
        self.parts.setUniformRowHeights(True)
        self.parts.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.parts.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.parts.header().setStretchLastSection(True)
        for part in bundled_parts():
            self.parts.addTopLevelItem(QTreeWidgetItem([part.name, part.version, part.licence]))

        where = QFormLayout()
        where.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        names = self._place_names()
        for key, path in places.items():
            value = QLabel(str(path), self)
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            value.setAccessibleName(names.get(key, key))
            where.addRow(self.tr("{label}:").format(label=names.get(key, key)), value)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = QPushButton(self.tr("Copy"), self)
        self.copy_button.setToolTip(self.tr("Copy the version, the components and the "
                                            "folders, for a bug report"))
        self.copy_button.clicked.connect(self.copy)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(summary)
        layout.addWidget(built)
        layout.addWidget(self.parts, 1)
        layout.addLayout(where)
        layout.addWidget(buttons)
        self.resize(620, 560)  # fits a 1024×700 screen with its frame

    def _place_names(self) -> dict[str, str]:
        return {"data": self.tr("Workspace data"), "settings": self.tr("Settings"),
                "logs": self.tr("Logs")}

    def text(self) -> str:
        """Everything the dialog says, as plain text."""
        names = self._place_names()
        lines = [f"Relaydesk {version()}", ""]
        lines += [f"{p.name} {p.version} ({p.licence})" for p in bundled_parts()]
        lines.append("")
        lines += [f"{names.get(k, k)}: {v}" for k, v in self.places.items()]
        return "\n".join(lines)

    def copy(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.text())
