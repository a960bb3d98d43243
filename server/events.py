"""Fan-out of "the feed moved" to server-sent-event streams.

Writers in this process publish the new head directly. Writers in other processes are heard
through PostgreSQL LISTEN/NOTIFY (the notification is sent inside the writing transaction,
so it arrives only after commit). A slow poll of the head row backs both up, which also
covers several processes sharing one SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

log = logging.getLogger("relaydesk.server.events")

CHANNEL = "relaydesk_changes"


class Broker:
    def __init__(self) -> None:
        self.head = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Condition | None = None

    def bind(self, loop: asyncio.AbstractEventLoop, head: int) -> None:
        self._loop = loop
        self._changed = asyncio.Condition()
        self.head = head

    async def _advance(self, seq: int) -> None:
        assert self._changed is not None
        if seq > self.head:
            self.head = seq
            async with self._changed:
                self._changed.notify_all()

    def publish(self, seq: int | None) -> None:
        """Thread-safe: a transaction committed changes up to ``seq``."""
        if seq is None or self._loop is None or self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop shutting down
            asyncio.run_coroutine_threadsafe(self._advance(seq), self._loop)

    async def wait_beyond(self, seq: int, timeout: float) -> int:
        """Wait until the head passes ``seq`` or ``timeout`` elapses; returns the head."""
        assert self._changed is not None
        if self.head > seq:
            return self.head
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.head > seq), timeout
                )
        return self.head


class PostgresListener(threading.Thread):
    """LISTENs on the change channel and publishes every notification to the broker."""

    def __init__(self, conninfo: str, publish: Callable[[int], None]) -> None:
        super().__init__(name="relaydesk-pg-listen", daemon=True)
        self._conninfo = conninfo
        self._publish = publish
        self._stop = threading.Event()
        self.ready = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.ready.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5, stop_after=64):
                            with contextlib.suppress(ValueError):
                                self._publish(int(note.payload))
            except Exception as exc:  # reconnect: the poll keeps pokes flowing meanwhile
                log.warning("LISTEN connection lost (%s); reconnecting", exc.__class__.__name__)
                self._stop.wait(1.0)
