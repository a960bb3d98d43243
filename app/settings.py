"""The desk's settings: one typed home, one JSON file, never a secret.

Tokens live in the keyring (``sync.credentials``); this file holds only preferences, so it is
safe to copy into a bug report. A damaged file is moved aside and the desk starts on defaults.
The file carries a version; an older one is upgraded step by step (``upgrade_to_vN``).
Language, theme and the window are the person's; saved views, the sort and the last view
shown belong to each workspace (``DeskSettings.workspace``).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Callable
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


SETTINGS_VERSION = 2  # raise it with an upgrade_to_vN below when the layout changes


def workspace_key(data_dir: Path) -> str:
    """The settings' name for a workspace: its data directory (one per server and agent)."""
    return str(Path(data_dir).expanduser().resolve())


@dataclass
class WorkspaceSettings:
    """What belongs to one workspace: a supervisor's views are not a trainee's, and a
    demo's teams are not the real server's."""

    saved_filters: list[dict[str, Any]] = field(default_factory=list)  # {"name", "filter"}
    inbox_sort: str = Sort.LAST_ACTIVITY.value
    last_view: str = ""  # the navigation key of the view shown last ("" before any)

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

    @classmethod
    def _from_dict(cls, raw: dict[str, Any]) -> WorkspaceSettings:
        return cls(**_known_values(cls, raw, _valid_workspace))


@dataclass
class DeskSettings:
    """The person's preferences (language, theme, window) and each workspace's own."""

    version: int = SETTINGS_VERSION
    language: str = "system"  # "system" | "en" | "ja"
    theme: str = "system"  # "system" | "light" | "dark"
    notifications: bool = True
    notify_sound: bool = False
    reply_undo_s: int = 0  # a sent reply waits this long (0-10 s), undoable; 0: off
    next_after_done: bool = True  # resolve or snooze opens the next conversation
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState()
    splitter_state: str = ""  # base64 of the nav | inbox | conversation QSplitter.saveState()
    last_workspace: str | None = None
    workspaces: dict[str, WorkspaceSettings] = field(default_factory=dict)  # workspace_key
    # Version 1 kept one set of views for every workspace: each workspace opened for the
    # first time since then starts with a copy, so no view the agent saved is lost.
    legacy: WorkspaceSettings | None = None

    def workspace(self, key: str) -> WorkspaceSettings:
        """The settings of the workspace ``key`` (``workspace_key``), made on first use."""
        found = self.workspaces.get(key)
        if found is None:
            found = self.workspaces[key] = (copy.deepcopy(self.legacy) if self.legacy
                                            else WorkspaceSettings())
            found.last_view = ""
        return found

    # -- persistence

    @classmethod
    def load(cls, path: Path | None = None) -> DeskSettings:
        """Read settings; a missing file gives defaults, a damaged one is kept aside, an older
        one is upgraded (``upgrade_to_vN``)."""
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
        return cls._from_dict(upgrade(raw))

    def save(self, path: Path | None = None) -> None:
        """Write atomically: a crash mid-write leaves the previous file, never half of one."""
        path = path or settings_path()
        private_dir(path.parent)
        data = json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)
        write_private_text(path, data + "\n")

    @classmethod
    def _from_dict(cls, raw: dict[str, Any]) -> DeskSettings:
        """Keep each known, well-typed value; anything else falls back to its default."""
        values = _known_values(cls, raw, _valid)
        values["version"] = SETTINGS_VERSION
        workspaces = raw.get("workspaces")
        values["workspaces"] = {
            key: WorkspaceSettings._from_dict(entry)
            for key, entry in (workspaces.items() if isinstance(workspaces, dict) else ())
            if isinstance(key, str) and isinstance(entry, dict)}
        legacy = raw.get("legacy")
        values["legacy"] = (WorkspaceSettings._from_dict(legacy) if isinstance(legacy, dict)
                            else None)
        return cls(**values)


def load(path: Path | None = None) -> DeskSettings:
    return DeskSettings.load(path)


# -- upgrades: each takes the file as the version before wrote it (Picard's config_upgrade)


def upgrade_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """Saved views and the sort were shared by every workspace; now each has its own. The
    shared ones become ``legacy``, which each workspace opened first since copies."""
    out = {k: v for k, v in raw.items() if k not in ("saved_filters", "inbox_sort")}
    shared = {k: raw[k] for k in ("saved_filters", "inbox_sort") if k in raw}
    out["legacy"] = shared or None
    out["workspaces"] = {}
    return out


UPGRADES = {2: upgrade_to_v2}


def upgrade(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring a settings file up to ``SETTINGS_VERSION`` (a file without a version is 1)."""
    version = raw.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        log.warning("settings: unknown version %r, read as version 1", version)
        version = 1
    for target in range(version + 1, SETTINGS_VERSION + 1):
        raw = UPGRADES[target](raw)
        log.info("settings upgraded to version %d", target)
    return raw


def _known_values(cls: type, raw: dict[str, Any], valid: Callable[[str, Any], bool]
                  ) -> dict[str, Any]:
    defaults = cls()
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in ("version", "workspaces", "legacy"):
            continue
        value = raw.get(f.name, getattr(defaults, f.name))
        if not valid(f.name, value):
            log.warning("settings: ignoring invalid %s=%r", f.name, value)
            value = getattr(defaults, f.name)
        values[f.name] = value
    return values


def _valid(name: str, value: Any) -> bool:
    if name == "language":
        return value in LANGUAGES
    if name == "theme":
        return value in THEMES
    if name in ("notifications", "notify_sound", "next_after_done"):
        return isinstance(value, bool)
    if name == "reply_undo_s":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10
    if name in ("window_geometry", "window_state", "splitter_state"):
        return isinstance(value, str)
    if name == "last_workspace":
        return value is None or isinstance(value, str)
    return False


def _valid_workspace(name: str, value: Any) -> bool:
    if name == "saved_filters":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if name == "inbox_sort":
        return value in {s.value for s in Sort}
    if name == "last_view":
        return isinstance(value, str)
    return False


def _move_aside(path: Path) -> Path | None:
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, aside)
    except OSError as exc:
        log.warning("could not move %s aside: %s", path, exc)
        return None
    return aside
