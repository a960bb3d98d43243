"""Where a workspace lives on disk and what it points at (no secrets here).

One data directory per workspace (0700): the mirror, the outbox, and ``workspace.json``
(0600) with the server URL and the agent. The default is under the OS's user data directory
(platformdirs); ``--data-dir`` or ``RELAYDESK_DATA_DIR`` override it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from sync.private_files import private_dir, tighten, write_private_text

WORKSPACE_FILE = "workspace.json"


def default_data_dir() -> Path:
    env = os.environ.get("RELAYDESK_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("Relaydesk", "Relaydesk")) / "workspaces" / "default"


@dataclass
class WorkspaceConfig:
    server_url: str
    email: str
    agent_id: str | None = None
    agent_name: str | None = None

    @classmethod
    def load(cls, data_dir: Path) -> WorkspaceConfig | None:
        path = data_dir / WORKSPACE_FILE
        tighten(path)  # an older version wrote it 0644
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is unreadable ({exc}); sign in again to rewrite it") from exc
        return cls(**{k: raw.get(k) for k in ("server_url", "email", "agent_id", "agent_name")})

    def save(self, data_dir: Path) -> None:
        private_dir(data_dir)
        write_private_text(data_dir / WORKSPACE_FILE, json.dumps(asdict(self), indent=2))
