"""The desk's one connection to ``sync/``: store, client, engine, and Qt signals about them.

Widgets never touch the Store or the engine directly. They ``await session.read(fn, ...)``
(a ``sync.queries`` function run on a reader thread, returning plain dataclasses), queue
work through ``session.enqueue`` (the outbox: works offline, visible at once), and listen
to ``statusChanged`` / ``dataChanged`` / ``directoryChanged``.

Opening has two halves: the local files and what the window needs to show the inbox, then
(``connect()``) the keyring access, the HTTP client and the engine, and syncing. ``open()``
does both; the desk opens a workspace with ``connect=False`` and shows its window between
them, so the inbox paints before anything about the server is set up (the demo workspace,
whose backend the desk has just started, opens with both).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from protocol import intents
from protocol.names import MutationName
from sync import queries, schema, workers
from sync.outbox import IntentRecord
from sync.status import EngineOptions, EngineState, EngineStatus, now_ms
from sync.store import Store
from sync.workspace import WorkspaceConfig

if TYPE_CHECKING:
    import httpx

    from sync.client import ApiClient
    from sync.credentials import CredentialStore
    from sync.engine import SyncEngine

log = logging.getLogger("relaydesk.session")
T = TypeVar("T")


def _local_state(store: Store) -> tuple[str | None, bool, queries.Directory]:
    """The mirror's agent, whether they signed out, and the directory, in one trip to a
    reader thread."""
    return (store.read_state(schema.AGENT_ID), store.read_state(schema.SIGNED_OUT) is not None,
            queries.directory(store))


class DeskSession(QObject):
    """One signed-in workspace. Create, ``await open()``, use, ``await close()``."""

    statusChanged = Signal(object)  # EngineStatus
    dataChanged = Signal()  # coalesced: the mirror or the outbox moved; views re-read
    directoryChanged = Signal(object)  # queries.Directory (agents, teams, channels, tags…)
    mirrorDamaged = Signal(str)  # the deferred check failed: rebuilt at the next start
    signedOutChanged = Signal(bool)  # True: the agent signed out; False: someone signed in

    # How long data changes are gathered before views re-read. A bootstrap moves the data
    # every page: then the views re-read once a second, not after every few pages (each
    # re-read competes with the bootstrap for the CPU, and runs without the inbox indexes,
    # which a first bootstrap builds at its end).
    COALESCE_MS = 120
    BOOTSTRAP_COALESCE_MS = 1000

    def __init__(self, data_dir: Path, config: WorkspaceConfig, *,
                 options: EngineOptions | None = None, remember_sign_in: bool = True,
                 transport: httpx.AsyncBaseTransport | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.config = config
        self.store = Store(data_dir)
        self._transport = transport
        self._options = options
        # False: the account signs in by itself at each start (the demo); its sign-in is
        # never stored, so a missing OS keyring is nothing to warn about.
        self.remember_sign_in = remember_sign_in
        # Made in connect(), off the GUI thread: asking keyring for its backend can block,
        # and the HTTP client loads the system's certificates.
        self.api: ApiClient | None = None
        self.credentials: CredentialStore | None = None
        self.engine: SyncEngine | None = None
        self._connecting: asyncio.Future[None] | None = None
        self._started = False
        self._closed = False
        # What status() says until the engine exists (its own first status).
        self._waiting = EngineStatus(EngineState.CONNECTING, "Connecting…")
        self.directory = queries.Directory()
        self.agent_id: str | None = config.agent_id
        # The agent signed out (here or before a restart): no customer data on screen.
        self.signed_out = False
        self._agent_active = False  # the desk's window is the active one
        self._data_version = -1
        self._opened = False
        self._check: asyncio.Task[None] | None = None
        self._data_timer = QTimer(self)
        self._data_timer.setSingleShot(True)  # its interval: see _on_status
        self._data_timer.timeout.connect(self._data_settled)

    # ------------------------------------------------------------------ lifecycle

    async def open(self, *, start: bool = True, connect: bool = True) -> None:
        """Open (check, repair, migrate) the local files off the GUI thread and read what the
        window shows first (the signed-in agent, the directory); then (``connect``) make the
        engine and (``start``) start syncing. ``connect=False`` leaves the server side to a
        later ``connect()``. Raises ``sync.store.OutboxUnreadable`` when the outbox cannot
        be read."""
        await workers.run(self.store.open, True)
        self._opened = True
        agent_id, self.signed_out, directory = await self.read(_local_state)
        self.agent_id = agent_id or self.config.agent_id
        self._set_directory(directory)
        if connect:
            await self.connect(start=start)

    async def connect(self, *, start: bool = True) -> None:
        """The other half: credentials, HTTP client and engine, then (``start``) syncing and
        the mirror check deferred at open. Once only; later calls wait for the first.
        Nothing happens once the session is closing."""
        if self._closed:
            return
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._make_engine())
        await asyncio.shield(self._connecting)
        if start and not self._started and not self._closed:
            self._started = True
            assert self.engine is not None
            await self.engine.start()
            # start() read the outbox counts: news for the status bar, not for the views
            # (they read after the window was built, and nothing synced yet).
            self._data_version = self.engine.status.data_version
            self._data_timer.stop()
            from app.tasks import spawn

            self._check = spawn(self._deferred_check(), "mirror-check")

    async def _make_engine(self) -> None:
        def make() -> tuple[ApiClient, CredentialStore, type[SyncEngine]]:
            # The engine's modules (SQLAlchemy, httpx, the wire models) load here, on this
            # thread, after the window's first paint; the wire models and the event stream's
            # client too, which the engine would otherwise import on the GUI thread at its
            # first request (~0.15 s without a frame).
            import httpx_sse  # noqa: F401

            from protocol import wire  # noqa: F401
            from sync.client import ApiClient
            from sync.credentials import CredentialStore
            from sync.engine import SyncEngine

            return (ApiClient(self.config.server_url, transport=self._transport),
                    CredentialStore(self.config.server_url, self.config.email,
                                    keyring=self.remember_sign_in), SyncEngine)

        self.api, self.credentials, engine_class = await workers.run(make)
        self.engine = engine_class(self.store, self.api, self.credentials, self._options)
        self._data_version = self.engine.status.data_version  # the views read after this
        self.engine.set_agent_active(self._agent_active)
        self.engine.subscribe(self._on_status)

    @property
    def is_open(self) -> bool:
        """Whether the local files are open and the session is not closing."""
        return self._opened and not self._closed

    @property
    def connected(self) -> bool:
        """Whether the engine exists (``connect()`` has made it)."""
        return self.engine is not None

    async def _engine(self) -> SyncEngine:
        """The engine, connecting first when the window has not asked for it yet."""
        if self.engine is None:
            await self.connect()
        if self.engine is None:
            raise RuntimeError("the session is closed")
        return self.engine

    async def _deferred_check(self) -> None:
        """The mirror check skipped at open, now that the window is up (general pool: its
        own connection, so the readers stay free for the views)."""
        problem = await workers.run(self.store.deferred_check)
        if problem is not None:
            self.mirrorDamaged.emit(problem)

    async def close(self) -> None:
        self._closed = True
        self._data_timer.stop()
        if self._check is not None and not self._check.done():
            # Its connection holds the mirror: closing beside it would leave the file
            # looking unclean, and the next start would run the full integrity check.
            await asyncio.shield(self._check)
        if self._connecting is not None:
            # Made off the GUI thread: wait for it, so its client is closed below.
            await asyncio.gather(asyncio.shield(self._connecting), return_exceptions=True)
        if self.engine is not None:
            await self.engine.stop()
        if self.api is not None:
            await self.api.aclose()
        if self._opened:
            await workers.run(self.store.close)
            self._opened = False

    async def sign_in(self, email: str, password: str) -> None:
        """Raises ``sync.client.ApiError`` subclasses with a sentence for the agent."""
        engine = await self._engine()
        await engine.login(email, password)
        self.agent_id = await engine.agent_id()
        if self.agent_id and self.config.agent_id != self.agent_id:
            self.config.agent_id = self.agent_id
            await workers.run(self.config.save, self.data_dir)
        self._set_signed_out(False)

    async def sign_out(self) -> None:
        """End the sign-in here and on the server. The outbox is kept: it is this agent's
        work (no other agent can sign in to this workspace), sent after the next sign-in."""
        await (await self._engine()).logout()
        self._set_signed_out(True)

    def _set_signed_out(self, signed_out: bool) -> None:
        if signed_out != self.signed_out:
            self.signed_out = signed_out
            self.signedOutChanged.emit(signed_out)

    def set_agent_active(self, active: bool) -> None:
        """The agent is at the desk (its window active) or not: a lost server is looked for
        again sooner while they are."""
        self._agent_active = active
        if self.engine is not None:
            self.engine.set_agent_active(active)

    @property
    def status(self) -> EngineStatus:
        return self.engine.status if self.engine is not None else self._waiting

    @property
    def me(self) -> queries.AgentInfo | None:
        return self.directory.agent(self.agent_id)

    # ------------------------------------------------------------------ reads

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(store, *args)`` on a reader thread (WAL): the GUI thread never waits."""
        return await self.store.run_read(fn, self.store, *args)

    async def refresh_directory(self) -> queries.Directory:
        self._set_directory(await self.read(queries.directory))
        return self.directory

    def _set_directory(self, directory: queries.Directory) -> None:
        if directory != self.directory:  # re-read on every data change; rarely different
            self.directory = directory
            self.directoryChanged.emit(directory)

    # ------------------------------------------------------------------ intents

    async def enqueue(self, name: str, args: dict[str, Any], *,
                      not_before: int | None = None) -> IntentRecord:
        """Queue one intent durably (offline too); the views show it at once. ``args`` are
        built through the intent's declared model (``protocol.intents.args``). With
        ``not_before`` (epoch ms) it leaves the desk no earlier than that."""
        engine = await self._engine()  # first: the wire models load with it, off this thread
        record = await engine.enqueue(name, intents.args(name, **args), not_before=not_before)
        self._data_timer.stop()
        self._data_settled()  # the agent's own action: no coalescing delay
        return record

    async def take_back(self, intent_id: int) -> bool:
        """Undo: cancel an intent that has not left the desk (True); False when it may have
        (applied, or handed to a push): the caller queues its inverse instead."""
        cancelled = await (await self._engine()).cancel_intent(intent_id)
        if cancelled:
            self._data_timer.stop()
            self._data_settled()
        return cancelled

    async def send_reply(self, conversation_id: str, body: str, *, template: str | None = None,
                         human_agent_tag: bool = False, delay_ms: int = 0) -> IntentRecord:
        """Queue a reply; with ``delay_ms`` it is held in the outbox (durably, so a crash
        does not lose it) that long, during which ``take_back`` can still cancel it."""
        not_before = now_ms() + delay_ms if delay_ms > 0 else None
        return await self.enqueue(MutationName.SEND_MESSAGE, {
            "conversation_id": conversation_id, "message_id": str(uuid.uuid4()), "body": body,
            "template": template or None, "human_agent_tag": human_agent_tag,
        }, not_before=not_before)

    async def add_note(self, conversation_id: str, body: str,
                       mentions: list[str] | None = None) -> IntentRecord:
        return await self.enqueue(MutationName.ADD_NOTE, {
            "conversation_id": conversation_id, "message_id": str(uuid.uuid4()),
            "body": body, "mentions": list(mentions or [])})

    async def set_status(self, conversation_id: str, status: str,
                         snoozed_until: int | None = None) -> IntentRecord:
        return await self.enqueue(MutationName.SET_STATUS, {
            "conversation_id": conversation_id, "status": status,
            "snoozed_until": snoozed_until})

    async def assign(self, conversation_id: str, *, agent_id: str | None = ...,  # type: ignore[assignment]
                     team_id: str | None = None) -> IntentRecord:
        """``agent_id=None`` unassigns; leave it out to change only the team."""
        # Only a key given is sent: an agent_id key, even None, changes the assignee.
        agent = {} if agent_id is ... else {"agent_id": agent_id}
        return await self.enqueue(MutationName.ASSIGN, {
            "conversation_id": conversation_id, **agent, "team_id": team_id})

    async def set_priority(self, conversation_id: str, priority: str) -> IntentRecord:
        return await self.enqueue(MutationName.SET_PRIORITY, {
            "conversation_id": conversation_id, "priority": priority})

    async def add_tag(self, conversation_id: str, tag: str) -> IntentRecord:
        return await self.enqueue(MutationName.ADD_TAG, {
            "conversation_id": conversation_id, "tag": tag})

    async def remove_tag(self, conversation_id: str, tag: str) -> IntentRecord:
        return await self.enqueue(MutationName.REMOVE_TAG, {
            "conversation_id": conversation_id, "tag": tag})

    async def mark_read(self, conversation_id: str) -> IntentRecord | None:
        """None while signed out: nobody is reading (and nothing is queued for them)."""
        if self.signed_out:
            return None
        return await self.enqueue(MutationName.MARK_READ, {"conversation_id": conversation_id})

    async def retry(self, intent_id: int) -> None:
        await (await self._engine()).retry_intent(intent_id)
        self._data_settled()

    async def discard(self, intent_id: int) -> None:
        await (await self._engine()).discard_intent(intent_id)
        self._data_settled()

    # ------------------------------------------------------------------ engine → Qt

    def _on_status(self, status: EngineStatus) -> None:
        # The engine runs on the qasync loop, i.e. this (the GUI) thread: emit directly.
        self.statusChanged.emit(status)
        if self._closed:
            return
        wait = (self.BOOTSTRAP_COALESCE_MS if status.state is EngineState.BOOTSTRAPPING
                else self.COALESCE_MS)
        timer = self._data_timer
        if status.data_version != self._data_version:
            self._data_version = status.data_version
            if not timer.isActive():
                timer.start(wait)
        if timer.isActive() and timer.remainingTime() > wait:
            timer.start(wait)  # the bootstrap is over: the last pages show at once

    def _data_settled(self) -> None:
        from app.tasks import spawn

        if self._closed:  # closing: no view reads again (the engine may still report)
            return
        self.dataChanged.emit()
        if self._opened:
            spawn(self.refresh_directory(), "directory")  # small tables: a new tag, agent…
