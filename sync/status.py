"""What the sync engine says about itself, and how it is set up: the parts of the engine a
desk needs before the engine exists (its status bar, its first paint), without loading
the engine and what it loads (SQLAlchemy, httpx). ``sync.engine`` re-exports them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from sync.client import DEFAULT_HEARTBEAT_S

if TYPE_CHECKING:
    from sync.mirror import BootstrapProgress


def now_ms() -> int:
    return int(time.time() * 1000)


class EngineState(StrEnum):
    OFFLINE = "offline"
    CONNECTING = "connecting"
    BOOTSTRAPPING = "bootstrapping"
    SYNCING = "syncing"
    UP_TO_DATE = "up_to_date"
    SIGN_IN_REQUIRED = "sign_in_required"
    ERROR = "error"


@dataclass(frozen=True)
class EngineStatus:
    state: EngineState
    message: str
    progress: BootstrapProgress | None = None
    pending: int = 0  # the agent's changes not confirmed yet (not the automatic mark-reads)
    rejected: int = 0
    last_sync_at: int | None = None
    credentials_secure: bool = True
    live: bool = False  # the server-sent event stream is connected
    retry_in_s: float | None = None
    # Bumped whenever what the agent sees may have changed (a pulled page, an intent queued,
    # pushed or settled): views re-read when it moves.
    data_version: int = 0
    # In the error state, what kind of trouble (one of PROBLEMS), so a desk can say it in the
    # agent's language; ``message`` stays the English sentence for logs and admins.
    problem: str | None = None


PROBLEMS = ("server_busy", "server_failed", "refused", "resync_loop", "bad_answer",
            "unexpected")


@dataclass
class EngineOptions:
    push_batch: int = 100
    pull_limit: int = 1000
    # Rows per bootstrap page. Small enough that parsing one (orjson holds the GIL throughout)
    # stays well under a frame: ~10 ms for 1000 rows on a slow 2-core machine, ~60 ms for the
    # server's default 5000 (benchmarks/sync_client.py: loop lag). None: the server's default.
    bootstrap_limit: int | None = 1000
    # Pages fetched and parsed ahead of the one being written.
    bootstrap_prefetch: int = 2
    poll_interval_s: float = 30.0  # fallback polling while the event stream is down
    safety_poll_s: float = 300.0  # polling while the stream is up (a missed poke costs little)
    use_events: bool = True
    # The server's event-stream heartbeat when it does not announce its own (seconds): the
    # stream counts as dead after sync.client.silence_limit() of it without a word.
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    # The cap while the agent waits for the server (work in the outbox, or at the desk): a
    # server that comes back is found within this long.
    attended_backoff_cap_s: float = 5.0
    max_consecutive_resyncs: int = 3
