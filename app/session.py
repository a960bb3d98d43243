"""The desk's one connection to ``sync/``: store, client, engine, and Qt signals about them.

Widgets never touch the Store or the engine directly. They ``await session.read(fn, ...)``
(a ``sync.queries`` function run on a reader thread, returning plain dataclasses), queue
work through ``session.enqueue`` (the outbox: works offline, visible at once), and listen
to ``statusChanged`` / ``dataChanged`` / ``directoryChanged``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from PySide6.QtCore import QObject, QTimer, Signal

from sync import queries
from sync.client import ApiClient
from sync.credentials import CredentialStore
from sync.engine import EngineOptions, EngineStatus, SyncEngine
from sync.outbox import IntentRecord
from sync.store import Store
from sync.workspace import WorkspaceConfig

log = logging.getLogger("relaydesk.session")
T = TypeVar("T")


class DeskSession(QObject):
    """One signed-in workspace. Create, ``await open()``, use, ``await close()``."""

    statusChanged = Signal(object)  # EngineStatus
    dataChanged = Signal()  # coalesced: the mirror or the outbox moved; views re-read
    directoryChanged = Signal(object)  # queries.Directory (agents, teams, channels, tags…)
    mirrorDamaged = Signal(str)  # the deferred check failed: rebuilt at the next start

    # How long data changes are gathered before views re-read (a bootstrap moves it often).
    COALESCE_MS = 120

    def __init__(self, data_dir: Path, config: WorkspaceConfig, *,
                 options: EngineOptions | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.config = config
        self.store = Store(data_dir)
        self.api = ApiClient(config.server_url, transport=transport)
        self._options = options
        # Both made in open(), off the GUI thread: asking keyring for its backend can block.
        self.credentials: CredentialStore | None = None
        self.engine: SyncEngine | None = None  # type: ignore[assignment]
        self.directory = queries.Directory()
        self.agent_id: str | None = config.agent_id
        self._data_version = -1
        self._opened = False
        self._check: asyncio.Task[None] | None = None
        self._data_timer = QTimer(self)
        self._data_timer.setSingleShot(True)
        self._data_timer.setInterval(self.COALESCE_MS)
        self._data_timer.timeout.connect(self._data_settled)

    # ------------------------------------------------------------------ lifecycle

    async def open(self, *, start: bool = True) -> None:
        """Open (check, repair, migrate) the local files off the GUI thread, then start
        syncing. Raises ``sync.store.OutboxUnreadable`` when the outbox cannot be read."""
        await asyncio.to_thread(self.store.open, True)
        self._opened = True
        self.credentials = await asyncio.to_thread(
            CredentialStore, self.config.server_url, self.config.email)
        self.engine = SyncEngine(self.store, self.api, self.credentials, self._options)
        self.agent_id = await self.engine.agent_id() or self.config.agent_id
        await self.refresh_directory()
        self._data_version = self.engine.status.data_version  # what was just read
        self.engine.subscribe(self._on_status)
        if start:
            await self.engine.start()
            from app.tasks import spawn

            self._check = spawn(self._deferred_check(), "mirror-check")

    async def _deferred_check(self) -> None:
        """The mirror check skipped at open, now that the window is up (own thread)."""
        problem = await asyncio.to_thread(self.store.deferred_check)
        if problem is not None:
            self.mirrorDamaged.emit(problem)

    async def close(self) -> None:
        self._data_timer.stop()
        if self._check is not None and not self._check.done():
            # Its connection holds the mirror: closing beside it would leave the file
            # looking unclean, and the next start would run the full integrity check.
            await asyncio.shield(self._check)
        if self.engine is not None:
            await self.engine.stop()
        await self.api.aclose()
        if self._opened:
            await asyncio.to_thread(self.store.close)
            self._opened = False

    async def sign_in(self, email: str, password: str) -> None:
        """Raises ``sync.client.ApiError`` subclasses with a sentence for the agent."""
        await self.engine.login(email, password)
        self.agent_id = await self.engine.agent_id()
        if self.agent_id and self.config.agent_id != self.agent_id:
            self.config.agent_id = self.agent_id
            await asyncio.to_thread(self.config.save, self.data_dir)

    async def sign_out(self) -> None:
        await self.engine.logout()

    @property
    def status(self) -> EngineStatus:
        return self.engine.status

    @property
    def me(self) -> queries.AgentInfo | None:
        return self.directory.agent(self.agent_id)

    # ------------------------------------------------------------------ reads

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(store, *args)`` on a reader thread (WAL): the GUI thread never waits."""
        return await self.store.run_read(fn, self.store, *args)

    async def refresh_directory(self) -> queries.Directory:
        directory = await self.read(queries.directory)
        if directory != self.directory:  # re-read on every data change; rarely different
            self.directory = directory
            self.directoryChanged.emit(directory)
        return self.directory

    # ------------------------------------------------------------------ intents

    async def enqueue(self, name: str, args: dict[str, Any]) -> IntentRecord:
        """Queue one intent durably (offline too); the views show it at once."""
        record = await self.engine.enqueue(name, args)
        self._data_timer.stop()
        self._data_settled()  # the agent's own action: no coalescing delay
        return record

    async def send_reply(self, conversation_id: str, body: str, *, template: str | None = None,
                         human_agent_tag: bool = False) -> IntentRecord:
        args: dict[str, Any] = {"conversation_id": conversation_id,
                                "message_id": str(uuid.uuid4()), "body": body}
        if template:
            args["template"] = template
        if human_agent_tag:
            args["human_agent_tag"] = True
        return await self.enqueue("send_message", args)

    async def add_note(self, conversation_id: str, body: str,
                       mentions: list[str] | None = None) -> IntentRecord:
        return await self.enqueue("add_note", {
            "conversation_id": conversation_id, "message_id": str(uuid.uuid4()),
            "body": body, "mentions": list(mentions or [])})

    async def set_status(self, conversation_id: str, status: str,
                         snoozed_until: int | None = None) -> IntentRecord:
        args: dict[str, Any] = {"conversation_id": conversation_id, "status": status}
        if snoozed_until is not None:
            args["snoozed_until"] = snoozed_until
        return await self.enqueue("set_status", args)

    async def assign(self, conversation_id: str, *, agent_id: str | None = ...,  # type: ignore[assignment]
                     team_id: str | None = None) -> IntentRecord:
        """``agent_id=None`` unassigns; leave it out to change only the team."""
        args: dict[str, Any] = {"conversation_id": conversation_id}
        if agent_id is not ...:
            args["agent_id"] = agent_id
        if team_id is not None:
            args["team_id"] = team_id
        return await self.enqueue("assign", args)

    async def set_priority(self, conversation_id: str, priority: str) -> IntentRecord:
        return await self.enqueue("set_priority", {"conversation_id": conversation_id,
                                                   "priority": priority})

    async def add_tag(self, conversation_id: str, tag: str) -> IntentRecord:
        return await self.enqueue("add_tag", {"conversation_id": conversation_id, "tag": tag})

    async def remove_tag(self, conversation_id: str, tag: str) -> IntentRecord:
        return await self.enqueue("remove_tag", {"conversation_id": conversation_id,
                                                 "tag": tag})

    async def mark_read(self, conversation_id: str) -> IntentRecord:
        return await self.enqueue("mark_read", {"conversation_id": conversation_id})

    async def retry(self, intent_id: int) -> None:
        await self.engine.retry_intent(intent_id)
        self._data_settled()

    async def discard(self, intent_id: int) -> None:
        await self.engine.discard_intent(intent_id)
        self._data_settled()

    # ------------------------------------------------------------------ engine → Qt

    def _on_status(self, status: EngineStatus) -> None:
        # The engine runs on the qasync loop, i.e. this (the GUI) thread: emit directly.
        self.statusChanged.emit(status)
        if status.data_version != self._data_version:
            self._data_version = status.data_version
            if not self._data_timer.isActive():
                self._data_timer.start()

    def _data_settled(self) -> None:
        from app.tasks import spawn

        self.dataChanged.emit()
        if self._opened:
            spawn(self.refresh_directory(), "directory")  # small tables: a new tag, agent…
