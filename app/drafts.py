"""Composer drafts, saved locally as the agent types and restored after a crash or restart.

One small SQLite file (``drafts.sqlite3``, 0600) in the workspace data directory, apart from the
mirror and the outbox: a draft is the agent's, never synced. Every statement runs on one
serial lane (``sync.workers.Serial``: one at a time, in order, on the general pool); the GUI
thread only queues work. Typing is debounced (``DEBOUNCE_MS``) and the
last text per conversation wins. WAL with ``synchronous=NORMAL``: a committed draft survives
the process being killed (not necessarily a power cut, which is fine for a draft).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer

from sync.private_files import private_database, private_dir
from sync.workers import Serial

log = logging.getLogger("relaydesk.drafts")

FILE_NAME = "drafts.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS drafts (
    conversation_id TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class Draft:
    conversation_id: str
    mode: str  # "reply" | "note"
    body: str
    updated_at: int  # epoch ms


class DraftStore(QObject):
    """Create on the GUI thread; ``await flush()`` then ``close()`` on quit."""

    DEBOUNCE_MS = 400

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = Path(data_dir) / FILE_NAME
        self._lane = Serial("relaydesk-drafts")
        self._conn: sqlite3.Connection | None = None  # used on the lane only
        self._pending: dict[str, tuple[str, str, int]] = {}  # id -> (mode, body, at)
        self._inflight: list[Future[Any]] = []  # touched on the GUI thread only
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.DEBOUNCE_MS)
        self._timer.timeout.connect(self._write_pending)

    # ------------------------------------------------------------------ GUI thread API

    def save_later(self, conversation_id: str, mode: str, body: str) -> None:
        """Remember the text now, write it once typing pauses. An empty body deletes."""
        if self._closed:
            return
        self._pending[conversation_id] = (mode, body, int(time.time() * 1000))
        self._timer.start()

    async def flush(self) -> None:
        """Write whatever is pending and wait until every queued write is on disk."""
        self._write_pending()
        waiting, self._inflight = self._inflight, []
        if waiting:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in waiting),
                                 return_exceptions=True)

    async def load(self, conversation_id: str) -> Draft | None:
        if conversation_id in self._pending:  # typed, not yet written: the newest text
            mode, body, at = self._pending[conversation_id]
            return Draft(conversation_id, mode, body, at) if body.strip() else None
        return await self._run(self._load, conversation_id)

    async def clear(self, conversation_id: str) -> None:
        """Forget the draft (it was sent): a pending save for it is dropped too."""
        self._pending.pop(conversation_id, None)
        await self._run(self._delete, conversation_id)

    def discard(self, conversation_id: str) -> None:
        """Forget the draft now, without awaiting (it was just sent): queued at once, so a
        crash a moment later does not bring the sent text back."""
        if self._closed:
            return
        self._pending[conversation_id] = ("reply", "", int(time.time() * 1000))
        self._write_pending()

    def close(self) -> None:
        """Write what is pending (a few rows at most), wait for it, close the file."""
        if self._closed:
            return
        self._write_pending()
        self._closed = True
        self._timer.stop()
        self._lane.submit(self._close_conn).result()  # after every write queued before it

    # ------------------------------------------------------------------ queueing

    def _write_pending(self) -> None:
        self._timer.stop()
        if not self._pending or self._closed:
            return
        batch, self._pending = self._pending, {}
        future = self._lane.submit(self._write, batch)
        future.add_done_callback(self._written)
        self._inflight = [f for f in self._inflight if not f.done()] + [future]

    def _written(self, future: Future[Any]) -> None:  # on the lane: only logs
        if future.exception() is not None:
            log.error("could not save drafts to %s", self.path, exc_info=future.exception())

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise RuntimeError("the draft store is closed")
        return await self._lane.run(fn, *args)

    # ------------------------------------------------------------------ the lane

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            private_dir(self.path.parent)
            private_database(self.path)  # 0600 before SQLite opens it: its WAL takes that mode
            # autocommit (explicit transactions); any thread, one at a time: the lane's
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def _write(self, batch: dict[str, tuple[str, str, int]]) -> None:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for cid, (mode, body, at) in batch.items():
                if body.strip():
                    conn.execute(
                        "INSERT INTO drafts (conversation_id, mode, body, updated_at) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT(conversation_id) DO UPDATE SET "
                        "mode = excluded.mode, body = excluded.body, "
                        "updated_at = excluded.updated_at", (cid, mode, body, at))
                else:
                    conn.execute("DELETE FROM drafts WHERE conversation_id = ?", (cid,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _load(self, conversation_id: str) -> Draft | None:
        row = self._db().execute(
            "SELECT mode, body, updated_at FROM drafts WHERE conversation_id = ?",
            (conversation_id,)).fetchone()
        return Draft(conversation_id, row[0], row[1], row[2]) if row else None

    def _delete(self, conversation_id: str) -> None:
        self._db().execute("DELETE FROM drafts WHERE conversation_id = ?", (conversation_id,))

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
