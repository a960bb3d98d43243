"""Server settings: one typed home, filled from the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

import platformdirs

from server.limits import BodyLimits


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("relaydesk-server", "Relaydesk"))


@dataclass
class ServerSettings:
    database_url: str
    data_dir: Path = field(default_factory=default_data_dir)
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 30 * 86400
    # How long changes (and so tombstones) stay in the feed; older cursors must resync.
    change_retention_s: int = 30 * 86400
    maintenance_interval_s: float = 3600.0
    # Event-stream heartbeats (announced to clients): a desk takes a stream silent for two
    # of them, plus a second, as dead, so 2 s means offline noticed within ~5 s.
    heartbeat_s: float = 2.0
    head_poll_s: float = 1.0
    bootstrap_page_default: int = 5000
    bootstrap_page_max: int = 20000
    pull_limit_default: int = 1000
    pull_limit_max: int = 10000
    # Request body limits (bytes): sign-in and other routes, inbound messages, pushes.
    body_limits: BodyLimits = field(default_factory=BodyLimits)
    # Peers whose Forwarded / X-Forwarded-For / X-Real-IP headers name the client; none by
    # default, so a client cannot pick the address its sign-in attempts are counted under.
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
