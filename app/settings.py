"""The desk's settings: one typed home, one JSON file, never a secret.

Tokens live in the keyring (``sync.credentials``); this file holds only preferences, so it is
safe to copy into a bug report. A damaged file is moved aside and the desk starts on defaults.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from sync.private_files import private_dir, tighten, write_private_text
from sync.queries import InboxFilter, Sort

log = logging.getLogger("relaydesk.settings")

APP_NAME = "Relaydesk"
CONFIG_DIR_ENV = "RELAYDESK_CONFIG_DIR"
SETTINGS_FILE = "settings.json"

LANGUAGES = ("system", "en", "ja")
THEMES = ("system", "light", "dark")


def config_dir() -> Path:
    """Where preferences live; ``RELAYDESK_CONFIG_DIR`` overrides (tests, portable installs)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME, APP_NAME))


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


@dataclass
class DeskSettings:
    language: str = "system"  # "system" | "en" | "ja"
    theme: str = "system"  # "system" | "light" | "dark"
    notifications: bool = True
    notify_sound: bool = False
    saved_filters: list[dict[str, Any]] = field(default_factory=list)  # {"name", "filter"}
    inbox_sort: str = Sort.LAST_ACTIVITY.value
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState()
    splitter_state: str = ""  # base64 of the nav | inbox | conversation QSplitter.saveState()
    last_workspace: str | None = None

    # -- saved filters, typed

    def filters(self) -> list[tuple[str, InboxFilter]]:
        """The saved filters as (name, InboxFilter); entries that no longer parse are skipped."""
        out = []
        for entry in self.saved_filters:
            try:
                out.append((str(entry["name"]), InboxFilter.from_json(entry["filter"])))
            except (KeyError, TypeError, ValueError, AttributeError):
                log.warning("skipping an unreadable saved filter: %r", entry)
        return out

    def save_filter(self, name: str, flt: InboxFilter) -> None:
        """Add a saved filter, replacing one of the same name."""
        self.remove_filter(name)
        self.saved_filters.append({"name": name, "filter": flt.to_json()})

    def remove_filter(self, name: str) -> None:
        self.saved_filters = [f for f in self.saved_filters if f.get("name") != name]

    # -- persistence

    @classmethod
    def load(cls, path: Path | None = None) -> DeskSettings:
        """Read settings; a missing file gives defaults, a damaged one is kept aside."""
        path = path or settings_path()
        tighten(path)  # saved searches name customers: an older version left it 0644
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            aside = _move_aside(path)
            log.warning("settings file %s is unreadable (%s); kept as %s, using defaults",
                        path, exc, aside)
            return cls()
        return cls._from_dict(raw)

    def save(self, path: Path | None = None) -> None:
        """Write atomically: a crash mid-write leaves the previous file, never half of one."""
        path = path or settings_path()
        private_dir(path.parent)
        data = json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)
        write_private_text(path, data + "\n")

    @classmethod
    def _from_dict(cls, raw: dict[str, Any]) -> DeskSettings:
        """Keep each known, well-typed value; anything else falls back to its default."""
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = raw.get(f.name, getattr(defaults, f.name))
            if not _valid(f.name, value):
                log.warning("settings: ignoring invalid %s=%r", f.name, value)
                value = getattr(defaults, f.name)
            values[f.name] = value
        return cls(**values)


def load(path: Path | None = None) -> DeskSettings:
    return DeskSettings.load(path)


def _valid(name: str, value: Any) -> bool:
    if name == "language":
        return value in LANGUAGES
    if name == "theme":
        return value in THEMES
    if name in ("notifications", "notify_sound"):
        return isinstance(value, bool)
    if name == "saved_filters":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if name == "inbox_sort":
        return value in {s.value for s in Sort}
    if name in ("window_geometry", "window_state", "splitter_state"):
        return isinstance(value, str)
    if name == "last_workspace":
        return value is None or isinstance(value, str)
    return False


def _move_aside(path: Path) -> Path | None:
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, aside)
    except OSError as exc:
        log.warning("could not move %s aside: %s", path, exc)
        return None
    return aside
